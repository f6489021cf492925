"""Sender authentication: what the receiving mail server found out about a mail's From (RFC 8601).

A mail's From header is whatever its sender typed. Only the server that received the mail can check it
(SPF, DKIM, DMARC), and it writes what it found into an `Authentication-Results` header above the mail:

    Authentication-Results: mx.help.example.com; dkim=pass header.d=acme.example;
        spf=fail (sender IP is 192.0.2.1) smtp.mailfrom=acme.example; dmarc=pass header.from=acme.example

Anybody can write such a header into the mail they send, so a header counts only when its authserv-id
(the first word) is one the operator named as their own receiving server, and of those only the topmost
one per authserv-id: a receiving server adds its header above the mail it received (and RFC 8601 §5 has
it remove forged ones carrying its id), so a copy lower down was written by someone before it.
`Received-SPF` carries no authserv-id at all and is never read.

`verdict` reduces the trusted header(s) to one answer about the From domain:

- `pass`: DMARC passed for the From domain, or (no DMARC verdict) a DKIM signature or the SPF check
  passed for a domain aligned with it (the same domain, or one a subdomain of the other);
- `fail`: DMARC failed for the From domain;
- `none`: no trusted header, or nothing conclusive in it (the domain publishes no DMARC policy and
  nothing aligned passed).

Pure Python, no Django: the email channel decides what each answer allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

PASS = "pass"  # noqa: S105 - a verdict, not a password
FAIL = "fail"
NONE = "none"

#: The methods a verdict is built from, in the order they are shown.
METHODS = ("dmarc", "dkim", "spf")


@dataclass(frozen=True)
class ResultInfo:
    """One `method=result` of a header, with its properties (`header.from`, `smtp.mailfrom`, …)."""

    method: str
    result: str
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AuthenticationResults:
    """One parsed Authentication-Results header."""

    authserv_id: str
    results: tuple[ResultInfo, ...]


@dataclass(frozen=True)
class Verdict:
    """What the trusted receiving server(s) said about a mail's From domain."""

    result: str = NONE
    #: The trusted authserv-id(s) the verdict comes from; empty when no trusted header was found.
    authserv_id: str = ""
    #: Each method's result as the server wrote it, e.g. {"dmarc": "fail", "spf": "fail", "dkim": "none"}.
    methods: dict[str, str] = field(default_factory=dict)

    @property
    def trusted(self) -> bool:
        """Whether a trusted receiving server wrote anything about this mail at all."""
        return bool(self.authserv_id)

    def describe(self) -> str:
        """One line for the log and the console, e.g. `fail by mx.example.com (dmarc=fail, spf=fail)`."""
        if not self.trusted:
            return f"{self.result} (no Authentication-Results from a trusted server)"
        shown = ", ".join(f"{name}={self.methods[name]}" for name in METHODS if name in self.methods)
        return f"{self.result} by {self.authserv_id} ({shown or 'no results'})"


# --- Parsing ------------------------------------------------------------------------------------------

_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_TOKEN_RE = re.compile(r"[^\s;=]+")
_METHOD_RE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*(?:/\s*[0-9]+\s*)?=\s*([A-Za-z0-9_-]+)(.*)$", re.DOTALL)
_PROPERTY_RE = re.compile(
    r'([A-Za-z0-9_-]+)\s*(?:\.\s*([A-Za-z0-9_-]+))?\s*=\s*("(?:[^"\\]|\\.)*"|[^\s"]*)', re.DOTALL
)


def _without_comments(value: str) -> str:
    """`value` with its (nested) comments replaced by a space; quoted strings are kept whole (a `(`
    inside one opens no comment)."""
    out: list[str] = []
    depth = 0
    index = 0
    while index < len(value):
        char = value[index]
        if depth == 0 and char == '"':
            match = _QUOTED_RE.match(value, index)
            if match is None:  # an unclosed quote: the rest is its content
                out.append(value[index + 1 :])
                break
            out.append(match.group(0))
            index = match.end()
            continue
        if char == "\\" and depth:
            index += 2  # a quoted-pair inside a comment
            continue
        if char == "(":
            depth += 1
            out.append(" ")
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            out.append(char)
        index += 1
    return "".join(out)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _split(value: str) -> list[str]:
    """`value` split at the semicolons outside quoted strings."""
    pieces, current, index = [], [], 0
    while index < len(value):
        char = value[index]
        if char == '"':
            match = _QUOTED_RE.match(value, index)
            end = match.end() if match else len(value)
            current.append(value[index:end])
            index = end
            continue
        if char == ";":
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    pieces.append("".join(current))
    return pieces


def parse(value: str) -> AuthenticationResults | None:
    """One Authentication-Results header value, or None when it names no authserv-id (Microsoft 365
    writes its header without one, beginning with `spf=`: such a header cannot be told from a forgery)."""
    pieces = _split(_without_comments(value or ""))
    head = pieces[0].strip()
    if not head or "=" in head:
        return None
    tokens = head.split()
    authserv_id = _unquote(tokens[0]).strip().lower().rstrip(".")
    if not authserv_id:
        return None
    results = []
    for piece in pieces[1:]:
        info = _result_info(piece)
        if info is not None:
            results.append(info)
    return AuthenticationResults(authserv_id=authserv_id, results=tuple(results))


def _result_info(piece: str) -> ResultInfo | None:
    match = _METHOD_RE.match(piece)
    if match is None:
        return None  # `none` (no results), or damage: skipped, never guessed at
    method, result, rest = match.group(1).lower(), match.group(2).lower(), match.group(3)
    properties: dict[str, str] = {}
    for prop in _PROPERTY_RE.finditer(rest):
        ptype, name, raw = prop.group(1).lower(), (prop.group(2) or "").lower(), prop.group(3)
        key = f"{ptype}.{name}" if name else ptype
        properties.setdefault(key, _unquote(raw))
    return ResultInfo(method=method, result=result, properties=properties)


# --- The verdict --------------------------------------------------------------------------------------


def verdict(headers: Iterable[str], *, trusted_ids: Iterable[str], from_domain: str) -> Verdict:
    """The verdict of the topmost Authentication-Results header of each trusted authserv-id about
    `from_domain`. `headers` are the values in the mail's order, topmost first."""
    trusted = {name.strip().lower().rstrip(".") for name in trusted_ids if name.strip()}
    chosen: dict[str, AuthenticationResults] = {}
    for value in headers:
        parsed = parse(value)
        if parsed is not None and parsed.authserv_id in trusted and parsed.authserv_id not in chosen:
            chosen[parsed.authserv_id] = parsed
    if not chosen:
        return Verdict()
    results = [info for parsed in chosen.values() for info in parsed.results]
    methods: dict[str, str] = {}
    for info in results:
        methods.setdefault(info.method, info.result)
    return Verdict(
        result=_judge(results, from_domain.lower().rstrip(".")),
        authserv_id=", ".join(chosen),
        methods={name: methods[name] for name in METHODS if name in methods},
    )


def _judge(results: list[ResultInfo], from_domain: str) -> str:
    # The first DMARC result decides (the topmost server's; a second one can only be older news).
    dmarc = next((info for info in results if info.method == "dmarc"), None)
    if dmarc is not None:
        judged = _domain(dmarc.properties.get("header.from", from_domain))
        if judged != from_domain:
            return NONE  # a verdict about another From header (a mail with two) says nothing about this one
        if dmarc.result == PASS:
            return PASS
        if dmarc.result == FAIL:
            return FAIL
    for info in results:
        if info.result != PASS:
            continue
        if info.method == "dkim":
            signer = info.properties.get("header.d") or info.properties.get("header.i", "")
        elif info.method == "spf":
            signer = info.properties.get("smtp.mailfrom", "")
        else:
            continue
        if aligned(_domain(signer), from_domain):
            return PASS
    return NONE


def _domain(value: str) -> str:
    """The domain of `domain`, `user@domain` or `@domain`."""
    return value.rpartition("@")[2].strip().lower().rstrip(".")


def aligned(domain: str, from_domain: str) -> bool:
    """DMARC's relaxed alignment, without the public suffix list: the same domain, or one a subdomain
    of the other. A bare top-level domain (no dot) never aligns: nobody can sign for `com`."""
    if not domain or not from_domain or "." not in domain or "." not in from_domain:
        return False
    return domain == from_domain or from_domain.endswith(f".{domain}") or domain.endswith(f".{from_domain}")
