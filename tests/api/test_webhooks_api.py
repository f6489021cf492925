"""Outgoing webhooks end to end: a subscription made through the API, ticket changes made through the API
and the services, the dispatch and delivery tasks run eagerly, and a real HTTP receiver on 127.0.0.1 that
checks each signature as an integrator would (helpdesk.webhooks.verify)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery.exceptions import Retry
from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from helpdesk import webhooks
from sla.escalations import deliver as deliver_escalation
from sla.models import Escalation, EscalationContact, Level
from tests.factories import PASSWORD
from tickets import outgoing_webhooks, services
from tickets.models import Ticket
from tickets.models.integrations import ApiToken, WebhookDelivery, WebhookSubscription

User = get_user_model()
SECRET = "integration-secret-0123456789"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> str:
        return self.headers["x-helpdesk-event"]

    def json(self) -> dict:
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        return webhooks.verify(
            secret, self.headers["x-helpdesk-timestamp"], self.body, self.headers["x-helpdesk-signature"]
        )


class Receiver:
    """An HTTP server on 127.0.0.1 in a thread: records each POST and answers `status`."""

    def __init__(self, status: int = 200):
        self.status = status
        self.requests: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def events(self) -> list[str]:
        return [r.event for r in self.requests]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def receivers():
    """`receivers(status=200)` starts a receiver; all are stopped after the test."""
    started = []

    def start(status: int = 200) -> Receiver:
        started.append(Receiver(status))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()


@pytest.fixture(autouse=True)
def eager_celery():
    """Tasks run in this process as they are sent; their errors propagate."""
    from helpdesk.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture(autouse=True)
def _private_cache(settings, monkeypatch):
    """ "Is any subscription active?" is cached; in CI the cache is a Redis that parallel workers share, each
    with a database of its own. These tests keep their own cache, and throttles that they never trip."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    for scope in ("token", "anon", "auth"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")


@pytest.fixture(autouse=True)
def _receivers_on_loopback(settings):
    """The receivers here listen on 127.0.0.1, which the helpdesk refuses unless allowed (an on-premises
    setting; tests/security/test_webhook_ssrf.py proves the refusal)."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


def api_client(user, *, organization=None) -> APIClient:
    client = APIClient()
    _, key = ApiToken.objects.issue(user=user, name="test", organization=organization)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def subscribe(user, url: str, events: list[str], **extra) -> WebhookSubscription:
    response = api_client(user).post(
        "/api/v1/webhooks/", {"url": url, "secret": SECRET, "events": events, **extra}
    )
    assert response.status_code == 201, response.content
    assert "secret" not in response.json()
    return WebhookSubscription.objects.get(pk=response.json()["id"])


ALL_TICKET_EVENTS = ["ticket.created", "ticket.updated", "message.created"]


def test_ticket_events_reach_the_receiver_signed(
    superuser, agent, requester, receivers, django_capture_on_commit_callbacks
):
    receiver = receivers()
    subscription = subscribe(superuser, receiver.url, ALL_TICKET_EVENTS)
    customer, staff = api_client(requester), api_client(agent)

    with django_capture_on_commit_callbacks(execute=True):
        created = customer.post("/api/v1/tickets/", {"subject": "Invites bounce", "description": "d"}).json()
    reference = created["reference"]
    ticket_id = int(reference.removeprefix("HD-"))
    assert receiver.events() == ["ticket.created"]
    (first,) = receiver.requests
    assert first.signed_with(SECRET)
    assert not first.signed_with("another-secret-entirely")
    assert first.headers["x-helpdesk-delivery"] == f"ticket-{ticket_id}-created:{subscription.pk}"
    assert first.headers["content-type"] == "application/json"
    payload = first.json()
    assert payload["event"] == "ticket.created" and payload["id"] == f"ticket-{ticket_id}-created"
    assert payload["created_at"].endswith("Z")
    assert payload["data"]["ticket"]["reference"] == reference
    assert payload["data"]["ticket"]["sla"]["first_response"]["state"] == "active"

    # An agent's first reply: the message, and the ticket opening.
    with django_capture_on_commit_callbacks(execute=True):
        reply = staff.post(f"/api/v1/tickets/{reference}/messages/", {"body": "We are on it"}).json()
    assert receiver.events()[1:] == ["message.created", "ticket.updated"]
    message, opened = receiver.requests[1:]
    assert message.signed_with(SECRET) and opened.signed_with(SECRET)
    assert message.json()["data"]["message"] == {**reply, "author": agent.pk}
    assert message.headers["x-helpdesk-delivery"] == f"message-{reply['id']}:{subscription.pk}"
    assert opened.json()["data"]["change"] == {"kind": "status_changed", "from": "new", "to": "open"}

    # Internal notes never leave the helpdesk.
    with django_capture_on_commit_callbacks(execute=True):
        note = staff.post(f"/api/v1/tickets/{reference}/messages/", {"body": "secret", "internal": True})
    assert note.status_code == 201
    assert len(receiver.requests) == 3
    assert b"secret" not in b"".join(r.body for r in receiver.requests)

    # A status change through the API, then one through the services.
    with django_capture_on_commit_callbacks(execute=True):
        assert staff.patch(f"/api/v1/tickets/{reference}/", {"status": "pending"}).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(
            ticket=Ticket.objects.get(pk=ticket_id), author=requester, body="Here are the logs"
        )
    changes = [r.json()["data"].get("change") for r in receiver.requests[3:]]
    assert receiver.events()[3:] == ["ticket.updated", "message.created", "ticket.updated"]
    assert changes[0] == {"kind": "status_changed", "from": "open", "to": "pending"}
    assert changes[2] == {"kind": "status_changed", "from": "pending", "to": "open"}  # the customer reopened
    assert all(r.signed_with(SECRET) for r in receiver.requests)
    assert len({r.headers["x-helpdesk-delivery"] for r in receiver.requests}) == len(receiver.requests)

    deliveries = WebhookDelivery.objects.filter(subscription=subscription)
    assert deliveries.count() == 6
    assert set(deliveries.values_list("status", "attempts", "response_code")) == {("sent", 1, 200)}


def test_a_subscription_gets_only_the_events_it_asked_for(
    superuser, requester, agent, receivers, django_capture_on_commit_callbacks
):
    receiver = receivers()
    subscribe(superuser, receiver.url, ["message.created"])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.ticket_create(requester=requester, subject="s", description="d")
        services.ticket_change_status(ticket=ticket, actor=agent, status="open")
        services.ticket_reply(ticket=ticket, author=agent, body="Hello")
    assert receiver.events() == ["message.created"]


def test_an_organization_subscription_hears_only_its_organization(
    superuser, requester, outsider, other_organization, receivers, django_capture_on_commit_callbacks
):
    everything, theirs = receivers(), receivers()
    subscribe(superuser, everything.url, ["ticket.created"])
    limited = subscribe(superuser, theirs.url, ["ticket.created"], organization=other_organization.pk)
    assert limited.organization_id == other_organization.pk
    with django_capture_on_commit_callbacks(execute=True):
        ours = services.ticket_create(requester=requester, subject="ours", description="d")
        other = services.ticket_create(requester=outsider, subject="theirs", description="d")
    assert [r.json()["data"]["ticket"]["reference"] for r in everything.requests] == [
        ours.reference,
        other.reference,
    ]
    assert [r.json()["data"]["ticket"]["reference"] for r in theirs.requests] == [other.reference]


def test_an_organization_limited_token_subscribes_for_its_organization(
    superuser, requester, outsider, organization, receivers, django_capture_on_commit_callbacks
):
    receiver = receivers()
    response = api_client(superuser, organization=organization).post(
        "/api/v1/webhooks/", {"url": receiver.url, "secret": SECRET, "events": ["ticket.created"]}
    )
    assert response.json()["organization"] == organization.pk
    with django_capture_on_commit_callbacks(execute=True):
        ours = services.ticket_create(requester=requester, subject="ours", description="d")
        services.ticket_create(requester=outsider, subject="theirs", description="d")
    assert [r.json()["data"]["ticket"]["reference"] for r in receiver.requests] == [ours.reference]


def test_dispatching_twice_delivers_once(superuser, requester, receivers, django_capture_on_commit_callbacks):
    receiver = receivers()
    subscription = subscribe(superuser, receiver.url, ["ticket.created"])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.ticket_create(requester=requester, subject="s", description="d")
    again = outgoing_webhooks.dispatch.apply(
        args=["ticket.created", ticket.pk, f"ticket-{ticket.pk}-created", {}]
    )
    assert again.get() == 0  # already sent: nothing pending for this key
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.filter(subscription=subscription).count() == 1


def test_deliveries_commit_and_roll_back_with_the_change(superuser, requester, receivers):
    receiver = receivers()
    subscription = subscribe(superuser, receiver.url, ["ticket.created"])
    with pytest.raises(RuntimeError), transaction.atomic():
        services.ticket_create(requester=requester, subject="rolled back", description="d")
        raise RuntimeError("the change fails after the event was recorded")
    assert not WebhookDelivery.objects.exists()

    ticket = services.ticket_create(requester=requester, subject="kept", description="d")

    # In the ticket's transaction (its commit hook, which enqueues, has not run): the outbox row.
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert (delivery.status, delivery.dedupe_key, delivery.ticket) == (
        "pending",
        f"ticket-{ticket.pk}-created",
        ticket,
    )
    assert delivery.payload == {}  # built from the committed ticket at the first attempt
    assert receiver.requests == []


def test_a_delivery_whose_task_was_lost_is_sent_by_the_sweep(superuser, requester, receivers):
    receiver = receivers()
    subscribe(superuser, receiver.url, ["ticket.created"])
    ticket = services.ticket_create(requester=requester, subject="s", description="d")  # never enqueued
    delivery = WebhookDelivery.objects.get()
    due = delivery.next_attempt_at

    assert outgoing_webhooks.redeliver_lost(due + timedelta(minutes=4)) == 0  # maybe only queued yet
    assert outgoing_webhooks.redeliver_lost(due + outgoing_webhooks.REDELIVER_AFTER) == 1

    (request,) = receiver.requests
    assert request.signed_with(SECRET)
    assert request.json()["data"]["ticket"]["reference"] == ticket.reference
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert outgoing_webhooks.redeliver_lost(due + timedelta(hours=1)) == 0  # sent is final
    assert len(receiver.requests) == 1


def test_a_retry_is_due_after_its_backoff_and_only_then_swept(superuser, requester, receivers):
    receiver = receivers(status=500)
    subscribe(superuser, receiver.url, ["ticket.created"])
    first_attempt_fails(requester)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "retrying"
    assert 1.5 < (delivery.next_attempt_at - delivery.created_at).total_seconds() < 10  # the 2 s backoff

    receiver.status = 200
    lost_at = delivery.next_attempt_at + outgoing_webhooks.REDELIVER_AFTER
    assert outgoing_webhooks.redeliver_lost(lost_at - timedelta(seconds=1)) == 0
    assert outgoing_webhooks.redeliver_lost(lost_at) == 1  # the retry's task was lost too
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)


def test_beat_runs_the_webhook_sweep_every_minute(db):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="Webhook sweep")
    assert task.task == "tickets.outgoing_webhooks.sweep" and task.enabled
    assert (task.interval.every, task.interval.period) == (60, "seconds")


def first_attempt_fails(requester) -> int:
    """Open a ticket and run what its commit hook would (dispatch, and the first delivery attempt), which
    fails: in eager mode the task's retry raises Retry at once. Returns the retry's countdown."""
    ticket = services.ticket_create(requester=requester, subject="s", description="d")
    with pytest.raises(Retry) as retry:
        outgoing_webhooks.dispatch.apply(
            args=["ticket.created", ticket.pk, f"ticket-{ticket.pk}-created", {}]
        )
    return retry.value.when


def retry_countdown(delivery_id: int) -> int:
    """Run one delivery attempt that fails: in eager mode the task's retry raises Retry at once (no retry
    chain runs) and says when the worker would have tried again."""
    with pytest.raises(Retry) as retry:
        outgoing_webhooks.deliver.apply(args=[delivery_id])
    return retry.value.when


def test_a_failing_receiver_is_retried_with_backoff_then_disabled(settings, superuser, requester, receivers):
    settings.WEBHOOK_DISABLE_AFTER = 3
    receiver = receivers(status=500)
    subscription = subscribe(superuser, receiver.url, ["ticket.created"])
    assert first_attempt_fails(requester) == 2
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("retrying", 1, 500)
    assert "HTTP 500" in delivery.last_error

    assert retry_countdown(delivery.pk) == 4  # exponential backoff
    delivery.refresh_from_db()
    subscription.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("retrying", 2)
    assert subscription.active and subscription.consecutive_failures == 2

    assert retry_countdown(delivery.pk) == 8  # the third failure in a row disables the subscription
    subscription.refresh_from_db()
    assert not subscription.active and subscription.consecutive_failures == 3
    assert "after 3 failed attempts in a row" in subscription.disabled_reason
    assert "HTTP 500" in subscription.disabled_reason
    assert len(receiver.requests) == 3

    assert outgoing_webhooks.deliver.apply(args=[delivery.pk]).get() == "disabled"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 3
    assert len(receiver.requests) == 3

    # The API shows why; re-enabling starts the count afresh.
    shown = api_client(superuser).get(f"/api/v1/webhooks/{subscription.pk}/").json()
    assert shown["active"] is False and shown["disabled_reason"] == subscription.disabled_reason
    enabled = api_client(superuser).patch(f"/api/v1/webhooks/{subscription.pk}/", {"active": True}).json()
    assert enabled["active"] and enabled["consecutive_failures"] == 0 and enabled["disabled_reason"] == ""


def test_a_receiver_that_recovers_gets_the_delivery(superuser, requester, receivers):
    receiver = receivers(status=503)
    subscription = subscribe(superuser, receiver.url, ["ticket.created"])
    first_attempt_fails(requester)
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    receiver.status = 200
    assert outgoing_webhooks.deliver.apply(args=[delivery.pk]).get() == "sent"
    delivery.refresh_from_db()
    subscription.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("sent", 2, 200)
    assert subscription.consecutive_failures == 0
    first, second = receiver.requests
    assert first.headers["x-helpdesk-delivery"] == second.headers["x-helpdesk-delivery"]  # dedupe on it
    assert first.json()["id"] == second.json()["id"]
    assert outgoing_webhooks.deliver.apply(args=[delivery.pk]).get() == "skipped"  # sent is final


def test_an_unreachable_receiver_counts_as_a_failure(superuser, requester):
    subscription = subscribe(superuser, "http://127.0.0.1:1/nothing-listens", ["ticket.created"])
    first_attempt_fails(requester)
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.status == "retrying" and delivery.response_code is None
    assert "unreachable" in delivery.last_error


def test_an_s1_escalation_is_announced(superuser, requester, receivers, django_capture_on_commit_callbacks):
    assert not EscalationContact.objects.exists()  # no on-call contacts: only the integrations hear of it
    receiver = receivers()
    subscription = subscribe(superuser, receiver.url, ["sla.escalated", "sla.breached"])
    with django_capture_on_commit_callbacks(execute=False):
        ticket = services.ticket_create(requester=requester, subject="Down", description="d", severity="S1")
    escalation = Escalation.objects.get(ticket=ticket, level=Level.PAGE)
    with django_capture_on_commit_callbacks(execute=True):
        deliver_escalation(escalation.pk)
    assert receiver.events() == ["sla.escalated"]
    (request,) = receiver.requests
    assert request.signed_with(SECRET)
    assert request.headers["x-helpdesk-delivery"] == f"escalation-{escalation.pk}:{subscription.pk}"
    data = request.json()["data"]
    assert data["escalation"] == {"level": "page", "metric": "first_response", "cycle": 0}
    assert data["ticket"]["reference"] == ticket.reference and data["ticket"]["severity"] == "S1"
    escalation.refresh_from_db()
    assert escalation.completed_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        deliver_escalation(escalation.pk)  # done: a second run announces nothing
    assert len(receiver.requests) == 1


def test_webhook_subscriptions_validate_their_input(superuser):
    client = api_client(superuser)
    response = client.post(
        "/api/v1/webhooks/", {"url": "not a url", "secret": "short", "events": ["ticket.eaten"]}
    )
    assert response.status_code == 400
    assert {"url", "secret", "events"} <= set(response.json())
    empty = client.post("/api/v1/webhooks/", {"url": "https://x.example", "secret": SECRET, "events": []})
    assert empty.status_code == 400 and "events" in empty.json()
