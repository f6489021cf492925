"""`/healthz` (helpdesk/health.py): the database, the Celery broker and the live updates' channel layer;
a fresh clone in the embedded mode is healthy from its first request."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_every_check_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok", "channel_layer": "ok"}


@pytest.mark.django_db
def test_an_unreachable_channel_layer_is_unhealthy(client):
    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1/0"}]},
        }
    }
    with override_settings(CHANNEL_LAYERS=layers):
        response = client.get("/healthz")
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert response.json()["channel_layer"] == "error: ConnectionError"


def test_a_fresh_clone_is_healthy_before_any_task(tmp_path):
    """Embedded mode on an empty var/ folder: the broker's folders exist once the app has started, not
    only after the first task was queued (which left /healthz answering 503 until then)."""
    script = (
        "import django; django.setup()\n"
        "from django.core.management import call_command; call_command('migrate', verbosity=0)\n"
        "from django.test import Client; r = Client().get('/healthz')\n"
        "print(r.status_code, r.content.decode())"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST")}
    for name in ("DATABASE_URL", "REDIS_URL", "CI"):
        env.pop(name, None)
    env.update(VAR_DIR=str(tmp_path / "var"), DEBUG="true", ALLOWED_HOSTS="testserver")
    env["DJANGO_SETTINGS_MODULE"] = "helpdesk.settings"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("200 "), done.stdout
    assert (tmp_path / "var" / "celery-broker" / "queue").is_dir()
