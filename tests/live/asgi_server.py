"""The ASGI application served for real, in this process: uvicorn (the server of `make run`, and the
worker of production's gunicorn) in a thread, on a free port of 127.0.0.1.

It shares the test's settings and database (PostgreSQL, or SQLite's shared in-memory database), so a
transactional test's committed rows are what the pages show, and the events a test records through the
services reach the sockets through the configured channel layer (Redis, or the embedded reader).
Connections are not kept between requests (CONN_MAX_AGE 0 while it runs): every thread's connection is
closed before the test database is flushed or dropped.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from django.db import connections

HOST = "127.0.0.1"


class AsgiServer:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        self._saved_max_age = None

    def __enter__(self) -> AsgiServer:
        from helpdesk.asgi import application

        self._saved_max_age = connections.settings["default"].get("CONN_MAX_AGE")
        connections.settings["default"]["CONN_MAX_AGE"] = 0
        config = uvicorn.Config(application, host=HOST, port=self.port, lifespan="off", log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="asgi-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        connections.settings["default"]["CONN_MAX_AGE"] = self._saved_max_age
