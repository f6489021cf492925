"""The SLA dashboard in a real browser: Debian's Chromium driven by Playwright against the live server.

An agent signs in to the console, follows the home page's link to the dashboard, and the six charts are
drawn by the vendored Chart.js (served as a static file, no CDN) without a console error. The screenshot
is test-artifacts/dashboard.png.

Run only the browser tests with `pytest -m browser`. Without /usr/bin/chromium the module is skipped,
except in CI.
"""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from sla.models import Clock, Metric, TicketClock
from tests.browser import ARTIFACTS, skip_without_chromium
from tests.factories import PASSWORD, AgentFactory, CustomerFactory
from tickets.models import Channel, Severity, Status, Ticket

TIMEOUT_MS = 10_000

skip_without_chromium()

from playwright.sync_api import expect  # noqa: E402 - only once Chromium is known to exist

pytestmark = [
    pytest.mark.browser,
    # The browser talks to the live server, which sees committed rows only.
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
]


def seed_history(count: int = 240) -> None:
    """`count` tickets over the last twelve weeks, with first-response and resolution clocks met on
    time, met late or still running, so that every chart has something to draw."""
    rng = random.Random(7)
    requester = CustomerFactory()
    now = timezone.now()
    first_response = {"S1": 30, "S2": 240, "S3": 540, "S4": 1620, "S5": 2700}
    tickets = []
    for _ in range(count):
        created = now - timedelta(hours=rng.uniform(1, 12 * 7 * 24))
        status = rng.choices(
            [Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.RESOLVED, Status.CLOSED],
            weights=[5, 10, 5, 3, 20, 57],
        )[0]
        done = created + timedelta(hours=rng.uniform(1, 200))
        resolved = done if status in (Status.RESOLVED, Status.CLOSED) and done < now else None
        if status in (Status.RESOLVED, Status.CLOSED) and resolved is None:
            status = Status.OPEN
        tickets.append(
            Ticket(
                subject="History",
                description="x",
                severity=rng.choices(Severity.values, weights=[3, 12, 45, 25, 15])[0],
                status=status,
                channel=rng.choices(Channel.values, weights=[45, 15, 25, 10, 5])[0],
                requester=requester,
                organization=requester.membership.organization,
                created_at=created,
                updated_at=resolved or created,
                resolved_at=resolved,
                closed_at=resolved + timedelta(days=2) if status == Status.CLOSED else None,
            )
        )
    tickets = Ticket.objects.bulk_create(tickets)
    clocks = []
    for ticket in tickets:
        target = timedelta(minutes=first_response[ticket.severity])
        response = target * rng.uniform(0.1, 1.4)
        met = ticket.created_at + response if ticket.status != Status.NEW else None
        clocks.append(
            TicketClock(
                ticket=ticket,
                metric=Metric.FIRST_RESPONSE,
                clock=Clock.ALWAYS,
                target_minutes=first_response[ticket.severity],
                warn_at_percent=75,
                state="met" if met else "active",
                started_at=ticket.created_at,
                met_at=met,
                breached_at=ticket.created_at + target if response > target and met else None,
            )
        )
        if ticket.severity in ("S1", "S2", "S3"):
            breached = rng.random() < 0.2
            clocks.append(
                TicketClock(
                    ticket=ticket,
                    metric=Metric.RESOLUTION,
                    clock=Clock.BUSINESS,
                    target_minutes=540,
                    warn_at_percent=75,
                    state="breached" if breached else "met" if ticket.resolved_at else "active",
                    started_at=ticket.created_at,
                    met_at=ticket.resolved_at,
                    breached_at=ticket.created_at + timedelta(days=1) if breached else None,
                )
            )
    TicketClock.objects.bulk_create(clocks)


def test_agent_sees_the_charts(live_server, browser):
    agent = AgentFactory(username="scully", first_name="Dana", last_name="Scully")
    seed_history()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    errors, failed_static = [], []
    context.on(
        "response",
        lambda r: "/static/" in r.url and r.status >= 400 and failed_static.append(f"{r.status} {r.url}"),
    )
    # The site has no /favicon.ico (a 404 that Chromium reports as a console error on any page): not
    # this page's concern, so the browser gets an empty answer for it.
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    # Every console page opens the notification socket (/ws/notifications/); this live server is WSGI, with
    # no WebSockets (a failed handshake is a console error): the browser gets a silent socket instead.
    context.route_web_socket(re.compile(r".*/ws/.*"), lambda socket: None)
    page = context.new_page()
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.locator("#id_username").fill(agent.username)
        page.locator("#id_password").fill(PASSWORD)
        page.locator("input[type=submit]").click()
        expect(page).to_have_url(f"{live_server.url}/admin/")

        page.locator("#agent-console").get_by_role("link", name="SLA dashboard").click()
        expect(page).to_have_url(f"{live_server.url}/admin/dashboard/")
        expect(page.get_by_role("heading", level=1)).to_have_text("SLA dashboard")
        page.wait_for_function("() => window.Chart && Object.keys(Chart.instances).length >= 6")
        drawn = page.evaluate(
            "() => Object.values(Chart.instances)"
            ".map(c => [c.canvas.id, c.config.type, c.data.datasets.length])"
        )
        assert sorted(drawn) == sorted(
            [
                ["chart-open", "bar", 4],
                ["chart-channels", "doughnut", 1],
                ["chart-attainment-first_response", "line", 5],
                ["chart-attainment-resolution", "line", 3],
                ["chart-response-times", "bar", 2],
                ["chart-backlog", "line", 1],
            ]
        )
        # Every canvas has pixels on it, not just a Chart object.
        painted = page.evaluate(
            """() => [...document.querySelectorAll('.hd-chart canvas')].map(c => {
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   for (let i = 3; i < d.length; i += 4) { if (d[i]) return true; }
                   return false; })"""
        )
        assert painted == [True] * 6
        scripts = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
        assert any(name.endswith("/static/tickets/vendor/chartjs-4.4.9/chart.umd.js") for name in scripts)
        assert all(name.startswith(live_server.url) for name in scripts), scripts  # no CDN
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        # A bad range: the form says so, no chart, no error.
        page.locator("#id_start").fill("2025-03-10")
        page.locator("#id_end").fill("2025-03-01")
        page.get_by_role("button", name="Show").click()
        expect(page.locator(".errorlist")).to_contain_text("The start date is after the end date.")
        assert page.locator("canvas").count() == 0
    finally:
        context.close()
    assert errors == []
    assert failed_static == []
