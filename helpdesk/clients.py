"""Who is asking: the client's address, as far as the proxies in front of us can be trusted.

Every per-address limit (sign-in lockouts, the API throttles, password-reset counters) asks `client_ip`,
so they all agree on who a client is. Behind TRUSTED_PROXY_COUNT proxies, each appending the address it
saw to X-Forwarded-For, the client is the entry that many places from the right: the entries further left
are whatever the client chose to send. With no trusted proxy the header is never read.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind trusted proxies their X-Forwarded-For entry.

    As DRF's throttles did: a header with fewer entries than proxies gives its leftmost (the address the
    outermost proxy we have saw). A trusted entry that is no address at all (a misconfigured proxy) falls
    back to REMOTE_ADDR rather than storing garbage in a lockout row.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    entries = [entry.strip() for entry in forwarded.split(",")]
    candidate = entries[-min(proxies, len(entries))]
    return _address(candidate) or remote


def _address(value: str) -> str | None:
    """`value` as a normalised IP address; proxies may add a port ("[2001:db8::1]:443", "192.0.2.1:80")."""
    value = value.strip()
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
