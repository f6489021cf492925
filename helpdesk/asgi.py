"""The ASGI entry point: HTTP to Django, WebSockets under `/ws/` to the live-update consumers.

    http       -> Django (every page, the API, /healthz)
    websocket  -> origin in ALLOWED_HOSTS -> session sign-in -> /ws/… routes (tickets/live/routing.py)

Served by gunicorn with uvicorn workers in production and by uvicorn under `make run` (see
docs/performance.md for why). Django is set up before the routes are imported: the consumers use models.
"""

import os

from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
if not settings.configured:  # this is the server's entry point (not a test importing the router)
    # Each HTTP request runs in a thread of its own under ASGI: PostgreSQL connections come from a pool
    # per process rather than being kept per thread (helpdesk/settings.py; DATABASE_POOL=false: off).
    os.environ.setdefault("DATABASE_POOL", "true")

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import OriginValidator, WebsocketDenier
from django.core.asgi import get_asgi_application
from django.urls import path, re_path

django_application = get_asgi_application()


class AllowedHostsOriginValidator(OriginValidator):
    """Channels' validator of this name (a handshake whose Origin is not one of ALLOWED_HOSTS is refused
    with 403), reading the setting at each handshake, as Django reads it at each request, rather than
    once at import."""

    def __init__(self, application) -> None:
        self.application = application

    @property
    def allowed_origins(self) -> list[str]:
        hosts = list(settings.ALLOWED_HOSTS)
        return hosts or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])


from tickets.live.routing import websocket_urlpatterns  # noqa: E402 - needs the apps loaded

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(
                URLRouter(
                    [
                        path("ws/", URLRouter(websocket_urlpatterns)),
                        # Any other address: the handshake is refused (403), not an error in the log.
                        re_path(r"", WebsocketDenier.as_asgi()),
                    ]
                )
            )
        ),
    }
)
