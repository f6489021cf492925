"""Delivering escalations (sla.escalations.deliver): email to the outbox, signed JSON webhooks to a real HTTP
receiver on 127.0.0.1, one send per recipient, retries recorded, and the right recipients per level."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import Message as Headers
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from helpdesk import webhooks
from sla import escalations
from sla.escalations import DeliveryIncomplete, deliver
from sla.models import ContactKind, DeliveryStatus, Escalation, EscalationContact, EscalationDelivery, Level
from sla.sweep import pending_escalations, sweep
from tickets.services import ticket_assign, ticket_create

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
SECRET = "webhook-secret-1"


@dataclass
class Request:
    path: str
    headers: Headers
    body: bytes


@dataclass
class Receiver:
    url: str
    status: int = 200
    requests: list[Request] = field(default_factory=list)


@pytest.fixture(autouse=True)
def _receivers_on_loopback(settings):
    """The receiver listens on 127.0.0.1, which the helpdesk refuses unless allowed (an on-premises
    setting; tests/security/test_webhook_ssrf.py proves the refusal)."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture
def receiver():
    """A webhook receiver on 127.0.0.1 in a thread: records each POST and answers `receiver.status`."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append(Request(self.path, self.headers, body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def email_contact(address: str, **options) -> EscalationContact:
    return EscalationContact.objects.create(name=address, kind=ContactKind.EMAIL, email=address, **options)


def webhook_contact(url: str, **options) -> EscalationContact:
    options.setdefault("secret", SECRET)
    return EscalationContact.objects.create(name=url, kind=ContactKind.WEBHOOK, url=url, **options)


def s1_page(requester) -> Escalation:
    ticket = ticket_create(
        requester=requester,
        subject="Nobody can schedule interviews",
        description="Every page errors.",
        severity="S1",
        at=datetime(2026, 6, 6, 3, tzinfo=LA),
    )
    return Escalation.objects.get(ticket=ticket, level=Level.PAGE)


def deliveries(escalation) -> dict[str, EscalationDelivery]:
    return {d.address: d for d in EscalationDelivery.objects.filter(escalation=escalation)}


# --- the S1 page ---------------------------------------------------------------------------------------


def test_a_page_goes_to_every_active_contact_by_email_and_signed_webhook(requester, receiver, mailoutbox):
    email_contact("oncall@example.com")
    webhook_contact(f"{receiver.url}/hooks/pager")
    email_contact("retired@example.com", active=False)
    email_contact("leads@example.com", on_page=False, on_breach=True)
    page = s1_page(requester)
    ticket = page.ticket

    before = int(time.time())
    deliver(page.pk)

    assert [mail.to for mail in mailoutbox] == [["oncall@example.com"]]
    mail = mailoutbox[0]
    assert mail.subject == f"[S1 page] {ticket.reference} S1 Critical: Nobody can schedule interviews"
    assert ticket.reference in mail.body
    assert "Due: 2026-06-06 10:30:00 UTC" in mail.body  # 03:30 PDT

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/hooks/pager"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Helpdesk-Event"] == "sla.escalated"
    timestamp, signature = request.headers["X-Helpdesk-Timestamp"], request.headers["X-Helpdesk-Signature"]
    assert before <= int(timestamp) <= time.time()
    assert webhooks.verify(SECRET, timestamp, request.body, signature)
    assert not webhooks.verify("another secret", timestamp, request.body, signature)
    assert not webhooks.verify(SECRET, timestamp, request.body + b" ", signature)
    payload = json.loads(request.body)
    assert payload["event"] == "sla.escalated"
    assert (payload["level"], payload["metric"]) == ("page", "first_response")
    assert payload["escalation_id"] == page.pk
    assert payload["ticket"]["reference"] == ticket.reference
    assert payload["ticket"]["severity"] == "S1"
    assert datetime.fromisoformat(payload["due_at"]) == datetime(2026, 6, 6, 3, 30, tzinfo=LA)

    rows = deliveries(page)
    assert set(rows) == {"oncall@example.com", f"{receiver.url}/hooks/pager"}  # not the inactive, not leads
    for row in rows.values():
        assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.SENT, 1, "")
        assert row.delivered_at is not None
    assert rows[f"{receiver.url}/hooks/pager"].response_code == 200
    webhook_row = rows[f"{receiver.url}/hooks/pager"]
    assert request.headers["X-Helpdesk-Delivery"] == f"escalation-{page.pk}-{webhook_row.pk}"
    page.refresh_from_db()
    assert page.completed_at is not None


def test_delivering_twice_sends_once(requester, receiver, mailoutbox):
    email_contact("oncall@example.com")
    webhook_contact(f"{receiver.url}/hooks/pager")
    page = s1_page(requester)
    deliver(page.pk)
    page.refresh_from_db()
    completed_at = page.completed_at
    deliver(page.pk)
    assert len(mailoutbox) == 1
    assert len(receiver.requests) == 1
    page.refresh_from_db()
    assert page.completed_at == completed_at
    assert [row.attempts for row in deliveries(page).values()] == [1, 1]


def test_a_delivery_already_sent_is_not_sent_again_when_the_escalation_is_retried(
    requester, receiver, mailoutbox
):
    email_contact("oncall@example.com")
    webhook_contact(f"{receiver.url}/hooks/pager")
    page = s1_page(requester)
    deliver(page.pk)
    Escalation.objects.filter(pk=page.pk).update(completed_at=None)  # as if the worker died before this
    deliver(page.pk)
    assert len(mailoutbox) == 1
    assert len(receiver.requests) == 1


def test_no_contacts_completes_at_once(requester, mailoutbox):
    page = s1_page(requester)
    deliver(page.pk)
    page.refresh_from_db()
    assert page.completed_at is not None
    assert mailoutbox == []


def test_an_unknown_escalation_is_ignored():
    deliver(987654)


# --- failures and retries ------------------------------------------------------------------------------


def test_a_failing_webhook_is_retried_then_given_up_after_max_attempts(requester, receiver, mailoutbox):
    email_contact("oncall@example.com")
    webhook_contact(f"{receiver.url}/hooks/pager", max_attempts=3)
    receiver.status = 500
    page = s1_page(requester)
    url = f"{receiver.url}/hooks/pager"

    with pytest.raises(DeliveryIncomplete) as raised:
        deliver(page.pk)
    assert raised.value.attempts == 1
    failed = deliveries(page)[url]
    assert (failed.status, failed.attempts, failed.response_code) == (DeliveryStatus.RETRYING, 1, 500)
    assert "HTTP 500" in failed.last_error
    assert failed.delivered_at is None
    assert deliveries(page)["oncall@example.com"].status == DeliveryStatus.SENT
    page.refresh_from_db()
    assert page.completed_at is None

    with pytest.raises(DeliveryIncomplete) as raised:
        deliver(page.pk)  # the task's retry
    assert raised.value.attempts == 2
    assert len(mailoutbox) == 1  # the email that got through is not sent again

    deliver(page.pk)  # the third and last attempt fails too: no more retries
    failed = deliveries(page)[url]
    assert (failed.status, failed.attempts) == (DeliveryStatus.FAILED, 3)
    page.refresh_from_db()
    assert page.completed_at is not None

    deliver(page.pk)
    assert len(receiver.requests) == 3
    assert len(mailoutbox) == 1


def test_a_webhook_that_recovers_is_sent_on_the_retry(requester, receiver):
    webhook_contact(f"{receiver.url}/hooks/pager")
    receiver.status = 503
    page = s1_page(requester)
    with pytest.raises(DeliveryIncomplete):
        deliver(page.pk)
    receiver.status = 200
    deliver(page.pk)
    (row,) = deliveries(page).values()
    assert (row.status, row.attempts, row.response_code, row.last_error) == (DeliveryStatus.SENT, 2, 200, "")
    # Each attempt is signed afresh and carries the same delivery id.
    first, second = receiver.requests
    assert first.headers["X-Helpdesk-Delivery"] == second.headers["X-Helpdesk-Delivery"]
    for request in receiver.requests:
        headers = request.headers
        assert webhooks.verify(
            SECRET, headers["X-Helpdesk-Timestamp"], request.body, headers["X-Helpdesk-Signature"]
        )


def test_an_unreachable_webhook_is_retried(requester, receiver):
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{closed.server_address[1]}/gone"
    closed.server_close()  # nothing listens there any more
    webhook_contact(url, timeout_seconds=2)
    page = s1_page(requester)
    with pytest.raises(DeliveryIncomplete):
        deliver(page.pk)
    (row,) = deliveries(page).values()
    assert (row.status, row.attempts, row.response_code) == (DeliveryStatus.RETRYING, 1, None)
    assert "unreachable" in row.last_error


# --- who gets what ---------------------------------------------------------------------------------------


def _at_risk(requester, *, assignee=None, actor=None) -> Escalation:
    ticket = ticket_create(
        requester=requester,
        subject="Reports are slow",
        description="Minutes per page.",
        severity="S2",
        at=datetime(2026, 6, 8, 9, tzinfo=LA),
    )
    if assignee is not None:
        ticket_assign(ticket=ticket, actor=actor, assignee=assignee, at=datetime(2026, 6, 8, 9, 5, tzinfo=LA))
    sweep(datetime(2026, 6, 8, 12, 1, tzinfo=LA))  # 75% of the 240-minute first response
    return Escalation.objects.get(ticket=ticket, level=Level.AT_RISK)


def test_at_risk_on_an_assigned_ticket_goes_to_the_assignee_only(requester, agent, receiver, mailoutbox):
    email_contact("team@example.com", on_page=False, on_at_risk=True)
    webhook_contact(f"{receiver.url}/hooks/team", on_at_risk=True)
    warning = _at_risk(requester, assignee=agent, actor=agent)
    deliver(warning.pk)
    assert [mail.to for mail in mailoutbox] == [[agent.email]]
    assert mailoutbox[0].subject.startswith("[At risk] ")
    assert receiver.requests == []
    assert [(row.recipient, row.status) for row in deliveries(warning).values()] == [
        (f"user:{agent.pk}", DeliveryStatus.SENT)
    ]


def test_at_risk_on_an_unassigned_ticket_goes_to_the_team(requester, receiver, mailoutbox):
    email_contact("team@example.com", on_page=False, on_at_risk=True)
    email_contact("oncall@example.com")  # pages and breaches only
    webhook_contact(f"{receiver.url}/hooks/team", on_at_risk=True, active=False)
    warning = _at_risk(requester)
    deliver(warning.pk)
    assert [mail.to for mail in mailoutbox] == [["team@example.com"]]
    assert receiver.requests == []


def test_at_risk_on_a_ticket_whose_assignee_left_goes_to_the_team(requester, agent, mailoutbox):
    """An assignee deactivated after taking the ticket can neither act on the warning nor may read about
    the ticket any more: the team is warned instead."""
    email_contact("team@example.com", on_page=False, on_at_risk=True)
    ticket = ticket_create(
        requester=requester,
        subject="Reports are slow",
        description="Minutes per page.",
        severity="S2",
        at=datetime(2026, 6, 8, 9, tzinfo=LA),
    )
    ticket_assign(ticket=ticket, actor=agent, assignee=agent, at=datetime(2026, 6, 8, 9, 5, tzinfo=LA))
    agent.is_active = False
    agent.save(update_fields=["is_active"])
    sweep(datetime(2026, 6, 8, 12, 1, tzinfo=LA))
    deliver(Escalation.objects.get(ticket=ticket, level=Level.AT_RISK).pk)
    assert [mail.to for mail in mailoutbox] == [["team@example.com"]]


def test_a_breach_goes_to_the_contacts_for_breaches(requester, receiver, mailoutbox):
    email_contact("pager-only@example.com", on_breach=False)
    webhook_contact(f"{receiver.url}/hooks/leads", on_page=False)
    ticket = ticket_create(
        requester=requester,
        subject="Wrong totals",
        description="Sums are off.",
        severity="S2",
        at=datetime(2026, 6, 8, 9, tzinfo=LA),
    )
    sweep(datetime(2026, 6, 8, 13, 1, tzinfo=LA))
    breach = Escalation.objects.get(ticket=ticket, level=Level.BREACH)
    deliver(breach.pk)
    assert mailoutbox == []
    (request,) = receiver.requests
    assert request.headers["X-Helpdesk-Event"] == "sla.breached"
    payload = json.loads(request.body)
    assert (payload["level"], payload["metric"]) == ("breach", "first_response")


# --- end to end: the page is delivered as the creation commits ----------------------------------------------


@pytest.fixture
def eager_celery():
    from helpdesk.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def test_an_s1_ticket_pages_when_its_creation_commits(
    requester, receiver, mailoutbox, eager_celery, django_capture_on_commit_callbacks
):
    email_contact("oncall@example.com")
    webhook_contact(f"{receiver.url}/hooks/pager")
    with django_capture_on_commit_callbacks(execute=True):
        page = s1_page(requester)
    page.refresh_from_db()
    assert page.completed_at is not None and page.enqueued_at is not None
    pages = [mail.to for mail in mailoutbox if mail.subject.startswith("[S1 page]")]
    assert pages == [["oncall@example.com"]]
    assert len(receiver.requests) == 1


# --- what the outbox process takes ------------------------------------------------------------------------


def test_the_outbox_process_takes_pages_first(requester, agent):
    warning = _at_risk(requester)  # filed before the page, of another level
    page = s1_page(requester)
    assert escalations.due(timezone.now(), 10) == [page.pk, warning.pk]
    assert escalations.due(timezone.now(), 1) == [page.pk]
    Escalation.objects.filter(pk=page.pk).update(completed_at=timezone.now())
    assert escalations.due(timezone.now(), 10) == [warning.pk]


def test_a_delivery_waiting_out_its_backoff_is_left_alone_until_it_is_due(requester, receiver):
    webhook_contact(f"{receiver.url}/hooks/pager")
    receiver.status = 500
    page = s1_page(requester)
    with pytest.raises(DeliveryIncomplete) as raised:
        deliver(page.pk)
    assert raised.value.retry_in == 2.0
    (row,) = deliveries(page).values()

    assert escalations.due(timezone.now(), 10) == []
    assert escalations.deliver_due(page.pk) is False  # not due: no attempt
    assert len(receiver.requests) == 1

    receiver.status = 200
    due_at = row.next_attempt_at
    assert escalations.due(due_at, 10) == [page.pk]
    EscalationDelivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert escalations.deliver_due(page.pk) is True
    (row,) = deliveries(page).values()
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 2)
    page.refresh_from_db()
    assert page.completed_at is not None
    assert escalations.due(timezone.now(), 10) == []


def test_the_sweep_hands_over_no_delivery_that_waits_out_its_backoff(requester, receiver):
    webhook_contact(f"{receiver.url}/hooks/pager")
    receiver.status = 500
    page = s1_page(requester)
    with pytest.raises(DeliveryIncomplete):
        deliver(page.pk)
    (row,) = deliveries(page).values()
    later = page.created_at + timedelta(seconds=10)
    assert pending_escalations(later, limit=10) == []
    EscalationDelivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert pending_escalations(later, limit=10) == [page.pk]


def test_a_fresh_escalation_is_left_to_its_task_for_the_grace(requester):
    page = s1_page(requester)
    assert escalations.due(page.created_at - timedelta(seconds=1), 10) == []
    assert escalations.due(page.created_at, 10) == [page.pk]
