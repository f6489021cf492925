"""The webhook re-enable rule, one function for the console and the API: turning a subscription on
starts its failure count afresh; an edit that leaves it on does not."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import PASSWORD
from tickets.models.integrations import WebhookSubscription
from tickets.services.integrations import webhook_subscription_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing(dns):
    dns["hooks.test"] = ["93.184.216.34"]
    return WebhookSubscription.objects.create(
        url="https://hooks.test/helpdesk",
        secret="s" * 32,
        events=["ticket.created"],
        active=False,
        consecutive_failures=3,
        disabled_reason="Disabled after 3 failed attempts in a row (HTTP 500).",
    )


def test_turning_on_starts_the_count_afresh(failing):
    webhook_subscription_update(subscription=failing, changes={"active": True})
    failing.refresh_from_db()
    assert (failing.active, failing.consecutive_failures, failing.disabled_reason) == (True, 0, "")


def test_other_edits_keep_the_count(failing):
    webhook_subscription_update(subscription=failing, changes={"events": ["ticket.updated"]})
    failing.refresh_from_db()
    assert (failing.active, failing.consecutive_failures) == (False, 3)


def _console_post(client, subscription, **fields):
    data = {
        "url": subscription.url,
        "events": subscription.events,
        "organization": "",
        "deliveries-TOTAL_FORMS": "0",
        "deliveries-INITIAL_FORMS": "0",
        "deliveries-MIN_NUM_FORMS": "0",
        "deliveries-MAX_NUM_FORMS": "0",
        **fields,
    }
    if data.pop("active"):
        data["active"] = "on"  # an unticked box is not sent at all
    url = reverse("admin:tickets_webhooksubscription_change", args=[subscription.pk])
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""


def test_the_console_turns_on_through_the_same_rule(client, failing):
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    client.login(username="root", password=PASSWORD)
    _console_post(client, failing, active=False, events=["ticket.updated"])
    failing.refresh_from_db()
    assert (failing.events, failing.consecutive_failures) == (["ticket.updated"], 3)
    _console_post(client, failing, active=True)
    failing.refresh_from_db()
    assert (failing.active, failing.consecutive_failures, failing.disabled_reason) == (True, 0, "")
    # Saved again with the box left ticked: no re-enabling, the count it has since gathered stays.
    WebhookSubscription.objects.filter(pk=failing.pk).update(consecutive_failures=2)
    _console_post(client, failing, active=True)
    failing.refresh_from_db()
    assert failing.consecutive_failures == 2
