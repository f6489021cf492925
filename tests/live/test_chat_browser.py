"""The chat panel in a real browser (Chromium through Playwright) against the ASGI application served by
uvicorn: a customer's line reaches the agent's console, and the agent's reply the customer's panel, each
in under a second with no request while the sockets are up; the same through the polling fallback with
WebSockets blocked; continuing on an open ticket versus a new conversation with a severity; the honest
availability line; the live Chats queue with Accept. Screenshots go to test-artifacts/chat/.
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
from tickets import chats, presence
from tickets.models import Channel, Chat, Message, Ticket
from tickets.services import chat_start, ticket_create, ticket_reply

skip_without_chromium()

from playwright.sync_api import expect  # noqa: E402 - only once Chromium is known to exist

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
    # As tests/live/test_browser.py: SQLite's shared in-memory test database locks readers out of writers.
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
        reason="needs a database server: SQLite's in-memory test database locks readers out of writers",
    ),
]

ARTIFACTS = ARTIFACTS_ROOT / "chat"
TIMEOUT_MS = 10_000


@pytest.fixture(autouse=True)
def _nobody_online():
    from django.core.cache import cache

    cache.delete(presence.KEY)
    yield
    cache.delete(presence.KEY)


@pytest.fixture
def server(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
    with AsgiServer() as running:
        yield running


@pytest.fixture
def customer(transactional_db):
    organization = OrganizationFactory(name="Acme Hiring", timezone="America/Los_Angeles")
    return CustomerFactory(
        username="dana", first_name="Dana", last_name="Scully", membership__organization=organization
    )


@pytest.fixture
def agent(transactional_db):
    return AgentFactory(username="fox", first_name="Fox", last_name="Mulder")


@pytest.fixture
def open_page(browser, server):
    """open_page(user, path): a signed-in page in a browser context of its own, recording its requests."""
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
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def open_panel(page):
    page.locator("#chat-toggle").click()
    expect(page.locator("#chat-panel")).to_be_visible()


def start_conversation(page, *, subject, severity, body):
    page.locator("#chat-subject").fill(subject)
    page.locator(f"#chat-severity-{severity}").check()
    page.locator("#chat-input").fill(body)
    page.locator("#chat-input").press("Enter")


def test_chat_lines_cross_in_under_a_second_with_no_request_while_the_sockets_are_up(
    open_page, customer, agent
):
    page = open_page(customer, "/portal/")
    open_panel(page)
    start_conversation(page, subject="Calendar sync down", severity="S2", body="Hi, is anyone there?")
    panel = page.locator("#chat-panel")
    expect(panel).to_have_attribute("data-live", "socket")
    ticket = Ticket.objects.get(channel=Channel.CHAT)
    assert (ticket.subject, ticket.severity) == ("Calendar sync down", "S2")
    expect(page.locator("#chat-ticket")).to_have_text(f"{ticket.reference} · New")

    console = open_page(agent, f"/admin/tickets/ticket/{ticket.pk}/change/")
    expect(console.locator("html")).to_have_attribute("data-live", "socket")
    conversation = console.locator("#conversation")
    customer_requests, console_requests = len(page.requests), len(console.requests)

    # A first line on the socket (the server's threads and connections warm up), then the one measured:
    # sent on the socket, it shows in the console's conversation.
    page.locator("#chat-input").fill("Hello again.")
    page.locator("#chat-input").press("Enter")
    expect(conversation.locator(".hd-message.customer").last).to_contain_text("Hello again.")
    sent = time.monotonic()
    page.locator("#chat-input").fill("It started at 9 this morning.")
    page.locator("#chat-input").press("Enter")
    expect(conversation.locator(".hd-message.customer").last).to_contain_text("It started at 9", timeout=1000)
    shown = time.monotonic() - sent
    assert shown < 1.0, f"the customer's line took {shown:.2f} s"
    expect(page.locator("#chat-log .chat-line.mine")).to_have_count(3)
    expect(page.locator("#chat-log .chat-line.pending")).to_have_count(0)

    # The agent writes: "Support is typing…" in the panel; the reply shows there with who answered.
    console.locator("#reply textarea[name=body]").press_sequentially("Look")
    expect(page.locator("#chat-typing")).to_be_visible(timeout=1000)
    expect(page.locator("#chat-typing")).to_have_text("Support is typing…")
    sent = time.monotonic()
    ticket_reply(ticket=ticket, author=agent, body="Fox here: the sync was paused, restarting it now.")
    agent_line = page.locator("#chat-log .chat-line.agent")
    expect(agent_line).to_contain_text("the sync was paused", timeout=1000)
    shown = time.monotonic() - sent
    assert shown < 1.0, f"the agent's reply took {shown:.2f} s"
    expect(agent_line.locator(".who")).to_have_text("Fox Mulder (support)")
    expect(page.locator("#chat-typing")).to_be_hidden()

    assert page.requests[customer_requests:] == [], (
        "the panel made requests (polling) while its socket was up"
    )
    assert console.requests[console_requests:] == [], "the console made requests while its socket was up"
    assert [m.body for m in Message.objects.filter(ticket=ticket)] == [
        "Hello again.",
        "It started at 9 this morning.",
        "Fox here: the sync was paused, restarting it now.",
    ]
    assert page.evaluate("() => window.__cspViolations") == []
    shoot(page, "panel_live")
    shoot(console, "console_live")


def test_with_websockets_blocked_the_chat_runs_on_the_polling_fallback(open_page, customer, agent, settings):
    settings.LIVE_POLL_MIN_SECONDS = 1
    ticket = chat_start(
        customer=customer, subject="Reports twice", severity="S3", body="Reports show twice"
    ).ticket
    page = open_page(customer, "/portal/", block_websockets=True)
    open_panel(page)
    panel = page.locator("#chat-panel")
    expect(panel).to_have_attribute("data-live", "polling")
    console = open_page(agent, f"/admin/tickets/ticket/{ticket.pk}/change/", block_websockets=True)
    expect(console.locator("html")).to_have_attribute("data-live", "polling")
    expect(page.locator("#chat-log .chat-line.mine")).to_have_text(re.compile("Reports show twice"))

    # The line is posted over HTTP and reaches the console at its next poll.
    page.locator("#chat-input").fill("Only for interviews since Monday.")
    page.locator("#chat-input").press("Enter")
    sent = time.monotonic()
    conversation = console.locator("#conversation")
    expect(conversation.locator(".hd-message.customer").last).to_contain_text("since Monday", timeout=5000)
    shown = time.monotonic() - sent
    ticket_reply(ticket=Ticket.objects.get(pk=ticket.pk), author=agent, body="Which report do you open?")
    sent = time.monotonic()
    expect(page.locator("#chat-log .chat-line.agent")).to_contain_text("Which report", timeout=5000)
    shown_reply = time.monotonic() - sent
    assert shown < 2.5 and shown_reply < 2.5, (shown, shown_reply)  # a poll a second, plus the request
    expect(page.locator("#chat-log .chat-line")).to_have_count(3)  # each line once

    posts = [url for _, url in page.requests if url.endswith("/portal/chat/")]
    polls = [at for at, url in page.requests if f"/live/tickets/{ticket.pk}/" in url]
    assert len(polls) >= 2
    assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(polls))
    assert len(posts) == 2  # the panel's state when it opened, and the line
    shoot(page, "panel_polling")


def test_continue_on_an_open_ticket_or_start_a_new_conversation_with_a_severity(open_page, customer):
    s1 = ticket_create(requester=customer, subject="Nothing loads", description="Since 9.", severity="S1")
    page = open_page(customer, "/portal/")
    open_panel(page)
    choice = page.locator("#chat-open-tickets button")
    expect(choice).to_have_count(1)
    expect(choice).to_contain_text(s1.reference)
    expect(choice).to_contain_text("Nothing loads")
    expect(choice).to_contain_text("S1 · New")
    shoot(page, "panel_choose")
    choice.click()
    page.locator("#chat-input").fill("Hi, is anyone there? Still nothing loads.")
    page.locator("#chat-input").press("Enter")
    expect(page.locator("#chat-panel")).to_have_attribute("data-live", "socket")
    expect(page.locator("#chat-ticket")).to_contain_text(s1.reference)
    expect(page.locator("#chat-log .chat-line.mine")).to_contain_text("Still nothing loads")
    assert Ticket.objects.count() == 1
    assert s1.messages.get().channel == Channel.CHAT

    # Another topic: a new conversation asks what it is about and how bad it is.
    page.locator("#chat-switch").click()
    page.locator("#chat-new").click()
    page.locator("#chat-input").fill("Can we export reports?")
    page.locator("#chat-input").press("Enter")
    expect(page.locator("#chat-subject-error")).to_have_text("Say in one line what it is about.")
    expect(page.locator("#chat-severity-error")).to_have_text("Choose how bad it is: S1 to S5.")
    expect(page.locator("#chat-input")).to_have_value("Can we export reports?")  # nothing typed is lost
    expect(page.locator("label[for=chat-severity-S4]")).to_contain_text(
        "Cosmetic issues; help-system issues."
    )
    page.locator("#chat-subject").fill("Exporting reports")
    page.locator("#chat-severity-S4").check()
    shoot(page, "panel_new_conversation")
    page.locator("#chat-input").press("Enter")
    expect(page.locator("#chat-ticket")).to_contain_text(re.compile(r"HD-\d+ · New"))
    new = Ticket.objects.exclude(pk=s1.pk).get()
    assert (new.subject, new.severity, new.channel, new.description) == (
        "Exporting reports",
        "S4",
        Channel.CHAT,
        "Can we export reports?",
    )
    assert Chat.objects.count() == 2


def test_the_panel_says_an_agent_is_online_only_while_one_has_the_console_open(open_page, customer, agent):
    page = open_page(customer, "/portal/")
    open_panel(page)
    page.locator("#chat-severity-S2").check()
    expected = chats.availability(customer).by_severity["S2"]
    expect(page.locator("#chat-availability")).to_have_text(expected)
    assert expected.startswith("We'll answer by ") and "(America/Los Angeles)" in expected
    page.locator("#chat-severity-S1").check()
    expect(page.locator("#chat-availability")).to_have_text(chats.availability(customer).by_severity["S1"])
    shoot(page, "panel_answer_by")

    console = open_page(agent, "/admin/tickets/ticket/chats/")
    expect(console.locator("html")).to_have_attribute("data-live", "socket")
    page.reload()  # the panel reopens (it stays open across pages) and asks again
    expect(page.locator("#chat-availability")).to_have_text("An agent is online.")
    shoot(page, "panel_agent_online")
    console.close()  # the socket closes with the page
    deadline = time.monotonic() + 5
    while chats.has_agent_online() and time.monotonic() < deadline:
        time.sleep(0.05)
    page.reload()
    expect(page.locator("#chat-availability")).to_have_text(re.compile(r"^We'll answer by "))


def test_the_chats_queue_shows_new_chats_live_and_accept_assigns_them(open_page, customer, agent):
    queue = open_page(agent, "/admin/tickets/ticket/chats/")
    expect(queue.locator("html")).to_have_attribute("data-live", "socket")
    expect(queue.locator("#chat-queue-empty")).to_be_visible()

    page = open_page(customer, "/portal/")
    open_panel(page)
    sent = time.monotonic()
    start_conversation(page, subject="Invites bounce", severity="S2", body="All our invites bounce")
    row = queue.locator("#chat-queue-rows tr")
    expect(row).to_have_count(1, timeout=2000)
    shown = time.monotonic() - sent
    assert shown < 2.0, f"the chat took {shown:.2f} s to enter the queue"
    expect(row).to_contain_text("Invites bounce")
    expect(row).to_contain_text("All our invites bounce")
    expect(row).to_contain_text("Dana Scully")
    shoot(queue, "chats_queue")

    row.get_by_role("button", name="Accept").click()
    ticket = Ticket.objects.get(channel=Channel.CHAT)
    expect(queue).to_have_url(re.compile(rf"/admin/tickets/ticket/{ticket.pk}/change/#reply$"))
    ticket.refresh_from_db()
    assert ticket.assignee == agent
