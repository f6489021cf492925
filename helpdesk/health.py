"""`/healthz`: liveness of the web process and of what it needs: the database, the Celery broker and the
channel layer of the live updates (Redis in production; embedded, it reads the database).

200 when all answer; 503 with Retry-After naming the failing check otherwise. The database check cannot
hang: the connection gives up after DATABASE_CONNECT_TIMEOUT seconds (helpdesk/settings.py). The embedded
broker's folders are made when the app starts (`helpdesk.apps`), so a fresh clone is healthy at once."""

import redis
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from helpdesk.errors import RETRY_AFTER_SECONDS


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
        return "ok"
    queue = settings.CELERY_BROKER_DIR / "queue"
    if not queue.is_dir():
        raise OSError(f"embedded broker folder {queue} is missing")
    return "ok"


def channel_layer_redis_urls() -> list[str]:
    """The Redis servers of the configured channel layer (channels-redis, either layer); none for the
    embedded layer. Read from the settings: the pub/sub layer makes its connections per event loop."""
    config = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {})
    urls = []
    for host in config.get("hosts") or []:
        if isinstance(host, str):
            urls.append(host)
        elif isinstance(host, dict) and "address" in host:
            urls.append(host["address"])
    return urls


def _check_channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        raise LookupError("no channel layer is configured")
    for url in channel_layer_redis_urls():  # each Redis it publishes to
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    return "ok"


@never_cache
@require_GET
def healthz(request):
    checks, healthy = {}, True
    for name, check in (
        ("database", _check_database),
        ("broker", _check_broker),
        ("channel_layer", _check_channel_layer),
    ):
        try:
            checks[name] = check()
        except Exception as exc:  # noqa: BLE001 - any failure means unhealthy; report it, don't raise
            checks[name] = f"error: {exc.__class__.__name__}"
            healthy = False
    response = JsonResponse(
        {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
    )
    if not healthy:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
