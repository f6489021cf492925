"""Fuzzing the email channel: generated and mutated mails through `email_in.process`, and a smaller sample
through `manage.py fetch_email` over a Maildir (issue 7).

The mails come from tests/reliability/mail_generators.py: structured MIME mails (odd and broken headers,
encoded-words, charsets, transfer encodings, nesting, attachment names, HTML, automatic-mail headers, huge
lines) and byte mutations of the real fixtures in tests/tickets/mail/. Whatever arrives:

- `process` never raises, and the mail ends in exactly one recorded outcome: a new ticket, a reply, a
  duplicate, a rejection (answered only where the policy answers) or a quarantine whose reason says what is
  wrong with the mail; a quarantine writes nothing else, and the source keeps the mail's bytes;
- a quarantine is for a malformed mail, or a mail held because the receiving server's verdict does not
  prove its sender (kept whole in its row for an agent to release); a mail with a readable sender, intact
  MIME and a DMARC pass is never quarantined, and nothing its sender wrote is lost silently: every
  text part (one version of each multipart/alternative) reaches the ticket, and every file is stored or
  listed as refused;
- stored text has no NUL and no lone surrogates (PostgreSQL takes it), and no script of an HTML body;
- a bad mail never keeps the next good mail of the same fetch from becoming a ticket.

The budgets are fixed (200 generated mails, 200 mutated ones, 25 fetches of up to four mails) and generation
is derandomized, so CI runs the same examples each time: about 25 s for the module on a 2-core machine.
Each example runs in a transaction rolled back at its end, so examples do not see each other's tickets.
"""

from __future__ import annotations

import base64
import contextlib
import mailbox
import tempfile
from collections import Counter
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core import mail as django_mail
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from tests.factories import AgentFactory, CustomerFactory, OrganizationFactory
from tests.reliability.mail_generators import (
    FIXTURES,
    HTML_ACTIVE,
    PNG,
    GeneratedMail,
    generated_mails,
    mutated_fixtures,
)
from tickets.channels.email_in import DUPLICATE, PROCESSED, QUARANTINED, REJECTED, process
from tickets.channels.mail_sources import annotate
from tickets.channels.mime import TOO_DEEP
from tickets.channels.sender_auth import HELD
from tickets.models import Attachment, Channel, InboundEmail, Message, Status, Ticket
from tickets.services import ticket_change_status, ticket_create, ticket_reply

User = get_user_model()

WALK_IN = "Walk-in customers"

FUZZ = {
    "derandomize": True,
    "database": None,
    "deadline": None,
    # The fixtures are function-scoped on purpose: each example rolls its own writes back.
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


# --- The mailbox's world -------------------------------------------------------------------------------


@dataclass
class World:
    """The tickets mails may name; `fill` puts their ids in place of {{ticket}}, {{closed}}, {{message}}."""

    open_ticket: Ticket
    closed_ticket: Ticket
    answer: Message

    def fill(self, raw: bytes) -> bytes:
        for key, value in (
            (b"ticket", self.open_ticket.pk),
            (b"closed", self.closed_ticket.pk),
            (b"message", self.answer.pk),
        ):
            raw = raw.replace(b"{{%s}}" % key, str(value).encode())
        return raw


@pytest.fixture
def world(db, settings) -> World:
    settings.DEFAULT_FROM_EMAIL = "Acme Helpdesk <support@help.example.com>"
    settings.SUPPORT_EMAIL = "support@help.example.com"
    settings.SITE_URL = "https://help.example.com/"
    settings.EMAIL_IN_DEFAULT_ORGANIZATION = WALK_IN
    # The verdicts of tests/reliability/mail_generators.py (AUTH_RESULTS) and the fixtures come from here.
    settings.EMAIL_IN_TRUSTED_AUTHSERV_IDS = ["mx.help.example.com"]
    acme = OrganizationFactory(name="Acme Talent")
    OrganizationFactory(name=WALK_IN)
    jane = CustomerFactory(username="jane", email="Jane.Doe@acme.example", membership__organization=acme)
    alex = AgentFactory(username="alex", email="alex.agent@help.example.com")
    open_ticket = ticket_create(requester=jane, subject="Invites are not sent", description="None go out.")
    answer = ticket_reply(ticket=open_ticket, author=alex, body="We are looking into it.")
    closed_ticket = ticket_create(requester=jane, subject="Old problem", description="Solved long ago.")
    ticket_change_status(ticket=closed_ticket, actor=alex, status=Status.RESOLVED)
    ticket_change_status(ticket=closed_ticket, actor=alex, status=Status.CLOSED)
    return World(open_ticket=open_ticket, closed_ticket=closed_ticket, answer=answer)


@contextlib.contextmanager
def isolated(policy: str = "reject"):
    """One example: its own unknown-sender policy and outbox, and its writes rolled back at the end."""
    django_mail.outbox = []
    with override_settings(EMAIL_IN_UNKNOWN_SENDERS=policy), transaction.atomic():
        yield
        transaction.set_rollback(True)


# --- The properties ------------------------------------------------------------------------------------

COUNTED = (Ticket, Message, Attachment, InboundEmail, User)
NOT_ANSWERED = ("not answered.", "answered within the last day already.")


def counts() -> Counter:
    return Counter({model: model.objects.count() for model in COUNTED})


def assert_storable(*values: str) -> None:
    for value in values:
        assert "\x00" not in value
        value.encode("utf-8")  # raises on a lone surrogate


def check_outcome(raw: bytes, result, before: Counter) -> InboundEmail:
    """One recorded outcome for a first reading of `raw`, consistent with what was written; its row."""
    grew = counts()
    grew.subtract(before)
    assert result.status in (PROCESSED, REJECTED, QUARANTINED), result  # no earlier reading to duplicate
    record = InboundEmail.objects.get(message_id=result.message_id)
    assert (record.status, record.reason, record.raw_size) == (result.status, result.reason, len(raw))
    assert record.reason
    assert_storable(record.message_id, record.from_address, record.subject, record.reason)
    assert grew[InboundEmail] == 1
    if result.status == QUARANTINED:
        # The reason names what is wrong with the mail, not an exception of ours.
        assert record.reason.startswith(("Malformed mail: ", HELD)), record.reason
        assert (grew[Ticket], grew[Message], grew[Attachment], grew[User]) == (0, 0, 0, 0)
        assert record.ticket is None and django_mail.outbox == []
        # A held mail is kept whole for the release; a malformed one is not releasable.
        held = bytes(record.held_mail) if record.held_mail is not None else None
        assert held == (raw if record.reason.startswith(HELD) else None)
    elif result.status == REJECTED:
        assert (grew[Ticket], grew[Message], grew[Attachment], grew[User]) == (0, 0, 0, 0)
        assert record.ticket is None
        answers = django_mail.outbox
        assert len(answers) == (0 if record.reason.endswith(NOT_ANSWERED) else 1), record.reason
        for answer in answers:
            assert answer.to == [record.from_address]
            assert answer.extra_headers["Auto-Submitted"] == "auto-replied"
    else:
        assert record.ticket == result.ticket is not None
        assert django_mail.outbox == []  # notifications go out after commit, by Celery
        assert grew[User] <= 1
        if record.reply is not None:
            assert (grew[Ticket], grew[Message]) == (0, 1)
            assert (record.reply.ticket, record.reply.channel) == (record.ticket, Channel.EMAIL)
            assert_storable(record.reply.body)
        else:
            assert (grew[Ticket], grew[Message]) == (1, 0)
            assert record.ticket.channel == Channel.EMAIL
            assert_storable(record.ticket.subject, record.ticket.description)
        for attachment in Attachment.objects.filter(pk__in=_new_attachments(grew)):
            assert_storable(attachment.original_name)
    return record


def _new_attachments(grew: Counter) -> list[int]:
    return list(Attachment.objects.order_by("-pk").values_list("pk", flat=True)[: grew[Attachment]])


def check_again(raw: bytes, first) -> None:
    """Reading a mail again changes nothing: a duplicate, or the same quarantine once more."""
    before = counts()
    outbox = len(django_mail.outbox)
    again = process(raw)
    assert again.message_id == first.message_id
    assert again.status == (QUARANTINED if first.status == QUARANTINED else DUPLICATE)
    assert counts() == before and len(django_mail.outbox) == outbox


def check_nothing_lost(mail: GeneratedMail, record: InboundEmail) -> None:
    """Every text part of an intact mail is in the stored text, and every file stored or listed."""
    owner = record.reply or record.ticket
    text = owner.body if record.reply else owner.description
    stored = list(owner.attachments.all())
    files_text = "".join(a.file.open("rb").read().decode("latin-1") for a in stored if a.size < 1 << 20)
    assert mail.root.written(text + files_text), text
    for active in HTML_ACTIVE:
        assert active not in text
    refused = 0
    if "\n--\nAttachments not accepted:\n" in text:
        refused = len(text.rsplit("\n--\nAttachments not accepted:\n", 1)[1].split("\n"))
    assert len(stored) + refused == mail.files, text


# --- The tests -----------------------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (n, n) for n in range(depth)
    )
    closing = b"".join(b"\n--b%d--\n" % n for n in reversed(range(depth)))
    return opening + b"Content-Type: text/plain\n\nzqm0zq\n" + closing


HEAD = (
    b"From: Jane Doe <jane.doe@acme.example>\nSubject: Calendar sync\nMessage-ID: <found@mail.acme.example>\n"
)
MIXED = b'Content-Type: multipart/mixed; boundary="m"\n\n'


#: Mails the fuzzer found faults with: (mail, outcome, text in the stored description or the reason).
FOUND = {
    # A NUL from an encoded-word reached the recorded reason; PostgreSQL refused the row.
    "NUL in Auto-Submitted": (
        HEAD + b"Auto-Submitted: =?utf-8?B?AA==?=\n\nI am out of the office.\n",
        REJECTED,
        "Automatic mail (Auto-Submitted: ); not answered.",
    ),
    # Only the first of two inline text parts was kept (Apple Mail's text, picture, text).
    "text after an inline picture": (
        HEAD
        + MIXED
        + b"--m\nContent-Type: text/plain\n\nzqm0zq before\n"
        + b"--m\nContent-Type: image/png\nContent-Disposition: inline\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(PNG)
        + b"--m\nContent-Type: text/html\n\n<p>zqm1zq after</p><script>zqscriptzq</script>\n--m--\n",
        PROCESSED,
        "zqm0zq before\n\nzqm1zq after",
    ),
    # The stdlib's get_body raised AttributeError on a multipart/related without a boundary.
    "multipart/related without a boundary": (
        HEAD
        + MIXED
        + b"--m\nContent-Type: multipart/related\n\n--x\nContent-Type: text/plain\n\nhi\n--m--\n",
        QUARANTINED,
        "Malformed mail: it is multipart but declares no boundary (NoBoundaryInMultipartDefect).",
    ),
    # ValueError ("embedded null character") from the charset lookup escaped the fallback for bad charsets.
    "NUL in the charset": (
        HEAD + b'Content-Type: text/plain; charset="utf-8\x00"\n\nzqm0zq Caf\xc3\xa9\n',
        PROCESSED,
        "zqm0zq Café",
    ),
    "a codec that cannot replace": (
        HEAD + b'Content-Type: text/plain; charset="idna"\n\nzqm0zq \xff\n',
        PROCESSED,
        "zqm0zq \ufffd",
    ),
    # The same codecs in an RFC 2231 file name: reading the part raised ValueError or UnicodeError.
    "a file name in a charset with a NUL": (
        HEAD
        + MIXED
        + b"--m\nContent-Type: text/plain\n\nhello\n"
        + b"--m\nContent-Type: application/pdf\n"
        + b"Content-Disposition: attachment; filename*=utf-8\x00''a.pdf\n\n%PDF-1.4\n--m--\n",
        QUARANTINED,
        "Malformed mail: a part's MIME parameters cannot be decoded (embedded null character).",
    ),
    "a file name in idna": (
        HEAD + b"Content-Type: text/plain; name*=idna''%FF.txt\n\nhello\n",
        QUARANTINED,
        "Malformed mail: a part's MIME parameters cannot be decoded",
    ),
    # The parser's recursion limit was reported as "RecursionError: maximum recursion depth exceeded".
    "parts nested a thousand deep": (HEAD + _nested(1000), QUARANTINED, TOO_DEEP),
}


@pytest.mark.parametrize(("raw", "status", "expected"), FOUND.values(), ids=FOUND.keys())
def test_mails_the_fuzzer_found_faults_with(world, raw, status, expected):
    with isolated():
        before = counts()
        result = process(raw)
        record = check_outcome(raw, result, before)

        assert result.status == status
        assert expected in (record.ticket.description if status == PROCESSED else record.reason)
        if status == PROCESSED:
            assert "zqscriptzq" not in record.ticket.description


@settings(max_examples=200, **FUZZ)
@given(mail=generated_mails(), policy=st.sampled_from(["reject", "open"]), again=st.booleans())
def test_a_generated_mail_gets_one_outcome_and_loses_nothing(world, mail, policy, again):
    raw = world.fill(mail.raw)
    note(f"raw = {raw!r}")
    with isolated(policy):
        before = counts()
        result = process(raw)
        record = check_outcome(raw, result, before)
        event(f"{result.status}{' (reply)' if record.reply else ''}, intact={mail.intact}")
        if mail.intact and mail.sender_readable and mail.authenticated:
            assert result.status != QUARANTINED, result.reason
        if result.status == QUARANTINED and not record.reason.startswith("Malformed mail: "):
            assert not mail.authenticated, result.reason
        if mail.intact and result.status == PROCESSED:
            check_nothing_lost(mail, record)
        if again:
            check_again(raw, result)


@settings(max_examples=200, **FUZZ)
@given(raw=mutated_fixtures(), policy=st.sampled_from(["reject", "open"]))
def test_a_mutated_real_mail_gets_one_outcome(world, raw, policy):
    raw = world.fill(raw)
    note(f"raw = {raw!r}")
    with isolated(policy):
        before = counts()
        result = process(raw)
        record = check_outcome(raw, result, before)
        event(f"{result.status}{' (reply)' if record.reply else ''}")
        check_again(raw, result)


GOOD = FIXTURES["plain.eml"].replace(b"<plain-0001@", b"<good-after-bad@").replace(b"Thanks,", b"zqgoodzq")


@settings(max_examples=25, **FUZZ)
# Two copies of one unreadable mail (one synthetic Message-ID: the second reading quarantines it again).
@example(mails=[b"", b"", b"R"])
@given(
    mails=st.lists(st.one_of(generated_mails().map(lambda mail: mail.raw), mutated_fixtures()), max_size=3)
)
def test_fetch_email_sets_every_mail_aside_with_its_bytes_and_a_bad_one_blocks_nothing(world, mails):
    raws = [world.fill(raw) for raw in [*mails, GOOD]]
    note(f"raws = {raws!r}")
    with isolated(), tempfile.TemporaryDirectory() as folder:
        maildir = Path(folder) / "Maildir"
        box = mailbox.Maildir(maildir, create=True)
        keys = [box.add(raw) for raw in raws]
        # As delivered: the Maildir writes line ends as "\n" (the mails' own are "\n" or "\r\n").
        raws = [box.get_file(key).read() for key in keys]
        out, err = StringIO(), StringIO()

        call_command("fetch_email", source=f"maildir://{maildir}", stdout=out, stderr=err)

        assert f": {len(raws)} mail(s): " in out.getvalue()
        assert "left for the next fetch" not in out.getvalue()
        assert list((maildir / "new").iterdir()) == []
        done = {path.name.split(":")[0]: path.read_bytes() for path in (maildir / "cur").iterdir()}
        quarantined = [
            path.read_bytes() for path in (maildir / ".quarantine" / "new").glob("*") if path.is_file()
        ]
        assert err.getvalue().count("Quarantined ") == len(quarantined)
        reasons = InboundEmail.objects.filter(status=QUARANTINED).values_list("reason", flat=True)
        for key, raw in zip(keys, raws, strict=True):
            if key in done:
                assert done.pop(key) == raw
            else:
                # Set aside with the reason on top and the mail's own bytes below it.
                kept = next(
                    data for data in quarantined if data in {annotate(raw, reason) for reason in reasons}
                )
                quarantined.remove(kept)
        assert done == {} and quarantined == []
        good = InboundEmail.objects.get(message_id="<good-after-bad@mail.acme.example>")
        assert good.status == PROCESSED and "zqgoodzq" in good.ticket.description
