"""The portal and the agent console in a real browser: Debian's Chromium driven by Playwright (sync API)
against pytest-django's live server (which serves static files through staticfiles' finders).

The scenario, step by step: a customer signs in, files an S2 ticket with candidates and a screenshot, chats
with support, an agent answers from the console, each side sees the other's lines without reloading, and
the customer resolves the ticket. Every step leaves a screenshot in test-artifacts/browser/<step>.png.

Run only these with `pytest -m browser`. Without /usr/bin/chromium the module is skipped, except in CI.
"""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser import ARTIFACTS as ARTIFACTS_ROOT
from tests.browser import skip_without_chromium
from tests.factories import PASSWORD, AgentFactory, CustomerFactory, OrganizationFactory
from tickets import services
from tickets.models import Channel, Message, Severity, Status, Ticket

ARTIFACTS = ARTIFACTS_ROOT / "browser"
# A 1x1 PNG: a real image, signature and all, for the attachment checks.
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
TIMEOUT_MS = 10_000  # page loads and form posts; the live updates are held to shorter limits below

skip_without_chromium()

from playwright.sync_api import expect  # noqa: E402 - only once Chromium is known to exist

pytestmark = [
    pytest.mark.browser,
    # The browsers talk to the live server, which sees committed rows only. The flush after each test
    # empties every table; `shipped_defaults` puts back the SLA chart the promises come from.
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
]


#: Django's test server has no WebSockets: the chat panel gives the socket two tries (backoff up to 3 s),
#: then polls every LIVE_POLL_MIN_SECONDS; on SQLite's shared in-memory database a poll that meets the
#: test's write is refused ("table is locked") and the next comes 5 s later.
FALLBACK_MS = 15_000


@pytest.fixture
def new_page(browser):
    """new_page(): a page in a browser context of its own (one cookie jar per person), closed after the test.
    Every static file the pages ask for must be served."""
    contexts, static_failures = [], []

    def make():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        context.on(
            "response",
            lambda r: (
                "/static/" in r.url and r.status >= 400 and static_failures.append(f"{r.status} {r.url}")
            ),
        )
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    assert static_failures == []


def shoot(page, step: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{step}.png"), full_page=True)


def navigations(page) -> list[str]:
    """The URLs the page's main frame goes to from now on (a live update must add none)."""
    urls = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and urls.append(frame.url))
    return urls


def sign_in_portal(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/portal/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/portal/")


def sign_in_console(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")


def assert_portal_js_loaded(page) -> None:
    """The chat panel and "Add another candidate" work only if portal.js was served and ran."""
    scripts = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    assert any(name.endswith("/static/portal/portal.js") for name in scripts), scripts


@pytest.fixture
def customer(transactional_db):
    organization = OrganizationFactory(name="Acme Hiring")
    return CustomerFactory(
        username="dana", first_name="Dana", last_name="Scully", membership__organization=organization
    )


@pytest.fixture
def agent(transactional_db):
    return AgentFactory(username="fox", first_name="Fox", last_name="Mulder")


def test_customer_files_chats_and_resolves(live_server, transactional_db, new_page, customer, agent):
    page = new_page()

    # a. The customer signs in through the portal's form.
    sign_in_portal(page, live_server, customer)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_portal_js_loaded(page)
    shoot(page, "a_signed_in")

    # b. An S2 ticket through the new-ticket form, every section filled in.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New ticket").click()
    expect(page).to_have_url(f"{live_server.url}/portal/tickets/new/")
    form = page.locator("form.ticket-form")
    form.locator("input[name=severity][value=S2]").check()
    page.locator("#id_subject").fill("Candidates cannot self-schedule")
    form.locator("input[name=affected_role][value=candidate]").check()
    form.locator("input[name=impact_scope][value=several_users]").check()
    page.locator("#id_description").fill("The self-scheduling link shows no slots since this morning.")
    page.locator("#id_product_area").fill("Candidate self-scheduling")
    page.locator("#id_feature").fill("Self-schedule link")
    page.locator("#id_error_message").fill("No availability found")
    form.locator("input[name=occurrence][value=ongoing]").check()
    since = timezone.localtime(timezone.now() - timedelta(days=1), customer.membership.organization.zoneinfo)
    page.locator("#id_started_at").fill(since.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Add another candidate").click()
    expect(page.locator("#id_candidates-TOTAL_FORMS")).to_have_value("2")
    expect(page.locator("#id_candidates-1-name")).to_be_focused()
    page.locator("#id_candidates-0-name").fill("Ada Lovelace")
    page.locator("#id_candidates-0-email").fill("ada@example.com")
    page.locator("#id_candidates-1-name").fill("Charles Babbage")
    page.locator("#id_candidates-1-email").fill("charles@example.com")
    page.locator("#id_interview_position").fill("Staff Engineer")
    page.locator("#id_interview_template_name").fill("Onsite loop v3")
    page.locator("#id_interview_template_changes").fill("Removed the lunch slot")
    page.locator("#id_interview_interviewers").fill("Alan Turing\nGrace Hopper")
    interview_day = (timezone.now() + timedelta(days=7)).strftime("%Y-%m-%d")
    page.locator("#id_interview_starts_at").fill(f"{interview_day}T09:00")
    page.locator("#id_interview_ends_at").fill(f"{interview_day}T17:00")
    page.locator("#id_attachments").set_input_files(
        files=[{"name": "no-slots.png", "mimeType": "image/png", "buffer": PNG_1X1}]
    )
    shoot(page, "b_new_ticket_filled")
    page.get_by_role("button", name="Send to support").click()

    # c. The ticket page: status New, the S2 definition and the first-response promise.
    expect(page).to_have_url(re.compile(r"/portal/tickets/HD-\d+/$"))
    ticket_url = page.url
    ticket = Ticket.objects.get(requester=customer, channel=Channel.PORTAL)
    assert ticket.severity == Severity.S2
    assert sorted(ticket.candidates.values_list("email", flat=True)) == [
        "ada@example.com",
        "charles@example.com",
    ]
    assert ticket.interview_interviewers == ["Alan Turing", "Grace Hopper"]
    assert ticket.attachments.get().original_name == "no-slots.png"
    expect(page.get_by_role("heading", level=1)).to_have_text("Candidates cannot self-schedule")
    expect(page.locator("main .badge.status")).to_have_text("New")
    expect(page.locator("main")).to_contain_text(
        "Major function broken with no workaround; severe slowness; wrong calculated values."
    )
    expect(page.locator(".sla-promise .promise-due").first).to_contain_text("We will respond by")
    expect(page.locator("#conversation")).to_contain_text("no-slots.png")
    expect(page.locator(".details")).to_contain_text("Charles Babbage")
    shoot(page, "c_ticket_page")

    # d. The chat panel offers the open S2 ticket, or a new conversation with its subject and severity.
    customer_navigations = navigations(page)
    page.locator("#chat-toggle").click()
    expect(page.locator("#chat-panel")).to_be_visible()
    expect(page.locator("#chat-open-tickets button")).to_contain_text(ticket.reference)
    page.locator("#chat-new").click()
    page.locator("#chat-subject").fill("Is anyone there?")
    page.locator("#chat-severity-S3").check()
    page.locator("#chat-input").fill("Is anyone there?")
    page.locator("#chat-form").get_by_role("button", name="Send").click()
    expect(page.locator("#chat-log .chat-line.mine")).to_contain_text("Is anyone there?")
    expect(page.locator("#chat-ticket")).to_contain_text(re.compile(r"HD-\d+ · New"))
    chat = Ticket.objects.get(requester=customer, channel=Channel.CHAT)
    assert chat.description == "Is anyone there?"
    expect(page.locator("#chat-ticket")).to_have_text(f"{chat.reference} · New")
    shoot(page, "d_chat_opened")

    # e. An agent, in a browser context of their own, opens the chat in the console and answers publicly.
    console = new_page()
    sign_in_console(console, live_server, agent)
    console.goto(f"{live_server.url}/admin/tickets/ticket/{chat.pk}/change/")
    conversation = console.locator("#conversation")
    expect(conversation.locator(".hd-message.customer").first).to_contain_text("Is anyone there?")
    console.locator("#reply textarea[name=body]").fill("Yes, Fox from support here. What is going on?")
    console.locator("#reply input[name=kind][value=reply]").check()
    console.locator("#reply input[type=submit]").click()
    expect(console.locator(".messagelist")).to_contain_text(f"Reply sent on {chat.reference}.")
    expect(conversation.locator(".hd-message.agent")).to_contain_text("Fox from support here")
    console_url = console.url
    shoot(console, "e_agent_replied")

    # f. The customer's open panel shows the reply (Django's test server has no sockets: at the next poll of
    # the live fallback), with no reload.
    expect(page.locator("#chat-log .chat-line.agent")).to_contain_text(
        "Fox from support here", timeout=FALLBACK_MS
    )
    assert customer_navigations == [], "the customer's page reloaded"
    assert page.url == ticket_url
    shoot(page, "f_customer_sees_reply")

    # g. The customer answers (Enter sends); the console's conversation (polled every 3 s) shows it with no
    # reload.
    console_navigations = navigations(console)
    page.locator("#chat-input").fill("The self-scheduling link shows no slots.")
    page.locator("#chat-input").press("Enter")
    expect(page.locator("#chat-log .chat-line.mine").last).to_contain_text("shows no slots")
    expect(conversation.locator(".hd-message.customer").last).to_contain_text("shows no slots", timeout=5000)
    assert console_navigations == [], "the agent's page reloaded"
    assert console.url == console_url
    assert list(Message.objects.filter(ticket=chat).values_list("author_role", flat=True)) == [
        "agent",
        "customer",
    ]
    shoot(console, "g_agent_sees_customer_line")

    # h. Back on the S2 ticket, the customer marks it resolved.
    page.goto(ticket_url)
    page.get_by_role("button", name="This is resolved").click()
    expect(page.locator("main .alert-success")).to_contain_text(f"{ticket.reference} was marked resolved")
    expect(page.locator("main .badge.status")).to_have_text("Resolved")
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    shoot(page, "h_resolved")


def test_new_ticket_errors_keep_what_was_typed(live_server, transactional_db, new_page, customer):
    page = new_page()
    sign_in_portal(page, live_server, customer)
    page.goto(f"{live_server.url}/portal/tickets/new/")
    page.locator("input[name=severity][value=S3]").check()
    description = "Reports show yesterday's interviews twice."
    page.locator("#id_description").fill(description)
    page.locator("#id_candidates-0-name").fill("Ada Lovelace")
    page.locator("#id_candidates-0-email").fill("ada-at-example")
    page.get_by_role("button", name="Send to support").click()

    expect(page.locator("main .alert-danger")).to_contain_text("Please check the highlighted fields below.")
    expect(page.locator("#id_subject")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator("#id_subject_error")).to_contain_text("This field is required.")
    expect(page.locator("#id_candidates-0-email")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator("#candidates")).to_contain_text("Enter a valid email address.")
    expect(page.locator("#id_description")).to_have_value(description)
    expect(page.locator("#id_candidates-0-name")).to_have_value("Ada Lovelace")
    expect(page.locator("#id_candidates-0-email")).to_have_value("ada-at-example")
    expect(page.locator("input[name=severity][value=S3]")).to_be_checked()
    shoot(page, "errors_kept")
    assert not Ticket.objects.exists()


def test_chat_offers_the_choice_again_when_its_ticket_was_resolved(
    live_server, transactional_db, new_page, customer, agent
):
    """The panel stays open while an agent resolves the chat's ticket: the customer's next line is refused
    with the reason, kept in the box, and the panel offers a new conversation again."""
    page = new_page()
    sign_in_portal(page, live_server, customer)
    page.locator("#chat-toggle").click()
    page.locator("#chat-subject").fill("Reports")
    page.locator("#chat-severity-S4").check()
    page.locator("#chat-input").fill("Where are my reports?")
    page.locator("#chat-input").press("Enter")
    expect(page.locator("#chat-log .chat-line.mine")).to_have_text(re.compile("Where are my reports?"))
    first = Ticket.objects.get(channel=Channel.CHAT)
    services.ticket_reply(ticket=first, author=agent, body="Under Reporting; solved?")
    expect(page.locator("#chat-log .chat-line.agent")).to_contain_text("Under Reporting", timeout=FALLBACK_MS)
    services.ticket_change_status(ticket=Ticket.objects.get(pk=first.pk), actor=agent, status=Status.RESOLVED)

    page.locator("#chat-input").fill("One more question")
    page.locator("#chat-input").press("Enter")
    expect(page.locator("#chat-error")).to_contain_text(f"{first.reference} is resolved")
    expect(page.locator("#chat-input")).to_have_value("One more question")
    expect(page.locator("#chat-new-fields")).to_be_visible()  # no open ticket left: a new conversation
    page.locator("#chat-subject").fill("Another question")
    page.locator("#chat-severity-S5").check()
    page.locator("#chat-input").press("Enter")
    second = Ticket.objects.exclude(pk=first.pk)
    expect(page.locator("#chat-ticket")).to_contain_text(re.compile(r"HD-\d+ · New"))
    expect(page.locator("#chat-ticket")).to_have_text(f"{second.get().reference} · New")
    expect(page.locator("#chat-log .chat-line")).to_have_count(1)
    expect(page.locator("#chat-log .chat-line.mine")).to_contain_text("One more question")
    shoot(page, "chat_started_afresh")


def test_a_file_over_the_limit_is_refused_before_anything_is_sent(
    live_server, transactional_db, new_page, customer, settings
):
    settings.ATTACHMENT_MAX_BYTES = 1024 * 1024
    page = new_page()
    sign_in_portal(page, live_server, customer)
    page.goto(f"{live_server.url}/portal/tickets/new/")
    posts = []
    # The form's submissions (the severity suggestion's POSTs to the API, as answers change, send no file).
    page.on(
        "request",
        lambda request: request.method == "POST" and "/api/" not in request.url and posts.append(request.url),
    )
    page.locator("input[name=severity][value=S3]").check()
    page.locator("#id_subject").fill("Screenshots of the broken calendar")
    page.locator("#id_description").fill("The week view is empty.")
    attachments = page.locator("input[type=file][name=attachments]")
    attachments.set_input_files(
        [{"name": "calendar.png", "mimeType": "image/png", "buffer": b"\x89PNG" + b"0" * (1024 * 1024)}]
    )
    page.get_by_role("button", name="Send to support").click()

    message = attachments.evaluate("field => field.validationMessage")
    assert "“calendar.png” is larger than the 1 MB limit" in message
    expect(page).to_have_url(f"{live_server.url}/portal/tickets/new/")
    assert posts == [] and not Ticket.objects.exists()

    attachments.set_input_files([{"name": "calendar.png", "mimeType": "image/png", "buffer": b"\x89PNG"}])
    assert attachments.evaluate("field => field.validationMessage") == ""  # a smaller file clears it
