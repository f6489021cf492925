"""The same thing arriving twice makes one ticket, on real PostgreSQL.

Email: a mail delivered twice into the Maildir (`fetch_email`), and the same mail handled by two threads
at once, for a new ticket and for a reply; the unique Message-ID of `InboundEmail` decides, the loser's
work rolls back and it reports a duplicate. The API: a create retried with its Idempotency-Key (in turn,
and at once from several threads), the key reused with another body (422), and a refused request
corrected and sent again with its key (docs/api.md, Idempotency).

The concurrent tests are transactional (each thread has its own connection and sees committed rows).
Where two requests must overlap, a hook in the code path holds the first one at a known point: no
sleeps, every wait has a deadline.
"""

from __future__ import annotations

import mailbox
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.urls import resolve
from rest_framework.test import APIRequestFactory
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import CustomerFactory, OrganizationFactory
from tickets import services
from tickets.channels import email_in
from tickets.channels.email_in import DUPLICATE, PROCESSED, process
from tickets.models import Event, InboundEmail, Message, Ticket
from tickets.models.integrations import ApiToken, IdempotencyRecord

MAIL_DIR = Path(__file__).resolve().parents[1] / "tickets" / "mail"
#: How long a thread waits for the other at a meeting point before the test fails.
DEADLINE = 20


def mail(name: str, **values: object) -> bytes:
    """A fixture mail of tests/tickets/mail; `{{name}}` placeholders filled in from `values`."""
    data = (MAIL_DIR / name).read_bytes()
    for key, value in values.items():
        data = data.replace(b"{{%s}}" % key.encode(), str(value).encode())
    return data


@pytest.fixture(autouse=True)
def mail_settings(settings):
    settings.DEFAULT_FROM_EMAIL = "Acme Helpdesk <support@help.example.com>"
    settings.SUPPORT_EMAIL = "support@help.example.com"
    settings.EMAIL_IN_UNKNOWN_SENDERS = "reject"


@pytest.fixture
def postgres(transactional_db, shipped_defaults):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL: set DATABASE_URL (always set in CI)")


@pytest.fixture
def jane(db):
    organization = OrganizationFactory(name="Acme Talent")
    return CustomerFactory(
        username="jane", email="jane.doe@acme.example", membership__organization=organization
    )


def in_threads(*calls: Callable[[], object]) -> list[object]:
    """Run each call in a thread of its own, with its own database connection; their results in order."""

    def run(call):
        try:
            return call()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [future.result(timeout=DEADLINE * 2) for future in futures]


def meet_before(monkeypatch, owner, name: str, parties: int) -> threading.Barrier:
    """Make `parties` callers of `owner.name` wait for each other before going on."""
    barrier = threading.Barrier(parties, timeout=DEADLINE)
    real = getattr(owner, name)

    def meeting(*args, **kwargs):
        barrier.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, meeting)
    return barrier


# --- email ------------------------------------------------------------------------------------------------


def test_a_mail_delivered_twice_into_the_maildir_opens_one_ticket(jane, tmp_path):
    maildir = tmp_path / "Maildir"
    box = mailbox.Maildir(maildir, create=True)
    box.add(mail("plain.eml"))
    box.add(mail("plain.eml"))  # the MTA delivered it again: another file, the same bytes

    out = StringIO()
    call_command("fetch_email", source=f"maildir://{maildir}", stdout=out)

    assert (
        out.getvalue().strip()
        == f"maildir://{maildir}: 2 mail(s): 1 processed, 1 already seen, 0 rejected, 0 quarantined"
    )
    ticket = Ticket.objects.get()
    assert ticket.requester == jane and not ticket.messages.exists()  # the mail's text is the description
    assert InboundEmail.objects.get().status == PROCESSED
    # Both copies were handled: the duplicate is not handed out again.
    assert list((maildir / "new").iterdir()) == [] and len(list((maildir / "cur").iterdir())) == 2

    # Delivered once more, after the fetch: recognized again.
    box.add(mail("plain.eml"))
    out = StringIO()
    call_command("fetch_email", source=f"maildir://{maildir}", stdout=out)
    assert "1 mail(s): 0 processed, 1 already seen" in out.getvalue()
    assert Ticket.objects.count() == 1 and InboundEmail.objects.count() == 1


def test_the_same_mail_handled_by_two_threads_at_once_opens_one_ticket(postgres, jane, monkeypatch):
    raw = mail("plain.eml")
    # Both threads get past the "seen before?" check before either records the mail.
    meet_before(monkeypatch, email_in, "decide", parties=2)

    results = in_threads(lambda: process(raw), lambda: process(raw))

    assert sorted(result.status for result in results) == [DUPLICATE, PROCESSED]
    (winner,) = [result for result in results if result.status == PROCESSED]
    assert list(Ticket.objects.values_list("pk", flat=True)) == [winner.ticket.pk]
    assert Event.objects.filter(kind=Event.Kind.CREATED).count() == 1
    record = InboundEmail.objects.get()
    assert (record.status, record.ticket_id) == (PROCESSED, winner.ticket.pk)


def test_the_same_reply_handled_by_two_threads_at_once_posts_one_message(postgres, jane, monkeypatch):
    ticket = process(mail("plain.eml")).ticket
    raw = mail("reply_subject.eml", ticket=ticket.pk)
    meet_before(monkeypatch, email_in, "decide", parties=2)

    results = in_threads(lambda: process(raw), lambda: process(raw))

    assert sorted(result.status for result in results) == [DUPLICATE, PROCESSED]
    (message,) = Message.objects.filter(ticket=ticket)
    assert message.body == "They are still not sent for the 3pm slot."
    assert Event.objects.filter(ticket=ticket, kind=Event.Kind.REPLIED).count() == 1
    assert InboundEmail.objects.get(message_id="<reply-subject-0001@mail.acme.example>").reply == message
    assert Ticket.objects.count() == 1


# --- the API: Idempotency-Key ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _generous_throttles(monkeypatch):
    """Throttle counters are shared (the cache, Redis in CI) and outlive a test: without a database server
    a new token may get the id of one an earlier API test spent its budget with (SQLite reuses the ids of
    rolled-back rows). These tests must not trip them."""
    for scope in ("token", "anon", "auth"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")


def token_of(user) -> str:
    return ApiToken.objects.issue(user=user, name="duplicates test")[1]


def post(path: str, body: dict, *, token: str, key: str):
    """POST through the API's own view (its authentication, throttles and exception handler)."""
    request = APIRequestFactory().post(
        path, body, format="json", HTTP_AUTHORIZATION=f"Token {token}", HTTP_IDEMPOTENCY_KEY=key
    )
    match = resolve(path)
    return match.func(request, *match.args, **match.kwargs).render()


TICKET = {
    "subject": "Invites are not sent",
    "description": "Since 9:00 for every candidate.",
    "severity": "S2",
}


def test_a_retried_create_replays_the_first_response_and_creates_nothing(jane):
    token = token_of(jane)

    first = post("/api/v1/tickets/", TICKET, token=token, key="create-1")
    again = post("/api/v1/tickets/", TICKET, token=token, key="create-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.data == first.data and again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Ticket.objects.count() == 1 and Event.objects.count() == 1


def test_a_key_reused_with_another_body_is_refused_and_creates_nothing(jane):
    token = token_of(jane)
    first = post("/api/v1/tickets/", TICKET, token=token, key="create-2")

    other = post("/api/v1/tickets/", {**TICKET, "severity": "S1"}, token=token, key="create-2")

    assert other.status_code == 422
    assert other.data == {"detail": "This Idempotency-Key was already used with a different request."}
    assert [ticket.reference for ticket in Ticket.objects.all()] == [first.data["reference"]]


def test_a_refused_request_keeps_no_key_and_may_be_corrected(jane):
    token = token_of(jane)
    bad = {**TICKET, "severity": "S9"}

    refused = post("/api/v1/tickets/", bad, token=token, key="create-3")
    assert refused.status_code == 400 and "severity" in refused.data
    assert not IdempotencyRecord.objects.exists()

    corrected = post("/api/v1/tickets/", TICKET, token=token, key="create-3")
    assert corrected.status_code == 201 and not corrected.has_header("Idempotent-Replayed")
    # The key now belongs to the corrected request: it replays, and the refused body no longer fits it.
    assert post("/api/v1/tickets/", TICKET, token=token, key="create-3").data == corrected.data
    assert post("/api/v1/tickets/", bad, token=token, key="create-3").status_code == 422
    assert Ticket.objects.count() == 1


def test_a_retry_while_the_first_request_runs_is_409_then_replays(postgres, jane, monkeypatch):
    token = token_of(jane)
    inside, release = threading.Event(), threading.Event()
    real_create = services.ticket_create

    def held_create(**kwargs):
        inside.set()
        assert release.wait(DEADLINE), "the test never released the first request"
        return real_create(**kwargs)

    monkeypatch.setattr(services, "ticket_create", held_create)

    def first_request():
        try:
            return post("/api/v1/tickets/", TICKET, token=token, key="create-4")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(first_request)
        assert inside.wait(DEADLINE), "the first request never reached ticket_create"
        try:
            # The first request holds the key: a retry is told so at once, without waiting for it.
            concurrent = in_threads(lambda: post("/api/v1/tickets/", TICKET, token=token, key="create-4"))[0]
        finally:
            release.set()
        created = first.result(timeout=DEADLINE)

    assert concurrent.status_code == 409
    assert concurrent.data == {
        "detail": "A request with this Idempotency-Key is still in progress; retry shortly."
    }
    assert created.status_code == 201
    monkeypatch.setattr(services, "ticket_create", real_create)
    replayed = post("/api/v1/tickets/", TICKET, token=token, key="create-4")
    assert replayed.status_code == 201 and replayed.data == created.data
    assert Ticket.objects.count() == 1 and IdempotencyRecord.objects.count() == 1


@pytest.mark.parametrize("target", ["ticket", "message"])
def test_the_same_create_sent_by_several_threads_at_once_happens_once(postgres, jane, target):
    token = token_of(jane)
    if target == "ticket":
        path, body, created = "/api/v1/tickets/", TICKET, Ticket.objects.all()
    else:
        ticket = services.ticket_create(requester=jane, subject="Invites", description="Not sent.")
        path, body = f"/api/v1/tickets/{ticket.reference}/messages/", {"body": "Any news?"}
        created = Message.objects.filter(ticket=ticket)
    parties = 6
    start = threading.Barrier(parties, timeout=DEADLINE)

    def send():
        start.wait()
        return post(path, body, token=token, key=f"{target}-at-once")

    responses = in_threads(*[send] * parties)

    originals = [r for r in responses if r.status_code == 201 and not r.has_header("Idempotent-Replayed")]
    assert len(originals) == 1, [(r.status_code, r.data) for r in responses]
    others = [r for r in responses if r is not originals[0]]
    # Each other request was told the key is busy, or got the first response again.
    assert all(r.status_code == 409 or (r.status_code == 201 and r.data == originals[0].data) for r in others)
    assert created.count() == 1 and IdempotencyRecord.objects.count() == 1
