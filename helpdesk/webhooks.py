"""Signed JSON webhooks, shared by SLA escalations and integration subscriptions.

A receiver checks `X-Helpdesk-Signature: sha256=<hex>` where hex is HMAC-SHA256(secret, "<timestamp>.<body>")
and `X-Helpdesk-Timestamp` is recent (replays older than a few minutes are refused by the receiver).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import secrets
import time
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder

from helpdesk import egress

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


def new_secret() -> str:
    """A fresh signing secret (256 random bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


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
    """POST the payload as JSON with the signature headers to an address helpdesk.egress allows; raise
    WebhookError unless the answer is 2xx. Redirects are not followed: a 3xx is a failure."""
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
    try:
        target = egress.resolve(url)
    except egress.EgressRefused as exc:
        raise WebhookError(f"Refused, not sent: {exc}") from exc
    except OSError as exc:
        raise WebhookError(f"{url} unreachable: the host did not resolve ({exc})") from exc
    status = _send(target, body, headers, timeout=timeout)
    if 200 <= status < 300:
        return WebhookResult(status=status)
    if 300 <= status < 400:
        raise WebhookError(f"HTTP {status} from {url} (redirects are not followed)", status=status)
    raise WebhookError(f"HTTP {status} from {url}", status=status)


def _send(target: egress.Target, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
    """The answer's status, from the first of the target's checked addresses that accepts a connection."""
    failure: OSError | None = None
    for address in target.addresses:
        connection = egress.open_connection(target, address, timeout=timeout)
        try:
            try:
                connection.connect()
            except OSError as exc:  # try the host's next address, as a browser would
                failure = exc
                continue
            try:
                connection.request("POST", target.path, body=body, headers=headers)
                # Only the status matters; the body is never read (a receiver could stream it forever).
                return connection.getresponse().status
            except (OSError, http.client.HTTPException) as exc:
                raise WebhookError(f"{target.host} unreachable: {exc}") from exc
        finally:
            connection.close()
    raise WebhookError(f"{target.host} unreachable: {failure}")
