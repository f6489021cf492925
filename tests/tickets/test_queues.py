"""The console's queue (the ticket list): it opens on "All open" in queue order, resolved and closed
tickets only when asked; each row links to its ticket (data-row-link); agents save their own views, listed
with capped counts at one query each."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import TicketFactory
from tickets.admin import workspace
from tickets.models import SavedView, Severity, Status

pytestmark = pytest.mark.django_db

LIST = "/admin/tickets/ticket/"


def references(page: str) -> list[str]:
    return re.findall(r'class="field-reference_display"><a href="[^"]+">(HD-\d+)</a>', page)


@pytest.fixture
def tickets(requester):
    return {
        "closed_s1": TicketFactory(requester=requester, severity=Severity.S1, status=Status.CLOSED),
        "resolved_s1": TicketFactory(requester=requester, severity=Severity.S1, status=Status.RESOLVED),
        "open_s2": TicketFactory(requester=requester, severity=Severity.S2, status=Status.OPEN),
        "new_s1": TicketFactory(requester=requester, severity=Severity.S1, status=Status.NEW),
        "pending_s3": TicketFactory(requester=requester, severity=Severity.S3, status=Status.PENDING),
    }


def test_the_list_opens_on_all_open_in_queue_order(client, agent, tickets):
    client.force_login(agent)
    page = client.get(LIST).content.decode()
    shown = references(page)
    assert shown == [tickets[name].reference for name in ("new_s1", "open_s2", "pending_s3")]
    assert re.search(r'<li class="selected">\s*<a href="\?queue=open"[^>]*>All open \(3\)</a>', page)


def test_resolved_and_closed_show_when_asked(client, agent, tickets):
    client.force_login(agent)
    closed = references(client.get(LIST + "?status__exact=closed").content.decode())
    assert closed == [tickets["closed_s1"].reference]
    everything = references(client.get(LIST + "?queue=all").content.decode())
    assert set(everything) == {ticket.reference for ticket in tickets.values()}


def test_each_row_links_to_its_ticket(client, agent, tickets):
    client.force_login(agent)
    page = client.get(LIST).content.decode()
    ticket = tickets["new_s1"]
    assert f'<tr data-row-link="/admin/tickets/ticket/{ticket.pk}/change/" data-ticket="{ticket.pk}">' in page
    assert f'title="{ticket.subject}"' in page  # the whole subject on hover


def test_save_this_view_keeps_the_filters_and_order(client, agent, tickets):
    client.force_login(agent)
    page = client.get(LIST + "?severity__exact=S1&o=2.-9&p=2&_popup=1").content.decode()
    link = re.search(r'<a href="([^"]+)">Save this view</a>', page).group(1).replace("&amp;", "&")
    assert link == reverse("admin:tickets_savedview_add") + "?query=severity__exact%3DS1%26o%3D2.-9"
    form = client.get(link).content.decode()
    assert 'value="severity__exact=S1&amp;o=2.-9"' in form
    response = client.post(link, {"name": "Critical", "query": "severity__exact=S1&o=2.-9", "position": 0})
    assert response.status_code == 302
    assert response["Location"] == LIST + "?severity__exact=S1&o=2.-9"
    view = SavedView.objects.get(owner=agent)
    assert (view.name, view.query, view.watch) == ("Critical", "severity__exact=S1&o=2.-9", False)
    listed = client.get(response["Location"]).content.decode()
    assert re.search(
        r'<li class="selected"><a href="[^"]+" aria-current="page">Critical <span class="hd-count">1</span>',
        listed,
    )


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("queue=nowhere", "queue: “nowhere” is not one of"),
        ("severity__exact=S9", "severity__exact: “S9” is not one of"),
        ("organization__id__exact=abc", "is not an organization id"),
        ("assignee=someone", "is not “me”, “none” or an agent id"),
        ("o=drop table", "is not a column order"),
    ],
)
def test_a_bad_view_is_a_field_error(client, agent, query, problem):
    client.force_login(agent)
    response = client.post(
        reverse("admin:tickets_savedview_add"), {"name": "Bad", "query": query, "position": 0}
    )
    assert response.status_code == 200
    assert problem in response.content.decode()
    assert not SavedView.objects.exists()


def test_two_views_of_one_agent_cannot_share_a_name(client, agent, other_agent):
    SavedView.objects.create(owner=agent, name="Critical", query="severity__exact=S1")
    SavedView.objects.create(owner=other_agent, name="Mine", query="")
    client.force_login(agent)
    response = client.post(
        reverse("admin:tickets_savedview_add"), {"name": "critical", "query": "", "position": 0}
    )
    assert response.status_code == 200
    assert "You already have a view named “critical”." in response.content.decode()
    client.post(reverse("admin:tickets_savedview_add"), {"name": "Mine", "query": "", "position": 0})
    assert SavedView.objects.filter(owner=agent, name="Mine").exists()


def test_agents_see_and_change_only_their_own_views(client, agent, other_agent, tickets):
    theirs = SavedView.objects.create(owner=other_agent, name="Theirs", query="")
    client.force_login(agent)
    assert "Theirs" not in client.get(LIST).content.decode()
    assert "Theirs" not in client.get(reverse("admin:tickets_savedview_changelist")).content.decode()
    change = reverse("admin:tickets_savedview_change", args=[theirs.pk])
    assert client.get(change).status_code == 302  # the admin's "does not exist" redirect
    client.post(reverse("admin:tickets_savedview_delete", args=[theirs.pk]), {"post": "yes"})
    assert SavedView.objects.filter(pk=theirs.pk).exists()


def test_counts_are_capped_and_cost_no_query_per_view(client, agent, requester, monkeypatch):
    """The views' counts are subqueries of the one query that counts the queues (filters.queue_counts)."""
    monkeypatch.setattr(workspace, "VIEW_COUNT_CAP", 3)
    TicketFactory.create_batch(5, requester=requester, severity=Severity.S2, status=Status.OPEN)
    SavedView.objects.create(owner=agent, name="High", query="severity__exact=S2")
    SavedView.objects.create(owner=agent, name="Mine", query="queue=mine")
    SavedView.objects.create(owner=agent, name="Broken", query="organization__id__exact=x")
    client.force_login(agent)
    page = client.get(LIST).content.decode()
    assert 'High <span class="hd-count">3+</span>' in page
    assert 'Mine <span class="hd-count">0</span>' in page
    assert 'Broken <span class="hd-count">?</span>' in page
    assert "All open (5)" in page  # the queues' sizes, from the same query
    with CaptureQueriesContext(connection) as three_views:
        client.get(LIST)
    SavedView.objects.create(owner=agent, name="Low", query="severity__exact=S4&status__exact=open")
    with CaptureQueriesContext(connection) as four_views:
        client.get(LIST)
    assert len(four_views) == len(three_views)
    # A view with a search costs what the search does (tickets/search.py): one round trip on PostgreSQL
    # (word matches and look-alike subjects), the one plain match on SQLite. Whatever the size.
    SavedView.objects.create(owner=agent, name="SSO", query="q=sso")
    with CaptureQueriesContext(connection) as five_views:
        client.get(LIST)
    assert len(five_views) == len(four_views) + 1


def test_the_list_costs_the_same_queries_for_more_tickets(client, agent, requester):
    TicketFactory.create_batch(2, requester=requester, status=Status.OPEN)
    client.force_login(agent)
    client.get(LIST)
    with CaptureQueriesContext(connection) as few:
        client.get(LIST)
    TicketFactory.create_batch(20, requester=requester, status=Status.OPEN)
    with CaptureQueriesContext(connection) as many:
        client.get(LIST)
    assert len(many) == len(few)


@pytest.mark.parametrize("column", ["1", "2", "4", "8", "9"])
def test_a_descending_column_is_the_ascending_list_read_backwards(client, agent, requester, column):
    """The tiebreak (the queue order) turns with the clicked column, so that each order is read from an
    index in one direction or the other (TicketChangeList.get_ordering)."""
    for severity in (Severity.S1, Severity.S2, Severity.S2, Severity.S4):
        for status in (Status.OPEN, Status.PENDING):
            TicketFactory(requester=requester, severity=severity, status=status)
    client.force_login(agent)

    def listed(order):
        response = client.get(LIST, {"queue": "all", "o": order})
        return [ticket.pk for ticket in response.context["cl"].result_list]

    ascending = listed(column)
    assert len(ascending) == 8
    assert listed(f"-{column}") == ascending[::-1]
