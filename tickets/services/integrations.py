"""Integrations' webhook subscriptions: the edits the console and the API make to one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tickets.models.integrations import WebhookSubscription


def webhook_subscription_update(
    *, subscription: WebhookSubscription, changes: Mapping[str, Any]
) -> WebhookSubscription:
    """Apply `changes` (field name → value) and save.

    Switching a subscription on (`active: True` among the changes) starts its failure count afresh: it
    was most likely disabled for failing, and whoever turns it back on says the receiver is fixed.
    """
    changes = dict(changes)
    if changes.get("active"):
        changes.update(consecutive_failures=0, disabled_reason="")
    for name, value in changes.items():
        setattr(subscription, name, value)
    subscription.save()
    return subscription
