"""Accessibility: every page of the portal and the agent console, checked with axe-core in Chromium at a
laptop's width (1366×900) and a phone's (390×844). No critical and no serious violation is allowed, and
no page scrolls sideways on the phone (but those listed in SCROLLS_SIDEWAYS_TODAY).

axe-core comes from npm, pinned in tests/accessibility/package-lock.json and installed by `make test`
(`npm ci`); the test injects node_modules/axe-core/axe.min.js into each page (the pages' content
security policy is bypassed for that script only: `bypass_csp=True`). In CI (CI=true) a missing axe-core
or Chromium is a failure; elsewhere the module is skipped with the reason.

To check a new page, add its address to PORTAL_PAGES or CONSOLE_PAGES (placeholders: {ticket},
{reference}, {organization}, {customer}, {calendar}, {reset}). Each run writes every violation found,
of any impact, to test-artifacts/axe/<surface>-<width>.json (docs/accessibility.md has the figures).
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.browser import ARTIFACTS, AXE_JS, IN_CI, skip_without_chromium
from tests.factories import PASSWORD, AgentFactory, CustomerFactory, OrganizationFactory
from tickets.models import Macro, SavedView, Severity
from tickets.services import ticket_add_note, ticket_assign, ticket_create, ticket_reply

AXE = AXE_JS
TIMEOUT_MS = 15_000
WIDTHS = {"1366": {"width": 1366, "height": 900}, "390": {"width": 390, "height": 844}}
#: The impacts that fail the check.
BLOCKING = ("critical", "serious")
#: Pages that still scroll sideways on a phone, each with who fixes it. Every other page fits 390 px.
SCROLLS_SIDEWAYS_TODAY: set[str] = set()

#: Portal pages: (address, who is signed in: None or "customer").
PORTAL_PAGES = [
    ("/portal/login/", None),
    ("/portal/password-reset/", None),
    ("/portal/password-reset/sent/", None),
    ("{reset}", None),
    ("/portal/password-reset/done/", None),
    ("/support/response-targets/", None),
    ("/support/help/", None),
    ("/support/articles/", None),
    ("/support/articles/?q=calendar", None),
    ("/support/articles/how-can-customers-view-the-ticket-status-of-their-requests/", None),
    ("/portal/", "customer"),
    ("/portal/tickets/{reference}/", "customer"),
    ("/portal/tickets/new/", "customer"),
]

#: Console pages, as the console's administrator sees them (every page exists for them).
CONSOLE_PAGES = [
    "/admin/",
    "/admin/dashboard/",
    "/admin/tickets/ticket/",
    "/admin/tickets/ticket/?queue=all",
    "/admin/tickets/ticket/{ticket}/change/",
    "/admin/tickets/ticket/add/",
    "/admin/tickets/notification/",
    "/admin/tickets/notification/settings/",
    "/admin/tickets/savedview/",
    "/admin/tickets/savedview/add/",
    "/admin/tickets/macro/",
    "/admin/tickets/macro/add/",
    "/admin/tickets/ticket/chats/",
    "/admin/tickets/ticket/customer/{customer}/",
    "/admin/tickets/ticket/my-timezone/",
    "/admin/tickets/article/",
    "/admin/tickets/article/add/",
    "/admin/tickets/satisfactionrating/",
    "/admin/dashboard/satisfaction/",
    "/admin/auth/user/",
    "/admin/auth/user/{customer}/change/",
    "/admin/tickets/organization/",
    "/admin/tickets/organization/{organization}/change/",
    "/admin/tickets/membership/",
    "/admin/tickets/event/",
    "/admin/tickets/inboundemail/",
    "/admin/sla/slapolicy/",
    "/admin/sla/responsetarget/",
    "/admin/sla/businesscalendar/",
    "/admin/sla/businesscalendar/{calendar}/change/",
    "/admin/sla/escalationcontact/",
    "/admin/sla/escalation/",
    "/admin/tickets/apitoken/",
    "/admin/tickets/webhooksubscription/",
    "/admin/password_change/",
]

if not AXE.exists():
    if IN_CI:
        raise RuntimeError(f"CI=true but {AXE} is missing: `make test` installs it with `npm ci`")
    pytest.skip(
        "axe-core is missing: run `npm ci --prefix tests/accessibility` (`make test` does when npm exists)",
        allow_module_level=True,
    )
skip_without_chromium()

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
]


@pytest.fixture
def world(transactional_db):
    """A small helpdesk with something on every page: tickets with a conversation, a note, a canned
    reply, a saved view, notifications."""
    from sla.models import BusinessCalendar
    from tickets.help_center import ensure_help_center

    ensure_help_center()  # the flush after each transactional test empties the seeded articles too

    organization = OrganizationFactory(name="Acme Talent")
    customer = CustomerFactory(
        username="sarah", first_name="Sarah", last_name="Chen", membership__organization=organization
    )
    admin = AgentFactory(username="lead", is_superuser=True, first_name="Maya", last_name="Lead")
    agent = AgentFactory(username="sam", first_name="Sam", last_name="Agent")
    ticket = ticket_create(
        requester=customer,
        subject="Interview invites go out without a video link since this morning's release",
        description="Since 09:40, every invite lacks the Zoom link.",
        severity=Severity.S2,
    )
    ticket_create(requester=customer, subject="SSO login loop", description="Loops.", severity=Severity.S1)
    ticket_create(requester=customer, subject="Export to CSV", description="Please.", severity=Severity.S4)
    ticket_assign(ticket=ticket, actor=agent, assignee=admin)
    ticket_reply(ticket=ticket, author=admin, body="We are looking into it.")
    ticket_add_note(ticket=ticket, author=admin, body="Release 4.2 changed the invite template.")
    ticket_reply(ticket=ticket, author=customer, body="Still happening.")
    Macro.objects.get_or_create(
        name="Need more details", defaults={"body": "Hello {requester_name}, could you tell us more?"}
    )
    SavedView.objects.create(owner=admin, name="My S1s", query="severity__exact=S1", watch=True)
    uid = urlsafe_base64_encode(force_bytes(customer.pk))
    reset = f"/portal/password-reset/{uid}/{default_token_generator.make_token(customer)}/"
    return {
        "admin": admin,
        "customer": customer,
        "values": {
            "ticket": ticket.pk,
            "reference": ticket.reference,
            "organization": organization.pk,
            "customer": customer.pk,
            "calendar": BusinessCalendar.objects.order_by("pk").first().pk,
            "reset": reset,
        },
    }


#: The page width each address was laid out at (document.documentElement.scrollWidth), by address.
widths: dict[str, int] = {}


def check(page, url: str) -> list[dict]:
    """axe's violations on the page at `url` (all impacts); its laid-out width goes to `widths`."""
    response = page.goto(url)
    assert response is not None and response.status < 400, f"{url}: HTTP {response and response.status}"
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")), count: v.nodes.length,
            }));
        }"""
    )
    widths[url] = page.evaluate("() => document.documentElement.scrollWidth")
    return result


def sign_in(page, base: str, login_path: str, user) -> None:
    page.goto(f"{base}{login_path}")
    page.locator("input[name=username]").fill(user.username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form [type=submit]").first.click()
    page.wait_for_load_state()
    assert "/login/" not in page.url, f"signing in {user.username} failed"


def run_pages(browser, live_server, world, surface: str, width: str) -> dict[str, list[dict]]:
    values = world["values"]
    found: dict[str, list[dict]] = {}
    context = browser.new_context(viewport=WIDTHS[width], bypass_csp=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        if surface == "portal":
            signed_in = False
            for path, who in PORTAL_PAGES:
                if who == "customer" and not signed_in:
                    sign_in(page, live_server.url, "/portal/login/", world["customer"])
                    signed_in = True
                found[path] = check(page, live_server.url + path.format(**values))
        else:
            found["/admin/login/"] = check(page, f"{live_server.url}/admin/login/")
            sign_in(page, live_server.url, "/admin/login/?next=/admin/", world["admin"])
            for path in CONSOLE_PAGES:
                found[path] = check(page, live_server.url + path.format(**values))
    finally:
        context.close()
    return found


def report(found: dict[str, list[dict]]) -> list[str]:
    return [
        f"{path}: {violation['impact']} {violation['id']} ({violation['help']}) x{violation['count']}: "
        + ", ".join(violation["nodes"])
        for path, violations in found.items()
        for violation in violations
        if violation["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("surface", ["portal", "console"])
def test_no_critical_or_serious_violations(browser, live_server, world, surface, width):
    found = run_pages(browser, live_server, world, surface, width)
    folder = ARTIFACTS / "axe"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{surface}-{width}.json").write_text(json.dumps(found, indent=2))
    assert len(found) == (len(PORTAL_PAGES) if surface == "portal" else len(CONSOLE_PAGES) + 1)
    problems = report(found)
    if width == "390":
        values = world["values"]
        problems += [
            f"{path}: the page is {widths[live_server.url + path.format(**values)]} px wide at 390 px"
            for path in found
            if path not in SCROLLS_SIDEWAYS_TODAY
            and widths[live_server.url + path.format(**values)] > WIDTHS["390"]["width"]
        ]
    assert problems == [], "\n".join(problems)
