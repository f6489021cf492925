"""The Authentication-Results parser and verdict (tickets/channels/mail_auth.py): real servers' headers,
RFC 8601's syntax corners, and which header counts when there are several."""

from __future__ import annotations

import pytest

from tickets.channels import mail_auth
from tickets.channels.mail_auth import FAIL, NONE, PASS, aligned, parse, verdict

GMAIL = """mx.google.com;
       dkim=pass header.i=@acme.example header.s=20230601 header.b=Ab+Cd/Ef;
       arc=pass (i=1 spf=pass spfdomain=acme.example dkim=pass dkdomain=acme.example dmarc=pass fromdomain=acme.example);
       spf=pass (google.com: domain of jane@acme.example designates 209.85.220.41 as permitted sender) smtp.mailfrom=jane@acme.example;
       dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=acme.example"""  # noqa: E501 - as received

GMAIL_FORGED = """mx.google.com;
       spf=fail (google.com: domain of alex@help.example.com does not designate 198.51.100.7 as permitted sender) smtp.mailfrom=alex@help.example.com;
       dmarc=fail (p=REJECT sp=REJECT dis=QUARANTINE) header.from=help.example.com"""  # noqa: E501 - as received

M365 = """spf=pass (sender IP is 40.107.22.51)
 smtp.mailfrom=contoso.com; dkim=pass (signature was verified)
 header.d=contoso.com;dmarc=pass action=none header.from=contoso.com;compauth=pass
 reason=100"""

OPENDMARC = "mail.help.example.com; dmarc=fail (p=reject dis=none) header.from=help.example.com"
OPENDKIM = (
    "mail.help.example.com;\n\tdkim=pass (2048-bit key; unprotected) header.d=acme.example "
    'header.i=@acme.example header.a=rsa-sha256 header.s=mail header.b="x7/P=;q"'
)
POLICYD_SPF = (
    "mail.help.example.com; spf=softfail (domain owner discourages use of this host) "
    "smtp.mailfrom=acme.example"
)


@pytest.mark.parametrize(
    ("header", "authserv_id", "expected"),
    [
        (
            GMAIL,
            "mx.google.com",
            [
                (
                    "dkim",
                    "pass",
                    {"header.i": "@acme.example", "header.s": "20230601", "header.b": "Ab+Cd/Ef"},
                ),
                ("arc", "pass", {}),
                ("spf", "pass", {"smtp.mailfrom": "jane@acme.example"}),
                ("dmarc", "pass", {"header.from": "acme.example"}),
            ],
        ),
        (OPENDMARC, "mail.help.example.com", [("dmarc", "fail", {"header.from": "help.example.com"})]),
        (
            OPENDKIM,
            "mail.help.example.com",
            [
                (
                    "dkim",
                    "pass",
                    {
                        "header.d": "acme.example",
                        "header.i": "@acme.example",
                        "header.a": "rsa-sha256",
                        "header.s": "mail",
                        "header.b": "x7/P=;q",
                    },
                )
            ],
        ),
        (POLICYD_SPF, "mail.help.example.com", [("spf", "softfail", {"smtp.mailfrom": "acme.example"})]),
        # RFC 8601 §B: a version after the id, comments anywhere, CFWS around "=" and ".", a reason.
        (
            'example.com 1 (the server); (c) dkim/1 (ver) = (c) fail reason="bad (sig); x" '
            "header . d (c) = example.net",
            "example.com",
            [("dkim", "fail", {"reason": "bad (sig); x", "header.d": "example.net"})],
        ),
        ("example.org; none", "example.org", []),
        ('"quoted.example"; spf=pass', "quoted.example", [("spf", "pass", {})]),
        (
            "MX.Help.Example.COM.; DMARC=Pass header.from=Help.Example.COM",
            "mx.help.example.com",
            [("dmarc", "pass", {"header.from": "Help.Example.COM"})],
        ),
        ("mx.example; (((nested) comment) dkim=none) spf=none", "mx.example", [("spf", "none", {})]),
        ("mx.example; garbage; =; dmarc=", "mx.example", []),
    ],
)
def test_real_and_rfc_headers_parse(header, authserv_id, expected):
    parsed = parse(header)

    assert parsed.authserv_id == authserv_id
    assert [(info.method, info.result, info.properties) for info in parsed.results] == expected


@pytest.mark.parametrize("header", [M365, "", "   ", "; dmarc=pass", "(only a comment)"])
def test_a_header_without_an_authserv_id_is_nobodys(header):
    # Microsoft 365 writes its verdict without an authserv-id: it cannot be told from the sender's own.
    assert parse(header) is None
    assert verdict([header], trusted_ids=[""], from_domain="contoso.com") == mail_auth.Verdict()


@pytest.mark.parametrize(
    ("headers", "trusted", "from_domain", "result"),
    [
        ([GMAIL], ["mx.google.com"], "acme.example", PASS),
        ([GMAIL_FORGED], ["mx.google.com"], "help.example.com", FAIL),
        ([OPENDMARC], ["mail.help.example.com"], "help.example.com", FAIL),
        # No DMARC verdict: an aligned DKIM signature (a subdomain's too) or SPF pass is a pass ...
        ([OPENDKIM], ["mail.help.example.com"], "acme.example", PASS),
        ([OPENDKIM], ["mail.help.example.com"], "eu.acme.example", PASS),
        (["mx; spf=pass smtp.mailfrom=bounce@mail.acme.example"], ["mx"], "acme.example", PASS),
        # ... an unaligned one, a soft fail or a bare top-level domain is nothing.
        ([OPENDKIM], ["mail.help.example.com"], "help.example.com", NONE),
        (["mx; dkim=pass header.d=notacme.example"], ["mx"], "acme.example", NONE),
        (["mx; dkim=pass header.d=example"], ["mx"], "acme.example", NONE),
        ([POLICYD_SPF], ["mail.help.example.com"], "acme.example", NONE),
        (["mx; dmarc=none header.from=acme.example"], ["mx"], "acme.example", NONE),
        # A DMARC verdict about another From (a mail with two) says nothing about this one.
        (["mx; dmarc=pass header.from=evil.example"], ["mx"], "acme.example", NONE),
        # DMARC fail decides, whatever DKIM said of another domain.
        (
            ["mx; dkim=pass header.d=acme.example; dmarc=fail header.from=acme.example"],
            ["mx"],
            "acme.example",
            FAIL,
        ),
        # Nothing trusted at all.
        ([GMAIL], [], "acme.example", NONE),
        ([GMAIL], ["mx.example"], "acme.example", NONE),
    ],
)
def test_the_verdict(headers, trusted, from_domain, result):
    assert verdict(headers, trusted_ids=trusted, from_domain=from_domain).result == result


def test_only_the_topmost_header_of_a_trusted_server_counts():
    # The sender wrote the lower one, with our id, before our server added its own above the mail.
    ours = (
        "mx.help.example.com; spf=fail smtp.mailfrom=help.example.com; "
        "dmarc=fail header.from=help.example.com"
    )
    forged = (
        "mx.help.example.com; dkim=pass header.d=help.example.com; dmarc=pass header.from=help.example.com"
    )

    judged = verdict([ours, forged], trusted_ids=["mx.help.example.com"], from_domain="help.example.com")

    assert (judged.result, judged.methods) == (FAIL, {"dmarc": "fail", "spf": "fail"})
    assert judged.describe() == "fail by mx.help.example.com (dmarc=fail, spf=fail)"


def test_untrusted_servers_headers_are_skipped_wherever_they_are():
    relay = "relay.example; dmarc=pass header.from=help.example.com"
    ours = "mx.help.example.com; dmarc=fail header.from=help.example.com"

    judged = verdict(
        [relay, ours, relay], trusted_ids=["MX.help.example.com"], from_domain="help.example.com"
    )

    assert (judged.result, judged.authserv_id) == (FAIL, "mx.help.example.com")


def test_two_trusted_servers_each_count_with_their_topmost_header():
    gateway = "gw.help.example.com; dkim=none"
    mx = "mx.help.example.com; dmarc=pass header.from=acme.example"

    judged = verdict(
        [gateway, mx], trusted_ids=["mx.help.example.com", "gw.help.example.com"], from_domain="acme.example"
    )

    assert (judged.result, judged.authserv_id) == (PASS, "gw.help.example.com, mx.help.example.com")
    assert judged.describe() == "pass by gw.help.example.com, mx.help.example.com (dmarc=pass, dkim=none)"


def test_no_verdict_describes_itself():
    assert mail_auth.Verdict().describe() == "none (no Authentication-Results from a trusted server)"
    assert not mail_auth.Verdict().trusted


@pytest.mark.parametrize(
    ("domain", "from_domain", "expected"),
    [
        ("acme.example", "acme.example", True),
        ("mail.acme.example", "acme.example", True),
        ("acme.example", "eu.acme.example", True),
        ("notacme.example", "acme.example", False),
        ("example", "acme.example", False),
        ("", "acme.example", False),
    ],
)
def test_relaxed_alignment(domain, from_domain, expected):
    assert aligned(domain, from_domain) is expected
