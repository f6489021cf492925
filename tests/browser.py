"""What the browser tests share: Debian's Chromium driven by Playwright (sync API) against the live server.

A browser test module calls `skip_without_chromium()` before importing Playwright and uses the `browser`
fixture from tests/conftest.py. Without /usr/bin/chromium the module is skipped, except in CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test's thread; Django then refuses the test's own ORM
# calls ("async unsafe") unless told they are fine.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
IN_CI = os.environ.get("CI", "").lower() == "true"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
#: axe-core, pinned by tests/accessibility/package-lock.json and installed by `make test` (`npm ci`); the
#: accessibility checks inject it into pages opened with `bypass_csp=True`. AXE_CORE_JS points elsewhere.
AXE_JS = Path(
    os.environ.get("AXE_CORE_JS")
    or Path(__file__).resolve().parent / "accessibility" / "node_modules" / "axe-core" / "axe.min.js"
)


def skip_without_chromium() -> None:
    """Skip the calling module when Chromium is absent, unless in CI (where its absence is a failure)."""
    if not CHROMIUM.exists() and not IN_CI:
        pytest.skip(
            "browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
            allow_module_level=True,
        )


#: An init script for pages under a content security policy: collects each violation the browser reports
#: in `window.__cspViolations`, recorded before any page script runs.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || event.sample || ""));
});
"""
