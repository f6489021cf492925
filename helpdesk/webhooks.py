"""Signed JSON webhooks, shared by SLA escalations and integration subscriptions.

A receiver checks `X-Helpdesk-Signature: sha256=<hex>` where hex is HMAC-SHA256(secret, "<timestamp>.<body>")
and `X-Helpdesk-Timestamp` is recent (replays older than a few minutes are refused by the receiver).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder

SIGNATURE_HEADER = "X-Helpdesk-Signature"
TIMESTAMP_HEADER = "X-Helpdesk-Timestamp"
EVENT_HEADER = "X-Helpdesk-Event"
DELIVERY_HEADER = "X-Helpdesk-Delivery"


class WebhookError(Exception):
    """The receiver could not be reached or did not answer 2xx."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class WebhookResult:
    status: int


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str, timestamp: str | None, body: bytes, signature: str | None, *, tolerance: int = 300
) -> bool:
    """Check a signature as a receiver would (used by our tests and documented for integrators). A missing
    or malformed header fails the check rather than raising."""
    if not isinstance(timestamp, str) or not isinstance(signature, str):
        return False
    try:
        fresh = abs(time.time() - int(timestamp)) <= tolerance
    except ValueError:
        return False
    # Bytes: compare_digest refuses str with non-ASCII characters (TypeError).
    return fresh and hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode())


def json_safe(payload: dict) -> dict:
    """The payload as plain JSON types (datetimes as ISO 8601), ready to store in a JSONField."""
    return json.loads(encode(payload))


def encode(payload: dict) -> bytes:
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True).encode()


def post(
    url: str, payload: dict, *, secret: str, event: str, delivery_id: str, timeout: float
) -> WebhookResult:
    """POST the payload as JSON with the signature headers; raise WebhookError unless 2xx."""
    body = encode(payload)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "helpdesk-webhooks/1",
        TIMESTAMP_HEADER: timestamp,
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - admin-set URL
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return WebhookResult(status=response.status)
    except urllib.error.HTTPError as exc:
        raise WebhookError(f"HTTP {exc.code} from {url}", status=exc.code) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise WebhookError(f"{url} unreachable: {exc}") from exc
