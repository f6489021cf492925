"""Signing secrets (on-call webhook contacts, webhook subscriptions) are write-only: shown once when they are
generated (a console message, the API's create or rotate-secret answer) and never displayed or returned
again: not on console pages (an agent reads on-call contacts), not in the API or the browsable API, not in
the schema's responses. Rotating replaces the secret: pages are signed with the new one only, so a copy of
the old one forges nothing."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from helpdesk import webhooks
from sla.models import ContactKind, EscalationContact
from tests.factories import PASSWORD
from tickets.models.integrations import ApiToken, WebhookSubscription

pytestmark = pytest.mark.django_db

SECRET = "a-secret-the-pages-must-never-show-0123"


@pytest.fixture(autouse=True)
def _unthrottled(settings, monkeypatch):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    for scope in ("token", "anon", "auth"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def contact(db) -> EscalationContact:
    return EscalationContact.objects.create(
        name="Pager", kind=ContactKind.WEBHOOK, url="https://pager.test/in", secret=SECRET
    )


@pytest.fixture
def subscription(db) -> WebhookSubscription:
    return WebhookSubscription.objects.create(
        url="https://hooks.test/in", secret=SECRET, events=["ticket.created"]
    )


#: The delivery log inline's management form (it has no rows to add).
NO_DELIVERIES = {"deliveries-TOTAL_FORMS": "0", "deliveries-INITIAL_FORMS": "0"}


def token_client(user, *, organization=None) -> APIClient:
    client = APIClient()
    _, key = ApiToken.objects.issue(user=user, name="test", organization=organization)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def shown_secret(response) -> str:
    """The secret a console message shows once."""
    pattern = re.compile(r"shown only now; give it to the receiver\): (\S+)$")
    (secret,) = [m.group(1) for m in map(pattern.search, map(str, response.context["messages"])) if m]
    return secret


# --- the console ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["agent", "superuser"])
def test_console_pages_never_show_an_on_call_secret(client, contact, who, request):
    client.force_login(request.getfixturevalue(who))
    for page in ("/admin/sla/escalationcontact/", f"/admin/sla/escalationcontact/{contact.pk}/change/"):
        response = client.get(page)
        assert response.status_code == 200
        assert SECRET not in response.content.decode(), page


def test_console_pages_never_show_a_subscription_secret(client, superuser, subscription):
    client.force_login(superuser)
    for page in (
        "/admin/tickets/webhooksubscription/",
        f"/admin/tickets/webhooksubscription/{subscription.pk}/change/",
    ):
        response = client.get(page)
        assert response.status_code == 200
        assert SECRET not in response.content.decode(), page


def test_a_new_on_call_webhook_gets_a_secret_shown_once(client, superuser):
    client.force_login(superuser)
    response = client.post(
        "/admin/sla/escalationcontact/add/",
        {
            "name": "Pager",
            "kind": "webhook",
            "active": "on",
            "url": "https://pager.test/in",
            "timeout_seconds": "5",
            "max_attempts": "6",
            "on_page": "on",
        },
        follow=True,
    )
    contact = EscalationContact.objects.get()
    assert len(contact.secret) >= 32 and shown_secret(response) == contact.secret
    again = client.get(f"/admin/sla/escalationcontact/{contact.pk}/change/")
    assert contact.secret not in again.content.decode()


def test_a_changed_on_call_contact_keeps_its_secret(client, superuser, contact):
    client.force_login(superuser)
    response = client.post(
        f"/admin/sla/escalationcontact/{contact.pk}/change/",
        {
            "name": "Pager (renamed)",
            "kind": "webhook",
            "active": "on",
            "url": "https://pager.test/in",
            "timeout_seconds": "5",
            "max_attempts": "6",
            "on_page": "on",
        },
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.name, contact.secret) == ("Pager (renamed)", SECRET)


def test_a_new_subscription_gets_a_secret_shown_once(client, superuser):
    client.force_login(superuser)
    response = client.post(
        "/admin/tickets/webhooksubscription/add/",
        {"url": "https://hooks.test/in", "events": ["ticket.created"], "active": "on", **NO_DELIVERIES},
        follow=True,
    )
    subscription = WebhookSubscription.objects.get()
    assert len(subscription.secret) >= 32 and shown_secret(response) == subscription.secret


@pytest.mark.parametrize(
    ("changelist", "fixture"),
    [("/admin/sla/escalationcontact/", "contact"), ("/admin/tickets/webhooksubscription/", "subscription")],
)
def test_the_console_rotates_a_secret_and_shows_the_new_one_once(
    client, superuser, changelist, fixture, request
):
    row = request.getfixturevalue(fixture)
    client.force_login(superuser)
    response = client.post(changelist, {"action": "rotate_secret", "_selected_action": [row.pk]}, follow=True)
    row.refresh_from_db()
    assert row.secret != SECRET and shown_secret(response) == row.secret


def test_an_agent_cannot_rotate_an_on_call_secret(client, agent, contact):
    client.force_login(agent)
    client.post(
        "/admin/sla/escalationcontact/", {"action": "rotate_secret", "_selected_action": [contact.pk]}
    )
    contact.refresh_from_db()
    assert contact.secret == SECRET


def test_no_text_form_of_a_contact_or_subscription_carries_its_secret(contact, subscription):
    for row in (contact, subscription):
        assert SECRET not in str(row) and SECRET not in repr(row)


# --- the API --------------------------------------------------------------------------------------


def test_the_api_returns_a_generated_secret_once_and_never_again(superuser):
    client = token_client(superuser)
    created = client.post("/api/v1/webhooks/", {"url": "https://hooks.test/in", "events": ["ticket.created"]})
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    subscription = WebhookSubscription.objects.get()
    assert len(secret) >= 32 and subscription.secret == secret

    path = f"/api/v1/webhooks/{subscription.pk}/"
    for response in (
        client.get("/api/v1/webhooks/"),
        client.get(path),
        client.patch(path, {"active": False}),
        client.put(path, {"url": "https://hooks.test/in", "events": ["ticket.updated"]}),
    ):
        assert response.status_code == 200
        assert secret not in response.content.decode() and "secret" not in response.content.decode()


def test_a_secret_the_client_chose_is_not_echoed(superuser):
    response = token_client(superuser).post(
        "/api/v1/webhooks/", {"url": "https://hooks.test/in", "secret": SECRET, "events": ["ticket.created"]}
    )
    assert response.status_code == 201 and "secret" not in response.json()
    assert WebhookSubscription.objects.get().secret == SECRET


def test_the_browsable_api_never_shows_a_secret(client, superuser, subscription):
    client.force_login(superuser)
    for page in ("/api/v1/webhooks/", f"/api/v1/webhooks/{subscription.pk}/"):
        response = client.get(page, HTTP_ACCEPT="text/html")
        assert response.status_code == 200
        assert SECRET not in response.content.decode(), page


def test_the_schema_marks_the_secret_write_only(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    assert components["WebhookSubscriptionRequest"]["properties"]["secret"]["writeOnly"] is True
    assert "secret" not in components["WebhookSubscription"]["properties"]
    assert "/api/v1/webhooks/{id}/rotate-secret/" in schema["paths"]


class SigningReceiver:
    """A receiver on 127.0.0.1 that keeps each POST's signature headers and body."""

    def __init__(self):
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/in"

    def verifies(self, secret: str) -> bool:
        headers, body = self.requests[-1]
        return webhooks.verify(secret, headers["x-helpdesk-timestamp"], body, headers["x-helpdesk-signature"])

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True  # the receiver is on 127.0.0.1
    receiver = SigningReceiver()
    yield receiver
    receiver.close()


def test_rotating_through_the_api_returns_the_new_secret_once_and_retires_the_old(
    superuser, organization, receiver
):
    subscription = WebhookSubscription.objects.create(
        url=receiver.url, secret=SECRET, events=["ticket.created"], organization=organization
    )
    client = token_client(superuser, organization=organization)
    response = client.post(f"/api/v1/webhooks/{subscription.pk}/rotate-secret/")
    assert response.status_code == 200
    new = response.json()["secret"]
    assert len(new) >= 32 and new != SECRET
    assert new not in client.get(f"/api/v1/webhooks/{subscription.pk}/").content.decode()

    subscription.refresh_from_db()
    webhooks.post(
        subscription.url, {"a": 1}, secret=subscription.secret, event="e", delivery_id="d", timeout=5
    )
    assert receiver.verifies(new)
    assert not receiver.verifies(SECRET)  # a copy of the old secret forges nothing any more


def test_an_organization_token_cannot_rotate_another_organizations_secret(
    superuser, organization, subscription
):
    response = token_client(superuser, organization=organization).post(
        f"/api/v1/webhooks/{subscription.pk}/rotate-secret/"
    )
    assert response.status_code == 404
    subscription.refresh_from_db()
    assert subscription.secret == SECRET


def test_an_on_call_page_is_signed_with_the_rotated_secret_only(requester, receiver):
    from sla.escalations import deliver
    from sla.models import Escalation, Level
    from tickets.services import ticket_create

    contact = EscalationContact.objects.create(
        name="Pager", kind=ContactKind.WEBHOOK, url=receiver.url, secret=SECRET
    )
    new = contact.rotate_secret()
    ticket = ticket_create(requester=requester, subject="Down", description="d", severity="S1")
    deliver(Escalation.objects.get(ticket=ticket, level=Level.PAGE).pk)
    assert receiver.verifies(new) and not receiver.verifies(SECRET)
