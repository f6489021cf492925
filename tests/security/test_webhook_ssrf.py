"""Server-side request forgery through outgoing webhooks (helpdesk/egress.py): a token or an agent chooses
where the helpdesk POSTs, so the URL is checked when it is saved (API 400 naming `url`, a form error in the
console) and again at every delivery, which connects to the address that was checked, never follows a
redirect, and reports failures to organization-limited tokens without detail.

No test here contacts anything but 127.0.0.1: names resolve through the tests' `dns` fixture
(tests/conftest.py), which also fails a test that would open a webhook socket elsewhere. Refused addresses
are refused before any connection.
"""

from __future__ import annotations

import contextlib
import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery.exceptions import Retry
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from helpdesk import egress, webhooks
from sla.escalations import deliver as deliver_escalation
from sla.models import ContactKind, DeliveryStatus, Escalation, EscalationContact, EscalationDelivery, Level
from tests.factories import PASSWORD
from tickets import outgoing_webhooks
from tickets.api.webhooks import GENERIC_DISABLED_REASON
from tickets.models.integrations import ApiToken, WebhookDelivery, WebhookSubscription
from tickets.services import ticket_create

pytestmark = pytest.mark.django_db

SECRET = "integration-secret-0123456789"
PUBLIC = "93.184.215.14"  # what the tests' DNS answers for a "public" name; never connected to

# Refused whatever WEBHOOK_ALLOW_PRIVATE_NETWORKS says.
ALWAYS_REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    "http://0.0.0.0:8000/",
    "http://[::]/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://192.0.2.10/",
    "http://[::ffff:169.254.169.254]/",  # IPv4-mapped
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://0xa9fea9fe/",  # 169.254.169.254 in hex
    "http://metadata.test/",  # resolves to 169.254.169.254
    "ftp://hooks.test/",
    "file:///etc/passwd",
    "gopher://hooks.test/",
    "https://user:password@hooks.test/",
    "https://token@hooks.test/",
]
# Refused unless WEBHOOK_ALLOW_PRIVATE_NETWORKS is true.
PRIVATE = [
    "http://127.0.0.1:8000/",
    "http://localhost/",
    "http://localhost./",
    "http://127.0.0.1./",
    "http://[::1]/",
    "http://2130706433/",  # 127.0.0.1 in decimal
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://10.0.0.5/",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # CGNAT
    "http://[fc00::1]/",  # IPv6 unique-local
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
    "http://[64:ff9b::a00:5]/",  # NAT64 of 10.0.0.5
    "http://intranet.test/",  # resolves to 10.0.0.5
    "http://mixed.test/",  # resolves to a public and a private address
]


@pytest.fixture(autouse=True)
def _names(dns, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    dns.update(
        {
            "hooks.test": [PUBLIC],
            "metadata.test": ["169.254.169.254"],
            "intranet.test": ["10.0.0.5"],
            "mixed.test": [PUBLIC, "10.0.0.5"],
        }
    )


@pytest.fixture(autouse=True)
def _unthrottled(settings, monkeypatch):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    for scope in ("token", "anon", "auth"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")


@pytest.fixture(autouse=True)
def eager_celery():
    from helpdesk.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)


#: The delivery log inline's management form (it has no rows to add).
NO_DELIVERIES = {"deliveries-TOTAL_FORMS": "0", "deliveries-INITIAL_FORMS": "0"}


def token_client(user, *, organization=None) -> APIClient:
    client = APIClient()
    _, key = ApiToken.objects.issue(user=user, name="test", organization=organization)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


class Receiver:
    """An HTTP(S) server on 127.0.0.1 that records every request (any method) and answers `status`, with
    `location` if set. With `tls`, it serves `tls` (certificate, key) and records the SNI name asked for."""

    def __init__(self, status: int = 200, *, location: str = "", tls: tuple[str, str] | None = None):
        self.status, self.location = status, location
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.server_names: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                receiver.requests.append((self.command, self.path, dict(self.headers.items())))
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, format, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            context.sni_callback = lambda sock, name, ctx: receiver.server_names.append(name)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self.port}/hooks"

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receivers():
    started: list[Receiver] = []

    def start(*args, **kwargs) -> Receiver:
        started.append(Receiver(*args, **kwargs))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()


def pending_delivery(requester, url: str) -> WebhookDelivery:
    """A subscription saved without validation (as by a shell or an older release) and a ticket event for
    it: the delivery-time check is the one that must hold."""
    WebhookSubscription.objects.create(url=url, secret=SECRET, events=["ticket.created"])
    ticket_create(requester=requester, subject="s", description="d")
    return WebhookDelivery.objects.get()


def attempt(delivery: WebhookDelivery) -> WebhookDelivery:
    """One delivery attempt (a failure raises Retry in eager mode); the delivery as it was left."""
    with contextlib.suppress(Retry):
        outgoing_webhooks.deliver.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    return delivery


# --- the guard ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ALWAYS_REFUSED + PRIVATE)
def test_the_guard_refuses_what_the_helpdesk_must_not_contact(url):
    with pytest.raises(egress.EgressRefused):
        egress.resolve(url, allow_private=False)


@pytest.mark.parametrize("url", ALWAYS_REFUSED)
def test_allowing_private_networks_still_refuses_metadata_and_special_addresses(url):
    with pytest.raises(egress.EgressRefused):
        egress.resolve(url, allow_private=True)


@pytest.mark.parametrize("url", PRIVATE)
def test_allowing_private_networks_allows_on_premises_receivers(url):
    assert egress.resolve(url, allow_private=True).addresses


def test_a_public_name_resolves_once_to_checked_addresses_keeping_its_name(dns):
    target = egress.resolve("https://Hooks.Test.:8443/in?x=1", allow_private=False)
    assert (target.scheme, target.host, target.port, target.path) == ("https", "hooks.test", 8443, "/in?x=1")
    assert [str(a) for a in target.addresses] == [PUBLIC]


# --- at save: the API and the console -------------------------------------------------------------


SAVED_REFUSED = [
    "http://127.0.0.1:8000/",
    "http://localhost/",
    "http://[::1]/",
    "http://0.0.0.0/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/",
    "http://100.64.0.1/",
    "http://[::ffff:127.0.0.1]/",
    "http://intranet.test/",
    "https://user:password@hooks.test/",
    "ftp://hooks.test/",
    "http://2130706433/",
    "http://0x7f.1/",
]


@pytest.mark.parametrize("limited", [False, True], ids=["staff token", "organization-limited token"])
@pytest.mark.parametrize("url", SAVED_REFUSED)
def test_the_api_refuses_to_subscribe_a_forbidden_url(superuser, organization, url, limited):
    client = token_client(superuser, organization=organization if limited else None)
    response = client.post("/api/v1/webhooks/", {"url": url, "secret": SECRET, "events": ["ticket.created"]})
    assert response.status_code == 400, response.content
    assert "url" in response.json()
    assert not WebhookSubscription.objects.exists()


def test_the_api_refuses_to_move_a_subscription_to_a_forbidden_url(superuser):
    subscription = WebhookSubscription.objects.create(
        url="https://hooks.test/in", secret=SECRET, events=["ticket.created"]
    )
    response = token_client(superuser).patch(
        f"/api/v1/webhooks/{subscription.pk}/", {"url": "http://169.254.169.254/"}
    )
    assert response.status_code == 400 and "url" in response.json()
    subscription.refresh_from_db()
    assert subscription.url == "https://hooks.test/in"


def test_the_api_accepts_a_public_receiver(superuser):
    response = token_client(superuser).post(
        "/api/v1/webhooks/", {"url": "https://hooks.test/in", "secret": SECRET, "events": ["ticket.created"]}
    )
    assert response.status_code == 201, response.content


def test_the_console_refuses_a_forbidden_subscription_url(client, superuser):
    client.force_login(superuser)
    response = client.post(
        "/admin/tickets/webhooksubscription/add/",
        {
            "url": "http://169.254.169.254/latest/",
            "events": ["ticket.created"],
            "active": "on",
            **NO_DELIVERIES,
        },
    )
    assert response.status_code == 200
    assert "url" in response.context["adminform"].form.errors
    assert not WebhookSubscription.objects.exists()


def test_the_console_refuses_a_forbidden_on_call_webhook(client, superuser):
    client.force_login(superuser)
    response = client.post(
        "/admin/sla/escalationcontact/add/",
        {
            "name": "Pager",
            "kind": "webhook",
            "active": "on",
            "url": "http://127.0.0.1:6379/",
            "timeout_seconds": "5",
            "max_attempts": "6",
            "on_page": "on",
        },
    )
    assert response.status_code == 200
    assert "url" in response.context["adminform"].form.errors
    assert not EscalationContact.objects.exists()


# --- at delivery ----------------------------------------------------------------------------------


def test_a_delivery_to_loopback_is_refused_before_connecting(requester, receivers):
    receiver = receivers()  # listening: a connection would reach it
    delivery = attempt(pending_delivery(requester, receiver.url))
    assert receiver.requests == []
    assert delivery.status == "retrying" and delivery.response_code is None
    assert "Refused" in delivery.last_error


def test_a_delivery_to_loopback_goes_through_when_private_networks_are_allowed(
    settings, requester, receivers
):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    receiver = receivers()
    delivery = attempt(pending_delivery(requester, receiver.url))
    assert delivery.status == "sent" and len(receiver.requests) == 1


def test_a_delivery_connects_to_the_address_that_was_checked(
    settings, dns, monkeypatch, requester, receivers
):
    """DNS rebinding: the name is resolved once per attempt, and the connection goes to that answer; the
    request still names the host."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    receiver = receivers()
    answers = [["127.0.0.1"]]  # the first answer; any later lookup would say 10.0.0.9
    lookups = []

    def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return answers.pop() if answers else ["10.0.0.9"]

    monkeypatch.setattr(egress, "resolver", rebinding)
    delivery = attempt(pending_delivery(requester, f"http://rebind.test:{receiver.port}/hooks"))
    assert delivery.status == "sent"
    assert lookups == ["rebind.test"]
    ((method, path, headers),) = receiver.requests
    assert (method, path, headers["Host"]) == ("POST", "/hooks", f"rebind.test:{receiver.port}")


def test_a_name_that_rebinds_to_a_private_address_is_refused_at_delivery(dns, requester, receivers):
    receiver = receivers()
    url = f"http://rebind.test:{receiver.port}/hooks"
    dns["rebind.test"] = [PUBLIC]
    egress.check_url(url)  # public when it was saved
    dns["rebind.test"] = ["127.0.0.1"]
    delivery = attempt(pending_delivery(requester, url))
    assert delivery.status == "retrying" and "Refused" in delivery.last_error
    assert receiver.requests == []


def test_a_redirect_is_a_failed_delivery_and_is_not_followed(settings, requester, receivers):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    target = receivers()
    redirecting = receivers(status=302, location=target.url)
    delivery = attempt(pending_delivery(requester, redirecting.url))
    assert len(redirecting.requests) == 1
    assert target.requests == []
    assert (delivery.status, delivery.response_code) == ("retrying", 302)
    assert "redirects are not followed" in delivery.last_error


def test_an_on_call_webhook_to_loopback_is_refused_at_delivery(requester, receivers):
    receiver = receivers()
    EscalationContact.objects.create(name="p", kind=ContactKind.WEBHOOK, url=receiver.url, secret=SECRET)
    ticket = ticket_create(requester=requester, subject="Down", description="d", severity="S1")
    page = Escalation.objects.get(ticket=ticket, level=Level.PAGE)
    with pytest.raises(Exception, match="delivery incomplete"):
        deliver_escalation(page.pk)
    (row,) = EscalationDelivery.objects.filter(escalation=page)
    assert row.status == DeliveryStatus.RETRYING and "Refused" in row.last_error
    assert receiver.requests == []


def test_an_on_call_contact_refuses_a_forbidden_url_when_validated():
    contact = EscalationContact(name="p", kind=ContactKind.WEBHOOK, url="http://169.254.169.254/")
    with pytest.raises(Exception, match="link-local"):
        contact.full_clean()


# --- https: the checked address, with the name for SNI and the certificate -------------------------


@pytest.fixture
def certificate(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-subj", "/CN=hooks.test", "-addext", "subjectAltName=DNS:hooks.test"]
    command += ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True)
    return str(cert), str(key)


def test_https_connects_to_the_checked_address_verifying_the_name(
    settings, dns, monkeypatch, certificate, receivers
):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    receiver = receivers(tls=certificate)
    monkeypatch.setattr(egress, "tls_context", lambda: ssl.create_default_context(cafile=certificate[0]))
    dns["hooks.test"] = ["127.0.0.1"]
    dns["other.test"] = ["127.0.0.1"]
    sent = {"secret": SECRET, "event": "ticket.created", "delivery_id": "d-1", "timeout": 5}

    assert webhooks.post(f"https://hooks.test:{receiver.port}/in", {"a": 1}, **sent).status == 200
    assert receiver.server_names == ["hooks.test"]
    assert receiver.requests[0][2]["Host"] == f"hooks.test:{receiver.port}"

    # The same address under a name the certificate does not carry: refused by verification.
    with pytest.raises(webhooks.WebhookError, match="unreachable"):
        webhooks.post(f"https://other.test:{receiver.port}/in", {"a": 1}, **sent)
    assert len(receiver.requests) == 1


# --- what an organization-limited token learns of failures -----------------------------------------


def test_an_organization_token_cannot_tell_refused_from_timed_out(superuser, organization):
    last = "Disabled after 15 failed attempts; last error:"
    reasons = {
        "https://a.hooks.test/": f"{last} [Errno 111] Connection refused",
        "https://b.hooks.test/": f"{last} timed out",
    }
    for url, reason in reasons.items():
        WebhookSubscription.objects.create(
            url=url,
            secret=SECRET,
            events=["ticket.created"],
            organization=organization,
            active=False,
            disabled_reason=reason,
        )
    limited = token_client(superuser, organization=organization).get("/api/v1/webhooks/").json()["results"]
    assert [s["disabled_reason"] for s in limited] == [GENERIC_DISABLED_REASON] * 2
    staff = token_client(superuser).get("/api/v1/webhooks/").json()["results"]
    assert [s["disabled_reason"] for s in staff] == list(reasons.values())  # staff see the detail
