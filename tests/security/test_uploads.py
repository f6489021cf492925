"""Uploads that could run in a browser, and uploads too large to read.

- HTML, SVG and polyglot files (a real GIF, PNG or PDF carrying a script; HTML named `.png`) through the
  portal's forms, the API and an inbound email: markup is refused with a message naming the file and
  what it really is; a polyglot with a real image or PDF signature is kept, and is then only ever sent as
  a download (`Content-Disposition: attachment`, `nosniff`, a sandbox CSP, its sniffed non-markup type).
- A request declaring a body over REQUEST_MAX_BYTES is answered 413 from its headers (helpdesk.limits):
  checked in-process (the body is never read) and against the live server through a raw socket (the
  answer arrives while most of the declared body is still unsent).
- A file just over ATTACHMENT_MAX_BYTES is a field error on the form or the API's `file`, and nothing
  already saved is lost; more files than ATTACHMENTS_PER_REQUEST is a field error too.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tickets import services
from tickets.channels.email_in import PROCESSED, process
from tickets.models import Attachment, Message, Ticket
from tickets.models.integrations import ApiToken

ROOT = Path(__file__).resolve().parents[2]

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)
SCRIPT = b"<script>window.__xss=1</script>"
HTML = b"<!DOCTYPE html><html><body>" + SCRIPT + b"</body></html>\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="window.__xss=1">' + SCRIPT + b"</svg>\n"
XML_SVG = b'<?xml version="1.0"?>\n' + SVG

#: Polyglots: a valid signature of an accepted type, then markup a browser would run if it rendered it.
POLYGLOTS = {
    "gif-with-script.gif": (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00;" + SCRIPT,
        "image/gif",
    ),
    "png-with-html-tail.png": (PNG + b"\x00\x00\x00\x00IEND\xaeB`\x82" + HTML, "image/png"),
    "pdf-with-html.pdf": (
        b"%PDF-1.4\n1 0 obj\n<< /JS (app.alert(1)) >>\nendobj\n" + HTML + b"%%EOF\n",
        "application/pdf",
    ),
    "notes-then-html.txt": (b"Steps to reproduce:\n1. open the page\n" + HTML, "text/plain"),
}
#: Markup under any name: refused, with what the file really is.
MARKUP = [
    ("page.html", HTML, "HTML"),
    ("page.htm", HTML, "HTML"),
    ("screenshot.png", HTML, "is named like a PNG image but its content is HTML"),
    ("drawing.svg", SVG, "an SVG image"),
    ("drawing.png", XML_SVG, "is named like a PNG image but its content is an SVG image"),
    ("notes.txt", b"\xef\xbb\xbf  " + HTML, "is named like plain text but its content is HTML"),
    ("README", SVG, "an SVG image"),
    ("page.gif.html", b"GIF89a" + SCRIPT, "files ending in “.html” are not accepted"),
]
#: Content types a browser may render as a document or run scripts in.
MARKUP_TYPES = ("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml")


@pytest.fixture(autouse=True)
def _generous_throttles(monkeypatch):
    for scope in ("token", "anon", "auth"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")


@pytest.fixture
def api(requester):
    client = APIClient()
    _, key = ApiToken.objects.issue(user=requester, name="test")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def ticket(requester):
    return services.ticket_create(requester=requester, subject="Reports", description="See attached.")


def new_ticket_data(**overrides) -> dict:
    data = {
        "severity": "S3",
        "subject": "Calendar sync stopped",
        "description": "No events since Monday.",
        "error_message": "E_SYNC_401",
        "candidates-TOTAL_FORMS": "1",
        "candidates-INITIAL_FORMS": "0",
        "candidates-MIN_NUM_FORMS": "0",
        "candidates-MAX_NUM_FORMS": "50",
    }
    data.update(overrides)
    return data


def assert_sent_as_a_download(client, attachment: Attachment, content_type: str) -> bytes:
    """The file's download answer keeps any browser from rendering it; returns the bytes sent."""
    response = client.get(f"/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    policy = response["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy
    assert response["Content-Type"].split(";")[0] == content_type
    assert not response["Content-Type"].startswith(MARKUP_TYPES)
    assert "no-store" in response["Cache-Control"]
    # Read to the end: the test client then closes the response without closing the test's connection.
    return b"".join(response.streaming_content)


# --- Markup and polyglots through each channel -----------------------------------------------------


@pytest.mark.parametrize(("name", "data", "says"), MARKUP)
def test_the_portal_refuses_markup_with_a_message_on_the_field(client, requester, name, data, says):
    client.force_login(requester)
    response = client.post(
        reverse("portal:ticket_new"), new_ticket_data(attachments=[SimpleUploadedFile(name, data)])
    )
    assert response.status_code == 200
    (error,) = response.context["form"].errors["attachments"]
    assert name in error and says in error
    assert not Ticket.objects.exists() and not Attachment.objects.exists()


@pytest.mark.parametrize(("name", "data", "says"), MARKUP)
def test_the_api_refuses_markup_naming_the_file_field(api, ticket, name, data, says):
    response = api.post(
        f"/api/v1/tickets/{ticket.reference}/attachments/",
        {"file": [SimpleUploadedFile(name, data)]},
        format="multipart",
    )
    assert response.status_code == 400
    (error,) = response.json()["file"]
    assert name in error and says in error
    assert not Attachment.objects.exists()


@pytest.mark.parametrize("name", sorted(POLYGLOTS))
def test_a_polyglot_kept_from_the_portal_is_only_ever_a_download(client, requester, name):
    data, content_type = POLYGLOTS[name]
    client.force_login(requester)
    response = client.post(
        reverse("portal:ticket_new"), new_ticket_data(attachments=[SimpleUploadedFile(name, data)])
    )
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert (attachment.original_name, attachment.content_type) == (name, content_type)
    assert assert_sent_as_a_download(client, attachment, content_type) == data


@pytest.mark.parametrize("name", sorted(POLYGLOTS))
def test_a_polyglot_kept_from_the_api_is_only_ever_a_download(api, ticket, name):
    data, content_type = POLYGLOTS[name]
    response = api.post(
        f"/api/v1/tickets/{ticket.reference}/attachments/",
        {"file": [SimpleUploadedFile(name, data)]},
        format="multipart",
    )
    assert response.status_code == 201
    assert response.json()[0]["content_type"] == content_type
    assert assert_sent_as_a_download(api, Attachment.objects.get(), content_type) == data


def test_an_email_keeps_polyglots_as_downloads_and_lists_the_markup_it_refused(client, requester):
    mail = EmailMessage()
    mail["From"] = requester.email
    mail["To"] = "support@example.com"
    mail["Subject"] = "Files from our scheduler"
    mail["Message-ID"] = "<uploads-1@example.com>"
    mail.set_content("The files are attached.")
    for name, (data, _type) in POLYGLOTS.items():
        mail.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    # Declared as harmless types: the bytes decide, not the sender's labels.
    mail.add_attachment(HTML, maintype="image", subtype="png", filename="invoice.png")
    mail.add_attachment(SVG, maintype="image", subtype="svg+xml", filename="logo.svg")
    mail.add_attachment(HTML.decode(), subtype="html", filename="page.html")

    result = process(mail.as_bytes())

    assert result.status == PROCESSED
    kept = {a.original_name: a for a in result.ticket.attachments.all()}
    assert sorted(kept) == sorted(POLYGLOTS)
    refusals = result.ticket.description.split("Attachments not accepted:")[1]
    assert "“invoice.png” is named like a PNG image but its content is HTML." in refusals
    assert "“logo.svg” is an SVG image." in refusals
    assert "“page.html” is HTML." in refusals
    client.force_login(requester)
    for name, (data, content_type) in POLYGLOTS.items():
        assert assert_sent_as_a_download(client, kept[name], content_type) == data


# --- Oversize requests: refused from the headers -----------------------------------------------------


class UnreadableBody:
    """A request body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


def declared(client, path: str, length: int, **extra):
    """POST `path` declaring a `length`-byte body that must never be read."""
    return client.generic(
        "POST",
        path,
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(length),
        **{"wsgi.input": UnreadableBody()},
        **extra,
    )


def test_the_default_request_limit_is_the_files_a_form_may_carry_plus_its_text(settings):
    assert settings.REQUEST_MAX_BYTES == (
        settings.ATTACHMENT_MAX_BYTES * settings.ATTACHMENTS_PER_REQUEST + 2_621_440
    )


def test_the_request_limit_follows_the_environment():
    env = {**os.environ, "ATTACHMENT_MAX_BYTES": "1000", "ATTACHMENTS_PER_REQUEST": "3"}
    code = "from django.conf import settings; print(settings.REQUEST_MAX_BYTES)"
    derived = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "helpdesk.settings"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert int(derived.stdout) == 3000 + 2_621_440
    overridden = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "REQUEST_MAX_BYTES": "5000"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert int(overridden.stdout) == 5000


def test_a_portal_page_answers_413_with_a_short_page_without_reading_the_body(client, requester, settings):
    settings.REQUEST_MAX_BYTES = 5_000_000
    client.force_login(requester)
    response = declared(client, reverse("portal:ticket_new"), 200 * 1024 * 1024)
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "That was too large to send" in page
    assert "each up to 10.0\xa0MB" in page and "4.8\xa0MB in all" in page
    assert not Ticket.objects.exists()


def test_the_api_answers_413_in_json_naming_the_limit(api, ticket, settings):
    settings.REQUEST_MAX_BYTES = 5_000_000
    response = declared(api, f"/api/v1/tickets/{ticket.reference}/attachments/", 5_000_001)
    assert response.status_code == 413
    body = response.json()
    assert body["max_request_bytes"] == 5_000_000
    assert body["max_attachment_bytes"] == settings.ATTACHMENT_MAX_BYTES
    assert "larger than the 4.8\xa0MB we accept at once" in body["detail"]
    assert response["X-Content-Type-Options"] == "nosniff"  # the security headers are still there


def test_a_request_at_the_limit_is_read_as_usual(client, requester, settings):
    client.force_login(requester)
    data = new_ticket_data()
    response = client.post(reverse("portal:ticket_new"), data)
    assert response.status_code == 302
    body_length = int(response.wsgi_request.META["CONTENT_LENGTH"])
    settings.REQUEST_MAX_BYTES = body_length
    assert client.post(reverse("portal:ticket_new"), data).status_code == 302
    settings.REQUEST_MAX_BYTES = body_length - 1
    assert client.post(reverse("portal:ticket_new"), data).status_code == 413
    assert Ticket.objects.count() == 2


def test_a_body_without_a_declared_length_is_never_read(client, requester):
    """Chunked: no Content-Length, nothing to refuse up front; Django reads no body of unknown length."""
    client.force_login(requester)
    response = client.generic(
        "POST",
        reverse("portal:ticket_new"),
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": UnreadableBody()},
    )
    assert response.status_code == 200
    assert "subject" in response.context["form"].errors
    assert not Ticket.objects.exists()


def _read_response(sock: socket.socket, deadline: float) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one HTTP/1.x response (with a Content-Length), by `deadline`."""
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = sock.recv(65536)
        assert chunk, "the connection closed mid-response"
        body += chunk
    return int(status_line.split()[1]), headers, body


@pytest.fixture(scope="module")
def gunicorn_url():
    """The production web server (gunicorn, as in the Dockerfile) with production settings, on a free port."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "DJANGO_"))}
    env |= {"DEBUG": "false", "SECRET_KEY": "uploads-test-" + "x" * 40, "ALLOWED_HOSTS": "127.0.0.1"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "helpdesk.wsgi:application",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline, url = time.monotonic() + 30, None
        while url is None:
            ready, _, _ = select.select([server.stderr], [], [], max(deadline - time.monotonic(), 0))
            line = server.stderr.readline() if ready else ""
            assert line, "gunicorn did not start listening within 30 s"
            if "Listening at: " in line:
                url = line.split("Listening at: ")[1].split()[0]
        _wait_until_answering(urlsplit(url), deadline)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stderr.close()


def _wait_until_answering(url, deadline: float) -> None:
    """Until the worker has loaded the application and answers (a 404 that touches no database)."""
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(
            f"GET /warm-up/ HTTP/1.1\r\nHost: {url.netloc}\r\nX-Forwarded-Proto: https\r\n\r\n".encode()
        )
        status, _headers, _body = _read_response(sock, deadline)
    assert status == 404


@pytest.mark.parametrize("server", ["live_server", "gunicorn_url"])
@pytest.mark.parametrize(
    ("path", "expect"),
    [
        ("/portal/tickets/new/", b"That was too large to send"),
        ("/api/v1/tickets/HD-1/attachments/", b'"max_request_bytes"'),
    ],
)
def test_a_real_server_answers_413_before_the_body_is_sent(request, transactional_db, server, path, expect):
    """200 MB declared, 64 KB sent: the 413 arrives at once, while the server would still wait for the rest
    if anything tried to read it (the socket's deadline would then fail the test). Through the test's live
    server and through gunicorn with production settings (behind its TLS proxy, as X-Forwarded-Proto says).

    Database access is allowed (`transactional_db`): on SQLite the live server shares this process's
    in-memory connection, and Django's request_started handler checks it (close_old_connections) before
    any middleware runs; without access that check raised inside the server, a 500 instead of the 413."""
    fixture = request.getfixturevalue(server)
    url = urlsplit(fixture if isinstance(fixture, str) else fixture.url)
    declared_bytes = 200 * 1024 * 1024
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nX-Forwarded-Proto: https\r\n"
        "Content-Type: multipart/form-data; boundary=----x\r\n"
        f"Content-Length: {declared_bytes}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(head + b"------x\r\n" + b"\0" * (64 * 1024))
        status, headers, body = _read_response(sock, deadline=started + 10)
        elapsed = time.monotonic() - started
    assert status == 413
    assert expect in body
    assert elapsed < 5, f"the answer took {elapsed:.1f} s"
    if path.startswith("/api/"):
        assert headers["content-type"] == "application/json"
        assert json.loads(body)["max_request_bytes"] < declared_bytes


# --- A file just over the per-file limit, and too many files --------------------------------------


def test_the_portal_form_says_which_file_is_too_large_and_keeps_what_was_typed(client, requester, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    client.force_login(requester)
    files = [SimpleUploadedFile("fits.log", b"a" * 1000), SimpleUploadedFile("huge.log", b"a" * 1001)]
    response = client.post(reverse("portal:ticket_new"), new_ticket_data(attachments=files))
    assert response.status_code == 200
    assert response.context["form"].errors["attachments"] == [
        "“huge.log” is larger than the 1000\xa0bytes limit for attachments."
    ]
    page = response.content.decode()
    assert "Calendar sync stopped" in page and "E_SYNC_401" in page
    assert "Browsers do not keep chosen files when a form comes back: attach them again." in page
    assert not Ticket.objects.exists() and not Attachment.objects.exists()


def test_a_portal_reply_with_a_file_too_large_loses_nothing_already_saved(client, requester, settings):
    ticket = services.ticket_create(
        requester=requester,
        subject="Reports",
        description="x",
        attachments=[SimpleUploadedFile("first.png", PNG)],
    )
    settings.ATTACHMENT_MAX_BYTES = 1000
    client.force_login(requester)
    response = client.post(
        reverse("portal:ticket_reply", args=[ticket.reference]),
        {"body": "Here is the full log", "attachments": [SimpleUploadedFile("full.log", b"a" * 1001)]},
    )
    assert response.status_code == 400
    assert "“full.log” is larger than the 1000\xa0bytes limit" in str(
        response.context["reply_form"].errors["attachments"]
    )
    assert "Here is the full log" in response.content.decode()
    assert not Message.objects.filter(ticket=ticket).exists()
    assert list(ticket.attachments.values_list("original_name", flat=True)) == ["first.png"]
    assert assert_sent_as_a_download(client, ticket.attachments.get(), "image/png") == PNG


def test_an_api_upload_with_one_file_too_large_saves_none_and_keeps_the_earlier_ones(api, ticket, settings):
    first = api.post(
        f"/api/v1/tickets/{ticket.reference}/attachments/",
        {"file": [SimpleUploadedFile("first.png", PNG)]},
        format="multipart",
    )
    assert first.status_code == 201
    settings.ATTACHMENT_MAX_BYTES = 1000
    response = api.post(
        f"/api/v1/tickets/{ticket.reference}/attachments/",
        {"file": [SimpleUploadedFile("fits.log", b"a" * 1000), SimpleUploadedFile("huge.log", b"a" * 1001)]},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json() == {"file": ["“huge.log” is larger than the 1000\xa0bytes limit for attachments."]}
    assert list(ticket.attachments.values_list("original_name", flat=True)) == ["first.png"]
    assert assert_sent_as_a_download(api, ticket.attachments.get(), "image/png") == PNG


def test_more_files_than_a_form_may_carry_is_a_field_error(client, requester, settings):
    settings.ATTACHMENTS_PER_REQUEST = 2
    client.force_login(requester)
    files = [SimpleUploadedFile(f"shot-{n}.png", PNG) for n in range(3)]
    response = client.post(reverse("portal:ticket_new"), new_ticket_data(attachments=files))
    assert response.status_code == 200
    assert response.context["form"].errors["attachments"] == ["Attach at most 2 files at a time."]
    assert not Ticket.objects.exists()
