"""The load generator of bench/realtime.py, a process of its own (so its CPU is not the server's and its
event loop does not share a GIL with the process committing events).

    python bench/_live_clients.py sockets SPEC.json RESULT.json
    python bench/_live_clients.py polls SPEC.json RESULT.json

SPEC: {"server": "ws://127.0.0.1:PORT" or "http://…", "clients": [{"path", "cookie"}…], …}. The process
prints "ready" once every socket is open (or at once for polls), runs until a line arrives on stdin,
then writes RESULT and exits.

- sockets: one `tests.live.live_client.LiveClient` per entry (the page's script: `?after=`, each id once,
  heartbeat, reconnect with backoff): per socket the first arrival time of each event id, wire duplicates,
  connections. Opened `connect_concurrency` at a time.
- polls: each client GETs its polling URL (`/live/tickets/…?after=N`) on a keep-alive connection every
  `interval` seconds (the first after a random part of it), as the page's fallback does: per request
  its status and duration, and the first time each event id was answered.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.live.live_client import LiveClient


async def wait_for_stdin() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)


async def sockets(spec: dict) -> dict:
    clients = [
        LiveClient(servers=[spec["server"]], path=entry["path"], cookie=entry["cookie"], after=spec["after"])
        for entry in spec["clients"]
    ]
    limit = asyncio.Semaphore(spec.get("connect_concurrency", 50))

    async def open_one(client: LiveClient) -> None:
        async with limit:
            client.start()
            await asyncio.wait_for(client.connected.wait(), 120)

    started = time.monotonic()
    await asyncio.gather(*(open_one(client) for client in clients))
    print(f"ready {time.monotonic() - started:.1f}", flush=True)
    await wait_for_stdin()
    for client in clients:
        await client.stop()
    return {
        "sockets": [
            {
                "arrived": client.arrived,
                "duplicates": client.duplicates_on_the_wire,
                "connections": client.connections,
                "reloads": client.reloads,
                "closed": client.closed_codes,
            }
            for client in clients
        ]
    }


class Poller:
    """One page polling its fallback URL on a keep-alive HTTP/1.1 connection."""

    def __init__(self, server: str, path: str, cookie: str, after: int, interval: float) -> None:
        parts = urlsplit(server)
        self.host, self.port = parts.hostname, parts.port
        self.path, self.cookie, self.after, self.interval = path, cookie, after, interval
        self.requests: list[tuple[int, float]] = []  # (status, seconds)
        self.arrived: dict[int, float] = {}
        self.stopped = False

    async def run(self) -> None:
        reader = writer = None
        await asyncio.sleep(random.random() * self.interval)
        while not self.stopped:
            due = time.monotonic() + self.interval
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(self.host, self.port)
                status, body, retry_after, took = await self._get(reader, writer)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                writer = None
                self.requests.append((0, 0.0))
                await asyncio.sleep(self.interval)
                continue
            self.requests.append((status, took))
            if status == 200:
                now = time.time()
                answer = json.loads(body)
                for event in answer["events"]:
                    self.arrived.setdefault(event["id"], now)
                    self.after = max(self.after, event["id"])
                due = time.monotonic() + answer.get("poll_seconds", self.interval)
            elif retry_after:
                due = time.monotonic() + retry_after
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        if writer is not None:
            writer.close()

    async def _get(self, reader, writer) -> tuple[int, bytes, float, float]:
        started = time.perf_counter()
        writer.write(
            (
                f"GET {self.path}?after={self.after} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Cookie: {self.cookie}\r\nAccept: application/json\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        length, retry_after = 0, 0.0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "retry-after":
                retry_after = float(value)
        body = await reader.readexactly(length)
        return status, body, retry_after, time.perf_counter() - started


async def polls(spec: dict) -> dict:
    pollers = [
        Poller(spec["server"], entry["path"], entry["cookie"], spec["after"], spec["interval"])
        for entry in spec["clients"]
    ]
    tasks = [asyncio.get_running_loop().create_task(poller.run()) for poller in pollers]
    print("ready 0", flush=True)
    await wait_for_stdin()
    for poller in pollers:
        poller.stopped = True
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"pollers": [{"requests": p.requests, "arrived": p.arrived} for p in pollers]}


def main() -> None:
    mode, spec_path, result_path = sys.argv[1:4]
    spec = json.loads(Path(spec_path).read_text())
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(sockets(spec) if mode == "sockets" else polls(spec))
    Path(result_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
