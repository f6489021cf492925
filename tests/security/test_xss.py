"""Stored XSS: script, markup and template-injection payloads in every free-text field that a customer, an
agent, an email or an integration can fill, rendered wherever they are shown.

The fields: the ticket's subject, description and intake (product section, feature, error message, why,
interviewers, position, interview template and its modifications), candidates' names and emails (the
email validator lets markup through in a quoted local part), customer and agent messages, internal notes,
attachment file names, organization and user names, canned replies, an inbound email's subject.

The renderings: the portal (My tickets, the ticket page, the new-ticket and reply forms sent back with
errors, the chat's JSON), the agent console (the queues, the ticket page with its conversation, audit
trail and related tickets, the audit and inbound-mail lists, the dashboard), the API's browsable pages and
the notification emails. In HTML the escaped text is on the page (it was rendered) and the raw markup is
not; JSON stays JSON; emails are plain text only and no template is ever evaluated. The pages' scripts
insert text, never markup (checked in their source and, with Chromium, live: a message added while the
pages poll must not run either).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from tests.browser import CHROMIUM, IN_CI
from tests.factories import PASSWORD, AgentFactory, CustomerFactory, OrganizationFactory
from tickets import services
from tickets.admin.filters import QueueFilter
from tickets.channels.email_in import REJECTED, process
from tickets.models import Macro, Severity, Ticket

ROOT = Path(__file__).resolve().parents[2]

PAYLOADS = (
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=1;alert(1)">',
    "</textarea><svg onload=window.__xss=1>",
    "javascript:window.__xss=1",
    '{{ "pwn"|add:"ed" }}{% debug %}',
)
#: What betrays a payload rendered as markup, or a template evaluated.
RAW_MARKERS = (
    "<script>window.__xss",
    "<img src=x",
    "<svg onload",
    "<svg/onload",
    'onerror="window.__xss',
    "pwned",  # {{ "pwn"|add:"ed" }} evaluated
    "'False': False",  # {% debug %} evaluated
)
_JS_URL = re.compile(r"""(?:href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)

#: Candidate emails the email validator accepts (a quoted local part may hold markup).
EVIL_EMAILS = ('"<script>window.__xss=1</script>"@example.com', '"<svg/onload=window.__xss=1>"@example.com')
#: File names: no "/" (the upload keeps the base name only), markup otherwise.
EVIL_PNG_NAME = '"><img src=x onerror="window.__xss=1">.png'
EVIL_TXT_NAME = "<svg onload=window.__xss=1>.txt"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)


def evil(tag: str, limit: int = 10_000) -> str:
    """`[tag]` followed by as many payloads as fit in `limit` characters (a field's max_length)."""
    text = f"[{tag}]"
    for payload in PAYLOADS:
        if len(text) + 1 + len(payload) <= limit:
            text += " " + payload
    return text


def assert_no_raw_markup(html: str, where: str = "") -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, f"{where}: {marker!r} is in the page unescaped"
    assert not _JS_URL.search(html), f"{where}: a javascript: URL is in an attribute"


def assert_escaped(html: str, texts, where: str = "") -> None:
    """Each text is on the page, HTML-escaped (so it was rendered), and no payload is raw."""
    assert_no_raw_markup(html, where)
    for text in texts:
        assert escape(text) in html, f"{where}: {text!r} is not on the page (escaped)"


@dataclass
class Loaded:
    """The rows holding payloads, and the texts each page should show."""

    organization: object
    customer: object
    agent: object
    ticket: Ticket
    related: Ticket
    chat: Ticket
    macro: Macro
    intake: dict[str, object] = field(default_factory=dict)

    @property
    def customer_name(self) -> str:
        return self.customer.get_full_name()

    @property
    def agent_name(self) -> str:
        return self.agent.get_full_name()

    def public_texts(self) -> list[str]:
        """What the customer sees on the ticket page."""
        interviewers = self.intake["interview_interviewers"]
        return [
            self.ticket.subject,
            self.ticket.description,
            *[value for name, value in self.intake.items() if name != "interview_interviewers"],
            *interviewers,
            evil("candidate", 200),
            *EVIL_EMAILS,
            evil("customer reply"),
            evil("agent reply"),
            self.agent_name,
            self.organization.name,
            EVIL_PNG_NAME,
            EVIL_TXT_NAME,
        ]


def load_payloads() -> Loaded:
    """A customer (an organization admin) and an agent with payload names, and tickets full of payloads."""
    organization = OrganizationFactory(name=evil("organization", 200))
    customer = CustomerFactory(
        first_name=evil("customer first name", 150),
        last_name=evil("customer last name", 150),
        membership__organization=organization,
        membership__role="admin",
    )
    agent = AgentFactory(first_name=evil("agent first name", 150), last_name=evil("agent last name", 150))
    intake = {
        "product_area": evil("product_area", 120),
        "feature": evil("feature", 200),
        "error_message": evil("error_message"),
        "reason": evil("reason"),
        "interview_interviewers": [evil("interviewer one"), evil("interviewer two")],
        "interview_position": evil("interview_position", 200),
        "interview_template_name": evil("interview_template_name", 200),
        "interview_template_changes": evil("interview_template_changes"),
    }
    ticket = services.ticket_create(
        requester=customer,
        subject=evil("subject", 200),
        description=evil("description"),
        severity=Severity.S2,
        intake=intake,
        candidates=[
            {"name": evil("candidate", 200), "email": EVIL_EMAILS[0]},
            {"name": "", "email": EVIL_EMAILS[1]},
        ],
        attachments=[SimpleUploadedFile(EVIL_PNG_NAME, PNG)],
    )
    services.ticket_reply(
        ticket=ticket,
        author=customer,
        body=evil("customer reply"),
        attachments=[SimpleUploadedFile(EVIL_TXT_NAME, b"scheduler: connection reset\n")],
    )
    services.ticket_reply(ticket=ticket, author=agent, body=evil("agent reply"))
    services.ticket_add_note(ticket=ticket, author=agent, body=evil("internal note"))
    ticket = services.ticket_assign(ticket=ticket, actor=agent, assignee=agent)
    related = services.ticket_create(
        requester=customer, subject=evil("related subject", 200), description=evil("related description")
    )
    chat = services.chat_start(
        customer=customer, subject="Chat: hello", severity="S3", body=evil("chat opening line")
    ).ticket
    macro = Macro.objects.create(name=evil("macro name", 100), body=evil("macro body") + " re {subject}")
    return Loaded(organization, customer, agent, ticket, related, chat, macro, intake)


@pytest.fixture
def loaded(db) -> Loaded:
    return load_payloads()


# --- The portal ------------------------------------------------------------------------------------


def test_my_tickets_escapes_subjects_names_and_the_search_box(client, loaded):
    client.force_login(loaded.customer)
    url = reverse("portal:tickets")
    mine = client.get(url).content.decode()
    assert_escaped(
        mine, [loaded.ticket.subject, loaded.related.subject, loaded.organization.name], "My tickets"
    )
    organization = client.get(url, {"scope": "organization"}).content.decode()
    assert_escaped(organization, [loaded.ticket.subject, loaded.customer_name], "organization's tickets")
    searched = client.get(url, {"q": PAYLOADS[1]}).content.decode()
    assert_escaped(searched, [PAYLOADS[1]], "search box")


def test_ticket_page_escapes_the_intake_conversation_and_file_names(client, loaded):
    client.force_login(loaded.customer)
    response = client.get(reverse("portal:ticket", args=[loaded.ticket.reference]))
    html = response.content.decode()
    assert_escaped(html, loaded.public_texts(), "portal ticket page")
    assert escape(evil("internal note")) not in html


def test_new_ticket_form_sent_back_with_errors_escapes_what_was_typed(client, requester):
    client.force_login(requester)
    typed = {
        "subject": evil("subject", 200),
        "description": evil("description"),
        "product_area": evil("product_area", 120),
        "feature": evil("feature", 200),
        "error_message": evil("error_message"),
        "reason": evil("reason"),
        "interview_position": evil("interview_position", 200),
        "interview_template_name": evil("interview_template_name", 200),
        "interview_template_changes": evil("interview_template_changes"),
        "interview_interviewers": evil("interviewer"),
        "candidates-0-name": evil("candidate", 200),
        "candidates-0-email": EVIL_EMAILS[0],
        "candidates-1-name": evil("second candidate", 200),
        "candidates-1-email": "not-an-email" + PAYLOADS[0],
    }
    data = {
        "severity": "S3",
        # The one mistake that sends the form back, beside the bad email above.
        "interview_starts_at": "2026-11-24T09:00",
        "interview_ends_at": "2026-11-23T09:00",
        "candidates-TOTAL_FORMS": "2",
        "candidates-INITIAL_FORMS": "0",
        "candidates-MIN_NUM_FORMS": "0",
        "candidates-MAX_NUM_FORMS": "50",
        **typed,
    }
    response = client.post(reverse("portal:ticket_new"), data)
    assert response.status_code == 200
    assert "interview_ends_at" in response.context["form"].errors
    assert_escaped(response.content.decode(), typed.values(), "new-ticket form with errors")
    assert not Ticket.objects.exists()


def test_reply_form_sent_back_with_a_refused_file_escapes_the_body_and_the_file_name(client, loaded):
    client.force_login(loaded.customer)
    disguised = SimpleUploadedFile(EVIL_PNG_NAME, b"<html><script>window.__xss=1</script></html>")
    response = client.post(
        reverse("portal:ticket_reply", args=[loaded.ticket.reference]),
        {"body": evil("reply typed"), "attachments": [disguised]},
    )
    assert response.status_code == 400
    errors = response.context["reply_form"].errors["attachments"]
    assert EVIL_PNG_NAME in errors[0]
    assert_escaped(response.content.decode(), [evil("reply typed"), errors[0]], "reply form with errors")


def test_chat_answers_json_with_the_payloads_as_text(client, loaded):
    client.force_login(loaded.customer)
    services.ticket_reply(ticket=loaded.chat, author=loaded.agent, body=evil("agent chat reply"))
    response = client.get(reverse("portal:chat"))
    assert response["Content-Type"] == "application/json"
    lines = response.json()["messages"]
    assert [line["body"] for line in lines] == [evil("chat opening line"), evil("agent chat reply")]
    assert lines[0]["author"] == loaded.customer_name
    assert lines[1]["author"] == f"{loaded.agent_name} (support)"


# --- The agent console -----------------------------------------------------------------------------


@pytest.fixture
def console(client, loaded):
    client.force_login(loaded.agent)
    return client


def test_every_queue_escapes_subjects_organizations_and_names(console, loaded):
    url = reverse("admin:tickets_ticket_changelist")
    for queue, _label in QueueFilter.QUEUES:
        html = console.get(url, {"queue": queue}).content.decode()
        assert_no_raw_markup(html, f"queue {queue}")
    for queue in ("mine", "open"):
        response = console.get(url, {"queue": queue})
        assert response.status_code == 200
        expected = [loaded.organization.name, loaded.agent.first_name]
        expected += [loaded.related.subject] if queue != "mine" else [loaded.ticket.subject]
        assert_escaped(response.content.decode(), expected, f"queue {queue}")
    searched = console.get(url, {"q": PAYLOADS[0]}).content.decode()
    assert_escaped(searched, [PAYLOADS[0]], "console search")


def test_ticket_page_escapes_intake_conversation_notes_trail_and_related(console, loaded):
    response = console.get(reverse("admin:tickets_ticket_change", args=[loaded.ticket.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert_escaped(
        html,
        [
            *loaded.public_texts(),
            evil("internal note"),
            loaded.customer_name,
            loaded.related.subject,  # related tickets: the requester's, and the organization's open ones
        ],
        "console ticket page",
    )
    # The audit trail names the attachments.
    trail = html[html.index('id="audit-trail"') :]
    assert escape(EVIL_PNG_NAME) in trail and escape(EVIL_TXT_NAME) in trail
    # Canned replies (names and texts) travel as JSON in a json_script block: "<" is escaped there, the
    # text is whole; the picker puts them on the page as text (the browser test below).
    block = re.search(r'<script id="macro-texts" type="application/json">(.*?)</script>', html, re.S)
    assert "<script>" not in block.group(1)
    macros = {macro["id"]: macro for macro in json.loads(block.group(1))}
    expected = services.macro_render(macro=loaded.macro, ticket=loaded.ticket, agent=loaded.agent)
    assert macros[str(loaded.macro.pk)]["name"] == loaded.macro.name
    assert macros[str(loaded.macro.pk)]["body"] == expected
    assert expected.endswith(f" re {loaded.ticket.subject}")  # the subject goes in as text, braces and all


def test_the_live_conversation_answers_json_with_the_payloads_as_text(console, loaded):
    url = reverse("live:ticket_updates", args=[loaded.ticket.pk])
    response = console.get(url, {"after": "0"})
    assert response["Content-Type"] == "application/json"
    messages = [event["message"] for event in response.json()["events"] if "message" in event]
    bodies = [message["body"] for message in messages]
    assert sorted(bodies) == sorted([evil("customer reply"), evil("agent reply"), evil("internal note")])
    assert next(m for m in messages if m["body"] == evil("agent reply"))["author"] == loaded.agent_name


def test_a_refused_reply_file_is_reported_escaped(console, loaded):
    change_url = reverse("admin:tickets_ticket_change", args=[loaded.ticket.pk])
    disguised = SimpleUploadedFile(EVIL_PNG_NAME, b"<svg onload=window.__xss=1></svg>")
    response = console.post(
        reverse("admin:tickets_ticket_reply", args=[loaded.ticket.pk]),
        {"body": evil("agent draft"), "kind": "reply", "attachments": [disguised]},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == change_url + "#reply"
    html = response.content.decode()
    assert_escaped(html, [evil("agent draft"), EVIL_PNG_NAME], "console reply refused")
    assert "is named like a PNG image" in html


@pytest.mark.parametrize(
    "page",
    [
        "admin:tickets_event_changelist",
        "admin:tickets_inboundemail_changelist",
        "admin:tickets_organization_changelist",
        "admin:tickets_macro_changelist",
        "admin:auth_user_changelist",
        "admin:tickets_membership_changelist",
        "admin:index",
        "dashboard",
    ],
)
def test_console_lists_and_dashboard_escape_what_they_show(console, loaded, settings, page):
    """As a helpdesk administrator (a superuser, who also sees canned replies and users)."""
    loaded.agent.is_superuser = True
    loaded.agent.save()
    settings.EMAIL_IN_UNKNOWN_SENDERS = "reject"
    inbound = (
        f"From: mallory@example.com\r\nTo: support@example.com\r\nSubject: {evil('mail subject', 200)}\r\n"
        "Message-ID: <xss-1@example.com>\r\nDate: Tue, 3 Mar 2026 09:00:00 +0000\r\n\r\nHello\r\n"
    ).encode()
    assert process(inbound).status == REJECTED  # an unknown sender: recorded, answered, not filed
    response = console.get(reverse(page))
    assert response.status_code == 200
    shown = {
        "admin:tickets_event_changelist": [loaded.ticket.subject, EVIL_PNG_NAME],
        "admin:tickets_inboundemail_changelist": [evil("mail subject", 200)],
        "admin:tickets_organization_changelist": [loaded.organization.name],
        "admin:tickets_macro_changelist": [loaded.macro.name],
        "admin:auth_user_changelist": [loaded.customer.first_name, loaded.organization.name],
        "admin:tickets_membership_changelist": [loaded.organization.name],
        "admin:index": [loaded.agent.first_name],
        "dashboard": [loaded.agent.first_name],
    }[page]
    assert_escaped(response.content.decode(), shown, page)


def test_the_browsable_api_escapes_ticket_fields(client, loaded):
    client.force_login(loaded.customer)
    response = client.get(f"/api/v1/tickets/{loaded.ticket.reference}/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert_no_raw_markup(html, "browsable API")
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    as_json = client.get(f"/api/v1/tickets/{loaded.ticket.reference}/", HTTP_ACCEPT="application/json")
    assert as_json.json()["subject"] == loaded.ticket.subject


# --- Notification emails ---------------------------------------------------------------------------


@pytest.fixture
def eager_celery():
    from helpdesk.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def test_notification_emails_are_plain_text_with_no_template_evaluated(
    db, eager_celery, mailoutbox, django_capture_on_commit_callbacks
):
    organization = OrganizationFactory(name=evil("organization", 200))
    customer = CustomerFactory(
        first_name=evil("customer first name", 150), membership__organization=organization
    )
    agent = AgentFactory()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.ticket_create(requester=customer, subject=evil("subject", 200), description="x")
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(ticket=ticket, author=agent, body=evil("agent reply"))
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_change_status(ticket=Ticket.objects.get(pk=ticket.pk), actor=agent, status="pending")
    assert len(mailoutbox) == 3
    for sent in mailoutbox:
        assert isinstance(sent, mail.EmailMessage)
        assert getattr(sent, "alternatives", []) == []  # no HTML part to escape
        assert sent.content_subtype == "plain"
        message = sent.message()
        assert message.get_content_type() == "text/plain"
        assert "pwned" not in sent.body and "'False': False" not in sent.body
        assert "pwned" not in sent.subject
        # Plain text is shown as text: the customer reads exactly what was written, unescaped.
        assert "&lt;" not in sent.body
    received, reply, pending = mailoutbox
    assert ticket.subject in received.subject and customer.first_name in received.body
    assert evil("agent reply") in reply.body
    assert ticket.subject in pending.body


def test_a_subject_with_line_breaks_cannot_add_headers_and_still_notifies(
    db, eager_celery, mailoutbox, django_capture_on_commit_callbacks, requester
):
    subject = "Calendar sync\r\nBcc: attacker@example.com\nX-Injected: yes"
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_create(requester=requester, subject=subject, description="x")
    (sent,) = mailoutbox
    message = sent.message()
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert sent.recipients() == [requester.email]
    assert message["Subject"].endswith("Calendar sync Bcc: attacker@example.com X-Injected: yes")


# --- The pages' scripts ----------------------------------------------------------------------------

_HTML_SINKS = re.compile(r"\.(?:innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|document\.write|\beval\(")


@pytest.mark.parametrize(
    "script",
    sorted(
        str(path.relative_to(ROOT))
        for folder in ("portal/static", "tickets/static")
        for path in (ROOT / folder).rglob("*.js")
        if "vendor" not in path.parts
    ),
)
def test_page_scripts_insert_text_never_markup(script):
    source = (ROOT / script).read_text()
    sinks = [line.strip() for line in source.splitlines() if _HTML_SINKS.search(line)]
    assert sinks == [], f"{script} writes markup: {sinks}"


def test_the_chat_and_the_console_render_bodies_with_text_content():
    chat = (ROOT / "portal/static/portal/portal.js").read_text()
    conversation = (ROOT / "tickets/static/tickets/conversation.js").read_text()
    # Every node the chat panel builds goes through `element`, which sets text only.
    assert "node.textContent = text" in chat and "lineRow(line.role, line.author, line.body)" in chat
    assert 'row.appendChild(element("div", "text", text))' in chat
    assert "body.textContent = message.body" in conversation


# --- In a browser ----------------------------------------------------------------------------------

#: Recorded before any page script runs: CSP violations (an injected inline script or handler would raise
#: one on the portal) and the dialogs an `alert(1)` payload would open.
_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.sample || ""));
});
"""
_INJECTED = """() => ({
  xss: typeof window.__xss,
  csp: window.__cspViolations,
  handlers: Array.from(document.querySelectorAll("*")).filter(function (el) {
    return Array.from(el.attributes).some(function (a) {
      return /^on/i.test(a.name) && /__xss/.test(a.value);
    });
  }).length,
  scripts: Array.from(document.scripts).filter(function (s) {
    return s.type !== "application/json" && s.textContent.indexOf("__xss") !== -1;
  }).length,
})"""


def _assert_nothing_ran(page, where: str) -> None:
    state = page.evaluate(_INJECTED)
    assert state == {"xss": "undefined", "csp": [], "handlers": 0, "scripts": 0}, f"{where}: {state}"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shipped_defaults")
@pytest.mark.skipif(
    not CHROMIUM.exists() and not IN_CI,
    reason="browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
)
def test_no_payload_runs_in_the_portal_or_the_console(live_server, browser):
    from playwright.sync_api import expect

    loaded = load_payloads()
    dialogs: list[str] = []
    contexts = []

    def new_page():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        context.add_init_script(_WATCH)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        return page

    try:
        customer = new_page()
        customer.goto(f"{live_server.url}/portal/login/")
        customer.get_by_label("Username").fill(loaded.customer.username)
        customer.get_by_label("Password").fill(PASSWORD)
        customer.get_by_role("button", name="Sign in", exact=True).click()
        expect(customer).to_have_url(f"{live_server.url}/portal/")
        expect(customer.locator("main")).to_contain_text(loaded.related.subject)
        _assert_nothing_ran(customer, "My tickets")
        customer.goto(f"{live_server.url}/portal/tickets/{loaded.ticket.reference}/")
        expect(customer.locator("h1")).to_have_text(loaded.ticket.subject)
        expect(customer.locator(".details")).to_contain_text(loaded.intake["error_message"])
        customer.locator("#chat-toggle").click()
        expect(customer.locator("#chat-log .chat-line.mine")).to_contain_text(evil("chat opening line"))

        agent = new_page()
        agent.goto(f"{live_server.url}/admin/login/?next=/admin/")
        agent.locator("#id_username").fill(loaded.agent.username)
        agent.locator("#id_password").fill(PASSWORD)
        agent.locator("input[type=submit]").click()
        expect(agent).to_have_url(f"{live_server.url}/admin/")
        agent.goto(f"{live_server.url}/admin/tickets/ticket/?queue=open")
        expect(agent.locator("#result_list")).to_contain_text(loaded.related.subject)
        _assert_nothing_ran(agent, "console queue")
        agent.goto(f"{live_server.url}/admin/tickets/ticket/{loaded.ticket.pk}/change/")
        conversation = agent.locator("#conversation")
        expect(conversation.locator(".hd-message.internal")).to_contain_text(evil("internal note"))
        # The canned-reply picker lists the macro by its name (as text) and inserts it.
        agent.locator("#canned-search").focus()
        agent.locator(f'#canned-list [data-item-id="{loaded.macro.pk}"]').click()
        expect(agent.locator("#id_body")).to_have_value(
            services.macro_render(macro=loaded.macro, ticket=loaded.ticket, agent=loaded.agent)
        )

        # New lines while both pages poll (Django's test server has no sockets): every 3 s.
        services.ticket_reply(ticket=loaded.chat, author=loaded.agent, body=evil("live chat reply"))
        services.ticket_reply(
            ticket=Ticket.objects.get(pk=loaded.ticket.pk), author=loaded.customer, body=evil("live reply")
        )
        expect(customer.locator("#chat-log .chat-line.agent")).to_contain_text(
            evil("live chat reply"), timeout=5000
        )
        expect(conversation.locator(".hd-message.customer").last).to_contain_text(
            evil("live reply"), timeout=8000
        )
        _assert_nothing_ran(customer, "portal ticket page with the chat")
        _assert_nothing_ran(agent, "console ticket page")
        assert dialogs == []
    finally:
        for context in contexts:
            context.close()
