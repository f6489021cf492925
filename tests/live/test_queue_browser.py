"""The console's queue and notification centre in a real browser (Chromium, Playwright) against the ASGI
application (uvicorn, tests/live/asgi_server.py):

- the queue fits: at 1366×900 no sideways scrolling and one line per row; at 390×844 cards, no sideways
  scrolling of the page;
- the queue is live: a new ticket appears, a status and an assignee change show, with the socket only
  (no request but the refetch of the list itself, one per burst, never a poll);
- the header's unread count and the notification centre follow a new notification live; an S1 page shows a
  desktop notification once the agent allowed them (the permission is asked on a click only);
- in the portal at 390 px, My tickets is a list of cards, and the chat button covers no form field at
  either width.

Screenshots go to test-artifacts/queues/ (docs/screenshots/ holds the ones the README shows).
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.browser import ARTIFACTS as ARTIFACTS_ROOT
from tests.browser import RECORD_VIOLATIONS, skip_without_chromium
from tests.factories import AgentFactory, CustomerFactory, OrganizationFactory
from tests.live.asgi_server import AsgiServer
from tickets.models import Severity, Status
from tickets.services import ticket_assign, ticket_change_status, ticket_create

skip_without_chromium()

from playwright.sync_api import expect  # noqa: E402 - only once Chromium is known to exist

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
    # As tests/live/test_browser.py: SQLite's in-memory test database locks the server's readers out
    # while the test writes; these run on PostgreSQL (CI).
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
        reason="needs a database server: SQLite's in-memory test database locks readers out of writers",
    ),
]

ARTIFACTS = ARTIFACTS_ROOT / "queues"
TIMEOUT_MS = 10_000
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def server(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
    with AsgiServer() as running:
        yield running


@pytest.fixture
def customer(transactional_db):
    organization = OrganizationFactory(name="Globex Recruiting")
    return CustomerFactory(
        username="oliver", first_name="Oliver", last_name="Hughes", membership__organization=organization
    )


@pytest.fixture
def agent(transactional_db):
    return AgentFactory(username="maya", first_name="Maya", last_name="Lopez")


@pytest.fixture
def open_page(browser, server):
    """open_page(user, path, viewport): a signed-in page in a browser context of its own."""
    contexts = []

    def make(user, path, viewport=LAPTOP, permissions=(), init_script=""):
        client = Client()
        client.force_login(user)
        context = browser.new_context(viewport=viewport, permissions=list(permissions))
        context.set_default_timeout(TIMEOUT_MS)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": server.url}])
        context.add_init_script(RECORD_VIOLATIONS)
        if init_script:
            context.add_init_script(init_script)
        contexts.append(context)
        page = context.new_page()
        page.requests = []
        page.on("request", lambda request: page.requests.append(request.url))
        page.goto(server.url + path)
        return page

    yield make
    for context in contexts:
        context.close()


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def page_width(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def new_ticket(customer, subject, severity=Severity.S3):
    return ticket_create(
        requester=customer, subject=subject, description="Since this morning.", severity=severity
    )


def test_the_queue_fits_and_follows_the_socket(open_page, customer, agent):
    long_subject = "Interviewer double-booked even though the calendar shows busy " * 3
    first = new_ticket(customer, long_subject.strip(), Severity.S2)
    new_ticket(customer, "Reports are empty", Severity.S4)
    page = open_page(agent, "/admin/tickets/ticket/")
    expect(page.locator("html")).to_have_attribute("data-live", "socket")
    rows = page.locator("#result_list tbody tr[data-row-link]")
    expect(rows).to_have_count(2)
    assert page_width(page) <= LAPTOP["width"]
    heights = page.evaluate(
        "() => [...document.querySelectorAll('#result_list tbody tr')]"
        ".map(r => r.getBoundingClientRect().height)"
    )
    assert max(heights) < 50, f"a row wraps: {heights}"
    subject = page.locator(f'tr[data-ticket="{first.pk}"] .hd-subject')
    expect(subject).to_have_attribute("title", long_subject.strip())
    shoot(page, "queue-1366")
    requests_before = len(page.requests)

    # A new ticket enters the queue (S1: at the top), a status and an assignee change show.
    urgent = new_ticket(customer, "SSO login loop for every user", Severity.S1)
    expect(rows).to_have_count(3)
    expect(rows.first).to_have_attribute("data-ticket", str(urgent.pk))
    ticket_change_status(ticket=first, actor=agent, status=Status.PENDING)
    ticket_assign(ticket=urgent, actor=agent, assignee=agent)
    expect(page.locator(f'tr[data-ticket="{first.pk}"] .field-status')).to_have_text("Waiting on customer")
    expect(page.locator(f'tr[data-ticket="{urgent.pk}"] .field-assignee')).to_have_text("maya")
    later = [url for url in page.requests[requests_before:] if "/static/" not in url]
    assert later, "the list was fetched again"
    assert all(url.endswith("/admin/tickets/ticket/") for url in later), later  # no polling
    assert len(later) <= 3, f"one fetch per burst of events: {later}"
    assert page.evaluate("() => window.__cspViolations") == []


def test_the_queue_on_a_phone_is_cards_without_sideways_scrolling(open_page, customer, agent):
    for index in range(3):
        new_ticket(customer, f"Candidates cannot pick a slot in the scheduling page, case {index}")
    page = open_page(agent, "/admin/tickets/ticket/", viewport=PHONE)
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    assert page_width(page) <= PHONE["width"]
    row = page.locator("#result_list tbody tr").first
    assert page.evaluate("el => getComputedStyle(el).display", row.element_handle()) == "grid"
    shoot(page, "queue-390")


def test_notifications_arrive_live_and_an_s1_page_alerts_the_desktop(open_page, customer, agent):
    other = AgentFactory(username="sam")
    ticket = new_ticket(customer, "Invites bounce")
    page = open_page(agent, "/admin/tickets/notification/", permissions=["notifications"])
    expect(page.locator("#hd-unread")).to_have_text("0")
    expect(page.locator("html")).to_have_attribute("data-inbox", "live")
    page.evaluate(
        """() => { window.__alerts = [];
           window.Notification = class { constructor(title) { window.__alerts.push(title); }
             static get permission() { return "granted"; } }; }"""
    )

    ticket_assign(ticket=ticket, actor=other, assignee=agent)
    expect(page.locator("#hd-unread")).to_have_text("1")
    expect(page.locator("#hd-inbox-list .hd-notice.unread").first).to_contain_text(
        f"Assigned to you: {ticket.reference}"
    )
    assert page.evaluate("() => window.__alerts") == []  # desktop alerts are for S1 pages only

    from sla.models import Level, Metric
    from tickets import events
    from tickets.events import EscalationFired

    s1 = new_ticket(customer, "Nobody can sign in", Severity.S1)
    events._record(
        s1,
        EscalationFired(metric=Metric.FIRST_RESPONSE, level=Level.PAGE, escalation_id=1),
        None,
        s1.created_at,
    )
    expect(page.locator("#hd-unread")).to_have_text("2")
    page.wait_for_function("() => window.__alerts.length === 1")
    assert page.evaluate("() => window.__alerts") == [f"S1 page: {s1.reference} · S1 · Nobody can sign in"]
    shoot(page, "notifications-1366")

    # Opening one marks it read and opens its ticket.
    page.locator("#hd-inbox-list .hd-notice-open button").last.click()
    expect(page).to_have_url(f"{page.url.split('/admin/')[0]}/admin/tickets/ticket/{ticket.pk}/change/")
    expect(page.locator("#hd-unread")).to_have_text("1")
    assert page.evaluate("() => window.__cspViolations") == []


#: A browser whose notification permission is still to be asked ("default"), recording when it is.
UNASKED_BROWSER = """
window.__asked = 0;
window.Notification = class {
  static get permission() { return window.__asked ? "granted" : "default"; }
  static requestPermission() { window.__asked += 1; return Promise.resolve("granted"); }
};
"""


def test_desktop_permission_is_asked_on_a_click_not_on_load(open_page, agent):
    page = open_page(agent, "/admin/tickets/notification/", init_script=UNASKED_BROWSER)
    button = page.locator("#hd-desktop-alerts")
    expect(button).to_be_visible()
    expect(page.locator("html")).to_have_attribute("data-inbox", "live")
    assert page.evaluate("() => window.__asked") == 0  # loading never asks
    button.click()
    expect(button).to_be_hidden()
    assert page.evaluate("() => window.__asked") == 1


def test_my_tickets_are_cards_on_a_phone_and_the_chat_button_covers_no_field(open_page, customer):
    for index in range(2):
        new_ticket(customer, f"Candidate confirmation email shows the wrong time zone ({index})")
    page = open_page(customer, "/portal/", viewport=PHONE)
    expect(page.locator("table.ticket-cards tbody tr")).to_have_count(2)
    assert page_width(page) <= PHONE["width"]
    assert (
        page.evaluate("() => getComputedStyle(document.querySelector('.ticket-cards tr')).display") == "grid"
    )
    shoot(page, "portal-my-tickets-390")
    for viewport in (PHONE, LAPTOP):
        page.set_viewport_size(viewport)
        page.goto(page.url.split("/portal/")[0] + "/portal/tickets/new/")
        covered = page.evaluate(
            """() => {
              const toggle = document.getElementById('chat-toggle');
              const selector = 'main input, main textarea, main select, main button';
              const fields = [...document.querySelectorAll(selector)];
              const hits = [];
              const step = Math.max(100, window.innerHeight / 3);
              for (let y = 0; y <= document.documentElement.scrollHeight; y += step) {
                window.scrollTo(0, y);
                const t = toggle.getBoundingClientRect();
                for (const field of fields) {
                  const f = field.getBoundingClientRect();
                  const across = f.left < t.right && f.right > t.left;
                  const overlaps = across && f.top < t.bottom && f.bottom > t.top;
                  if (f.width && f.height && overlaps)
                    hits.push(field.name || field.id);
                }
              }
              return [...new Set(hits)];
            }"""
        )
        assert covered == [], f"at {viewport['width']} px the chat button covers {covered}"
        assert page_width(page) <= viewport["width"]
