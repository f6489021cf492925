"""Where the helpdesk may send requests of its own: the guard against server-side request forgery.

Outgoing webhooks (integrations' subscriptions and the on-call contacts) POST to URLs that customers' tokens
and agents choose. Left alone, such a URL reaches what only the server can reach: the loopback interface, the
private network, a cloud's metadata service at 169.254.169.254. Every such request goes through here:

- `check_url` (at save: forms, serializers, model `clean`) refuses a URL that is not plain `http`/`https`,
  carries credentials, or names a host that resolves to an address the helpdesk must not contact.
- `resolve` (at every delivery) resolves the host once, checks every address, and returns them; the caller
  connects to one of those addresses (`open_connection`), never to the name again, so a DNS answer that
  changes between the check and the connection (rebinding) cannot redirect the request. The request keeps
  the name in its Host header and, for https, in TLS SNI and certificate verification.

Refused, whatever the settings: link-local (169.254/16, fe80::/10, where cloud metadata lives), multicast,
unspecified (0.0.0.0, ::), reserved and other non-routable special ranges. Refused unless
`WEBHOOK_ALLOW_PRIVATE_NETWORKS` is true (on-premises receivers): loopback, RFC 1918, CGNAT (100.64/10) and
IPv6 unique-local addresses. An IPv6 address that embeds an IPv4 one (IPv4-mapped, NAT64, 6to4, Teredo) is
judged by the IPv4 address it leads to.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

# The well-known NAT64 prefix (RFC 6052) and the local-use one (RFC 8215): the last 32 bits are an IPv4
# address that a NAT64 gateway connects to.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
# Carrier-grade NAT (RFC 6598): neither "private" nor "global" to the ipaddress module.
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
# One label of a legacy IPv4 spelling as inet_aton reads it: decimal, octal (leading 0) or hex (0x).
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


class EgressRefused(Exception):
    """The URL or one of the addresses its host resolves to may not be contacted."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (`addresses`, each checked) and what to ask for."""

    scheme: str
    host: str  # for the Host header, SNI and the certificate (no trailing dot, IDNA-encoded)
    port: int
    path: str  # path and query string, never empty
    addresses: tuple[IPAddress, ...]


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [info[4][0] for info in infos]


#: How host names become addresses: (host, port) -> address strings, raising OSError when the name does
#: not resolve. Tests replace it so that no test ever asks a real DNS server.
resolver: Callable[[str, int], list[str]] = _system_resolver


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why `address` may not be contacted, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:  # the packets end up at the IPv4 address
            return refusal(embedded, allow_private=allow_private)
        if address.is_site_local:  # fec0::/10, deprecated but still routed inside some networks
            return None if allow_private else "a private address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_loopback:
        return None if allow_private else "a loopback address"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return None if allow_private else "a private (shared, CGNAT) address"
    if address.is_private and _is_private_network(address):
        return None if allow_private else "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


def _is_private_network(address: IPAddress) -> bool:
    """RFC 1918 and IPv6 unique-local: the ranges an on-premises receiver may use. (The ipaddress module's
    `is_private` also covers documentation and benchmarking ranges, which are refused as reserved.)"""
    networks = (
        ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
        if isinstance(address, ipaddress.IPv4Address)
        else ("fc00::/7",)
    )
    return any(address in ipaddress.ip_network(network) for network in networks)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's address (the server part is public by construction)
    return None


def numeric_host(host: str) -> IPAddress | None:
    """The address a numeric host stands for, in any spelling a C library accepts: dotted quad, IPv6, and
    the legacy forms `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`. None for a host name."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 zone id does not change the address
    except ValueError:
        pass
    labels = host.split(".")
    if not 1 <= len(labels) <= 4 or not all(_NUMERIC_LABEL.match(label) for label in labels):
        return None
    values = []
    for label in labels:
        if label.startswith("0x"):
            values.append(int(label[2:] or "0", 16))
        elif len(label) > 1 and label.startswith("0"):
            if not set(label) <= set("01234567"):
                raise EgressRefused("The host is not a valid address.")
            values.append(int(label, 8))
        else:
            values.append(int(label))
    *leading, last = values
    if any(value > 255 for value in leading) or last >= 256 ** (5 - len(values)):
        raise EgressRefused("The host is not a valid address.")
    number = last
    for index, value in enumerate(leading):
        number |= value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a URL the helpdesk may send to, before any name is resolved."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise EgressRefused("The URL is not valid.") from error
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise EgressRefused("Only http and https URLs are allowed.")
    if parts.username is not None or parts.password is not None:
        raise EgressRefused("The URL may not contain a user name or password.")
    host = (parts.hostname or "").rstrip(".")  # "localhost." is localhost
    if not host:
        raise EgressRefused("The URL has no host.")
    if numeric_host(host) is None:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as error:
            raise EgressRefused("The host name is not valid.") from error
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, host, port or DEFAULT_PORTS[scheme], path


def resolve(url: str, *, allow_private: bool | None = None) -> Target:
    """Parse `url`, resolve its host once and check every address. Raises EgressRefused if the URL or any
    address is refused, and OSError if the host does not resolve."""
    if allow_private is None:
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS
    scheme, host, port, path = parse(url)
    literal = numeric_host(host)
    if literal is not None:
        addresses = [literal]
    else:
        addresses = []
        for text in resolver(host, port):
            address = numeric_host(text)
            if address is None:
                raise EgressRefused("The host resolved to something that is not an address.")
            addresses.append(address)
        if not addresses:
            raise OSError(f"{host} did not resolve")
    for address in addresses:
        # One refused address refuses the host: a name that resolves to a public and a private address
        # must not reach the private one on a retry or a fallback.
        reason = refusal(address, allow_private=allow_private)
        if reason is not None:
            raise EgressRefused(f"The host resolves to {reason}, which the helpdesk does not contact.")
    return Target(scheme, host, port, path, tuple(dict.fromkeys(addresses)))


def check_url(url: str) -> None:
    """Validate a URL as it is saved: raise django's ValidationError if the helpdesk may not send to it.
    A name that does not resolve yet is accepted (its receiver may not be in DNS yet); every delivery
    checks again."""
    try:
        resolve(url)
    except EgressRefused as error:
        raise ValidationError(str(error), code="egress_refused") from error
    except OSError:
        pass


# --- connecting to a checked address -------------------------------------------------------------


def tls_context() -> ssl.SSLContext:
    """Certificates verified against the system's trust store, for the URL's host name."""
    return ssl.create_default_context()


def open_socket(address: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to a checked address (the one place outgoing webhooks open sockets)."""
    return socket.create_connection((address, port), timeout)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Talks to `host` (Host header) at an address that was checked, not at whatever `host` resolves to
    by the time it connects."""

    def __init__(self, host: str, port: int, *, address: IPAddress, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = str(address)

    def connect(self) -> None:
        self.sock = open_socket(self._address, self.port, self.timeout)
        with contextlib.suppress(OSError):  # as http.client does: not every socket supports it
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As `_PinnedHTTPConnection`, with TLS: SNI and certificate verification for `host`."""

    def __init__(self, host: str, port: int, *, address: IPAddress, timeout: float):
        super().__init__(host, port, timeout=timeout, context=tls_context())
        self._address = str(address)

    def connect(self) -> None:
        sock = open_socket(self._address, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def open_connection(target: Target, address: IPAddress, *, timeout: float) -> http.client.HTTPConnection:
    """An unconnected HTTP(S) connection to `address` (one of `target.addresses`) for `target.host`. It
    never follows redirects: http.client returns a 3xx like any other answer."""
    if address not in target.addresses:
        raise EgressRefused("Not an address that was checked.")
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    return kind(target.host, target.port, address=address, timeout=timeout)
