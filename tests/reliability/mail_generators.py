"""Mails for fuzzing the email channel (tests/reliability/test_email_fuzz.py), as Hypothesis strategies.

- `generated_mails()`: structured MIME mails built here, with what their sender wrote in them: headers
  valid, missing, duplicated and garbage; RFC 2047 subjects valid and malformed; known, unknown, lying and
  undecodable charsets; base64, quoted-printable, 8bit and unknown transfer encodings, some broken; nested
  multiparts, some without a boundary or a closing one; attachments with odd names (RFC 2231, RFC 2047,
  path separators, NUL, very long); HTML with scripts; automatic-mail headers; huge lines.
- `mutated_fixtures()`: the real mails of tests/tickets/mail/ truncated, with bytes flipped or inserted
  (NUL, 8-bit, line breaks), lines duplicated or deleted, boundaries dropped, line ends changed, re-encoded.

Mails name the test's tickets by placeholders (`{{ticket}}`, `{{closed}}`, `{{message}}`), as the fixtures
do, so that generation does not depend on database ids.
"""

from __future__ import annotations

import base64
import html
import quopri
from dataclasses import dataclass, field
from email.header import Header
from pathlib import Path
from urllib.parse import quote

from hypothesis import strategies as st

MAIL_DIR = Path(__file__).resolve().parents[1] / "tickets" / "mail"
FIXTURES = {path.name: path.read_bytes() for path in sorted(MAIL_DIR.glob("*.eml"))}

# Strings of the HTML template that must never reach stored text: scripts, styles, handlers, comments.
HTML_ACTIVE = ("zqscriptzq", "zqstylezq", "zqonloadzq", "zqonerrorzq", "zqhrefzq", "zqcommentzq")
HTML_TEMPLATE = (
    "<html><head><title>t</title><style>p {{ color: red }} /* zqstylezq */</style>"
    "<script>document.write('zqscriptzq')</script></head>"
    "<body onload=\"alert('zqonloadzq')\"><p>{marker} {words}</p>"
    '<img src="x" onerror="zqonerrorzq"><a href="javascript:zqhrefzq()">link</a><!-- zqcommentzq -->'
    "</body></html>"
)
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x02\x08\x02\x00\x00\x00\xfd\xd4\x9as"
    b"\x00\x00\x00\x10IDATx\x9cc\xf8\xcf\xc0\x00\x04\x0c0\n\x00\x1f\xee\x03\xfd\x8b_\x14\xd4\x00\x00\x00"
    b"\x00IEND\xaeB`\x82"
)


# --- Strategies: headers -------------------------------------------------------------------------------

#: Characters of header text: anything but line breaks (those would end the header, which is not this
#: generator's business) and lone surrogates (not text).
HEADER_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\r\n")
NAME_CHARS = st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"))

#: Mostly the customer, so that most mails get as far as a ticket or a reply.
ADDRESSES = [
    "jane.doe@acme.example",
    "jane.doe@acme.example",
    "jane.doe@acme.example",
    "JANE.DOE@Acme.Example",
    "alex.agent@help.example.com",
    "sam@stranger.example",
    "support@help.example.com",
    "mailer-daemon@relay.example",
]
#: From values a reader cannot take a sender address from, or that are not what they seem.
GARBAGE_FROM = [
    b"",
    b"<>",
    b"undisclosed-recipients:;",
    b"@",
    b"jane.doe",
    b"Jane Doe <jane.doe@acme.example",
    b'"Jane <jane.doe@acme.example>',
    b"jane.doe@acme.example, sam@stranger.example",
    b"=?utf-8?B?AA==?= <jane.doe@acme.example>",
    b"j\xe9@acme.example",
    b"\xff\xfe<jane.doe@acme.example>",
    b"jane.doe@acme.example\x00",
    b"<<jane.doe@acme.example>>",
    b"Jane (unclosed comment <jane.doe@acme.example>",
    b"jane.doe@[127.0.0.1]",
    b'"" <@acme.example>',
    b"jane doe@acme.example",
    b"=?utf-8?Q?=E2=80?= <sam@stranger.example>",
    b"x" * 5000,
]
ENCODED_WORDS = [
    "=?utf-8?B?SGVsbG8gd29ybGQ=?=",
    "=?utf-8?Q?Caf=C3=A9_cr=C3=A8me?=",
    "=?iso-8859-1?q?caf=E9?=",
    "=?utf-8?B?w6k=?= =?utf-8?B?w6k=?=",
    "=?utf-8?B?4oA=?==?utf-8?B?lA==?=",  # one character split over two words
    "=?utf-8?B?SGVsbG8?=",  # bad padding
    "=?utf-8?B?!!!!?=",
    "=?utf-8?Q?=ZZ?=",
    "=?x-unknown-charset?Q?abc?=",
    "=?utf-8?X?abc?=",
    "=?utf-8?B?",
    "=??B?abc?=",
    "=?utf-8*en?Q?abc?=",
    "=?utf-8?B?AA==?=",  # NUL
    "=?utf-8?B?/w==?=",  # not UTF-8
    "=?utf-16?B?2D0=?=",  # half a surrogate pair
    "=?utf-8?Q?" + "a" * 2000 + "?=",
]
SUBJECT_WORDS = st.one_of(
    st.text(HEADER_CHARS, max_size=40),
    st.sampled_from(ENCODED_WORDS),
    st.text(NAME_CHARS, min_size=1, max_size=40).map(lambda text: Header(text, "utf-8").encode()),
    st.sampled_from(["Re:", "AW: Fwd:", "RE[2]:"]),
    st.just("x" * 3000),
)
#: Our reference tags: a ticket the sender may answer, a closed one, one that does not exist.
TAGS = [
    "[HD-{{ticket}}]",
    "[HD-{{ticket}}]",
    "[ hd-{{ticket}} ]",
    "[HD-{{closed}}]",
    "[HD-999999999999999999]",
]
SUBJECTS = st.tuples(
    st.sampled_from(["", "", "Re: ", *(f"Re: {tag} " for tag in TAGS)]), st.lists(SUBJECT_WORDS, max_size=4)
).map(lambda parts: (parts[0] + " ".join(parts[1])).encode())
MESSAGE_IDS = st.one_of(
    st.integers(0, 3).map(lambda n: f"<fuzz-{n}@mail.acme.example>".encode()),
    st.sampled_from(
        [
            b"",
            b"<>",
            b"no-brackets@mail.acme.example",
            b"<a@mail.acme.example> <b@mail.acme.example>",
            b"<" + b"x" * 300 + b"@mail.acme.example>",
            b"<\xe9\xff@mail.acme.example>",
            b"<a\x00b@mail.acme.example>",
            b"<ticket-{{ticket}}@help.example.com>",
            b"=?utf-8?B?PGFAYj4=?=",
        ]
    ),
)
THREAD_IDS = st.sampled_from(
    [
        b"<ticket-{{ticket}}@help.example.com>",
        b"<ticket-{{ticket}}.reply.{{message}}@help.example.com>",
        b"<ticket-{{closed}}@help.example.com>",
        b"<ticket-{{ticket}}@evil.example>",
        b"<ticket-999999999999999999@help.example.com>",
        b"<ticket-" + b"9" * 40 + b"@help.example.com>",
        b"<fuzz-0@mail.acme.example>",
        b"<<<",
        b"\xff\x00",
    ]
)
DATES = st.sampled_from(
    [b"Mon, 02 Mar 2026 08:41:09 -0800", b"yesterday", b"Mon, 32 Foo 99999 25:61:61 +9999", b"", b"\xff"]
)
#: Headers that mark (or, with "no" and "list", do not mark) automatic mail; most mails have none.
AUTOMATIC = st.sampled_from(
    [[]] * 24
    + [
        [header]
        for header in (
            b"Auto-Submitted: auto-replied",
            b"Auto-Submitted: no",
            b"Precedence: bulk",
            b"Precedence: list",
            b"X-Autoreply: yes",
            b"X-Autoreply: no",
            b"Return-Path: <>",
            b"Auto-Submitted: =?utf-8?B?AA==?=",
        )
    ]
)
#: The receiving server's verdict on the sender (tests/reliability/test_email_fuzz.py trusts
#: `mx.help.example.com`): (the headers, whether the verdict is a trusted DMARC pass). Mostly a pass, as
#: from a server that checks, so that most mails get past the sender authentication.
AUTH_RESULTS = st.sampled_from(
    [([b"Authentication-Results: mx.help.example.com; spf=pass smtp.mailfrom=x; dmarc=pass"], True)] * 6
    + [
        ([b"Authentication-Results: mx.help.example.com; spf=fail; dkim=none; dmarc=fail"], False),
        ([b"Authentication-Results: mx.attacker.example; dmarc=pass"], False),
        ([b"Authentication-Results: =?utf-8?B?AA==?=; dmarc=pass"], False),
        ([b"Authentication-Results: mx.help.example.com (unclosed; dmarc=pass"], False),
        ([], False),
    ]
)
EXTRA_HEADERS = st.one_of(
    st.integers(1000, 30000).map(lambda n: b"X-Long: " + b"y" * n),
    st.sampled_from([b"X-Null: a\x00b", b"X-Eight-Bit: \xff\xfe\xe9", b"Received: from relay\n\tby mx; x"]),
    st.text(HEADER_CHARS, max_size=60).map(lambda text: b"X-Text: " + text.encode("utf-8")),
)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


@st.composite
def from_values(draw) -> tuple[bytes, bool]:
    """A From value, and whether a reader can take the sender's address from it."""
    address = draw(st.sampled_from(ADDRESSES))
    name = draw(st.text(NAME_CHARS, max_size=30))
    return draw(
        st.sampled_from(
            [
                (address.encode(), True),
                (f'"{_quoted(name)}" <{address}>'.encode(), True),
                (f"{Header(name or 'x', 'utf-8').encode()} <{address}>".encode(), True),
                (f"{address} (a comment)".encode(), True),
                (draw(st.sampled_from(GARBAGE_FROM)), False),
            ]
        )
    )


@st.composite
def header_values(draw, name: bytes, values, usually: int = 1) -> list[bytes]:
    """`name` `usually` times (0 or 1), else missing, once or twice (readers take the first)."""
    return [name + b": " + draw(values) for _ in range(draw(st.sampled_from([usually] * 3 + [0, 1, 2])))]


# --- Strategies: MIME parts ----------------------------------------------------------------------------


@dataclass
class Part:
    """A generated MIME part and what its sender put in it."""

    headers: list[bytes]
    body: bytes = b""
    marker: str = ""  # a text part's unique word, found in the stored text if nothing was lost
    is_file: bool = False
    subtype: str = ""  # a multipart's
    children: list[Part] = field(default_factory=list)
    intact: bool = True

    def render(self) -> bytes:
        return b"\n".join(self.headers) + b"\n\n" + self.body

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def written(self, haystack: str) -> bool:
        """Whether what the sender wrote in this part is in `haystack` (one version of an alternative)."""
        if self.marker:
            return self.marker in haystack
        if self.subtype == "alternative":
            return any(child.written(haystack) for child in self.children)
        return all(child.written(haystack) for child in self.children)


#: Charsets as declared; unknown ones and ones the text cannot be written in are sent as UTF-8 (a lie
#: mailers tell). All are ASCII-compatible but UTF-16, which is sent truthfully and in base64 only.
CHARSETS = [
    "utf-8",
    "UTF-8",
    "utf8",
    "us-ascii",
    "iso-8859-1",
    "windows-1252",
    "koi8-r",
    "shift_jis",
    "utf-7",
    "utf-16",
    "x-unknown-charset",
    "",
    # Names Python's codecs take badly: a NUL, codecs that only decode strictly, a str-to-str codec.
    "utf-8\x00",
    "idna",
    "undefined",
    "rot13",
    "unicode_escape",
]
TEXT_ENCODINGS = [
    "7bit",
    "8bit",
    "binary",
    "base64",
    "BASE64",
    "quoted-printable",
    "Quoted-Printable",
    "x-uuencode",
    "x-unknown",
    "",
]
BODY_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=200),
    st.integers(2000, 40000).map(lambda n: "w" * n),  # a huge line
)


def _transfer_encode(data: bytes, encoding: str) -> bytes:
    if encoding.lower() == "base64":
        return base64.encodebytes(data)
    if encoding.lower() == "quoted-printable":
        return quopri.encodestring(data)
    return data


def _encode_text(text: str, charset: str) -> bytes:
    try:
        return text.encode(charset or "us-ascii")
    except (LookupError, ValueError):
        return text.encode("utf-8")


def _text_part(draw, markers: list[str]) -> Part:
    marker = f"zqm{len(markers)}zq"
    markers.append(marker)
    words = draw(BODY_TEXT)
    subtype = draw(st.sampled_from(["plain", "plain", "html"]))
    text = (
        HTML_TEMPLATE.format(marker=marker, words=html.escape(words))
        if subtype == "html"
        else f"{marker} {words}"
    )
    charset = draw(st.sampled_from(CHARSETS))
    encoding = "base64" if charset == "utf-16" else draw(st.sampled_from(TEXT_ENCODINGS))
    body = _transfer_encode(_encode_text(text, charset), encoding)
    damage = draw(st.sampled_from(["", "", "", "", "", "nul", "cut", "junk"]))
    if damage == "nul":
        body = body[: len(body) // 2] + b"\x00" + body[len(body) // 2 :]
    elif damage == "cut":
        body = body[: len(body) * 2 // 3]
    elif damage == "junk":
        body = body[: len(body) // 2] + b"!*=Z~\xff" + body[len(body) // 2 :]
    headers = [
        b"Content-Type: text/" + subtype.encode() + (f'; charset="{charset}"'.encode() if charset else b"")
    ]
    if encoding:
        headers.append(b"Content-Transfer-Encoding: " + encoding.encode())
    if draw(st.booleans()):
        headers.append(b"Content-Disposition: inline")
    return Part(headers=headers, body=body, marker=marker, intact=not damage)


FILENAMES = st.one_of(
    st.sampled_from(
        [
            "report.pdf",
            "screenshot.png",
            "../../etc/passwd",
            "..\\..\\Windows\\system32\\evil.exe",
            "C:\\Users\\jane\\log.txt",
            "/absolute/path.png",
            "a\x00b.png",
            "x" * 300 + ".png",
            "résumé–final.pdf",
            "日本語のファイル.txt",
            "",
            ".",
            "..",
            " ",
            "<script>alert(1)</script>.png",
            'quote".png',
            "😀.png",
            "a/b/c.png",
            "file\nname.txt",
        ]
    ),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
)
#: (content type, content) of attached files: accepted, refused, empty.
FILE_CONTENTS = st.one_of(
    st.sampled_from(
        [
            ("image/png", PNG),
            ("application/pdf", b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"),
            ("text/plain", b"12:00:01 ERROR sync failed\n"),
            ("text/html", b"<html><script>alert(1)</script></html>"),
            ("image/svg+xml", b"<svg onload='alert(1)'/>"),
            ("application/octet-stream", b""),
            ("message/rfc822", FIXTURES["plain.eml"]),
        ]
    ),
    st.binary(max_size=300).map(lambda data: ("application/octet-stream", data)),
)


#: RFC 2231 names in a charset Python's codecs cannot decode with replacement: the part cannot be read.
UNDECODABLE = [b"filename*=utf-8\x00''a.pdf", b"filename*=idna''%FF.pdf", b"filename*=punycode''%FF%FE"]


def _filename_param(draw, name: str) -> bytes:
    line_safe = name.replace("\r", " ").replace("\n", " ")
    style = draw(
        st.sampled_from(["quoted", "rfc2231", "rfc2231-split", "rfc2047", "latin-1", "bogus", "undecodable"])
    )
    if style == "undecodable":
        return draw(st.sampled_from(UNDECODABLE))
    if style == "quoted":
        return f'filename="{_quoted(line_safe)}"'.encode()
    if style == "rfc2231":
        return b"filename*=utf-8''" + quote(name.encode(), safe="").encode()
    if style == "rfc2231-split":
        encoded = quote(name.encode(), safe="")
        half = len(encoded) // 2
        return f"filename*0*=utf-8''{encoded[:half]}; filename*1*={encoded[half:]}".encode()
    if style == "rfc2047":
        return f'filename="{Header(line_safe or "x", "utf-8").encode(maxlinelen=10000)}"'.encode()
    if style == "latin-1":
        return f'filename="{_quoted(line_safe)}"'.encode("latin-1", "replace")
    return draw(st.sampled_from([b"filename*=x-bogus''%FF%FE%00", b"filename*=utf-8'%E2", b'filename="open']))


def _file_part(draw) -> Part:
    content_type, data = draw(FILE_CONTENTS)
    disposition = b"attachment"
    if not content_type.startswith(("text/", "message/")):
        # An inline image (multipart/related) is a file too; a text part is one only when attached.
        disposition = draw(st.sampled_from([b"attachment", b"inline", b""]))
    if draw(st.booleans()):
        disposition += b"; " + _filename_param(draw, draw(FILENAMES))
    readable = not any(param in disposition for param in UNDECODABLE)
    headers = [b"Content-Type: " + content_type.encode()]
    if disposition:
        headers.append(b"Content-Disposition: " + disposition.lstrip(b"; "))
    if content_type == "message/rfc822":
        body = data
    else:
        headers.append(b"Content-Transfer-Encoding: base64")
        body = base64.encodebytes(data)
    return Part(headers=headers, body=body, is_file=True, intact=readable)


def _multipart(draw, depth: int, markers: list[str]) -> Part:
    subtype = draw(st.sampled_from(["mixed", "mixed", "alternative", "related", "signed"]))
    children = [_part(draw, depth + 1, markers) for _ in range(draw(st.integers(1, 3)))]
    boundary = f"=_fuzz.{depth}_boundary".encode()
    damage = draw(st.sampled_from(["", "", "", "", "", "", "no-close", "no-boundary", "other-boundary"]))
    separator = b"=_elsewhere" if damage == "other-boundary" else boundary
    body = draw(st.sampled_from([b"", b"This is a multi-part message in MIME format.\n"]))
    for child in children:
        body += b"--" + separator + b"\n" + child.render() + b"\n"
    if damage != "no-close":
        body += b"--" + separator + b"--\n" + draw(st.sampled_from([b"", b"epilogue \xff\n"]))
    content_type = b"Content-Type: multipart/" + subtype.encode()
    if damage != "no-boundary":
        content_type += b'; boundary="' + boundary + b'"'
    return Part(headers=[content_type], body=body, subtype=subtype, children=children, intact=not damage)


def _part(draw, depth: int, markers: list[str]) -> Part:
    kinds = ["text", "text", "file", "multipart"] if depth < 3 else ["text", "file"]
    kind = draw(st.sampled_from(kinds))
    if kind == "text":
        return _text_part(draw, markers)
    if kind == "file":
        return _file_part(draw)
    return _multipart(draw, depth, markers)


@dataclass
class GeneratedMail:
    raw: bytes  # with {{ticket}}-style placeholders for `World.fill`
    root: Part
    sender_readable: bool
    #: Whether the mail carries the trusted server's DMARC pass (else its sender may be held).
    authenticated: bool = False

    @property
    def intact(self) -> bool:
        return all(part.intact for part in self.root.walk())

    @property
    def files(self) -> int:
        return sum(part.is_file for part in self.root.walk())


@st.composite
def generated_mails(draw) -> GeneratedMail:
    sender, readable = draw(from_values())
    froms = [b"From: " + sender] * draw(st.sampled_from([1, 1, 1, 1, 2]))
    if not draw(st.integers(0, 15)):
        froms, readable = [], False
    auth_results, authenticated = draw(AUTH_RESULTS)
    headers = [
        *auth_results,
        *froms,
        b"To: Acme Helpdesk <support@help.example.com>",
        *draw(header_values(b"Subject", SUBJECTS)),
        *draw(header_values(b"Date", DATES)),
        *draw(header_values(b"Message-ID", MESSAGE_IDS)),
        *draw(header_values(b"Reply-To", from_values().map(lambda value: value[0]), usually=0)),
        *draw(header_values(b"In-Reply-To", st.lists(THREAD_IDS, max_size=2).map(b" ".join), usually=0)),
        *draw(header_values(b"References", st.lists(THREAD_IDS, max_size=4).map(b" ".join), usually=0)),
        *draw(AUTOMATIC),
        *draw(st.lists(EXTRA_HEADERS, max_size=2)),
    ]
    headers = draw(st.permutations(headers))
    if draw(st.booleans()):
        headers.append(b"MIME-Version: 1.0")
    markers: list[str] = []
    root = _part(draw, 0, markers)
    raw = b"\n".join(headers + root.headers) + b"\n\n" + root.body
    if draw(st.booleans()):
        raw = raw.replace(b"\n", b"\r\n")
    return GeneratedMail(raw=raw, root=root, sender_readable=readable, authenticated=authenticated)


# --- Strategies: mutated fixtures ----------------------------------------------------------------------

POSITIONS = st.integers(0, 1 << 16)
INSERTIONS = st.one_of(
    st.sampled_from([b"\x00", b"\xff", b"\xe9", b"\r", b"\n", b"\n\n", b"--", b"=?utf-8?B?", b"\x1b", b": "]),
    st.binary(min_size=1, max_size=8),
)
MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), POSITIONS),
    st.tuples(st.just("flip"), POSITIONS, st.integers(0, 255)),
    st.tuples(st.just("insert"), POSITIONS, INSERTIONS),
    st.tuples(st.just("duplicate line"), POSITIONS),
    st.tuples(st.just("delete line"), POSITIONS),
    st.tuples(st.just("drop boundaries")),
    st.tuples(st.just("crlf")),
    st.tuples(st.just("latin-1")),
)


def mutate(data: bytes, mutation: tuple) -> bytes:
    kind, *args = mutation
    if kind == "truncate":
        return data[: args[0] % (len(data) + 1)]
    if kind == "flip" and data:
        at = args[0] % len(data)
        return data[:at] + bytes([args[1]]) + data[at + 1 :]
    if kind == "insert":
        at = args[0] % (len(data) + 1)
        return data[:at] + args[1] + data[at:]
    if kind in ("duplicate line", "delete line"):
        lines = data.split(b"\n")
        at = args[0] % len(lines)
        lines[at : at + 1] = [lines[at]] * (2 if kind == "duplicate line" else 0)
        return b"\n".join(lines)
    if kind == "drop boundaries":
        return b"\n".join(line for line in data.split(b"\n") if not line.startswith(b"--"))
    if kind == "crlf":
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if kind == "latin-1":
        return data.decode("utf-8", "replace").encode("latin-1", "replace")
    return data


@st.composite
def mutated_fixtures(draw) -> bytes:
    data = FIXTURES[draw(st.sampled_from(sorted(FIXTURES)))]
    for mutation in draw(st.lists(MUTATIONS, min_size=1, max_size=4)):
        data = mutate(data, mutation)
    return data
