"""How many queries the busiest write paths make. A new query on one of these paths is a decision, not an
accident: raise a number here only with the reason in the commit.

Each path runs once to warm the per-process caches (the SLA chart and calendars, content types, the "any
webhook subscription?" flag), then is counted on a second, fresh ticket: what a warm worker pays.
Before issue 12 (one ticket_update, one SLA pass per change) these were 10, 15, 17, 33 and 35. Two rows
were added on purpose since: a notification email is an outbox row, written in the change's transaction
(where the commit used to enqueue a task without a query, and lose the email if the broker was down), and
the event spine records an "SLA target met" event where a reply meets one.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import AgentFactory
from tickets.models import Event, Severity, Status
from tickets.models.integrations import ApiToken
from tickets.services import ticket_create, ticket_reply

pytestmark = pytest.mark.django_db


def new_ticket(requester, severity=Severity.S3):
    return ticket_create(
        requester=requester,
        subject="Candidates cannot join",
        description="The button spins.",
        severity=severity,
    )


def warm_count(run) -> int:
    """The queries `run(counted)` makes inside `with counted():` (the part measured), on a warm process."""
    runs = []

    def counted():
        runs.append(CaptureQueriesContext(connection))
        return runs[-1]

    run(counted)
    run(counted)
    return len(runs[-1])


def test_ticket_creation(requester):
    # The ticket, its event, both clocks at once, its due time (and two checks that its policy and
    # calendar exist), the "ticket received" email, in a savepoint.
    def run(counted):
        with counted():
            new_ticket(requester)

    assert warm_count(run) == 9


@pytest.mark.parametrize(("severity", "expected"), [(Severity.S3, 12), (Severity.S2, 13)])
def test_agent_first_public_reply(requester, agent, severity, expected):
    # Lock, message, three events (replied, status, first response met), whether the requester is
    # chatting on it (no email then), the reply's email, the clocks read once, first_response met (S2:
    # next_update started), the ticket saved once with its due time; savepoint and release.
    def run(counted):
        ticket = new_ticket(requester, severity)
        with counted():
            ticket_reply(ticket=ticket, author=agent, body="Looking into it now.")

    assert warm_count(run) == expected


def test_console_reply_send_and_set_pending(client, requester, agent):
    client.force_login(agent)

    def run(counted):
        ticket = new_ticket(requester)
        url = reverse("admin:tickets_ticket_reply", args=[ticket.pk])
        with counted():
            response = client.post(
                url, {"body": "Could you send a HAR file?", "kind": "reply", "then_status": "pending"}
            )
        assert response.status_code == 302
        ticket.refresh_from_db()
        assert ticket.status == Status.PENDING

    # Two emails (the reply, after checking that the requester is not chatting; the move to pending) and
    # the met event. 18 since issue 15: the agent's permissions are one query (PermissionsBackend).
    assert warm_count(run) == 18


def test_api_patch_severity_assignee_status(requester, agent, monkeypatch):
    # The throttles' counters live in the shared cache: the rest of the suite must not trip this one.
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "token", "100000/min")
    api = APIClient()
    _, key = ApiToken.objects.issue(user=agent, name="test")
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assignee = AgentFactory()

    def run(counted):
        ticket = new_ticket(requester)
        url = f"/api/v1/tickets/{ticket.reference}/"
        with counted():
            response = api.patch(
                url, {"severity": "S2", "assignee": assignee.pk, "status": "pending"}, format="json"
            )
        assert response.status_code == 200, response.content
        trail = list(Event.objects.filter(ticket=ticket).values_list("kind", flat=True))
        assert trail[-3:] == [Event.Kind.SEVERITY_CHANGED, Event.Kind.ASSIGNED, Event.Kind.STATUS_CHANGED]

    # One email: the move to pending. Two more since issue 14: the new assignee's notification, and their
    # notification settings read (whether they want it by email too).
    assert warm_count(run) == 21


def test_ticket_page_is_flat_in_messages(client, requester, agent):
    """The agent's ticket page (issue 14's workspace): the ticket with its requester, organization,
    assignee and policy in one query; messages with authors, their attachments, the filing's files, the
    audit trail, the clocks, the canned replies, the agents for the assignee form, the candidates, the
    related tickets: one query each, whatever the length of the conversation."""
    from tickets.models import Macro

    Macro.objects.create(name="Personal", body="Hi {requester_name}", shared=False, created_by=agent)
    client.force_login(agent)
    ticket = new_ticket(requester)
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    ticket_reply(ticket=ticket, author=agent, body="First reply")
    count()  # warm: the session learns the agent's time zone on its first console page
    before = count()
    for n in range(12):
        ticket_reply(ticket=ticket, author=agent if n % 2 else requester, body=f"Message {n}")
    assert count() == before
    # 17, and the header's unread-notifications badge (every console page); 17 since issue 15: the agent's
    # permissions are one query (helpdesk.auth_backends.PermissionsBackend).
    assert before == 17


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"queue": "mine"},
        {"queue": "unassigned_urgent"},
        {"queue": "at_risk"},
        {"queue": "breached", "o": "-8"},
        {"queue": "waiting"},
        {"queue": "all", "o": "-9"},
        {"severity__exact": "S2", "assignee": "none"},
        {"channel__exact": "email", "o": "4"},
        {"organization": True},
        {"q": "calendar"},
        {"queue": "open", "q": "calendar", "o": "-2"},
    ],
)
def test_console_list_queries_are_few_and_flat(client, requester, agent, query):
    """Issue 15: each console list is at most 12 queries, the same with 3 tickets as with 30 and with
    saved views: session, user, permissions, the saved views, one query for every number beside the rows
    (the queues', the views', the unread badge's, the newest event), organizations and agents for the
    filters, the capped total, the page of tickets, their clocks (10); a search adds its matches and
    the page's snippets (12)."""
    from tickets.models import SavedView

    SavedView.objects.create(owner=agent, name="High", query="severity__exact=S2")
    SavedView.objects.create(owner=agent, name="Mine", query="queue=mine&o=9")
    if query.pop("organization", False):
        query["organization__id__exact"] = requester.membership.organization_id
    client.force_login(agent)
    url = reverse("admin:tickets_ticket_changelist")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, query)
        assert response.status_code == 200
        return len(queries)

    for severity in (Severity.S1, Severity.S2, Severity.S3):
        ticket_create(requester=requester, subject="Calendar sync", description="Stopped.", severity=severity)
    count()  # warm: the session learns the agent's time zone
    few = count()
    for index in range(27):
        ticket = new_ticket(requester, (Severity.S2, Severity.S4)[index % 2])
        if index % 3 == 0:
            ticket_reply(ticket=ticket, author=agent, body="Calendar sync is back.")
    assert count() == few
    assert few <= 12
