"""Forged senders on the email channel (tickets/channels/sender_auth.py): a From header is typed by the
sender, so only the trusted receiving server's DMARC verdict lets a mail speak for an agent, an
organization admin on a colleague's ticket, or an address we would answer.

Every mail here is read as `fetch_email` reads it; notification tasks run eagerly on commit, so
`mail.outbox` holds every email the helpdesk would have sent.
"""

from __future__ import annotations

import mailbox
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core import mail as django_mail
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.urls import reverse

from sla.models import Metric
from tests.factories import PASSWORD, AgentFactory, CustomerFactory, OrganizationFactory
from tickets.channels.email_in import PROCESSED, QUARANTINED, REJECTED, process
from tickets.channels.email_release import inbound_email_release
from tickets.channels.mail_sources import QUARANTINE_HEADER
from tickets.channels.sender_auth import HELD
from tickets.models import InboundEmail, Message, Ticket
from tickets.services import ticket_create

OUR_SERVER = "mx.help.example.com"
FAIL = f"Authentication-Results: {OUR_SERVER}; spf=fail smtp.mailfrom={{domain}}; dkim=none; dmarc=fail"
PASS = (
    f"Authentication-Results: {OUR_SERVER}; dkim=pass header.d={{domain}}; "
    "spf=pass smtp.mailfrom={domain}; dmarc=pass header.from={domain}"
)
CHANGELIST = reverse("admin:tickets_inboundemail_changelist")


@pytest.fixture(autouse=True)
def mail_settings(settings):
    settings.DEFAULT_FROM_EMAIL = "Acme Helpdesk <support@help.example.com>"
    settings.SUPPORT_EMAIL = "support@help.example.com"
    settings.SITE_URL = "https://help.example.com/"
    settings.EMAIL_IN_URL = ""
    settings.EMAIL_IN_UNKNOWN_SENDERS = "reject"
    settings.EMAIL_IN_DEFAULT_ORGANIZATION = ""
    settings.EMAIL_IN_TRUSTED_AUTHSERV_IDS = [OUR_SERVER]
    settings.EMAIL_IN_AGENT_REPLIES_WITHOUT_AUTH = False
    return settings


@pytest.fixture(autouse=True)
def eager_celery():
    """Notification tasks run in this process as they are sent."""
    from helpdesk.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def acme(db):
    return OrganizationFactory(name="Acme Talent")


@pytest.fixture
def jane(acme):
    return CustomerFactory(username="jane", email="jane.doe@acme.example", membership__organization=acme)


@pytest.fixture
def alex(db):
    return AgentFactory(username="alex", email="alex.agent@help.example.com")


@pytest.fixture
def ticket(jane, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = ticket_create(requester=jane, subject="Invites are not sent", description="None go out.")
    django_mail.outbox.clear()  # the "ticket received" email
    return created


def compose(
    sender: str, *, subject: str, verdict: str | list[str] = "", message_id: str = "<m1@example.invalid>"
) -> bytes:
    """A mail as our server delivers it: its Authentication-Results header(s) on top."""
    domain = sender.rpartition("@")[2]
    verdicts = [verdict] if isinstance(verdict, str) else verdict
    head = [value.replace("{domain}", domain) for value in verdicts if value]
    head += [
        "Received: from attacker.example by mx.help.example.com; Tue, 3 Mar 2026 10:00:00 -0800",
        f"From: {sender}",
        "To: support@help.example.com",
        f"Subject: {subject}",
        f"Message-ID: {message_id}",
        "Content-Type: text/plain; charset=utf-8",
    ]
    return ("\n".join(head) + "\n\nPlease confirm your password at https://evil.example/login\n").encode()


def fetch(tmp_path, *raws: bytes) -> str:
    """Deliver `raws` to a Maildir and run `fetch_email` on it; its output."""
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for raw in raws:
        box.add(raw)
    out = StringIO()
    call_command("fetch_email", source=f"maildir://{tmp_path / 'Maildir'}", stdout=out, stderr=StringIO())
    return out.getvalue()


def run(django_capture_on_commit_callbacks, raw: bytes):
    with django_capture_on_commit_callbacks(execute=True):
        return process(raw)


def first_response(ticket: Ticket):
    return ticket.sla_clocks.get(metric=Metric.FIRST_RESPONSE)


# --- Forged agents ---------------------------------------------------------------------------------------


def test_a_forged_agent_reply_that_failed_dmarc_is_held_and_nothing_is_posted_or_sent(
    alex, ticket, tmp_path, django_capture_on_commit_callbacks
):
    # The penetration test's mail: an agent's From, our reference, our server's verdict: all failed.
    raw = compose(
        "Alex Agent <alex.agent@help.example.com>", subject=f"Re: [{ticket.reference}] Invites", verdict=FAIL
    )
    clock = first_response(ticket)

    with django_capture_on_commit_callbacks(execute=True):
        out = fetch(tmp_path, raw)

    assert "1 quarantined" in out
    record = InboundEmail.objects.get(message_id="<m1@example.invalid>")
    assert record.status == QUARANTINED and record.reason.startswith(HELD)
    assert "dmarc=fail" in record.reason
    assert (record.auth_result, record.auth_details) == (
        "fail",
        f"fail by {OUR_SERVER} (dmarc=fail, dkim=none, spf=fail)",
    )
    assert bytes(record.held_mail) == raw
    assert not Message.objects.exists()
    assert django_mail.outbox == []
    after = first_response(ticket)
    assert (after.state, after.met_at, after.due_at) == (clock.state, None, clock.due_at)
    ticket.refresh_from_db()
    assert ticket.status == "new"
    (kept,) = mailbox.Maildir(tmp_path / "Maildir").get_folder("quarantine")
    assert kept[QUARANTINE_HEADER].startswith("Held")


def test_an_agent_address_without_any_trusted_verdict_is_held_by_default(
    alex, ticket, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_IN_TRUSTED_AUTHSERV_IDS = []  # nothing configured: no mail carries a verdict
    raw = compose("alex.agent@help.example.com", subject=f"Re: [{ticket.reference}] Invites", verdict=PASS)

    result = run(django_capture_on_commit_callbacks, raw)

    assert result.status == QUARANTINED and result.reason.startswith(HELD)
    assert "no Authentication-Results from a trusted server" in result.reason
    assert not Message.objects.exists() and django_mail.outbox == []


def test_a_trusted_relay_may_let_agents_reply_without_a_verdict(
    alex, ticket, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_IN_TRUSTED_AUTHSERV_IDS = []
    settings.EMAIL_IN_AGENT_REPLIES_WITHOUT_AUTH = True
    raw = compose("alex.agent@help.example.com", subject=f"Re: [{ticket.reference}] Invites")

    result = run(django_capture_on_commit_callbacks, raw)

    assert result.status == PROCESSED
    assert ticket.messages.get().author == alex


def test_the_relaxation_does_not_override_a_trusted_fail(
    alex, ticket, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_IN_AGENT_REPLIES_WITHOUT_AUTH = True
    raw = compose("alex.agent@help.example.com", subject=f"Re: [{ticket.reference}] Invites", verdict=FAIL)

    assert run(django_capture_on_commit_callbacks, raw).status == QUARANTINED
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "verdicts",
    [
        # Another server's pass (the sender's own, or any relay's) is the sender's word.
        ["Authentication-Results: mx.attacker.example; dkim=pass header.d={domain}; dmarc=pass"],
        # Our id, but written by the sender below our server's real verdict.
        [FAIL, PASS],
        # Microsoft 365's form, without an authserv-id: nobody's.
        [
            "Authentication-Results: spf=pass smtp.mailfrom={domain}; "
            "dmarc=pass action=none header.from={domain}"
        ],
        # A pass about another From domain.
        [f"Authentication-Results: {OUR_SERVER}; dmarc=pass header.from=attacker.example"],
    ],
    ids=["untrusted authserv-id", "forged below ours", "no authserv-id", "another domain's pass"],
)
def test_a_forged_pass_does_not_count(alex, ticket, verdicts, django_capture_on_commit_callbacks):
    raw = compose(
        "alex.agent@help.example.com", subject=f"Re: [{ticket.reference}] Invites", verdict=verdicts
    )

    result = run(django_capture_on_commit_callbacks, raw)

    assert result.status == QUARANTINED and result.reason.startswith(HELD)
    assert not Message.objects.exists() and django_mail.outbox == []


def test_an_agent_reply_that_passes_dmarc_is_posted_and_mailed(
    alex, ticket, django_capture_on_commit_callbacks
):
    raw = compose("alex.agent@help.example.com", subject=f"Re: [{ticket.reference}] Invites", verdict=PASS)

    result = run(django_capture_on_commit_callbacks, raw)

    assert result.status == PROCESSED
    assert ticket.messages.get().author == alex
    assert first_response(ticket).met_at is not None
    (notification,) = django_mail.outbox
    assert notification.to == ["jane.doe@acme.example"]
    record = InboundEmail.objects.get(message_id="<m1@example.invalid>")
    assert record.auth_result == "pass" and record.held_mail is None and record.released_by is None


# --- Organization admins and customers ---------------------------------------------------------------------


@pytest.mark.parametrize("verdict", [FAIL, f"Authentication-Results: {OUR_SERVER}; dmarc=none"])
def test_an_org_admin_address_on_a_colleagues_ticket_needs_a_pass(
    acme, ticket, verdict, django_capture_on_commit_callbacks
):
    CustomerFactory(email="boss@acme.example", membership__organization=acme, membership__role="admin")
    raw = compose("boss@acme.example", subject=f"Re: [{ticket.reference}] Invites", verdict=verdict)

    result = run(django_capture_on_commit_callbacks, raw)

    assert result.status == QUARANTINED and result.reason.startswith(HELD)
    assert not Message.objects.exists() and django_mail.outbox == []


def test_an_org_admin_with_a_pass_answers_a_colleagues_ticket(
    acme, ticket, django_capture_on_commit_callbacks
):
    boss = CustomerFactory(email="boss@acme.example", membership__organization=acme, membership__role="admin")
    raw = compose("boss@acme.example", subject=f"Re: [{ticket.reference}] Invites", verdict=PASS)

    assert run(django_capture_on_commit_callbacks, raw).status == PROCESSED
    assert ticket.messages.get().author == boss


def test_customer_mail_that_failed_dmarc_is_held_and_without_a_verdict_is_taken(
    jane, django_capture_on_commit_callbacks
):
    held = run(
        django_capture_on_commit_callbacks, compose("jane.doe@acme.example", subject="Help", verdict=FAIL)
    )
    taken = run(
        django_capture_on_commit_callbacks,
        compose("jane.doe@acme.example", subject="Help", message_id="<m2@example.invalid>"),
    )

    assert held.status == QUARANTINED and held.reason.startswith(HELD)
    assert taken.status == PROCESSED and Ticket.objects.get() == taken.ticket
    assert InboundEmail.objects.get(message_id="<m2@example.invalid>").auth_result == "none"
    (received,) = django_mail.outbox  # only the taken mail's "ticket received"
    assert received.to == ["jane.doe@acme.example"]


# --- Release from quarantine -------------------------------------------------------------------------------


@pytest.fixture
def held_mail(jane, django_capture_on_commit_callbacks) -> InboundEmail:
    result = run(
        django_capture_on_commit_callbacks, compose("jane.doe@acme.example", subject="Help", verdict=FAIL)
    )
    assert result.status == QUARANTINED
    return InboundEmail.objects.get(message_id=result.message_id)


def test_an_agent_releases_a_held_mail_from_the_console(
    client, alex, jane, held_mail, django_capture_on_commit_callbacks
):
    client.force_login(alex)
    listing = client.get(CHANGELIST).content.decode()
    assert f"fail by {OUR_SERVER} (dmarc=fail, dkim=none, spf=fail)" in listing
    page = client.get(reverse("admin:tickets_inboundemail_change", args=[held_mail.pk]))
    assert page.status_code == 200 and "dmarc=fail" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            CHANGELIST, {"action": "release", "_selected_action": [held_mail.pk], "index": 0}, follow=True
        )

    assert response.status_code == 200
    record = InboundEmail.objects.get(message_id=held_mail.message_id)
    assert record.status == PROCESSED and record.released_by == alex and record.released_at is not None
    assert record.held_mail is None and record.auth_result == "fail"
    assert record.ticket.requester == jane
    assert [sent.to for sent in django_mail.outbox] == [["jane.doe@acme.example"]]
    # Released once: a second release finds nothing held.
    with pytest.raises(Exception, match="not held"):
        inbound_email_release(inbound_email=record, actor=alex)


def test_a_released_mail_still_obeys_every_other_rule(
    alex, jane, outsider, django_capture_on_commit_callbacks
):
    # Released, Jane's mail naming another organization's ticket still cannot reach it.
    foreign = ticket_create(requester=outsider, subject="Theirs", description="Private.")
    raw = compose("jane.doe@acme.example", subject=f"Re: [{foreign.reference}] Theirs", verdict=FAIL)
    held = run(django_capture_on_commit_callbacks, raw)
    assert held.status == QUARANTINED

    result = inbound_email_release(
        inbound_email=InboundEmail.objects.get(message_id=held.message_id), actor=alex
    )

    assert result.status == PROCESSED and result.ticket != foreign
    assert result.ticket.requester == jane and not foreign.messages.exists()


def test_a_customer_cannot_release_a_held_mail(client, jane, held_mail):
    assert client.login(username=jane.username, password=PASSWORD)

    response = client.post(CHANGELIST, {"action": "release", "_selected_action": [held_mail.pk], "index": 0})

    assert response.status_code == 302 and reverse("admin:login") in response["Location"]
    with pytest.raises(PermissionDenied):
        inbound_email_release(inbound_email=held_mail, actor=jane)
    held_mail.refresh_from_db()
    assert held_mail.status == QUARANTINED and not Ticket.objects.exists()


def test_staff_outside_the_agents_cannot_release(client, held_mail):
    # Staff with console access but without the inbound-mail permission: the action is not theirs.
    clerk = get_user_model().objects.create_user(username="clerk", password=PASSWORD, is_staff=True)
    client.force_login(clerk)

    response = client.post(CHANGELIST, {"action": "release", "_selected_action": [held_mail.pk], "index": 0})

    assert response.status_code == 403
    held_mail.refresh_from_db()
    assert held_mail.status == QUARANTINED


# --- Backscatter -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("verdict", [FAIL, "", f"Authentication-Results: {OUR_SERVER}; dmarc=none"])
def test_an_unknown_sender_is_answered_only_on_a_pass(db, verdict, django_capture_on_commit_callbacks):
    raw = compose("victim@elsewhere.example", subject="Question", verdict=verdict)

    result = run(django_capture_on_commit_callbacks, raw)

    assert result.status == REJECTED and result.reason.endswith("not answered.")
    assert django_mail.outbox == []
    passed = run(
        django_capture_on_commit_callbacks,
        compose(
            "victim@elsewhere.example", subject="Question", verdict=PASS, message_id="<m2@example.invalid>"
        ),
    )
    assert passed.status == REJECTED and [sent.to for sent in django_mail.outbox] == [
        ["victim@elsewhere.example"]
    ]


def test_with_open_an_unauthenticated_stranger_gets_no_account_and_no_mail(
    db, settings, django_capture_on_commit_callbacks
):
    OrganizationFactory(name="Walk-in customers")
    settings.EMAIL_IN_UNKNOWN_SENDERS = "open"
    settings.EMAIL_IN_DEFAULT_ORGANIZATION = "Walk-in customers"

    result = run(django_capture_on_commit_callbacks, compose("victim@elsewhere.example", subject="Hi"))

    assert result.status == QUARANTINED and result.reason.startswith(HELD)
    assert not get_user_model().objects.filter(email="victim@elsewhere.example").exists()
    assert django_mail.outbox == []


def test_refusals_to_agents_go_only_to_an_authenticated_address(
    alex, settings, django_capture_on_commit_callbacks
):
    # The relay is trusted to let agents in, but a refusal still needs a proven address to go to.
    settings.EMAIL_IN_TRUSTED_AUTHSERV_IDS = []
    settings.EMAIL_IN_AGENT_REPLIES_WITHOUT_AUTH = True

    result = run(
        django_capture_on_commit_callbacks, compose("alex.agent@help.example.com", subject="New one")
    )

    assert result.status == REJECTED and result.reason.endswith("not answered.")
    assert django_mail.outbox == []
