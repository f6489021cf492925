"""Real servers for fault tests: the site under gunicorn as a subprocess, and a TCP proxy in this process
that stands between it and PostgreSQL and can cut the database off.

    with TcpProxy(("127.0.0.1", 5432)) as proxy, WebServer(
        database_url=database_url({**connection.settings_dict, "HOST": "127.0.0.1", "PORT": proxy.port}),
        redis_url=settings.REDIS_URL,
        log_path=tmp_path / "gunicorn.log",
    ) as server:
        assert server.request("GET", "/healthz").status == 200
        proxy.cut()
        assert server.request("GET", "/healthz").status == 503

`WebServer` runs `gunicorn helpdesk.wsgi:application` on 127.0.0.1 (a port the kernel picks) with the
environment of a deployment: DEBUG off, a random SECRET_KEY, ALLOWED_HOSTS=127.0.0.1, plain HTTP (no
HTTPS redirect, cookies not Secure), real Redis, Celery tasks on a queue of its own that no worker reads
(emptied on stop), static files from the apps' folders (tests/reliability/server_settings.py). It is
ready once every worker is up and /healthz answers 200. The tests that use it are transactional: the
server sees committed rows only.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SERVER_SETTINGS = "tests.reliability.server_settings"

_LISTENING_RE = re.compile(rb"Listening at: http://127\.0\.0\.1:(\d+) ")


# --- the TCP proxy ----------------------------------------------------------------------------------------


class TcpProxy:
    """A TCP proxy on 127.0.0.1 in front of `upstream`, in threads of this process. Its port stays the same
    for its life.

    - `cut()`: close every proxied connection and refuse new ones (the port is closed: a client gets
      "connection refused" at once), as when the database server is down.
    - `blackhole()`: close every proxied connection, then accept new ones and never answer, as when the
      database host swallows packets: a client waits for its own timeout.
    - `cut_on(marker)`: forward as usual until a client sends bytes containing `marker`, then `cut()`
      before those bytes go upstream (e.g. a connection lost in the middle of a transaction).
    - `restore()`: forward again.
    """

    def __init__(self, upstream: tuple[str, int], *, host: str = HOST) -> None:
        self.upstream = upstream
        self.host = host
        self.port = 0
        #: Set when a `cut_on` marker went by.
        self.tripped = threading.Event()
        self._lock = threading.Lock()
        self._state = "stopped"
        self._listener: socket.socket | None = None
        self._pairs: set[_Pair] = set()
        self._held: set[socket.socket] = set()
        self._marker: bytes | None = None
        self._accepted = 0

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def live_connections(self) -> int:
        """Connections being forwarded right now."""
        with self._lock:
            return len(self._pairs)

    @property
    def accepted(self) -> int:
        """Connections forwarded since the start (a client that reconnects counts again)."""
        with self._lock:
            return self._accepted

    def start(self) -> TcpProxy:
        with self._lock:
            self._state = "forwarding"
            self._listen()
        return self

    def cut(self) -> None:
        with self._lock:
            self._state = "cut"
            listener, self._listener = self._listener, None
            doomed = self._take_connections()
        if listener is not None:
            _close(listener)
        for close in doomed:
            close()

    def blackhole(self) -> None:
        with self._lock:
            self._state = "blackhole"
            if self._listener is None:
                self._listen()
            doomed = self._take_connections()
        for close in doomed:
            close()

    def cut_on(self, marker: bytes) -> threading.Event:
        """Cut when a client sends `marker`; returns the event set when that happened."""
        with self._lock:
            self.tripped.clear()
            self._marker = marker
        return self.tripped

    def restore(self) -> None:
        with self._lock:
            self._state = "forwarding"
            self._marker = None
            if self._listener is None:
                self._listen()
            held, self._held = self._held, set()
        for sock in held:
            _close(sock)

    def stop(self) -> None:
        self.cut()
        with self._lock:
            self._state = "stopped"

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
        except OSError as exc:
            listener.close()
            raise RuntimeError(f"the proxy cannot listen on {self.host}:{self.port} again: {exc}") from exc
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="proxy-accept", daemon=True).start()

    def _take_connections(self) -> list:
        pairs, self._pairs = self._pairs, set()
        held, self._held = self._held, set()
        return [pair.close for pair in pairs] + [lambda sock=sock: _close(sock) for sock in held]

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed: cut or stopped
            with self._lock:
                state = self._state
                if state == "blackhole":
                    self._held.add(client)
            if state == "forwarding":
                self._forward(client)
            elif state != "blackhole":
                _close(client)

    def _forward(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _close(client)
            return
        upstream.settimeout(None)
        pair = _Pair(client, upstream, self._forget)
        with self._lock:
            if self._state != "forwarding":  # cut while connecting
                pair.close()
                return
            self._pairs.add(pair)
            self._accepted += 1
        for source, target, watch in ((client, upstream, True), (upstream, client, False)):
            threading.Thread(
                target=self._pump, args=(pair, source, target, watch), name="proxy-pump", daemon=True
            ).start()

    def _forget(self, pair: _Pair) -> None:
        with self._lock:
            self._pairs.discard(pair)

    def _pump(self, pair: _Pair, source: socket.socket, target: socket.socket, watch: bool) -> None:
        tail = b""
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                marker = self._marker if watch else None
                if marker is not None:
                    if marker in tail + data:
                        # Set before the cut: the cut lets the server answer at once, and a test that
                        # checks the event as soon as the answer arrives must find it set.
                        self.tripped.set()
                        self.cut()
                        return
                    tail = (tail + data)[-len(marker) :]
                target.sendall(data)
        except OSError:
            pass
        finally:
            pair.close()


class _Pair:
    """A client connection and its upstream connection; closing one closes both."""

    def __init__(self, client: socket.socket, upstream: socket.socket, on_close) -> None:
        self.sockets = (client, upstream)
        self._on_close = on_close
        self._closed = threading.Event()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        for sock in self.sockets:
            _close(sock)
        self._on_close(self)


def _close(sock: socket.socket) -> None:
    # shutdown() first: it wakes a thread blocked in recv() or accept() on the socket, close() does not.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


# --- the web server ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class WebServer:
    """`gunicorn helpdesk.wsgi:application` as a subprocess with a deployment's environment (see the
    module docstring), its log in `log_path`. `extra_env` adds or overrides variables."""

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str,
        log_path: Path,
        workers: int = 2,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.log_path = log_path
        self.workers = workers
        self.extra_env = extra_env or {}
        self.secret_key = secrets.token_urlsafe(50)
        self.queue = f"reliability-web-{uuid.uuid4().hex[:12]}"
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        """The gunicorn master's process id."""
        assert self.process is not None, "not started"
        return self.process.pid

    def environment(self) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
        for name in ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "EMAIL_IN_URL", "CONN_MAX_AGE"):
            env.pop(name, None)
        env.update(
            DJANGO_SETTINGS_MODULE=SERVER_SETTINGS,
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            CELERY_QUEUE=self.queue,
            SECRET_KEY=self.secret_key,
            DEBUG="false",
            ALLOWED_HOSTS=HOST,
            SECURE_SSL_REDIRECT="false",
            SESSION_COOKIE_SECURE="false",
            CSRF_COOKIE_SECURE="false",
            BEHIND_TLS_PROXY="false",
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            VAR_DIR=str(self.log_path.parent / "var"),
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "helpdesk.wsgi:application",
            "--bind",
            f"{HOST}:0",
            "--workers",
            str(self.workers),
            "--log-level",
            "info",
            "--graceful-timeout",
            "5",
        ]

    def start(self, *, timeout: float = 40) -> WebServer:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=BASE_DIR, env=self.environment(), stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self._wait_ready(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, *, timeout: float) -> None:
        """Until gunicorn listens, all its workers are up and /healthz answers 200."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            if self.port is None:
                match = _LISTENING_RE.search(self.log_path.read_bytes())
                self.port = int(match.group(1)) if match else None
            if self.port is not None and len(self.worker_pids()) == self.workers:
                with contextlib.suppress(OSError):
                    if self.request("GET", "/healthz", timeout=5).status == 200:
                        return
            if time.monotonic() >= deadline:
                raise RuntimeError(f"gunicorn not ready within {timeout} s:\n{self.log()}")
            time.sleep(0.1)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | str | dict | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 20,
    ) -> Reply:
        """One HTTP request on a new connection; a dict body is sent as JSON."""
        headers = {"Host": HOST, **(headers or {})}
        if isinstance(body, dict):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        connection = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return Reply(
                response.status,
                {name.lower(): value for name, value in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()

    def sign_in(self, user) -> dict[str, str]:
        """Headers of a browser signed in as `user`: a session made here, signed with the server's key."""
        from django.conf import settings
        from django.test import Client
        from django.test.utils import override_settings

        client = Client()
        with override_settings(SECRET_KEY=self.secret_key):
            client.force_login(user)
        return {
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        }

    def worker_pids(self) -> set[int]:
        """The gunicorn workers' process ids (the master's children)."""
        return child_pids(self.pid)

    def stop(self, *, timeout: float = 15) -> int | None:
        """SIGTERM (gunicorn finishes the requests in hand), SIGKILL if it does not exit; then empty the
        server's Celery queues."""
        if self.process is None:
            return None
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=timeout)
        finally:
            self._drop_queues()
        return self.process.returncode

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _drop_queues(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=2)
        with contextlib.suppress(redis.RedisError):
            # The queues (and their priority lists) and kombu's binding tables, all named after the queue.
            keys = [*client.scan_iter(f"{self.queue}*"), *client.scan_iter(f"_kombu.binding.{self.queue}*")]
            if keys:
                client.delete(*keys)
        client.close()


def child_pids(pid: int) -> set[int]:
    """The ids of the processes whose parent is `pid` (Linux: read from /proc)."""
    children = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # The command name (in parentheses) may hold spaces: the fields after it are split safely.
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == pid:
            children.add(int(entry.name))
    return children
