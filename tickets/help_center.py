"""The help center as shipped: the support FAQ (`shared/seed/support-faq.txt`), one article per question,
and a few troubleshooting articles the support team wrote for the questions customers ask most. Loaded by
migration 0017 and by `ensure_help_center()` (tests that flush the database, `seed_demo`); staff edit the
articles in the console afterwards, and loading again never overwrites an article that exists.

Plain data and one loader that takes the model classes, so the migration can pass its historical ones.
"""

from __future__ import annotations

from django.utils import timezone

from tickets.knowledge import render_markdown
from tickets.models import Article, ArticleCategory

#: (slug, name, description, position)
CATEGORIES = (
    (
        "getting-support",
        "Getting support",
        "How to reach us, how fast we answer, and following your tickets.",
        1,
    ),
    ("filing-a-ticket", "Filing a good ticket", "What to tell us so that we can help at once.", 2),
    ("scheduling-and-calendars", "Scheduling and calendars", "Interviews, calendars and availability.", 3),
    ("for-agents", "For agents", "How the support team works (agents only).", 9),
)

STATUS_ARTICLE = "how-can-customers-view-the-ticket-status-of-their-requests"
INFORMATION_ARTICLE = "how-much-information-do-i-need-to-provide"

#: (slug, title, category slug, visibility, Markdown body)
ARTICLES = (
    (
        "how-can-i-access-24-7-support",
        "How can I access 24/7 support?",
        "getting-support",
        "public",
        """Simply sign in to the platform and use our **chat** (the "Chat with support" button at the bottom of
every portal page), or email our team at [support@goodtime.io](mailto:support@goodtime.io). You can
also [open a ticket](/portal/tickets/new/) in the portal.

Chats, emails and portal tickets all become tickets you can follow under **My tickets**: see
[How can customers view the ticket status of their requests?](/support/articles/how-can-customers-view-the-ticket-status-of-their-requests/)
""",
    ),
    (
        "is-24-7-available-to-all-customers",
        "Is 24/7 support available to all customers?",
        "getting-support",
        "public",
        """Yes. 24/7 support is for all of our customers.

S1 (critical) tickets page our on-call engineer immediately, day or night. Other severities are worked
in Pacific business hours: see
[How quickly can I expect a response and resolution of my query?](/support/articles/how-quickly-can-i-expect-a-response-and-resolution-of-my-query/)
""",
    ),
    (
        "how-quickly-can-i-expect-a-response-and-resolution-of-my-query",
        "How quickly can I expect a response and resolution of my query?",
        "getting-support",
        "public",
        """The response and resolution of tickets depends on a few factors. Customer tickets are classified
into 5 categories based on severity level. The most severe are tackled first, before lower severity
tickets.

| Severity | Meaning | First response | Updates | Workaround |
|---|---|---|---|---|
| S1 Critical | Service unusable for critical functions; data corruption | 30 minutes, 24/7 | every 4 business hours | 1 business day |
| S2 High | Major function broken, no workaround; severe slowness; wrong calculated values | 4 business hours | every business day | 3 business days |
| S3 Medium | Minor function broken, a workaround exists | 1 business day | — | 10 business days |
| S4 Low | Cosmetic issues; help-system issues | 3 business days | — | — |
| S5 Enhancement | Feature requests | 5 business days | — | — |

Because our engineering team is not yet 24/7, please note that S2–S5 tickets that come in after 6 PM
Pacific time may be addressed the following business day. S1 tickets are addressed immediately.

The [response targets page](/support/response-targets/) shows the chart that applies to you (signed
in: your organization's support plan) and our business hours and holidays.
""",
    ),
    (
        INFORMATION_ARTICLE,
        "How much information do I need to provide to get my ticket answered?",
        "filing-a-ticket",
        "public",
        """Generally speaking, send us as much information as you have so that we can help you as quickly as
possible. Some information that helps:

- Screenshots of the issue and your workflow
- Error messages
- Candidate names and email addresses
- Interviewers
- Position
- Interview template name (and any modifications you made to the panel events or interviewers)
- Date/time range

## A broader issue, not tied to specific interviews?

Please give as many of these details as you can:

- **Who** — Is the issue affecting the coordinator, the interviewer or the candidate? Are you the only
  user experiencing it, or other users as well?
- **What and where** — A clear description of the issue and where you see it: which section of the
  product you are in, and which feature you are using.
- **When** — Is it happening now? If it happened in the past, was it a one-time or a recurring problem?
- **Why** — For questions about features: why you would like a feature and how it would help your
  process, so that we can best address your request.

The [new-ticket form](/portal/tickets/new/) asks these questions in this order.

If you would like to view the tickets you have submitted, follow the steps in
[How can customers view the ticket status of their requests?](/support/articles/how-can-customers-view-the-ticket-status-of-their-requests/)
""",
    ),
    (
        STATUS_ARTICLE,
        "How can customers view the ticket status of their requests?",
        "getting-support",
        "public",
        """1. [Sign in to the support portal](/portal/login/).
2. Open **My tickets**: every ticket you submitted, by the portal, chat or email, with its status
   (New, Open, Waiting on customer, On hold, Resolved, Closed) and severity. Organization admins can
   switch to all of their organization's tickets.
3. Open a ticket to see the whole conversation, the status timeline and **our promise**: "We will
   respond by …", in your organization's time zone, from the
   [response targets](/support/response-targets/) of its severity. When we are waiting on you, the
   ticket says so and the clock is paused.

Pages update by themselves when we reply or change the status; you also get an email for each reply
and when we need something from you or resolve the ticket.

Need us now? Use the **chat** (the "Chat with support" button on every portal page), at any time: it
says whether an agent is online, or by when we will answer, and it becomes a ticket in My tickets too.
S1 issues page our on-call engineer day or night.
""",
    ),
    (
        "an-interview-is-not-showing-on-a-calendar",
        "An interview is not showing on the interviewer's or candidate's calendar",
        "scheduling-and-calendars",
        "public",
        """When a scheduled interview does not show on a calendar, check these first:

1. **Calendar sync.** In *Settings → Calendar sync*, the interviewer's calendar must show as connected.
   A calendar disconnected by a password change or an expired permission stops receiving events:
   reconnect it, then reschedule or resend the invitation.
2. **The invitation went to another address.** The event goes to the email address on the interviewer's
   profile; if they use a different calendar account, update the profile.
3. **The candidate's invitation.** Candidates get an email invitation; ask them to check spam and
   accept it so that it shows on their calendar.
4. **Time zones.** An event that seems missing may be on another day: check the interviewer's and the
   candidate's time zones on the interview.

Still missing? [Open a ticket](/portal/tickets/new/) with the candidate's name and email, the
interviewers, the position and the date and time of the interview.
""",
    ),
    (
        "candidates-see-no-available-times",
        "Candidates see no available times on the self-scheduling link",
        "scheduling-and-calendars",
        "public",
        """A self-scheduling link shows the times when every required interviewer is free within the
template's rules. When it shows none:

- Check the interviewers' **availability** and working hours, and that their calendars are synced.
- Widen the **date range** of the link, or lower the minimum notice.
- Check the interview template's **panel events**: one interviewer too many can leave no common slot.

If interviews are affected today, say so when you [open a ticket](/portal/tickets/new/) and give the
interview's date and time: we raise its priority.
""",
    ),
    (
        "choosing-a-severity",
        "Choosing a severity: the definitions and the suggestion",
        "for-agents",
        "internal",
        """The portal suggests a severity from the intake, with its reason; the console shows the suggestion
beside the severity the customer chose. Re-check it against the definitions:

- **S1** — service unusable for critical functions, or data corruption. Pages on-call at once.
- **S2** — a major function broken with no workaround; severe slowness; wrong calculated values.
- **S3** — a minor function broken, a workaround exists.
- **S4** — cosmetic issues, help-system issues (a typo is S4 even when the customer calls it critical).
- **S5** — feature requests.

An interview that starts before the suggested severity's first response would arrive raises the
suggestion (to S2 at most, unless S1's definition is met).
""",
    ),
)


def load(category_model, article_model, *, at) -> int:
    """Create the categories and articles that do not exist yet (by slug); how many articles were made.
    The model classes are given (a migration's historical ones, or the real ones)."""
    categories = {}
    for slug, name, description, position in CATEGORIES:
        categories[slug], _ = category_model.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description, "position": position}
        )
    made = 0
    for slug, title, category, visibility, body in ARTICLES:
        if article_model.objects.filter(slug=slug).exists():
            continue
        rendered = render_markdown(body)
        article_model.objects.create(
            slug=slug,
            title=title,
            category=categories[category],
            visibility=visibility,
            status="published",
            body=body,
            body_html=rendered.html,
            body_text=rendered.text,
            created_at=at,
            updated_at=at,
        )
        made += 1
    return made


def ensure_help_center() -> int:
    """The shipped articles, for a database that lost them (tests that flush it)."""
    return load(ArticleCategory, Article, at=timezone.now())
