"""Live updates in a real browser (Debian's Chromium through Playwright) against the ASGI application
served by uvicorn (tests/live/asgi_server.py): an agent's reply appears on the customer's open ticket page
in under a second, with no polling while the socket is up; a customer's reply on the console's ticket
page; statuses on My tickets; and the polling fallback where WebSockets cannot connect, no faster than
the server allows. Screenshots go to test-artifacts/live/.
"""

from __future__ import annotations

import itertools
import re
import time

import pytest
from django.conf import settings
from django.test import Client

from tests.browser import ARTIFACTS as ARTIFACTS_ROOT
from tests.browser import RECORD_VIOLATIONS, skip_without_chromium
from tests.factories import AgentFactory, CustomerFactory, OrganizationFactory
from tests.live.asgi_server import AsgiServer
from tickets.models import Status
from tickets.services import ticket_change_status, ticket_create, ticket_reply

skip_without_chromium()

from playwright.sync_api import expect  # noqa: E402 - only once Chromium is known to exist

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
    # SQLite's shared in-memory test database answers "table is locked" (at once, no waiting) when the
    # test writes while a server thread reads, which the polling page and the embedded reader do all the
    # time. These run on PostgreSQL (CI); embedded mode is served end to end from a file database by
    # tests/live/test_servers.py.
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
        reason="needs a database server: SQLite's in-memory test database locks readers out of writers",
    ),
]

ARTIFACTS = ARTIFACTS_ROOT / "live"
TIMEOUT_MS = 10_000


@pytest.fixture
def server(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
    with AsgiServer() as running:
        yield running


@pytest.fixture
def customer(transactional_db):
    organization = OrganizationFactory(name="Acme Hiring")
    return CustomerFactory(
        username="dana", first_name="Dana", last_name="Scully", membership__organization=organization
    )


@pytest.fixture
def agent(transactional_db):
    return AgentFactory(username="fox", first_name="Fox", last_name="Mulder")


@pytest.fixture
def open_page(browser, server):
    """open_page(user, path): a signed-in page of its own (one browser context per person), recording the
    requests it makes and any policy violation; closed after the test."""
    contexts = []

    def make(user, path, *, block_websockets=False):
        client = Client()
        client.force_login(user)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": server.url,
                }
            ]
        )
        context.add_init_script(RECORD_VIOLATIONS)
        if block_websockets:  # as behind a proxy that does not upgrade /ws/
            context.route_web_socket(re.compile(r".*/ws/.*"), lambda socket: socket.close())
        contexts.append(context)
        page = context.new_page()
        page.requests = []
        page.on("request", lambda request: page.requests.append((time.monotonic(), request.url)))
        page.goto(server.url + path)
        return page

    yield make
    for context in contexts:
        context.close()


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def new_ticket(customer, subject="Candidates cannot self-schedule"):
    return ticket_create(requester=customer, subject=subject, description="No slots since this morning.")


def test_an_agents_reply_appears_on_the_customers_page_within_a_second(open_page, customer, agent):
    ticket = new_ticket(customer)
    page = open_page(customer, f"/portal/tickets/{ticket.reference}/")
    expect(page.locator("html")).to_have_attribute("data-live", "socket")
    expect(page.locator("#ticket-status .badge")).to_have_text("New")
    requests_before = len(page.requests)

    sent = time.monotonic()
    ticket_reply(ticket=ticket, author=agent, body="We found it: the calendar sync was paused.\nFixed now.")
    reply = page.locator("#conversation article.message-agent")
    expect(reply).to_contain_text("We found it: the calendar sync was paused.", timeout=1000)
    shown = time.monotonic() - sent
    assert shown < 1.0, f"the reply took {shown:.2f} s"

    expect(reply.locator("header")).to_contain_text("Fox Mulder (support)")
    expect(page.locator("#ticket-status .badge")).to_have_text("Open")  # the reply opened it
    expect(page.locator("#ticket-promises")).to_be_visible()
    expect(page.locator("#ticket-timeline")).to_contain_text("Status: New → Open")
    expect(page.locator("#live-announcement")).to_have_text("Status changed to Open")  # said last
    assert page.requests[requests_before:] == [], "no request (no polling) while the socket is up"
    assert page.evaluate("() => window.__cspViolations") == []
    shoot(page, "portal_ticket_reply_live")

    # The agent resolves it: the buttons follow (Reopen instead of This is resolved).
    ticket.refresh_from_db()
    ticket_change_status(ticket=ticket, actor=agent, status=Status.RESOLVED)
    expect(page.locator("#ticket-status .badge")).to_have_text("Resolved")
    expect(page.locator("#ticket-reopen")).to_be_visible()
    expect(page.locator("#ticket-resolve")).to_be_hidden()
    assert page.requests[requests_before:] == []


def test_a_customers_reply_appears_on_the_console_ticket_page(open_page, customer, agent):
    ticket = new_ticket(customer)
    page = open_page(agent, f"/admin/tickets/ticket/{ticket.pk}/change/")
    expect(page.locator("html")).to_have_attribute("data-live", "socket")

    ticket_reply(ticket=ticket, author=customer, body="Still no slots, and the interviews are tomorrow.")

    message = page.locator("#conversation .hd-message.customer", has_text="interviews are tomorrow")
    expect(message).to_be_visible(timeout=2000)
    expect(message.locator(".meta")).to_contain_text("Dana Scully · Customer")
    assert page.evaluate("() => window.__cspViolations") == []
    shoot(page, "console_customer_reply_live")


def test_my_tickets_follows_each_tickets_status(open_page, customer, agent):
    first = new_ticket(customer, subject="First")
    second = new_ticket(customer, subject="Second")
    page = open_page(customer, "/portal/")
    expect(page.locator("html")).to_have_attribute("data-live", "socket")

    ticket_reply(ticket=second, author=agent, body="Looking into it", then_status=Status.PENDING)

    row = page.locator(f'tr[data-ticket-id="{second.pk}"]')
    expect(row.locator(".ticket-status")).to_have_text("Waiting on customer", timeout=2000)
    expect(page.locator(f'tr[data-ticket-id="{first.pk}"] .ticket-status')).to_have_text("New")
    shoot(page, "my_tickets_live")


def test_without_websockets_the_page_polls_no_faster_than_the_server_allows(
    open_page, customer, agent, settings
):
    settings.LIVE_POLL_MIN_SECONDS = 1
    ticket = new_ticket(customer)
    page = open_page(customer, f"/portal/tickets/{ticket.reference}/", block_websockets=True)
    expect(page.locator("html")).to_have_attribute("data-live", "polling")
    for _ in range(2):  # two more polls, to see their spacing
        with page.expect_request(lambda request: "/live/tickets/" in request.url):
            pass

    ticket_reply(ticket=ticket, author=agent, body="Answered through the fallback")

    expect(page.locator("#conversation article.message-agent")).to_contain_text("through the fallback")
    polls = [at for at, url in page.requests if "/live/tickets/" in url]
    assert len(polls) >= 3
    assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(polls))


def test_each_side_sees_the_other_typing(open_page, customer, agent):
    ticket = new_ticket(customer)
    portal = open_page(customer, f"/portal/tickets/{ticket.reference}/")
    console = open_page(agent, f"/admin/tickets/ticket/{ticket.pk}/change/")
    for page in (portal, console):
        expect(page.locator("html")).to_have_attribute("data-live", "socket")

    console.locator("#reply textarea").press_sequentially("We are looking")
    expect(portal.locator("#typing")).to_have_text("Fox Mulder (support) is typing…")
    portal.locator("#ticket-actions textarea[name=body]").press_sequentially("Thanks")
    expect(console.locator("#typing")).to_have_text("Dana Scully is typing…")
    shoot(portal, "portal_agent_typing")

    ticket_reply(ticket=ticket, author=agent, body="Here is the answer")
    expect(portal.locator("#typing")).to_be_hidden()  # the message it announced has come


def test_an_agent_sees_a_colleague_on_the_same_ticket(open_page, customer, agent):
    colleague = AgentFactory(username="dana.k", first_name="Dana", last_name="Katz")
    ticket = new_ticket(customer)
    first = open_page(agent, f"/admin/tickets/ticket/{ticket.pk}/change/")
    expect(first.locator("html")).to_have_attribute("data-live", "socket")
    second = open_page(colleague, f"/admin/tickets/ticket/{ticket.pk}/change/")

    expect(first.locator("#presence")).to_have_text("Also on this ticket: Dana Katz")
    expect(second.locator("#presence")).to_have_text("Also on this ticket: Fox Mulder")
    shoot(second, "console_presence")
    second.close()
    expect(first.locator("#presence")).to_be_hidden()
