"""The API's pages in a real browser under their content security policy (penetration test, finding 11):
the Swagger UI at /api/docs/ renders the operations, and the browsable API lists tickets and shows its
forms, with no CSP violation reported (scripts from our origin only; the few inline styles DRF and
drf-spectacular ship are allowed by hash, see portal/middleware.py).

Run only the browser tests with `pytest -m browser`. Without /usr/bin/chromium the module is skipped,
except in CI.
"""

from __future__ import annotations

import pytest

from tests.browser import RECORD_VIOLATIONS, skip_without_chromium
from tests.factories import PASSWORD, AgentFactory, CustomerFactory
from tickets.services import ticket_create

TIMEOUT_MS = 15_000

skip_without_chromium()

from playwright.sync_api import expect  # noqa: E402 - only once Chromium is known to exist

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
]


@pytest.fixture
def page(live_server, browser):
    """A page signed in to the console as an agent, recording CSP violations and console errors."""
    agent = AgentFactory(username="scully", is_superuser=True)
    ticket_create(requester=CustomerFactory(), subject="Invites bounce", description="Since this morning.")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.locator("#id_username").fill(agent.username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")
    yield page
    context.close()


def test_the_swagger_ui_renders_the_operations_under_its_policy(live_server, page):
    response = page.goto(f"{live_server.url}/api/docs/")

    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/tickets/").first).to_be_visible()
    page.locator(".opblock-summary-path", has_text="/api/v1/tickets/").first.click()
    expect(page.locator(".try-out__btn").first).to_be_visible()
    assert page.evaluate("() => window.__cspViolations") == []
    assert [e for e in page.console_errors if "Content Security Policy" in e] == []


def test_the_browsable_api_works_under_its_policy(live_server, page):
    response = page.goto(f"{live_server.url}/api/v1/tickets/")

    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".response-info")).to_contain_text("Invites bounce")
    # The page's scripts ran (jQuery and DRF's own): the format menu opens.
    page.locator("#get-form .dropdown-toggle").click()
    expect(page.locator("#get-form .dropdown-menu")).to_be_visible()
    page.goto(f"{live_server.url}/api/v1/calendars/")
    # Bodies are JSON (a calendar's hours are nested): the raw-content form, with JSON as its media type.
    expect(page.locator("#post-generic-content-form")).to_be_attached()
    expect(page.locator("#post-generic-content-form select[name='_content_type']")).to_have_value(
        "application/json"
    )
    assert page.evaluate("() => window.__cspViolations") == []
    assert [e for e in page.console_errors if "Content Security Policy" in e] == []
