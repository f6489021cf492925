"""The web server's worker class for gunicorn: uvicorn serving the ASGI application (helpdesk/asgi.py),
with the WebSocket limits set where the bytes arrive.

A browser only ever sends heartbeats on a live-update socket (tens of bytes; the consumer closes one
over LIVE_CLIENT_MESSAGE_MAX_BYTES), so uvicorn refuses any frame over 64 KiB before buffering it
rather than at its default 16 MiB, and pings every socket every 20 s (a dead peer is dropped within
40 s; proxies see traffic on idle sockets).
"""

from uvicorn_worker import UvicornWorker

#: The largest WebSocket message uvicorn reads (its default is 16 MiB).
WS_MAX_SIZE = 64 * 1024


class WebWorker(UvicornWorker):
    CONFIG_KWARGS = {
        **UvicornWorker.CONFIG_KWARGS,
        "ws_max_size": WS_MAX_SIZE,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        "lifespan": "off",  # Django has no start-up or shutdown hooks to run
    }
