"""Email in: real RFC 822 mails (tests/tickets/mail/*.eml) through `process`, the Maildir source end to end
with `fetch_email`, the URL parsing of the sources, the beat task and its schedule.

The fixtures are files as a mail server stores them. `{{ticket}}` and `{{message}}` in them stand for
row ids, which differ between runs and databases, and are filled in by `mail()`. Mails from agents and
unknown senders carry our receiving server's DMARC pass (tests/security/test_email_auth.py has the rest).
"""

from __future__ import annotations

import mailbox
import os
import subprocess
import sys
from email import message_from_bytes, policy
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.core.management.sql import emit_post_migrate_signal
from django.db import OperationalError
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from sla.models import Metric
from tests.factories import AgentFactory, CustomerFactory, OrganizationFactory
from tickets.channels import email_in, email_routing, mime
from tickets.channels.email_in import (
    DUPLICATE,
    PROCESSED,
    QUARANTINED,
    REJECTED,
    fetch_from,
    process,
)
from tickets.channels.mail_sources import (
    QUARANTINE_HEADER,
    ImapSource,
    MaildirSource,
    MailSource,
    MailSourceError,
    RawMail,
    source_from_url,
)
from tickets.channels.schedule import TASK_NAME, ensure_fetch_schedule
from tickets.channels.tasks import fetch_email
from tickets.models import Channel, InboundEmail, Membership, Message, Status, Ticket
from tickets.services import ticket_change_status, ticket_create, ticket_reply

MAIL_DIR = Path(__file__).parent / "mail"
BASE_DIR = Path(__file__).resolve().parents[2]


def mail(name: str, **values) -> bytes:
    data = (MAIL_DIR / name).read_bytes()
    for key, value in values.items():
        data = data.replace(b"{{%s}}" % key.encode(), str(value).encode())
    return data


@pytest.fixture(autouse=True)
def mail_settings(settings):
    settings.DEFAULT_FROM_EMAIL = "Acme Helpdesk <support@help.example.com>"
    settings.SUPPORT_EMAIL = "support@help.example.com"
    settings.SITE_URL = "https://help.example.com/"
    settings.EMAIL_IN_URL = ""
    settings.EMAIL_IN_UNKNOWN_SENDERS = "reject"
    settings.EMAIL_IN_DEFAULT_ORGANIZATION = ""
    # Our receiving server: staff_reply.eml and unknown_sender.eml carry its DMARC pass (the customers'
    # fixtures carry no verdict, as from a server that checks nothing).
    settings.EMAIL_IN_TRUSTED_AUTHSERV_IDS = ["mx.help.example.com"]
    settings.EMAIL_IN_AGENT_REPLIES_WITHOUT_AUTH = False
    return settings


@pytest.fixture
def acme(db):
    return OrganizationFactory(name="Acme Talent", timezone="America/New_York")


@pytest.fixture
def jane(acme):
    # Stored in another case than the mails use: addresses match case-insensitively.
    return CustomerFactory(username="jane", email="Jane.Doe@acme.example", membership__organization=acme)


@pytest.fixture
def alex(db):
    return AgentFactory(username="alex", email="alex.agent@help.example.com")


def new_ticket(requester, **kwargs) -> Ticket:
    return ticket_create(
        requester=requester,
        subject=kwargs.pop("subject", "Interview invites are not being sent"),
        description=kwargs.pop("description", "Invites do not go out."),
        **kwargs,
    )


def row(message_id: str) -> InboundEmail:
    return InboundEmail.objects.get(message_id=message_id)


# --- New tickets --------------------------------------------------------------------------------------


def test_a_plain_mail_from_a_customer_opens_an_email_ticket(jane, acme):
    result = process(mail("plain.eml"))

    assert result.status == PROCESSED
    ticket = result.ticket
    assert (ticket.requester, ticket.organization, ticket.channel) == (jane, acme, Channel.EMAIL)
    assert ticket.subject == "Interview invites are not being sent"
    # Quoted-printable and UTF-8 decoded.
    assert "candidates receive nothing — Renée checked three of them." in ticket.description
    assert ticket.description.startswith("Hi team,")
    assert ticket.description.endswith("Thanks,\nJane")
    # Mailed tickets start at S3 and wait for an agent's triage.
    assert (ticket.severity, ticket.status) == ("S3", Status.NEW)
    assert ticket.sla_clocks.filter(metric=Metric.FIRST_RESPONSE).exists()
    record = row("<plain-0001@mail.acme.example>")
    assert (record.status, record.ticket, record.reply) == (PROCESSED, ticket, None)
    assert record.from_address == "jane.doe@acme.example"
    assert record.subject == "Interview invites are not being sent"
    assert record.raw_size == len(mail("plain.eml"))
    assert ticket.reference in record.reason


def test_a_multipart_mail_keeps_its_png_and_pdf_attachments(jane):
    ticket = process(mail("attachments.eml")).ticket

    # The text version of the body, not the HTML one, and neither is a file.
    assert ticket.description == (
        "Saving the onsite panel fails with error 500. Screenshot and the exported\n"
        "error report are attached."
    )
    files = {a.original_name: a for a in ticket.attachments.all()}
    assert set(files) == {"screenshot.png", "error-report.pdf"}
    assert files["screenshot.png"].content_type == "image/png"
    assert files["error-report.pdf"].content_type == "application/pdf"
    with files["screenshot.png"].file.open("rb") as stored:
        assert stored.read().startswith(b"\x89PNG\r\n\x1a\n")
    assert files["error-report.pdf"].size == 592
    assert all(a.uploaded_by == jane for a in files.values())


def test_an_html_only_mail_is_sanitized_to_text(jane):
    ticket = process(mail("html_only.eml")).ticket

    text = ticket.description
    assert text == (
        "Hello support,\n\n"
        "Interviewer calendars stopped syncing at 09:30 & new slots do not appear.\n\n"
        "Affected: Maria and Tom\nSince: today\n\n"
        "- Google Calendar\n- Outlook 365\n"
        "details\n"
        "Regards,\nJane"
    )
    for leftover in (
        "<",
        "script",
        "alert",
        "pwned",
        "cookie",
        "secret-css-marker",
        "Calibri",
        "Internal title",
    ):
        assert leftover not in text


def test_undecodable_bytes_and_nul_characters_in_headers_do_not_stop_a_mail(jane):
    raw = mail("plain.eml")
    raw = raw.replace(b'"Jane Doe"', b"J\xe9r\xf4me \x00")
    raw = raw.replace(b"Subject: Interview invites", b"Subject: Caf\xe9 \x00 invites")
    raw = raw.replace(b"<plain-0001@", b"<plain\x00-0001@")

    result = process(raw)

    assert result.status == PROCESSED
    assert result.ticket.subject == "Caf\ufffd invites are not being sent"
    # A Message-ID with a control character is no Message-ID: the bytes identify the mail.
    assert result.message_id == mime.synthetic_message_id(raw)
    assert process(raw).status == DUPLICATE


# --- Threading ----------------------------------------------------------------------------------------


def test_a_reply_threads_by_the_reference_in_its_subject_and_loses_the_quoted_history(jane):
    ticket = process(mail("plain.eml")).ticket

    result = process(mail("reply_subject.eml", ticket=ticket.pk))

    assert (result.status, result.ticket) == (PROCESSED, ticket)
    assert Ticket.objects.count() == 1
    (message,) = ticket.messages.all()
    assert message.body == "They are still not sent for the 3pm slot."
    assert (message.author, message.author_role, message.internal, message.channel) == (
        jane,
        Message.AuthorRole.CUSTOMER,
        False,
        Channel.EMAIL,
    )
    assert row("<reply-subject-0001@mail.acme.example>").reply == message


def test_a_reply_threads_by_in_reply_to_alone_and_reopens_a_pending_ticket(jane, alex):
    ticket = new_ticket(jane, subject="Calendar sync stopped")
    answer = ticket_reply(ticket=ticket, author=alex, body="We re-authorized the calendar connection.")
    ticket_change_status(ticket=ticket, actor=alex, status=Status.PENDING)

    # The subject changed and carries no reference: only the headers lead to the ticket.
    result = process(mail("reply_in_reply_to.eml", ticket=ticket.pk, message=answer.pk))

    assert (result.status, result.ticket) == (PROCESSED, ticket)
    reply = ticket.messages.get(author=jane)
    # Outlook's "From: … Sent: …" block under a rule is history.
    assert reply.body == "The Outlook calendars sync again, the Google ones do not."
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN


def test_a_reply_to_the_customers_own_earlier_mail_threads_onto_its_ticket(jane):
    ticket = process(mail("plain.eml")).ticket

    result = process(mail("reply_to_own_mail.eml"))

    assert result.ticket == ticket
    assert ticket.messages.get().body == "Adding: it also happens for the phone screens."


def test_thread_ids_of_another_domain_do_not_thread(jane, settings):
    ticket = new_ticket(jane)
    settings.DEFAULT_FROM_EMAIL = "Support <help@elsewhere.example>"

    result = process(mail("reply_in_reply_to.eml", ticket=ticket.pk, message=1))

    assert result.ticket != ticket
    assert result.ticket.subject == "One more thing about the calendars"


def test_a_reference_to_a_ticket_the_sender_may_not_see_opens_a_new_ticket(jane, outsider):
    foreign = new_ticket(outsider, subject="Their ticket")

    result = process(mail("reply_subject.eml", ticket=foreign.pk))

    assert result.status == PROCESSED
    assert result.ticket != foreign and result.ticket.requester == jane
    assert not foreign.messages.exists()
    # Our tag and "Re:" leave the subject: the new ticket is not the one the tag names.
    assert result.ticket.subject == "Interview invites are not being sent"
    # A new ticket keeps the whole text, quoted part included (it may be the report).
    assert "> We restarted the mail queue; please try again." in result.ticket.description


def test_an_organization_admin_may_answer_a_colleagues_ticket(acme, jane):
    admin = CustomerFactory(
        email="admin@acme.example", membership__organization=acme, membership__role="admin"
    )
    ticket = new_ticket(jane)
    raw = mail("reply_subject.eml", ticket=ticket.pk).replace(b"jane.doe@acme.example", b"admin@acme.example")

    result = process(raw)

    assert result.ticket == ticket
    assert ticket.messages.get().author == admin


def test_a_reply_to_a_closed_ticket_opens_a_follow_up(jane, alex):
    closed = new_ticket(jane)
    ticket_change_status(ticket=closed, actor=alex, status=Status.RESOLVED)
    ticket_change_status(ticket=closed, actor=alex, status=Status.CLOSED)

    result = process(mail("reply_subject.eml", ticket=closed.pk))

    assert result.status == PROCESSED
    follow_up = result.ticket
    assert follow_up != closed
    assert (follow_up.requester, follow_up.channel, follow_up.status) == (jane, Channel.EMAIL, Status.NEW)
    assert follow_up.description == (
        f'Follow-up to {closed.reference} ("Interview invites are not being sent"), which is closed.\n\n'
        "They are still not sent for the 3pm slot."
    )
    assert follow_up.subject == "Interview invites are not being sent"
    assert not closed.messages.exists()
    assert closed.reference in result.reason


# --- Agents -------------------------------------------------------------------------------------------


def test_an_agent_answering_by_email_posts_a_public_agent_reply(jane, alex, mailoutbox):
    ticket = new_ticket(jane)

    result = process(mail("staff_reply.eml", ticket=ticket.pk))

    assert (result.status, result.ticket) == (PROCESSED, ticket)
    (message,) = ticket.messages.all()
    assert (message.author, message.author_role, message.internal, message.channel) == (
        alex,
        Message.AuthorRole.AGENT,
        False,
        Channel.EMAIL,
    )
    assert message.body == "Hi Jane, the fix is deployed; invites go out again."
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.sla_clocks.get(metric=Metric.FIRST_RESPONSE).met_at is not None
    assert mailoutbox == []  # the notification to the customer goes by Celery, after commit


def test_an_agent_mail_naming_no_ticket_is_refused_with_an_answer(alex, mailoutbox):
    raw = mail("staff_reply.eml", ticket=999999)

    result = process(raw)

    assert result.status == REJECTED
    assert not Ticket.objects.exists()
    (answer,) = mailoutbox
    assert answer.to == ["alex.agent@help.example.com"]
    assert "Agents open tickets for customers in the console" in answer.body
    assert "https://help.example.com/admin/" in answer.body


def test_an_agent_mail_on_a_closed_ticket_is_refused_with_an_answer(jane, alex, mailoutbox):
    ticket = new_ticket(jane)
    ticket_change_status(ticket=ticket, actor=alex, status=Status.RESOLVED)
    ticket_change_status(ticket=ticket, actor=alex, status=Status.CLOSED)

    result = process(mail("staff_reply.eml", ticket=ticket.pk))

    assert result.status == REJECTED
    assert not ticket.messages.exists() and Ticket.objects.count() == 1
    (answer,) = mailoutbox
    assert f"{ticket.reference} is closed, so your email was not posted on it." in answer.body


# --- Duplicates ---------------------------------------------------------------------------------------


def test_the_same_mail_twice_opens_one_ticket(jane):
    first = process(mail("plain.eml"))
    second = process(mail("plain.eml"))

    assert (first.status, second.status) == (PROCESSED, DUPLICATE)
    assert second.message_id == first.message_id == "<plain-0001@mail.acme.example>"
    assert Ticket.objects.count() == 1
    assert InboundEmail.objects.count() == 1


def test_a_mail_over_the_size_limit_is_quarantined_from_its_headers_alone(jane, settings, monkeypatch):
    raw = mail("attachments.eml")
    settings.EMAIL_IN_MAX_BYTES = len(raw) - 1
    parsed = []
    monkeypatch.setattr(mime, "message_from_bytes", lambda *a, **k: parsed.append(a) or None)

    first, again = process(raw), process(raw)

    assert parsed == []  # the body was never parsed
    assert (first.status, again.status) == (QUARANTINED, QUARANTINED)  # as any quarantined mail read again
    quarantined = row(first.message_id)  # one row
    assert first.message_id == message_from_bytes(raw, policy=policy.default)["Message-ID"]
    assert quarantined.from_address == jane.email.lower() and quarantined.subject
    assert quarantined.reason.startswith("Too large to read") and "EMAIL_IN_MAX_BYTES" in quarantined.reason
    assert not Ticket.objects.exists()


def test_a_mail_without_message_id_is_recognized_by_its_bytes(jane):
    first = process(mail("no_message_id.eml"))
    second = process(mail("no_message_id.eml"))

    assert (first.status, second.status) == (PROCESSED, DUPLICATE)
    assert first.message_id.startswith("<sha256-") and first.message_id.endswith("@helpdesk.invalid>")
    assert Ticket.objects.count() == 1


def test_a_concurrent_fetch_of_the_same_mail_loses_the_race_harmlessly(jane, monkeypatch):
    process(mail("plain.eml"))
    # The other fetcher's row appears between our check and our insert: the unique key decides.
    real_seen = email_in._seen
    calls = []

    def not_yet_seen_at_first(message_id):
        calls.append(message_id)
        return len(calls) > 1 and real_seen(message_id)

    monkeypatch.setattr(email_in, "_seen", not_yet_seen_at_first)

    result = process(mail("plain.eml"))

    assert result.status == DUPLICATE
    assert Ticket.objects.count() == 1
    assert InboundEmail.objects.get().status == PROCESSED


# --- Quarantine ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken_base64.eml", "base64 encoding is corrupt"),
        ("truncated.eml", "truncated"),
        ("garbage.eml", "no sender address"),
    ],
)
def test_a_malformed_mail_is_quarantined_with_the_reason(jane, name, reason):
    result = process(mail(name))

    assert result.status == QUARANTINED
    assert reason in result.reason
    assert not Ticket.objects.exists()
    record = row(result.message_id)
    assert (record.status, record.ticket, record.raw_size) == (QUARANTINED, None, len(mail(name)))
    assert reason in record.reason


def test_an_error_while_acting_quarantines_the_mail_and_the_next_one_still_works(jane, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("storage is read-only")

    monkeypatch.setattr(email_routing, "ticket_create", broken)
    failed = process(mail("plain.eml"))
    monkeypatch.undo()
    worked = process(mail("html_only.eml"))

    assert (failed.status, failed.reason) == (QUARANTINED, "RuntimeError: storage is read-only")
    assert worked.status == PROCESSED
    assert Ticket.objects.count() == 1


def test_a_quarantined_mail_may_be_processed_again_once_the_cause_is_fixed(jane, monkeypatch):
    monkeypatch.setattr(email_routing, "ticket_create", lambda **kwargs: 1 / 0)
    assert process(mail("plain.eml")).status == QUARANTINED
    monkeypatch.undo()

    result = process(mail("plain.eml"))

    assert result.status == PROCESSED
    assert row("<plain-0001@mail.acme.example>").status == PROCESSED


def test_a_sender_shared_by_two_accounts_is_quarantined(jane, acme):
    # The database now refuses a second account with an address (migration 0009's unique index); this
    # is a row written before it, or past it: the quarantine stays as the last guard.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX auth_user_email_ci_unique")  # rolled back with the test
    AgentFactory(email="jane.doe@acme.example")

    result = process(mail("plain.eml"))

    assert result.status == QUARANTINED
    assert "several accounts use jane.doe@acme.example" in result.reason


# --- Unknown senders and automatic mail ---------------------------------------------------------------


def test_an_unknown_sender_is_rejected_with_a_polite_answer(db, mailoutbox):
    result = process(mail("unknown_sender.eml"))

    assert result.status == REJECTED
    assert not Ticket.objects.exists()
    assert not get_user_model().objects.filter(email__iexact="sam@stranger.example").exists()
    (answer,) = mailoutbox
    assert answer.to == ["sam@stranger.example"]
    assert answer.subject == "Re: Question about your product"
    assert "sam@stranger.example is not registered" in answer.body
    assert "https://help.example.com/portal/tickets/new/" in answer.body
    headers = answer.message()
    assert headers["In-Reply-To"] == "<unknown-0001@stranger.example>"
    assert headers["Auto-Submitted"] == "auto-replied"
    assert row("<unknown-0001@stranger.example>").status == REJECTED


def test_an_unknown_sender_is_answered_at_most_once_a_day(db, mailoutbox):
    process(mail("unknown_sender.eml"))
    again = mail("unknown_sender.eml").replace(b"<unknown-0001@", b"<unknown-0002@")

    result = process(again)

    assert result.status == REJECTED
    assert "answered within the last day" in result.reason
    assert len(mailoutbox) == 1


def test_with_open_an_unknown_sender_becomes_a_requester_of_the_default_organization(
    db, settings, mailoutbox
):
    walk_in = OrganizationFactory(name="Walk-in customers")
    settings.EMAIL_IN_UNKNOWN_SENDERS = "open"
    settings.EMAIL_IN_DEFAULT_ORGANIZATION = "Walk-in customers"

    result = process(mail("unknown_sender.eml"))

    assert result.status == PROCESSED
    ticket = result.ticket
    sam = ticket.requester
    assert (sam.email, sam.first_name, sam.last_name) == ("sam@stranger.example", "Sam", "Stranger")
    assert sam.is_active and not sam.is_staff and not sam.has_usable_password()
    assert (sam.membership.organization, sam.membership.role) == (walk_in, Membership.Role.REQUESTER)
    assert (ticket.organization, ticket.channel) == (walk_in, Channel.EMAIL)
    assert ticket.description == "Hello, do you integrate with Workday?\n\nSam"
    assert mailoutbox == []
    # Sam is known now: the next mail is his, not another new account.
    process(mail("unknown_sender.eml").replace(b"<unknown-0001@", b"<unknown-0002@"))
    assert get_user_model().objects.filter(email__iexact="sam@stranger.example").count() == 1
    assert Ticket.objects.filter(requester=sam).count() == 2


def test_with_open_a_missing_default_organization_quarantines_the_mail(db, settings):
    settings.EMAIL_IN_UNKNOWN_SENDERS = "open"
    settings.EMAIL_IN_DEFAULT_ORGANIZATION = "Nobody Inc."

    result = process(mail("unknown_sender.eml"))

    assert result.status == QUARANTINED
    assert "'Nobody Inc.'" in result.reason
    assert not get_user_model().objects.filter(email__iexact="sam@stranger.example").exists()


def test_with_open_an_inactive_account_is_not_recreated(db, settings, mailoutbox):
    OrganizationFactory(name="Walk-in customers")
    settings.EMAIL_IN_UNKNOWN_SENDERS = "open"
    settings.EMAIL_IN_DEFAULT_ORGANIZATION = "Walk-in customers"
    CustomerFactory(email="sam@stranger.example", is_active=False)

    result = process(mail("unknown_sender.eml"))

    assert result.status == REJECTED
    assert "its account cannot open tickets" in result.reason
    assert len(mailoutbox) == 1


@pytest.mark.parametrize(
    "header",
    [
        b"Auto-Submitted: auto-replied",
        b"Auto-Submitted: auto-generated",
        b"Precedence: bulk",
        b"Precedence: auto_reply",
        b"X-Autoreply: yes",
        b"X-Autorespond: Out of office",
    ],
)
def test_automatic_replies_are_ignored_without_an_answer(jane, mailoutbox, header):
    ticket = new_ticket(jane)
    # The fixture with only the one header under test.
    automatic = (b"Auto-Submitted:", b"X-Autoreply:", b"Precedence:")
    lines = [
        line
        for line in mail("auto_reply.eml", ticket=ticket.pk).split(b"\n")
        if not line.startswith(automatic)
    ]
    raw = b"\n".join([lines[0], header, *lines[1:]])

    result = process(raw)

    assert result.status == REJECTED
    assert "Automatic mail" in result.reason
    assert not ticket.messages.exists()
    assert Ticket.objects.count() == 1
    assert mailoutbox == []


def test_an_automatic_reply_from_an_unknown_sender_gets_no_answer(db, mailoutbox):
    raw = mail("unknown_sender.eml").replace(b"MIME-Version", b"Auto-Submitted: auto-replied\nMIME-Version")

    assert process(raw).status == REJECTED
    assert mailoutbox == []


def test_a_bounce_and_mail_from_our_own_address_are_ignored(jane, mailoutbox):
    bounce = mail("plain.eml").replace(b"Return-Path: <jane.doe@acme.example>", b"Return-Path: <>")
    own = mail("plain.eml").replace(b'"Jane Doe" <jane.doe@acme.example>', b"support@help.example.com")
    own = own.replace(b"<plain-0001@", b"<plain-own@")

    assert process(bounce).status == REJECTED
    assert "loop" in process(own).reason
    assert not Ticket.objects.exists()
    assert mailoutbox == []


# --- Attachments --------------------------------------------------------------------------------------


def test_a_disguised_attachment_is_refused_without_losing_the_mail(jane):
    result = process(mail("disguised_attachment.eml"))

    assert result.status == PROCESSED
    ticket = result.ticket
    assert [a.original_name for a in ticket.attachments.all()] == ["real.png"]
    assert ticket.description == (
        "The panel page is blank, screenshot attached.\n\n--\nAttachments not accepted:\n"
        "- “screenshot.png” is named like a PNG image but its content is HTML."
    )


def test_a_refused_attachment_on_a_reply_is_listed_in_the_reply(jane):
    ticket = new_ticket(jane)
    raw = mail("disguised_attachment.eml").replace(
        b"Subject: Screenshot attached", f"Subject: Re: [{ticket.reference}] Screenshot".encode()
    )

    process(raw)

    message = ticket.messages.get()
    assert "Attachments not accepted" in message.body
    assert [a.original_name for a in message.attachments.all()] == ["real.png"]


# --- Fetching: the Maildir source and the command -----------------------------------------------------


@pytest.fixture
def maildir(tmp_path):
    path = tmp_path / "Maildir"
    mailbox.Maildir(path, create=True)
    return path


def deliver(path: Path, *names: str, **values) -> None:
    box = mailbox.Maildir(path, create=False)
    for name in names:
        box.add(mail(name, **values))


def test_fetch_email_reads_a_maildir_end_to_end(jane, maildir):
    deliver(maildir, "plain.eml", "attachments.eml", "garbage.eml", "unknown_sender.eml", "plain.eml")
    out, err = StringIO(), StringIO()

    call_command("fetch_email", source=f"maildir://{maildir}", stdout=out, stderr=err)

    assert os.listdir(maildir / "new") == []
    processed = sorted(os.listdir(maildir / "cur"))
    assert len(processed) == 4 and all(name.endswith(":2,S") for name in processed)
    (quarantined,) = mailbox.Maildir(maildir).get_folder("quarantine")
    assert (
        " ".join(quarantined[QUARANTINE_HEADER].split())
        == "Malformed mail: no sender address in its From header."
    )
    assert Ticket.objects.count() == 2
    assert out.getvalue().strip() == (
        f"maildir://{maildir}: 5 mail(s): 2 processed, 1 already seen, 1 rejected, 1 quarantined"
    )
    assert "Malformed mail: no sender address" in err.getvalue()

    # A second run finds nothing new.
    out = StringIO()
    call_command("fetch_email", source=f"maildir://{maildir}", stdout=out)
    assert "0 mail(s)" in out.getvalue()
    assert Ticket.objects.count() == 2


def test_a_processed_maildir_mail_keeps_its_bytes_and_a_quarantined_one_too(jane, maildir):
    deliver(maildir, "plain.eml", "truncated.eml")

    call_command("fetch_email", source=f"maildir://{maildir}", stdout=StringIO(), stderr=StringIO())

    (kept,) = (maildir / "cur").iterdir()
    assert kept.read_bytes() == mail("plain.eml")
    (quarantined,) = (maildir / ".quarantine" / "new").iterdir()
    data = quarantined.read_bytes()
    assert data.startswith(QUARANTINE_HEADER.encode() + b": Malformed mail: it is truncated")
    assert data.endswith(b"\n" + mail("truncated.eml"))
    reason = message_from_bytes(data, policy=policy.default)[QUARANTINE_HEADER]
    assert reason == (
        "Malformed mail: it is truncated (a MIME part's closing boundary is missing) "
        "(CloseBoundaryNotFoundDefect)."
    )


def test_fetch_email_uses_the_setting_and_explains_a_missing_one(jane, maildir, settings):
    with pytest.raises(CommandError, match="No mail source configured: set EMAIL_IN_URL"):
        call_command("fetch_email")
    with pytest.raises(CommandError, match="No Maildir at"):
        call_command("fetch_email", source=f"maildir://{maildir}-missing")

    deliver(maildir, "plain.eml")
    settings.EMAIL_IN_URL = f"maildir://{maildir}"
    out = StringIO()
    call_command("fetch_email", stdout=out)
    assert "1 processed" in out.getvalue()


class ListSource:
    """A MailSource over a list, recording what it is told."""

    def __init__(self, *mails: bytes) -> None:
        self.mails = [RawMail(key=str(i), data=data) for i, data in enumerate(mails)]
        self.done_keys, self.quarantined, self.closed = [], [], False

    def fetch(self):
        yield from self.mails

    def done(self, key):
        self.done_keys.append(key)

    def quarantine(self, key, reason):
        self.quarantined.append((key, reason))

    def close(self):
        self.closed = True


def test_fetch_from_leaves_a_mail_it_cannot_record_for_the_next_fetch(jane, monkeypatch):
    source = ListSource(mail("plain.eml"), mail("html_only.eml"))
    assert isinstance(source, MailSource)
    real_process = email_in.process

    def database_down_once(raw, **kwargs):
        if b"plain-0001" in raw:
            raise OperationalError("server closed the connection unexpectedly")
        return real_process(raw, **kwargs)

    monkeypatch.setattr(email_in, "process", database_down_once)

    summary = fetch_from(source)

    assert (summary.processed, summary.left) == (1, 1)
    assert source.done_keys == ["1"] and source.quarantined == [] and source.closed
    assert (
        str(summary)
        == "2 mail(s): 1 processed, 0 already seen, 0 rejected, 0 quarantined, 1 left for the next fetch"
    )


class ReadOnlySource(ListSource):
    def done(self, key):
        raise OSError("read-only mailbox")


def test_fetch_from_survives_a_source_that_cannot_mark_a_mail(jane, caplog):
    source = ReadOnlySource(mail("plain.eml"), mail("html_only.eml"))

    summary = fetch_from(source)

    assert summary.processed == 2
    assert "Could not mark email" in caplog.text


# --- Source URLs --------------------------------------------------------------------------------------


def test_source_from_url_parses_imaps_urls():
    source = source_from_url(
        "imaps://support%40acme.example:p%40ss%3Aw0rd@imap.example.com:1993/Support%20Inbox"
    )

    assert isinstance(source, ImapSource)
    assert (source.host, source.port, source.ssl) == ("imap.example.com", 1993, True)
    assert (source.username, source.password) == ("support@acme.example", "p@ss:w0rd")
    assert (source.folder, source.quarantine_folder) == ("Support Inbox", "Quarantine")
    # The password never shows in what is printed or logged.
    assert "w0rd" not in str(source)
    assert str(source) == "imaps://support%40acme.example@imap.example.com:1993/Support%20Inbox"


def test_source_from_url_parses_plain_imap_urls_with_defaults():
    source = source_from_url("imap://helpdesk:secret@mail.example.com?quarantine=Held")

    assert (source.host, source.port, source.ssl) == ("mail.example.com", 143, False)
    assert (source.username, source.password, source.folder) == ("helpdesk", "secret", "INBOX")
    assert source.quarantine_folder == "Held"
    assert source_from_url("imaps://u:p@h.example.com/INBOX").port == 993


def test_source_from_url_parses_maildir_urls(maildir):
    source = source_from_url(f"maildir://{maildir}")

    assert isinstance(source, MaildirSource)
    assert source.path == maildir


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("maildir://relative/path", "absolute path"),
        ("maildir:relative", "absolute path"),
        ("imaps://imap.example.com/INBOX", "names a user and a host"),
        ("imaps://user:pw@imap.example.com:notaport/INBOX", "invalid port"),
        ("pop3://user:pw@pop.example.com", "Unsupported mail source pop3:"),
        ("/var/mail/support", "Unsupported mail source (no scheme)"),
    ],
)
def test_source_from_url_refuses_what_it_cannot_read(url, message):
    with pytest.raises(MailSourceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        source_from_url(url)


# --- The beat task and its schedule -------------------------------------------------------------------


def test_the_fetch_task_does_nothing_when_email_in_is_not_configured(db):
    assert fetch_email() == "not configured"


def test_the_fetch_task_reads_the_configured_source(jane, maildir, settings):
    deliver(maildir, "plain.eml")
    settings.EMAIL_IN_URL = f"maildir://{maildir}"

    assert fetch_email() == "1 mail(s): 1 processed, 0 already seen, 0 rejected, 0 quarantined"
    assert Ticket.objects.get().channel == Channel.EMAIL


def test_the_fetch_schedule_exists_only_while_email_in_is_configured(db, settings):
    assert ensure_fetch_schedule() is None
    assert not PeriodicTask.objects.filter(name=TASK_NAME).exists()

    settings.EMAIL_IN_URL = "imaps://u:p@imap.example.com/INBOX"
    task = ensure_fetch_schedule()
    assert ensure_fetch_schedule().pk == task.pk  # idempotent
    assert (task.task, task.enabled) == ("tickets.tasks.fetch_email", True)
    assert (task.interval.every, task.interval.period) == (60, IntervalSchedule.SECONDS)

    settings.EMAIL_IN_URL = ""
    ensure_fetch_schedule()
    assert not PeriodicTask.objects.get(name=TASK_NAME).enabled


def test_the_schedule_is_ensured_after_migrate(db, settings):
    settings.EMAIL_IN_URL = "maildir:///var/mail/support"

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert PeriodicTask.objects.get(name=TASK_NAME).enabled


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"EMAIL_IN_UNKNOWN_SENDERS": "maybe"},
            "EMAIL_IN_UNKNOWN_SENDERS is 'maybe'; use 'reject' or 'open'.",
        ),
        (
            {"EMAIL_IN_UNKNOWN_SENDERS": "open"},
            "EMAIL_IN_UNKNOWN_SENDERS=open needs EMAIL_IN_DEFAULT_ORGANIZATION",
        ),
    ],
)
def test_the_settings_refuse_an_invalid_unknown_senders_policy(env, message):
    result = subprocess.run(
        [sys.executable, "-c", "import helpdesk.settings"],
        cwd=BASE_DIR,
        env={**os.environ, "EMAIL_IN_DEFAULT_ORGANIZATION": "", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr
