"""Portal-wide request handling: the customer's time zone, and the content security policies of every page
we serve (the portal, the public pages, the agent console, and the API's browsable pages and viewer)."""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib
import re
from pathlib import Path

from django.utils import timezone
from rest_framework.compat import pygments_css
from rest_framework.renderers import BrowsableAPIRenderer

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def page_policy(request) -> str:
    """CSP for this request's page: connections go to our own origin, the live-update WebSocket (wss://,
    or ws:// on plain HTTP) to the host the page was served from. Browsers that read CSP level 3 count
    ws(s) to the same host as 'self' already; older ones need it named."""
    host = request.get_host()  # validated against ALLOWED_HOSTS already
    sockets = f"wss://{host}" if request.is_secure() else f"ws://{host} wss://{host}"
    return CSP.replace("connect-src 'self'", f"connect-src 'self' {sockets}")


#: The template folders of the pages DRF and drf-spectacular render under /api/, whose inline styles (style
#: attributes of the browsable API, the <style> of the Swagger UI page) the API's policy allows.
_API_TEMPLATE_DIRS = (("rest_framework", "rest_framework"), ("drf_spectacular", "drf_spectacular"))
_STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"{}]*)"')
_STYLE_ELEMENT = re.compile(r"<style>(.*?)</style>", re.DOTALL)
_PORTAL_PREFIXES = ("/portal/", "/support/")
#: Pages under the same policy: the portal, the public pages and the agent console.
_POLICED_PREFIXES = (*_PORTAL_PREFIXES, "/admin/")


def _sha256(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


@functools.cache
def api_policy() -> str:
    """The policy of the pages under /api/: scripts from our origin only, as elsewhere (drf-spectacular's
    split view serves the Swagger UI's start-up script as a file); styles from our origin plus exactly the
    inline styles DRF's and drf-spectacular's templates carry (hashes; 'unsafe-hashes' for attributes),
    and the syntax-highlighting <style> the browsable API renders."""
    styles = set()
    for package, folder in _API_TEMPLATE_DIRS:
        # Read from the installed templates, never from a response: markup that slipped into a page
        # cannot allow itself.
        root = Path(importlib.import_module(package).__file__).parent / "templates" / folder
        for template in sorted(root.rglob("*.html")):
            source = template.read_text(encoding="utf-8")
            styles.update(_STYLE_ATTRIBUTE.findall(source))
            # A block with template code in it is not what the browser receives; none of the API's pages
            # has one except the browsable API's highlighting, added below.
            blocks = _STYLE_ELEMENT.findall(source)
            styles.update(block for block in blocks if "{{" not in block and "{%" not in block)
    code_style = pygments_css(BrowsableAPIRenderer.code_style)
    if code_style:
        styles.add(code_style)
    hashes = " ".join(sorted(_sha256(style) for style in styles))
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            f"style-src 'self' 'unsafe-hashes' {hashes}",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class ContentSecurityPolicyMiddleware:
    """The portal, the public pages and the agent console load scripts and styles from our own origin
    only (no inline code): stored markup that escaped escaping still could not run. The API's pages (the
    browsable API and the Swagger UI) have the same script policy; their styles see `api_policy`.

    Customers also see times in their organization's time zone: it is activated for their requests.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        portal = request.path.startswith(_PORTAL_PREFIXES)
        if portal:
            membership = (
                getattr(getattr(request, "user", None), "membership", None)
                if _authenticated(request)
                else None
            )
            if membership is not None:
                timezone.activate(membership.organization.zoneinfo)
        try:
            response = self.get_response(request)
        finally:
            if portal:
                timezone.deactivate()
        if request.path.startswith(_POLICED_PREFIXES):
            response.setdefault("Content-Security-Policy", page_policy(request))
        elif request.path.startswith("/api/"):
            response.setdefault("Content-Security-Policy", api_policy())
        return response


def _authenticated(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)
