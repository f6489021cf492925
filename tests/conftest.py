"""Shared fixtures. Services (PostgreSQL, Redis) come from DATABASE_URL / REDIS_URL; in CI (CI=true) a
missing service fails the run instead of skipping."""

import os

import pytest
from django.conf import settings

from tests.factories import AgentFactory, CustomerFactory, OrganizationFactory

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_configure(config):
    if IN_CI:
        if not settings.REDIS_URL:
            raise pytest.UsageError("CI=true: REDIS_URL must point at a running Redis")
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            raise pytest.UsageError("CI=true: DATABASE_URL must point at PostgreSQL")
    # Tests that need no worker must not leave tasks in a real queue; worker tests reconfigure this.
    from helpdesk.celery import app

    app.conf.broker_url = "memory://"
    app.conf.broker_transport_options = {}


def pytest_collection_modifyitems(config, items):
    if settings.REDIS_URL:
        return
    skip = pytest.mark.skip(reason="needs Redis: set REDIS_URL (always set in CI)")
    for item in items:
        if "redis" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The factories set a password on every user; a fast hasher keeps these tests quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _private_attachments(settings, tmp_path):
    settings.ATTACHMENTS_ROOT = tmp_path / "attachments"


@pytest.fixture
def organization(db):
    return OrganizationFactory()


@pytest.fixture
def other_organization(db):
    return OrganizationFactory()


@pytest.fixture
def requester(organization):
    return CustomerFactory(membership__organization=organization)


@pytest.fixture
def org_admin(organization):
    return CustomerFactory(membership__organization=organization, membership__role="admin")


@pytest.fixture
def outsider(other_organization):
    return CustomerFactory(membership__organization=other_organization)


@pytest.fixture
def agent(db):
    return AgentFactory()


@pytest.fixture
def other_agent(db):
    return AgentFactory()


@pytest.fixture(autouse=True)
def _fresh_local_cache():
    """Without Redis the cache is this process's memory, and SQLite hands out the ids of a rolled-back
    test again: one test's API throttle counters (keyed by token or user id) must not count against the
    next test's requests. Redis is shared by parallel workers and left alone (PostgreSQL never reuses
    an id)."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture(autouse=True)
def _fresh_domain_flags():
    """The cached "is any saved view watched?" and "is any webhook subscribed?" flags outlive a test's
    rolled-back rows (and Redis outlives the test): start each test from what its database holds, so
    a query count does not depend on which test ran before it in the same worker."""
    from tickets import inbox, subscribers

    inbox._forget_watched()
    subscribers._forget_subscriptions()


@pytest.fixture(autouse=True)
def _fresh_sla_cache():
    """The chart and calendar cache outlives a test's rolled-back transaction: start each test clean."""
    from sla.calendars import clear_cache

    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def shipped_defaults(transactional_db):
    """For transactional tests: the flush after such a test empties every table, the shipped SLA chart,
    calendar, the sweep schedules and the Agents group included; put them back (idempotent)."""
    import importlib

    from django.apps import apps

    from sla.calendars import clear_cache
    from sla.defaults import ensure_shipped_defaults
    from tickets.agents import ensure_agents_group

    ensure_shipped_defaults()
    importlib.import_module("sla.migrations.0002_shipped_defaults").schedule_sweep(apps, None)
    importlib.import_module("tickets.migrations.0007_webhook_outbox").schedule_sweep(apps, None)
    importlib.import_module("tickets.migrations.0008_housekeeping_schedule").schedule_housekeeping(apps, None)
    importlib.import_module("tickets.migrations.0016_chats").schedule_quiet_chats(apps, None)
    importlib.import_module("tickets.migrations.0028_dashboard_rollup_triggers").schedule_refresh(apps, None)
    ensure_agents_group()
    clear_cache()


@pytest.fixture(scope="module")
def browser():
    """One Chromium per browser-test module (see tests/browser.py)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():  # only in CI: elsewhere the modules are skipped
        pytest.fail("CI=true but /usr/bin/chromium is missing: .ci/run installs it with apt-get")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def dns(monkeypatch) -> dict[str, list[str]]:
    """Webhook URLs are checked by resolving their host (helpdesk.egress); no test asks a real DNS server
    or connects anywhere but the loopback interface. `localhost` is loopback, any other name does not
    resolve unless a test maps it here (`dns["hooks.test"] = ["10.0.0.5"]`), and a webhook socket to any
    address but 127.0.0.1 or ::1 fails the test before it is opened."""
    from helpdesk import egress

    names: dict[str, list[str]] = {"localhost": ["127.0.0.1", "::1"]}

    def resolve(host: str, port: int) -> list[str]:
        if host.lower() in names:
            return list(names[host.lower()])
        raise OSError(f"{host}: name not known to the tests")

    real_open_socket = egress.open_socket

    def open_socket(address: str, port: int, timeout: float):
        assert address in ("127.0.0.1", "::1"), f"a test tried to connect to {address}"
        return real_open_socket(address, port, timeout)

    monkeypatch.setattr(egress, "resolver", resolve)
    monkeypatch.setattr(egress, "open_socket", open_socket)
    return names
