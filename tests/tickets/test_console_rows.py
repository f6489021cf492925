"""The queue's rows (tickets/admin/rows.py) are the admin's own, cell for cell: each page below is rendered
both ways, by the module and by the admin's `items_for_result`, and compared."""

import pytest
from django.contrib.admin.templatetags.admin_list import results
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from tests.factories import CustomerFactory, TicketFactory, UserFactory
from tickets.admin import rows
from tickets.admin.tickets import TicketAdmin
from tickets.admin.timezones import SESSION_KEY as AGENT_ZONE
from tickets.models import Severity, Status
from tickets.services import ticket_create

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:tickets_ticket_changelist")


@pytest.fixture
def tickets(requester, agent):
    made = [
        ticket_create(
            requester=requester,
            subject='Scheduling <b>fails</b> & "quotes" aren\'t escaped',
            description="The calendar sync shows nothing.",
            severity=Severity.S1,
        ),
        ticket_create(
            requester=requester, subject="Interview calendar sync", description="Sync", severity=Severity.S4
        ),
    ]
    made[1].assignee = agent
    made[1].save(update_fields=["assignee"])
    # No email, no clocks, resolved: the requester's username, "—" for the SLA, the empty assignee.
    silent = CustomerFactory(email="", membership__organization=requester.membership.organization)
    made.append(TicketFactory(requester=silent, status=Status.RESOLVED, subject="Old calendar question"))
    return made


@pytest.fixture
def frozen(monkeypatch):
    """One instant for the page and for the comparison (ages and countdowns)."""
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)
    return now


def both_ways(client, response):
    """The rows as this module writes them and as the admin does, in the agent's time zone (the page's)."""
    changelist = response.context["cl"]
    with timezone.override(client.session[AGENT_ZONE]):
        ours = [(row.link, row.ticket_id, list(row.cells)) for row in rows.rows(changelist)]
        admins = [
            (reverse("admin:tickets_ticket_change", args=[ticket.pk]), ticket.pk, list(cells))
            for ticket, cells in zip(changelist.result_list, results(changelist), strict=True)
        ]
    return ours, admins


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"queue": "all", "severity__exact": "S1", "o": "-2.3"},  # filters kept in the rows' links
        {"queue": "all", "q": "calendar"},  # the search's "Match" column
        {"queue": "all", "_popup": "1", "_to_field": "id"},  # no checkboxes; data-popup-opener
        {"queue": "all", "assignee": "none", "p": "1"},
    ],
)
def test_rows_are_the_admins(client, agent, tickets, frozen, query):
    client.force_login(agent)
    response = client.get(CHANGELIST, query)
    assert response.status_code == 200
    ours, admins = both_ways(client, response)
    assert ours and ours == admins
    page = response.content.decode()
    for link, _, cells in ours:
        assert f'data-row-link="{link}"' in page
        assert "".join(cells) in page


def test_rows_for_an_agent_without_actions_are_the_admins(client, tickets, frozen):
    viewer = UserFactory(is_staff=True)  # an agent outside the agents' group: may only look
    viewer.user_permissions.add(Permission.objects.get(codename="view_ticket"))
    client.force_login(viewer)
    response = client.get(CHANGELIST, {"queue": "all"})
    assert response.status_code == 200
    changelist = response.context["cl"]
    assert "action_checkbox" not in changelist.list_display
    ours, admins = both_ways(client, response)
    assert ours and ours == admins


def test_a_column_it_does_not_know_is_left_to_the_admin(client, agent, tickets, frozen, monkeypatch):
    def created(ticket):
        return ticket.created_at

    monkeypatch.setattr(TicketAdmin, "list_display", (*TicketAdmin.list_display, created, "id"))
    client.force_login(agent)
    response = client.get(CHANGELIST, {"queue": "all"})
    changelist = response.context["cl"]
    assert rows._columns(changelist) is None
    ours, admins = both_ways(client, response)
    assert ours and ours == admins


def test_the_page_reads_each_clock_once_and_no_ticket_twice(client, agent, tickets):
    """The SLA column's clocks come with the page (one query), not through each ticket: the services
    started the first two tickets' clocks, the factory's ticket has none."""
    client.force_login(agent)
    response = client.get(CHANGELIST, {"queue": "all"})
    listed = {ticket.pk: ticket for ticket in response.context["cl"].result_list}
    assert {len(listed[t.pk].list_clocks) > 0 for t in tickets[:2]} == {True}
    assert listed[tickets[2].pk].list_clocks == []
