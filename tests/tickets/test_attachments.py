"""Attachments: what we accept (sniffed from the bytes), how they are stored, and the download view."""

import hashlib
import io
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.factories import CustomerFactory, TicketFactory
from tickets.attachments import (
    ALLOWED_TYPES,
    CHUNK_SIZE,
    CheckedFile,
    check_upload,
    check_uploads,
    clean_file_name,
    sniff_content_type,
)
from tickets.models import Attachment, Status
from tickets.services import attachment_add, ticket_add_note, ticket_create, ticket_reply

# --- Sample files ----------------------------------------------------------------------------------

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb\x00C\x00" + bytes(64)
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x000\x01\x00\x9d\x01\x2a\x01\x00\x01\x00" + bytes(16)
PDF = (
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
TEXT = b"Steps to reproduce:\n1. Open the scheduler\n2. Click \xe2\x80\x9cJoin\xe2\x80\x9d\n"
CSV = b"candidate,email,slot\nAda Lovelace,ada@example.com,2025-03-04T09:00\n"
LOG = b"2025-03-04 09:00:01 ERROR scheduler: connection reset by peer\n\tat join()\n"
EML = (
    b"From: Ada <ada@example.com>\r\nTo: support@example.com\r\nSubject: Interview link broken\r\n"
    b"Date: Tue, 4 Mar 2025 09:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nThe link 404s.\r\n"
)
HTML = b"<!DOCTYPE html>\n<html><body><script>alert(document.cookie)</script></body></html>\n"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>\n'
SCRIPT = b"#!/bin/sh\nrm -rf /\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + bytes(48)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8" + bytes(47) + b"PE\x00\x00"


def upload(name, data):
    return SimpleUploadedFile(name, data)


def read_all(checked: CheckedFile) -> bytes:
    checked.content.seek(0)
    return checked.content.read()


# --- What is accepted ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("screenshot.png", PNG, "image/png"),
        ("SCREENSHOT.PNG", PNG, "image/png"),
        ("photo.jpg", JPEG, "image/jpeg"),
        ("photo.jpeg", JPEG, "image/jpeg"),
        ("anim.gif", GIF, "image/gif"),
        ("image.webp", WEBP, "image/webp"),
        ("invoice.pdf", PDF, "application/pdf"),
        ("steps.txt", TEXT, "text/plain"),
        ("README", TEXT, "text/plain"),
        ("slots.csv", CSV, "text/csv"),
        ("scheduler.log", LOG, "text/plain"),
        ("forwarded.eml", EML, "message/rfc822"),
        ("bom.txt", b"\xef\xbb\xbfhello with a byte order mark\n", "text/plain"),
    ],
)
def test_accepted_files_get_the_sniffed_type_size_and_sha256(name, data, content_type):
    checked = check_upload(upload(name, data))
    try:
        assert checked.name == name
        assert checked.content_type == content_type
        assert checked.size == len(data)
        assert checked.sha256 == hashlib.sha256(data).hexdigest()
        assert read_all(checked) == data
    finally:
        checked.content.close()


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (GIF, "image/gif"),
        (b"GIF87a" + bytes(10), "image/gif"),
        (WEBP, "image/webp"),
        (PDF, "application/pdf"),
        (TEXT, "text/plain"),
        (EML, "message/rfc822"),
        (HTML, "text/html"),
        (b"  <div>hi</div>", "text/html"),
        (SVG, "image/svg+xml"),
        (SCRIPT, "text/x-script"),
        (ELF, None),
        (EXE, None),
        (b"\xff\xfe<\x00h\x00t\x00m\x00l\x00", None),  # UTF-16: not text we accept
    ],
)
def test_sniff_content_type(data, content_type):
    assert sniff_content_type(data) == content_type


def test_a_multibyte_character_cut_at_the_end_of_the_sample_is_still_text():
    assert sniff_content_type("é".encode() * 1023 + "é".encode()[:1]) == "text/plain"


def test_a_large_text_file_is_read_whole_and_hashed_whole(settings):
    settings.ATTACHMENT_MAX_BYTES = 10 * CHUNK_SIZE
    data = b"0123456789abcdef\n" * (3 * CHUNK_SIZE // 17)
    checked = check_upload(upload("big.log", data))
    try:
        assert checked.size == len(data)
        assert checked.sha256 == hashlib.sha256(data).hexdigest()
        assert read_all(checked) == data
    finally:
        checked.content.close()


# --- What is refused -------------------------------------------------------------------------------


def refusal(name, data, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as exc_info:
        check_upload(upload(name, data), **kwargs)
    return exc_info.value


def test_an_empty_file_is_refused():
    error = refusal("empty.txt", b"")
    assert error.code == "empty"
    assert "“empty.txt” is empty." in error.messages


def test_an_oversize_file_is_refused(settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    error = refusal("big.txt", b"a" * 1001)
    assert error.code == "too_large"
    assert error.messages == ["“big.txt” is larger than the 1000\xa0bytes limit for attachments."]
    # Exactly at the limit is fine.
    checked = check_upload(upload("fits.txt", b"a" * 1000))
    checked.content.close()


class CountingStream:
    """A file-like upload that declares no size and counts how many bytes were read from it."""

    def __init__(self, data: bytes, name: str):
        self._buffer = io.BytesIO(data)
        self.name = name
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = self._buffer.read(size)
        self.bytes_read += len(chunk)
        return chunk


class LyingUpload(File):
    """A Django File whose declared size understates the content, so only counting can catch it."""

    size = 10

    def __init__(self, data: bytes, name: str):
        self.stream = CountingStream(data, name)
        super().__init__(self.stream, name)


@pytest.mark.parametrize("wrapper", [CountingStream, LyingUpload])
def test_an_oversize_upload_is_read_no_further_than_the_limit_and_one_chunk(settings, wrapper):
    settings.ATTACHMENT_MAX_BYTES = 1000
    stream = wrapper(b"a" * (20 * CHUNK_SIZE), "huge.log")
    counter = stream if isinstance(stream, CountingStream) else stream.stream
    with pytest.raises(ValidationError) as exc_info:
        check_upload(stream)
    assert exc_info.value.code == "too_large"
    assert 1000 < counter.bytes_read <= 1000 + CHUNK_SIZE


def test_a_declared_oversize_is_refused_before_reading(settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    error = refusal("big.png", PNG + bytes(2000))
    assert error.code == "too_large"


def test_max_bytes_argument_overrides_the_setting():
    with pytest.raises(ValidationError):
        check_upload(upload("a.txt", b"abcdef"), max_bytes=5)


def test_an_html_page_renamed_png_is_refused_with_a_message_saying_so():
    error = refusal("cat.png", HTML)
    assert error.code == "disguised"
    assert error.messages == ["“cat.png” is named like a PNG image but its content is HTML."]


@pytest.mark.parametrize(
    ("name", "data", "code", "says"),
    [
        ("drawing.svg", SVG, "type_not_allowed", "an SVG image"),
        ("drawing.png", SVG, "disguised", "an SVG image"),
        ("install.sh", SCRIPT, "type_not_allowed", "a script"),
        ("install.txt", SCRIPT, "disguised", "a script"),
        ("setup.exe", EXE, "type_not_allowed", "a type we do not accept"),
        ("setup.pdf", EXE, "disguised", "a type we do not accept"),
        ("server", ELF, "type_not_allowed", "a type we do not accept"),
        ("server.log", ELF, "disguised", "a type we do not accept"),
        ("screenshot.txt", PNG, "disguised", "a PNG image"),
        ("screenshot.csv", JPEG, "disguised", "a JPEG image"),
        ("screenshot", PNG, "type_not_allowed", "“”"),
        ("invoice.png", PDF, "disguised", "a PDF document"),
        ("page.html", b"just some words\n", "type_not_allowed", "“.html”"),
        ("page.html", HTML, "type_not_allowed", "HTML"),
        ("page.htm", HTML, "type_not_allowed", "HTML"),
        ("page.txt", HTML, "disguised", "HTML"),
        ("notes.eml", TEXT, "disguised", "no mail headers"),
        ("archive.zip", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(20), "type_not_allowed", ""),
    ],
)
def test_refused_files(name, data, code, says):
    error = refusal(name, data)
    assert error.code == code
    assert name in error.messages[0]
    assert says in error.messages[0]


def test_check_uploads_reports_every_problem_on_attachments():
    with pytest.raises(ValidationError) as exc_info:
        check_uploads([upload("ok.png", PNG), upload("a.exe", EXE), upload("b.txt", b"")])
    messages = exc_info.value.message_dict["attachments"]
    assert len(messages) == 2
    assert any("a.exe" in m for m in messages)
    assert any("b.txt" in m for m in messages)


def test_check_uploads_passes_checked_files_through():
    checked = check_upload(upload("ok.png", PNG))
    assert check_uploads([checked]) == [checked]
    checked.content.close()


# --- File names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("/var/www/shell.png", "shell.png"),
        ("C:\\Users\\ada\\Desktop\\screen.png", "screen.png"),
        ("..\\..\\boot.ini.txt", "boot.ini.txt"),
        ("name\x00with\nnul.txt", "namewithnul.txt"),
        ("  spaced.txt  ", "spaced.txt"),
        ("", "attachment"),
        ("../", "attachment"),
        (".", "attachment"),
        (". ", "attachment"),
        ("dir/..", "attachment"),
        ("...", "attachment"),
        (".bashrc.txt", ".bashrc.txt"),
        ("a" * 300 + ".txt", ("a" * 300 + ".txt")[-200:]),
    ],
)
def test_clean_file_name_keeps_the_base_name_only(name, expected):
    assert clean_file_name(name) == expected


def test_a_file_name_with_path_parts_is_reduced_to_its_base_name():
    checked = check_upload(upload("../../secret/screenshot.png", PNG))
    assert checked.name == "screenshot.png"
    checked.content.close()


# --- Properties --------------------------------------------------------------------------------

_NO_FIXTURE_RESET = hypothesis_settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200, deadline=None
)
_NAMES = st.sampled_from(
    ["a.png", "a.jpg", "a.gif", "a.webp", "a.pdf", "a.txt", "a.csv", "a.log", "a.eml", "a", "a.html", "a.svg"]
)


@_NO_FIXTURE_RESET
@given(st.binary(max_size=4096))
def test_sniff_content_type_never_raises(data):
    result = sniff_content_type(data)
    assert result is None or isinstance(result, str)


@_NO_FIXTURE_RESET
@given(
    prefix=st.sampled_from([b"<script", b"<html", b"<SCRIPT", b"<Html", b"  <script", b"\n<html"]),
    rest=st.binary(max_size=512),
    name=_NAMES,
)
def test_check_upload_never_accepts_html_or_scripts(prefix, rest, name):
    with pytest.raises(ValidationError):
        check_upload(upload(name, prefix + rest))


@_NO_FIXTURE_RESET
@given(data=st.binary(min_size=1, max_size=2048), name=_NAMES)
def test_whatever_check_upload_accepts_is_allowed_and_faithfully_hashed(data, name):
    try:
        checked = check_upload(upload(name, data))
    except ValidationError:
        return
    try:
        assert checked.content_type in ALLOWED_TYPES
        assert Path(name).suffix.lower() in ALLOWED_TYPES[checked.content_type]
        assert checked.size == len(data)
        assert checked.sha256 == hashlib.sha256(data).hexdigest()
        assert read_all(checked) == data
    finally:
        checked.content.close()


@_NO_FIXTURE_RESET
@given(st.text(max_size=300))
def test_clean_file_name_never_keeps_a_path(name):
    cleaned = clean_file_name(name)
    assert cleaned
    assert "/" not in cleaned
    assert "\\" not in cleaned
    assert cleaned not in (".", "..")
    assert len(cleaned) <= 200
    assert all(ch.isprintable() for ch in cleaned)


# --- Storage -------------------------------------------------------------------------------------


def _file_ticket(requester, name="quarterly-report-ACME-confidential.pdf", data=PDF):
    ticket = ticket_create(
        requester=requester, subject="Report", description="See attached.", attachments=[upload(name, data)]
    )
    return ticket, ticket.attachments.get()


@pytest.mark.django_db
def test_attachments_are_stored_under_the_private_root_with_a_random_name(requester, settings):
    _ticket, attachment = _file_ticket(requester)
    root = Path(settings.ATTACHMENTS_ROOT).resolve()
    path = Path(attachment.file.path).resolve()
    assert path.is_relative_to(root)
    assert path.read_bytes() == PDF
    assert "quarterly" not in attachment.file.name
    assert "ACME" not in attachment.file.name
    assert path.suffix == ".pdf"
    assert attachment.original_name == "quarterly-report-ACME-confidential.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.size == len(PDF)
    assert attachment.sha256 == hashlib.sha256(PDF).hexdigest()

    _other_ticket, second = _file_ticket(requester)
    assert second.file.name != attachment.file.name


@pytest.mark.django_db
def test_a_path_in_the_upload_name_does_not_escape_the_root(requester, settings):
    _ticket, attachment = _file_ticket(requester, name="../../../../etc/cron.d/evil.txt", data=TEXT)
    assert attachment.original_name == "evil.txt"
    assert Path(attachment.file.path).resolve().is_relative_to(Path(settings.ATTACHMENTS_ROOT).resolve())


@pytest.mark.django_db
def test_attachments_have_no_public_url(requester):
    _ticket, attachment = _file_ticket(requester)
    with pytest.raises(ValueError, match="no public URL"):
        _ = attachment.file.url


# --- The download view -----------------------------------------------------------------------------


def url(attachment):
    return f"/attachments/{attachment.pk}/"


def download(client, user, attachment):
    client.force_login(user)
    return client.get(url(attachment))


def _body(response) -> bytes:
    try:
        return b"".join(response.streaming_content)
    finally:
        response.close()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["requester", "org_admin", "agent"])
def test_people_who_may_see_the_ticket_download_the_exact_bytes(client, requester, request, who):
    _ticket, attachment = _file_ticket(requester, name="screen shot.png", data=PNG)
    response = download(client, request.getfixturevalue(who), attachment)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="screen shot.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "image/png"
    assert "no-store" in response["Cache-Control"]
    assert "sandbox" in response["Content-Security-Policy"]
    assert _body(response) == PNG


@pytest.mark.django_db
def test_a_non_ascii_file_name_is_encoded_in_the_header(client, requester):
    _ticket, attachment = _file_ticket(requester, name="résumé – Ada.pdf", data=PDF)
    response = download(client, requester, attachment)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment; filename*=utf-8''")
    assert "r%C3%A9sum%C3%A9" in response["Content-Disposition"]
    assert _body(response) == PDF


@pytest.mark.django_db
def test_outsiders_and_other_organizations_get_404(
    client, requester, outsider, other_organization, organization
):
    _ticket, attachment = _file_ticket(requester)
    other_admin = CustomerFactory(membership__organization=other_organization, membership__role="admin")
    colleague = CustomerFactory(membership__organization=organization)
    for user in (outsider, other_admin, colleague):
        response = download(client, user, attachment)
        assert response.status_code == 404, user


@pytest.mark.django_db
def test_an_unknown_attachment_is_404(client, agent):
    client.force_login(agent)
    assert client.get("/attachments/987654/").status_code == 404


@pytest.mark.django_db
def test_anonymous_is_sent_to_log_in(client, requester):
    _ticket, attachment = _file_ticket(requester)
    response = client.get(url(attachment))
    assert response.status_code == 302
    assert "login" in response["Location"]
    assert f"next={url(attachment)}" in response["Location"].replace("%2F", "/")


@pytest.mark.django_db
def test_an_inactive_customer_gets_nothing(client, requester):
    _ticket, attachment = _file_ticket(requester)
    client.force_login(requester)
    requester.is_active = False
    requester.save()
    # The session no longer authenticates an inactive user: back to the login page.
    assert client.get(url(attachment)).status_code == 302


@pytest.mark.django_db
def test_only_get_is_allowed(client, requester):
    _ticket, attachment = _file_ticket(requester)
    client.force_login(requester)
    assert client.post(url(attachment)).status_code == 405


@pytest.mark.django_db
def test_an_attachment_on_an_internal_note_is_for_agents_only(client, requester, org_admin, agent):
    ticket, _public = _file_ticket(requester)
    note = ticket_add_note(
        ticket=ticket, author=agent, body="Server log", attachments=[upload("srv.log", LOG)]
    )
    attachment = note.attachments.get()
    assert download(client, requester, attachment).status_code == 404
    assert download(client, org_admin, attachment).status_code == 404
    response = download(client, agent, attachment)
    assert response.status_code == 200
    assert _body(response) == LOG


@pytest.mark.django_db
def test_an_attachment_on_a_public_reply_is_visible_to_the_customer(client, requester, agent):
    ticket, _first = _file_ticket(requester)
    reply = ticket_reply(ticket=ticket, author=agent, body="Fixed, see", attachments=[upload("fix.png", PNG)])
    response = download(client, requester, reply.attachments.get())
    assert response.status_code == 200
    assert _body(response) == PNG


@pytest.mark.django_db
def test_a_file_missing_from_storage_is_404(client, requester):
    _ticket, attachment = _file_ticket(requester)
    Path(attachment.file.path).unlink()
    assert download(client, requester, attachment).status_code == 404
    assert Attachment.objects.filter(pk=attachment.pk).exists()


# --- A closed ticket takes no files ------------------------------------------------------------------


@pytest.fixture
def closed_ticket(requester):
    return TicketFactory(requester=requester, status=Status.CLOSED)


@pytest.mark.parametrize("who", ["requester", "agent"])
def test_a_closed_ticket_takes_no_files_from_anyone(closed_ticket, request, who):
    with pytest.raises(ValidationError) as exc_info:
        attachment_add(
            ticket=closed_ticket,
            uploaded_by=request.getfixturevalue(who),
            upload=SimpleUploadedFile("a.png", PNG),
        )

    assert "closed" in exc_info.value.message_dict["attachments"][0]
    assert not Attachment.objects.filter(ticket=closed_ticket).exists()


def test_the_api_refuses_an_upload_to_a_closed_ticket_as_it_refuses_a_reply(closed_ticket, requester):
    client = APIClient()
    client.force_authenticate(requester)
    url = f"/api/v1/tickets/{closed_ticket.reference}/"

    upload = client.post(url + "attachments/", {"file": SimpleUploadedFile("a.png", PNG)}, format="multipart")
    reply = client.post(url + "messages/", {"body": "One more thing"}, format="json")

    assert (upload.status_code, reply.status_code) == (400, 400)
    assert "closed" in upload.json()["file"][0]
    assert "closed" in reply.json()["body"][0]
    assert not Attachment.objects.filter(ticket=closed_ticket).exists()


def test_an_agents_note_on_a_closed_ticket_keeps_its_files(closed_ticket, agent):
    # Notes are the agents' own record and a closed ticket still takes them; their files belong to them.
    ticket_add_note(
        ticket=closed_ticket, author=agent, body="Post-mortem", attachments=[SimpleUploadedFile("a.png", PNG)]
    )

    assert Attachment.objects.filter(ticket=closed_ticket).count() == 1
