"""Which server serves HTTP and the live-update WebSockets: gunicorn with uvicorn workers, or daphne.

Each server runs `helpdesk.asgi:application` on a deployed site's settings (PostgreSQL, Redis, DEBUG off;
bench/_stack.py) with two worker processes (daphne: one process, it has no workers), and is measured with
one client at a time so the figures are the server's own overhead, not queueing:

- **HTTP**: a signed-in customer's My tickets page (`/portal/`), 300 requests after 30 to warm up, on
  one keep-alive connection, median and p95 (ms). gunicorn's sync workers (today's WSGI) for reference.
- **WebSocket connect**: open `/ws/tickets/<id>/` (handshake, session sign-in, the viewer checked, the
  groups joined), one ping, its pong, close: 100 times, median and p95 (ms).
- **Echo**: ping/pong on an open socket, 300 times, median (ms).
- **Event to socket**: a reply committed in this process (the spine publishes it to Redis after commit)
  until the customer's socket has it, rendered for them: 50 times, median and p95 (ms).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/asgi_servers.py

The figures are in docs/performance.md ("Live updates: the ASGI server").
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _stack
from _stack import BASE_DIR, HOST, PYTHON, free_port, stats, table

DATABASE = "helpdesk_bench_asgi"


def servers(port: int) -> dict[str, list[str]]:
    bin_dir = Path(PYTHON).parent
    gunicorn = [
        str(bin_dir / "gunicorn"),
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        "2",
        "--log-level",
        "warning",
    ]
    uvicorn = ["--worker-class", "helpdesk.web_worker.WebWorker", "helpdesk.asgi:application"]
    commands = {
        "gunicorn sync (WSGI, reference)": [*gunicorn, "helpdesk.wsgi:application"],
        "gunicorn + uvicorn workers": [*gunicorn, *uvicorn],
    }
    # daphne comes with the development requirements (channels.testing needs it), not the production ones.
    if (bin_dir / "daphne").exists():
        commands["daphne"] = [
            str(bin_dir / "daphne"),
            "-b",
            HOST,
            "-p",
            str(port),
            "helpdesk.asgi:application",
        ]
    return commands


class Server:
    def __init__(self, command: list[str], port: int) -> None:
        self.command, self.port = command, port
        self.log = Path(tempfile.gettempdir()) / f"bench-asgi-{port}.log"

    def __enter__(self) -> Server:
        self._log = self.log.open("wb")
        self.process = subprocess.Popen(
            self.command, cwd=BASE_DIR, env=dict(os.environ), stdout=self._log, stderr=subprocess.STDOUT
        )
        give_up = time.monotonic() + 60
        while time.monotonic() < give_up:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command[0]} exited:\n{self.log.read_text()}")
            try:
                if _stack.request("GET", "/healthz", port=self.port, timeout=2)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"not healthy within 60 s:\n{self.log.read_text()}")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


def http_latencies(port: int, cookie: str, *, total: int = 300, warm: int = 30) -> list[float]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {"Host": HOST, "Cookie": f"sessionid={cookie}"}
    latencies = []
    for n in range(warm + total):
        started = time.perf_counter()
        connection.request("GET", "/portal/", headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
        if n >= warm:
            latencies.append((time.perf_counter() - started) * 1000)
    connection.close()
    return latencies


def socket_for(port: int, cookie: str, ticket_id: int):
    from websockets.sync.client import connect

    return connect(
        f"ws://{HOST}:{port}/ws/tickets/{ticket_id}/",
        origin=f"http://{HOST}",
        additional_headers={"Cookie": f"sessionid={cookie}"},
        open_timeout=10,
    )


def connect_latencies(port: int, cookie: str, ticket_id: int, *, total: int = 100) -> list[float]:
    latencies = []
    for _ in range(total + 10):
        started = time.perf_counter()
        with socket_for(port, cookie, ticket_id) as socket:
            socket.send(json.dumps({"type": "ping"}))
            assert json.loads(socket.recv(timeout=10)) == {"type": "pong"}
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies[10:]


def echo_latencies(port: int, cookie: str, ticket_id: int, *, total: int = 300) -> list[float]:
    latencies = []
    with socket_for(port, cookie, ticket_id) as socket:
        for _ in range(total):
            started = time.perf_counter()
            socket.send(json.dumps({"type": "ping"}))
            socket.recv(timeout=10)
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def event_latencies(port: int, cookie: str, ticket, agent, *, total: int = 50) -> list[float]:
    from tickets.services import ticket_reply

    latencies = []
    with socket_for(port, cookie, ticket.pk) as socket:
        for n in range(total):
            started = time.perf_counter()
            message = ticket_reply(ticket=ticket, author=agent, body=f"Reply {n}")
            while True:
                payload = json.loads(socket.recv(timeout=10))
                if payload.get("message", {}).get("id") == message.pk:
                    break
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def main() -> None:
    _stack.use_database(DATABASE)
    # The echo test sends pings far faster than a page's heartbeat (twice a minute).
    os.environ["LIVE_CLIENT_MESSAGES_PER_MINUTE"] = "1000000"
    subprocess.run([PYTHON, "manage.py", "seed_demo"], cwd=BASE_DIR, check=True, stdout=subprocess.DEVNULL)
    from django.test import Client

    from tests.factories import AgentFactory
    from tickets.models import Ticket

    ticket = Ticket.objects.open().select_related("requester").order_by("pk").first()
    customer = ticket.requester
    agent = AgentFactory()
    client = Client()
    client.force_login(customer, backend="django.contrib.auth.backends.ModelBackend")
    cookie = client.cookies["sessionid"].value

    rows = []
    for name, command in servers(port := free_port()).items():
        with Server(command, port):
            page = stats(http_latencies(port, cookie))
            row = [name, f"{page['p50']:.1f}", f"{page['p95']:.1f}"]
            if "wsgi" in " ".join(command):
                rows.append([*row, "—", "—", "—", "—", "—"])
                continue
            connect = stats(connect_latencies(port, cookie, ticket.pk))
            echo = stats(echo_latencies(port, cookie, ticket.pk))
            event = stats(event_latencies(port, cookie, ticket, agent))
            rows.append(
                [
                    *row,
                    f"{connect['p50']:.1f}",
                    f"{connect['p95']:.1f}",
                    f"{echo['p50']:.2f}",
                    f"{event['p50']:.1f}",
                    f"{event['p95']:.1f}",
                ]
            )
    print(_stack.machine())
    print(
        table(
            [
                "server",
                "HTTP p50",
                "HTTP p95",
                "WS connect p50",
                "WS connect p95",
                "echo p50",
                "event p50",
                "event p95",
            ],
            rows,
        )
    )
    _stack.purge_queue()


if __name__ == "__main__":
    sys.exit(main())
