"""Self-service in a real browser (Debian's Chromium through Playwright, against the live server):

- a customer types "interview not showing on calendar" on the new-ticket form and sees the matching
  article before filing; opening it records a deflection, and leaving without filing keeps it one;
- the severity suggestion changes as the answers change, and "Use the suggestion" picks it;
- a resolved ticket's rating link works without signing in, and the rating shows on the console's
  satisfaction dashboard;
- the new portal pages pass axe-core with no critical or serious violation (when axe-core is installed:
  AXE_CORE_JS, or node_modules/axe-core/axe.min.js in the checkout).

Screenshots go to test-artifacts/self-service/.
"""

from __future__ import annotations

import time

import pytest

from tests.browser import ARTIFACTS as ARTIFACTS_ROOT
from tests.browser import AXE_JS, IN_CI, skip_without_chromium
from tests.factories import PASSWORD, AgentFactory, CustomerFactory, OrganizationFactory
from tickets import satisfaction, services
from tickets.help_center import ensure_help_center
from tickets.models import Deflection, SatisfactionRating, Status

ARTIFACTS = ARTIFACTS_ROOT / "self-service"
TIMEOUT_MS = 10_000

skip_without_chromium()

from playwright.sync_api import expect  # noqa: E402 - only once Chromium is known to exist

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults", "help_center"),
]


@pytest.fixture
def help_center(transactional_db):
    ensure_help_center()  # the flush after each transactional test empties the seeded articles too


@pytest.fixture
def new_page(browser):
    contexts = []

    def make(width: int = 1366, height: int = 900, bypass_csp: bool = False):
        # bypass_csp: only for injecting axe-core (the pages' policy forbids scripts not served by us).
        context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=bypass_csp)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def customer(transactional_db):
    organization = OrganizationFactory(name="Acme Hiring", timezone="America/Los_Angeles")
    return CustomerFactory(
        username="dana", first_name="Dana", last_name="Scully", membership__organization=organization
    )


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/portal/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/portal/")


def eventually(check, *, seconds: float = 10.0):
    """Poll `check()` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {seconds} s: {check}")
        time.sleep(0.05)


def test_a_suggested_article_before_filing_and_a_deflection(live_server, new_page, customer):
    page = new_page()
    sign_in(page, live_server, customer)
    page.goto(f"{live_server.url}/portal/tickets/new/")
    suggestions = page.locator("#article-suggestions")
    expect(suggestions).to_be_hidden()
    page.locator("#id_subject").press_sequentially("interview not showing on calendar", delay=15)
    first = suggestions.locator("a").first
    expect(first).to_contain_text("An interview is not showing on the interviewer's or candidate's calendar")
    expect(suggestions.locator("mark").first).to_be_visible()
    shoot(page, "a_suggestions_while_filing")

    with page.context.expect_page() as opened:
        first.click()
    article = opened.value
    expect(article.get_by_role("heading", level=1)).to_have_text(
        "An interview is not showing on the interviewer's or candidate's calendar"
    )
    shoot(article, "b_suggested_article")
    deflection = eventually(lambda: Deflection.objects.filter(user=customer).first())
    assert deflection.deflected and deflection.query == "interview not showing on calendar"

    # The customer leaves without filing: the article counts as a deflection.
    article.close()
    page.goto(f"{live_server.url}/portal/")
    deflection.refresh_from_db()
    assert deflection.deflected and not customer.tickets.exists()


def test_the_severity_suggestion_follows_the_answers(live_server, new_page, customer):
    page = new_page()
    sign_in(page, live_server, customer)
    page.goto(f"{live_server.url}/portal/tickets/new/")
    box = page.locator("#severity-suggestion")
    page.locator("#id_subject").fill("Nobody can log in")
    form = page.locator("form.ticket-form")
    form.locator("input[name=impact_scope][value=whole_organization]").check()
    form.locator("input[name=occurrence][value=ongoing]").check()
    expect(box).to_contain_text("S1 Critical")
    expect(box).to_contain_text("Your whole organization is affected and it is happening now")
    shoot(page, "c_severity_suggestion_s1")

    form.locator("input[name=impact_scope][value=just_me]").check()
    expect(box).to_contain_text("S3 Medium")
    expect(box).to_contain_text("Only you are affected")

    page.locator("#id_subject").fill("Critical typo in an email template")
    expect(box).to_contain_text("S4 Low")
    expect(box).to_contain_text("It is a cosmetic issue")
    page.get_by_role("button", name="Use the suggestion").click()
    expect(form.locator("input[name=severity][value=S4]")).to_be_checked()
    shoot(page, "d_severity_suggestion_s4")


def test_a_rating_link_works_without_signing_in_and_shows_on_the_dashboard(live_server, new_page, customer):
    agent = AgentFactory(username="fox", first_name="Fox", last_name="Mulder")
    ticket = services.ticket_create(
        requester=customer, subject="Calendar sync stopped", description="Since Monday"
    )
    services.ticket_assign(ticket=ticket, actor=agent, assignee=agent)
    services.ticket_change_status(ticket=ticket, actor=agent, status=Status.RESOLVED)
    ticket.refresh_from_db()
    link = satisfaction.rating_links(ticket)["good"].replace("http://127.0.0.1:8000", live_server.url)

    page = new_page()  # nobody signed in
    page.goto(link)
    expect(page.locator("#rate-status")).to_contain_text("Your rating: Good, I'm satisfied. Thank you!")
    row = eventually(lambda: SatisfactionRating.objects.filter(ticket=ticket).first())
    assert row.rating == "good" and row.rated_by_id == customer.pk
    page.get_by_label("Anything to add? (optional)").fill("Fixed within the hour.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("main .alert-success")).to_contain_text("your rating was recorded")
    row.refresh_from_db()
    assert row.comment == "Fixed within the hour."
    shoot(page, "e_rating_page")

    console = new_page()
    console.goto(f"{live_server.url}/admin/login/?next=/admin/dashboard/satisfaction/")
    console.locator("#id_username").fill(agent.username)
    console.locator("#id_password").fill(PASSWORD)
    console.locator("input[type=submit]").click()
    expect(console).to_have_url(f"{live_server.url}/admin/dashboard/satisfaction/")
    expect(console.locator("#satisfaction-weeks")).to_contain_text("100 % good of 1 ratings")
    expect(console.locator("#satisfaction-agent")).to_contain_text("Fox Mulder")
    # Chart.js drew the chart (it sets the canvas's size when it renders).
    assert eventually(
        lambda: console.evaluate("() => !!window.Chart && !!window.Chart.getChart('chart-satisfaction')")
    )
    shoot(console, "f_satisfaction_dashboard")


# --- accessibility ------------------------------------------------------------------------------------


AXE = AXE_JS.read_text() if AXE_JS.exists() else None


@pytest.mark.skipif(
    AXE is None and not IN_CI,
    reason="axe-core is not installed (`make test` installs it with npm; or set AXE_CORE_JS)",
)
@pytest.mark.parametrize("width,height", [(1366, 900), (390, 844)])
def test_the_new_portal_pages_pass_axe(live_server, new_page, customer, width, height):
    assert AXE is not None, f"axe-core is missing at {AXE_JS}: `make test` installs it with npm"
    agent = AgentFactory(username="fox")
    ticket = services.ticket_create(
        requester=customer, subject="Calendar sync stopped", description="Since Monday"
    )
    services.ticket_change_status(ticket=ticket, actor=agent, status=Status.RESOLVED)
    ticket.refresh_from_db()
    anonymous = new_page(width, height, bypass_csp=True)
    signed_in = new_page(width, height, bypass_csp=True)
    sign_in(signed_in, live_server, customer)
    pages = [
        (anonymous, "/support/articles/"),
        (anonymous, "/support/articles/?q=interview+not+showing+on+calendar"),
        (anonymous, "/support/articles/how-can-customers-view-the-ticket-status-of-their-requests/"),
        (anonymous, satisfaction.rating_links(ticket)["bad"].replace("http://127.0.0.1:8000", "")),
        (anonymous, "/support/rate/forged/"),
        (signed_in, "/portal/tickets/new/"),
        # The ticket page is not ours: only its satisfaction banner is checked here.
        (signed_in, f"/portal/tickets/{ticket.reference}/", "#satisfaction"),
    ]
    problems = []
    for page, path, *scope in pages:
        page.goto(f"{live_server.url}{path}")
        if path == "/portal/tickets/new/":
            page.locator("#id_subject").fill("interview not showing on calendar")
            expect(page.locator("#article-suggestions a").first).to_be_visible()
            expect(page.locator("#severity-suggestion")).to_be_visible()
        page.add_script_tag(content=AXE)
        result = page.evaluate(
            "async (scope) => await axe.run(scope || document, {resultTypes: ['violations']})",
            scope[0] if scope else None,
        )
        for violation in result["violations"]:
            if violation["impact"] in ("critical", "serious"):
                problems.append((path, violation["id"], [n["target"] for n in violation["nodes"]][:3]))
    assert problems == []


def test_an_agent_inserts_an_article_link_into_a_reply(live_server, new_page, customer, settings):
    settings.SITE_URL = "https://help.example.com"
    agent = AgentFactory(username="fox")
    ticket = services.ticket_create(requester=customer, subject="Where do I see my tickets?", description="?")
    page = new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/tickets/ticket/{ticket.pk}/change/")
    page.locator("#id_username").fill(agent.username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    reply = page.locator("#reply textarea[name=body]")
    reply.fill("Hello Dana, see")
    page.get_by_role("button", name="Insert article link").click()
    page.get_by_label("Search the help center").fill("ticket status")
    choice = page.locator("#article-link-results button").first
    expect(choice).to_have_text("How can customers view the ticket status of their requests?")
    choice.click()
    expect(reply).to_have_value(
        "Hello Dana, see\nHow can customers view the ticket status of their requests?: "
        "https://help.example.com/support/articles/how-can-customers-view-the-ticket-status-of-their-requests/"
    )
    shoot(page, "g_reply_article_link")
