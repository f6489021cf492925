"""Production settings, as a deployment runs them: each check is a fresh Python process whose environment
is production's (DEBUG off, a SECRET_KEY, ALLOWED_HOSTS=helpdesk.example.com, and no PYTEST_VERSION, so
`helpdesk/settings.py` does not know it is under test).

- `manage.py check --deploy --fail-level WARNING` finds nothing, and does fail on a weak SECRET_KEY.
- Without SECRET_KEY the settings refuse to load, saying what to set.
- Requests made with Django's test client inside such a process (reported back as JSON) show the HTTP to
  HTTPS redirect, the security headers over HTTPS (HSTS, nosniff, Referrer-Policy, X-Frame-Options DENY,
  Cross-Origin-Opener-Policy, the portal's CSP) and, after a real sign-in through the portal's form with
  CSRF checks on, Secure cookies: the session's HttpOnly, both SameSite=Lax.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import global_settings
from django.db import connection

from tests.factories import PASSWORD, CustomerFactory

ROOT = Path(__file__).resolve().parents[2]
HOST = "helpdesk.example.com"
SECRET = "production-test-" + "k3y-" * 12


def production_env(**overrides: str) -> dict[str, str]:
    """This process's environment minus everything that says "test", plus production's settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTEST_", "DJANGO_"))
        and name not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")
    }
    env |= {"DJANGO_SETTINGS_MODULE": "helpdesk.settings", "DEBUG": "false", "SECRET_KEY": SECRET}
    env |= {"ALLOWED_HOSTS": HOST}
    env |= overrides
    return {name: value for name, value in env.items() if value is not None}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_check_deploy_finds_nothing_with_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    # W021 (asking browsers to preload HSTS) is the operator's decision: silenced, nothing else.
    assert "System check identified no issues (1 silenced)." in result.stdout


def test_check_deploy_does_fail_on_a_weak_secret_key():
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(SECRET_KEY="short")
    )
    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_the_settings_refuse_to_start_without_a_secret_key():
    env = production_env()
    del env["SECRET_KEY"]
    result = run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert (
        "django.core.exceptions.ImproperlyConfigured: SECRET_KEY is not set. Set the SECRET_KEY environment "
        "variable (or DEBUG=true for local development)." in result.stderr
    )


#: Runs in the production process: requests through Django's test client, answered as JSON on stdout.
CLIENT_SCRIPT = """
import json, sys
import django
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import override_settings

username, password, host = sys.argv[1:4]

def cookie(morsel):
    return {"secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"]),
            "samesite": morsel["samesite"]}

def headers(response):
    return {name: response.headers.get(name) for name in (
        "Strict-Transport-Security", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options",
        "Cross-Origin-Opener-Policy", "Content-Security-Policy", "Location")}

report = {"debug": settings.DEBUG, "static_storage": settings.STORAGES["staticfiles"]["BACKEND"]}
# Pages link their static files through the manifest that the image's collectstatic writes; this process
# has none, so only for these requests static files are named as they are in the source tree.
with override_settings(STORAGES={**settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}):
    browser = Client(enforce_csrf_checks=True, HTTP_HOST=host)
    plain = browser.get("/portal/login/")
    report["http"] = {"status": plain.status_code, **headers(plain)}
    proxied = browser.get("/portal/login/", HTTP_X_FORWARDED_PROTO="https")
    report["behind_proxy"] = {"status": proxied.status_code}
    login = browser.get("/portal/login/", secure=True)
    report["login_page"] = {"status": login.status_code, **headers(login)}
    report["csrf_cookie"] = cookie(browser.cookies["csrftoken"])
    signed_in = browser.post(
        "/portal/login/",
        {"username": username, "password": password,
         "csrfmiddlewaretoken": browser.cookies["csrftoken"].value},
        secure=True, HTTP_REFERER=f"https://{host}/portal/login/",
    )
    report["sign_in"] = {"status": signed_in.status_code, **headers(signed_in)}
    report["session_cookie"] = cookie(browser.cookies["sessionid"])
    tickets = browser.get("/portal/", secure=True)
    report["my_tickets"] = {"status": tickets.status_code, **headers(tickets)}
    console = Client(HTTP_HOST=host).get("/admin/login/", secure=True)
    report["console_login"] = {"status": console.status_code, **headers(console)}
print(json.dumps(report))
"""


@pytest.fixture
def production_report(transactional_db, settings, tmp_path):
    """What the production process saw; the customer is committed so that it can sign in. On SQLite the
    test database lives in this process's memory: the production process gets a copy of it in a file."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # production's hashers must read it
    customer = CustomerFactory()
    database = connection.settings_dict
    if database["ENGINE"] == "django.db.backends.postgresql":
        login = quote(database["USER"]) + (f":{quote(database['PASSWORD'])}" if database["PASSWORD"] else "")
        server = f"{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
        url = f"postgres://{login}@{server}/{database['NAME']}"
    else:
        copy = tmp_path / "production.sqlite3"
        connection.ensure_connection()
        with closing(sqlite3.connect(copy)) as target:
            connection.connection.backup(target)
        url = f"sqlite:///{copy}"
    result = run(["-c", CLIENT_SCRIPT, customer.username, PASSWORD, HOST], production_env(DATABASE_URL=url))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_redirects_to_https_sends_security_headers_and_secure_cookies(production_report):
    report = production_report
    assert report["debug"] is False
    assert report["static_storage"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert report["http"]["status"] == 301
    assert report["http"]["Location"] == f"https://{HOST}/portal/login/"
    assert report["behind_proxy"]["status"] == 200  # X-Forwarded-Proto from the TLS proxy counts as HTTPS
    for page in ("login_page", "my_tickets", "console_login"):
        headers = report[page]
        assert headers["status"] == 200, page
        assert headers["Strict-Transport-Security"] == "max-age=2592000; includeSubDomains", page
        assert headers["X-Content-Type-Options"] == "nosniff", page
        assert headers["Referrer-Policy"] == "same-origin", page
        assert headers["X-Frame-Options"] == "DENY", page
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin", page
    for page in ("login_page", "my_tickets"):
        policy = report[page]["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, page
        assert "unsafe-inline" not in policy, page

    assert report["sign_in"]["status"] == 302 and report["sign_in"]["Location"] == "/portal/"
    assert report["session_cookie"] == {"secure": True, "httponly": True, "samesite": "Lax"}
    # The portal's script reads the CSRF token from its cookie: Secure and SameSite, not HttpOnly.
    assert report["csrf_cookie"] == {"secure": True, "httponly": False, "samesite": "Lax"}
