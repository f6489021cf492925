"""The ticket page of the console in a real browser, under the console's content security policy: no
inline code is refused (nothing on the page needs any), and Ctrl+Enter in the reply box sends the reply.

Run only the browser tests with `pytest -m browser`. Without /usr/bin/chromium the module is skipped,
except in CI.
"""

from __future__ import annotations

import pytest

from tests.browser import RECORD_VIOLATIONS, skip_without_chromium
from tests.factories import PASSWORD, AgentFactory, CustomerFactory
from tickets.models import Message
from tickets.services import ticket_create

TIMEOUT_MS = 10_000

skip_without_chromium()

from playwright.sync_api import expect  # noqa: E402 - only once Chromium is known to exist

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
]


def test_ctrl_enter_sends_the_reply_under_the_console_policy(live_server, browser):
    agent = AgentFactory(username="mulder")
    ticket = ticket_create(
        requester=CustomerFactory(), subject="Invites bounce", description="Since this morning."
    )
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.locator("#id_username").fill(agent.username)
        page.locator("#id_password").fill(PASSWORD)
        page.locator("input[type=submit]").click()
        expect(page).to_have_url(f"{live_server.url}/admin/")

        response = page.goto(f"{live_server.url}/admin/tickets/ticket/{ticket.pk}/change/")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        box = page.locator("#reply textarea")
        box.fill("We are looking into it.")
        box.press("Control+Enter")

        expect(page.locator("#conversation .hd-message.agent .body")).to_have_text("We are looking into it.")
        assert Message.objects.filter(ticket=ticket, author=agent, internal=False).count() == 1
        for path in ("/admin/tickets/ticket/", f"/admin/tickets/ticket/{ticket.pk}/change/"):
            page.goto(f"{live_server.url}{path}")
            expect(page.locator("#content")).to_be_visible()
            assert page.evaluate("() => window.__cspViolations") == [], path
    finally:
        context.close()
