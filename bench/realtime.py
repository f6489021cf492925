"""Live updates at scale: N concurrent WebSocket clients against the production-like stack on 127.0.0.1,
events committed at a steady rate through the real services.

The stack: gunicorn with the production uvicorn worker (`helpdesk.web_worker.WebWorker`, `--workers W`),
channels-redis on REDIS_URL (keys under a prefix of the run's own), PostgreSQL (a bench database of its
own, bench/_stack.py). The population: agents (each with the queues' socket `/ws/tickets/` and one
ticket's page) and customers of `--organizations` organizations (each with My tickets and their own
ticket's page; every tenth an organization admin, whose list shows the organization's tickets).

Per phase:

1. **Sockets**: a load generator process (bench/_live_clients.py: the pages' script, `LiveClient`) opens
   every socket; the server's RSS is read before and after (memory per connection). This process then
   commits `--rate` events a second for `--seconds` (an agent's reply, an internal note, a customer's
   reply, at random tickets of the connected customers) and records each event's commit time (a spine
   subscriber that runs first after commit). Then the receipts are matched against who should see what:
   commit -> receipt latency p50/p95/p99, messages/s, lost (an event a socket should have rendered and
   did not within `--drain` seconds), duplicated (an id received twice on one socket), and **leaked** (an
   event a socket received that its viewer may not see: must be 0). CPU time of the server processes
   (and of the database's backends, of the load generator, of this process) per 1,000 events.
2. **Before**: the same against the code of `--before REF` (e.g. `main`, exported with `git archive`
   into a temporary folder): a socket then read its viewer and rendered each event itself, 6-9 queries
   per socket and event. Skipped with `--before ''`.
3. **Polling**: the same clients poll the fallback (`/live/tickets/…?after=N`) every
   LIVE_POLL_MIN_SECONDS as the pages do without a socket, while events are committed at the same rate:
   the rate the design needs (clients / interval), the rate measured, answers by status (429: polled
   too soon), request latency, commit -> poll-answer latency, server CPU per request.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/realtime.py --clients 1000 --rate 20 --seconds 60 --before main

The figures are in docs/performance.md ("Live updates at scale").
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import _stack
from _stack import BASE_DIR, HOST, PYTHON, free_port, percentile, table

DATABASE = "hd_realtime_bench"


# --- the server -------------------------------------------------------------------------------------


class Server:
    """gunicorn + uvicorn workers serving helpdesk.asgi:application from `tree` (this checkout, or an
    exported older commit), with this process's bench environment."""

    def __init__(self, tree: Path, workers: int) -> None:
        self.tree, self.workers = tree, workers
        self.port = free_port()
        self.log = Path(tempfile.gettempdir()) / f"bench-realtime-{self.port}.log"

    def __enter__(self) -> Server:
        command = [
            str(Path(PYTHON).with_name("gunicorn")),
            "helpdesk.asgi:application",
            "--worker-class",
            "helpdesk.web_worker.WebWorker",
            "--bind",
            f"{HOST}:{self.port}",
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
        ]
        env = {**os.environ, "PYTHONPATH": str(self.tree)}
        self._log = self.log.open("wb")
        self.process = subprocess.Popen(
            command, cwd=self.tree, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        give_up = time.monotonic() + 90
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log.read_text()}")
            try:
                if _stack.request("GET", "/healthz", port=self.port, timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > give_up:
                self.__exit__()
                raise RuntimeError(f"not healthy within 90 s:\n{self.log.read_text()}")
            time.sleep(0.2)
        while len(self.worker_pids()) < self.workers:
            time.sleep(0.1)
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()

    def worker_pids(self) -> list[int]:
        from tests.reliability.web_server import child_pids

        return sorted(child_pids(self.process.pid))

    def rss_bytes(self) -> int:
        total = 0
        for pid in [self.process.pid, *self.worker_pids()]:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        return total


# --- the population ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Follower:
    """One socket (or poller): whose, and what it follows."""

    user_id: int
    agent: bool
    organization_id: int | None
    admin: bool
    ticket_id: int | None  # None: the list

    @property
    def socket_path(self) -> str:
        return f"/ws/tickets/{self.ticket_id}/" if self.ticket_id else "/ws/tickets/"

    @property
    def poll_path(self) -> str:
        return f"/live/tickets/{self.ticket_id}/" if self.ticket_id else "/live/tickets/"

    def should_see(self, event: dict) -> bool:
        if self.ticket_id is not None and event["ticket"] != self.ticket_id:
            return False
        if self.agent:
            return True
        if not event["public"] or event["organization"] != self.organization_id:
            return False
        return self.admin or event["requester"] == self.user_id


def population(clients: int, organizations: int) -> tuple[list[Follower], dict[int, str], list]:
    """Agents (a tenth of the sockets) and customers, two sockets each; their session cookies; the
    customers' tickets. Made once per database (reused when there)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from tests.factories import AgentFactory, CustomerFactory, OrganizationFactory
    from tickets.models import Organization, Ticket
    from tickets.services import ticket_create

    User = get_user_model()
    people = clients // 2
    agents_wanted = max(1, people // 10)
    customers_wanted = people - agents_wanted
    orgs = list(Organization.objects.filter(name__startswith="Realtime bench ").order_by("pk"))
    while len(orgs) < organizations:
        orgs.append(OrganizationFactory(name=f"Realtime bench {len(orgs) + 1:03d}"))
    agents = list(User.objects.filter(username__startswith="rt-agent-").order_by("pk"))
    while len(agents) < agents_wanted:
        agents.append(AgentFactory(username=f"rt-agent-{len(agents) + 1:04d}"))
    customers = list(
        User.objects.filter(username__startswith="rt-customer-").select_related("membership").order_by("pk")
    )
    print(f"population: {agents_wanted} agents, {customers_wanted} customers…", flush=True)
    while len(customers) < customers_wanted:
        number = len(customers) + 1
        role = "admin" if number % 10 == 0 else "requester"
        customers.append(
            CustomerFactory(
                username=f"rt-customer-{number:05d}",
                membership__organization=orgs[number % organizations],
                membership__role=role,
            )
        )
    agents, customers = agents[:agents_wanted], customers[:customers_wanted]
    tickets = {t.requester_id: t for t in Ticket.objects.filter(requester__in=customers).order_by("pk")}
    for customer in customers:
        if customer.pk not in tickets:
            tickets[customer.pk] = ticket_create(
                requester=customer, subject=f"Live bench {customer.username}", description="Benchmark."
            )
    followers, cookies = [], {}
    ticket_list = list(tickets.values())
    for index, agent in enumerate(agents):
        ticket = ticket_list[index * 7 % len(ticket_list)]
        followers += [
            Follower(agent.pk, True, None, False, None),
            Follower(agent.pk, True, None, False, ticket.pk),
        ]
    for customer in customers:
        membership = customer.membership
        organization, admin = membership.organization_id, membership.role == "admin"
        followers += [
            Follower(customer.pk, False, organization, admin, None),
            Follower(customer.pk, False, organization, admin, tickets[customer.pk].pk),
        ]
    for user in [*agents, *customers]:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies[user.pk] = f"sessionid={session.session_key}"
    return followers[:clients], cookies, ticket_list


# --- committing events ------------------------------------------------------------------------------


class Commits:
    """Records when each event was committed: a spine subscriber that runs first after commit."""

    def __init__(self) -> None:
        self.events: dict[int, dict] = {}
        self.lock = threading.Lock()

    def __call__(self, event) -> None:
        now = time.time()
        ticket = event.ticket
        with self.lock:
            self.events[event.pk] = {
                "at": now,
                "ticket": event.ticket_id,
                "organization": ticket.organization_id,
                "requester": ticket.requester_id,
                "public": event.is_public and not event.is_internal,
                "kind": event.kind,
            }

    def install(self) -> None:
        from tickets import spine

        spine.subscribe(self, name="bench.realtime.commits")
        # First among the after-commit subscribers: the time is taken before the publish.
        spine._subscribers.sort(key=lambda s: s.name != "bench.realtime.commits")


def commit_steadily(tickets: list, agents: list, rate: float, seconds: float) -> int:
    """`rate` changes a second for `seconds`: an agent's reply (60 %), an internal note (25 %), the
    customer's reply (15 %), each at a random ticket. Returns how many were made."""
    from django.db import connection

    from tickets.models import Ticket
    from tickets.services import ticket_add_note, ticket_reply

    random.seed(13)
    made, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        due = started + made / rate
        if due > time.monotonic():
            time.sleep(due - time.monotonic())
        ticket = Ticket.objects.get(pk=random.choice(tickets).pk)
        roll = random.random()
        if roll < 0.60:
            ticket_reply(ticket=ticket, author=random.choice(agents), body=f"Reply {made}")
        elif roll < 0.85:
            ticket_add_note(ticket=ticket, author=random.choice(agents), body=f"Internal note {made}")
        else:
            ticket_reply(ticket=ticket, author=ticket.requester, body=f"Customer reply {made}")
        made += 1
    connection.close()
    return made


# --- the load generator -----------------------------------------------------------------------------


class LoadGenerator:
    def __init__(self, mode: str, spec: dict) -> None:
        self.mode = mode
        folder = Path(tempfile.mkdtemp(prefix="bench-realtime-"))
        self.spec_path, self.result_path = folder / "spec.json", folder / "result.json"
        self.spec_path.write_text(json.dumps(spec))

    def start(self) -> float:
        self.process = subprocess.Popen(
            [
                PYTHON,
                str(BASE_DIR / "bench" / "_live_clients.py"),
                self.mode,
                self.spec_path,
                self.result_path,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"the load generator failed: {line}")
        return float(line.split()[1])

    def finish(self) -> dict:
        self.process.stdin.write("stop\n")
        self.process.stdin.flush()
        self.process.wait(timeout=300)
        return json.loads(self.result_path.read_text())


# --- the phases -------------------------------------------------------------------------------------


def newest_event_id() -> int:
    from tickets.models import Event

    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def sockets_phase(label, tree, args, followers, cookies, tickets, agents, commits) -> list:
    commits.events.clear()
    with Server(tree, args.workers) as server:
        meter = _stack.CpuMeter(server, DATABASE)
        spec = {
            "server": f"ws://{HOST}:{server.port}",
            "after": newest_event_id(),
            "clients": [{"path": f.socket_path, "cookie": cookies[f.user_id]} for f in followers],
        }
        rss_before = server.rss_bytes()
        generator = LoadGenerator("sockets", spec)
        opened_in = generator.start()
        time.sleep(2)  # the handshakes' last queries settle
        rss_after = server.rss_bytes()
        meter.watch("load generator", generator.process.pid)
        own_before = time.process_time()
        before = meter.snapshot()
        made = commit_steadily(tickets, agents, args.rate, args.seconds)
        committed_at = time.monotonic()
        expected = expected_receipts(followers, commits.events)
        # Until every expected receipt is in, or the drain time is over.
        time.sleep(min(args.drain, 2.0))
        after = meter.snapshot()
        own = time.process_time() - own_before
        waited = time.monotonic() - committed_at
        if waited < args.drain:
            time.sleep(args.drain - waited)
        result = generator.finish()
    spent = _stack.CpuMeter.spent(before, after)
    receipts = result["sockets"]
    latencies, lost, duplicated, leaked, messages = [], 0, 0, 0, 0
    older = facts_of_other_events(receipts, commits.events)
    for follower, got, wanted in zip(followers, receipts, expected, strict=True):
        arrived = {int(k): v for k, v in got["arrived"].items()}
        duplicated += got["duplicates"]
        messages += len(arrived) + got["duplicates"]
        for event_id in arrived:
            # Events of before the run are sent again on a reconnect (the replay's overlap): checked too.
            if event_id not in wanted and not (event_id in older and follower.should_see(older[event_id])):
                leaked += 1
        for event_id in wanted:
            if event_id in arrived:
                latencies.append((arrived[event_id] - commits.events[event_id]["at"]) * 1000)
            else:
                lost += 1
    reconnects = sum(got["connections"] - 1 for got in receipts)
    if reconnects:
        codes = [code for got in receipts for code in got["closed"]]
        print(f"{label}: {reconnects} reconnects; close codes {sorted(set(map(str, codes)))}", flush=True)
    return [
        label,
        len(followers),
        f"{opened_in:.1f}",
        made,
        f"{made / args.seconds:.1f}",
        sum(len(w) for w in expected),
        f"{messages / args.seconds:.0f}",
        *(f"{percentile(latencies, p):.0f}" if latencies else "—" for p in (50, 95, 99)),
        f"{max(latencies):.0f}" if latencies else "—",
        lost,
        duplicated,
        leaked,
        reconnects,
        f"{(rss_after - rss_before) / len(followers) / 1024:.0f}",
        f"{spent['app'] * 1000 / max(made, 1):.1f}",
        f"{spent['db'] * 1000 / max(made, 1):.1f}",
        f"{spent.get('load generator', 0) * 1000 / max(made, 1):.1f}",
        f"{own * 1000 / max(made, 1):.1f}",
    ]


def facts_of_other_events(receipts: list[dict], committed: dict[int, dict]) -> dict[int, dict]:
    """Who may see each event received that was not committed in the run (as `Commits` records them)."""
    from tickets.models import Event

    ids = {int(k) for got in receipts for k in got["arrived"]} - set(committed)
    facts = {}
    for event in Event.objects.filter(pk__in=ids).select_related("ticket"):
        facts[event.pk] = {
            "ticket": event.ticket_id,
            "organization": event.ticket.organization_id,
            "requester": event.ticket.requester_id,
            "public": event.is_public and not event.is_internal,
        }
    return facts


def expected_receipts(followers: list[Follower], events: dict[int, dict]) -> list[set[int]]:
    return [{pk for pk, event in events.items() if follower.should_see(event)} for follower in followers]


def polling_phase(tree, args, followers, cookies, tickets, agents, commits) -> list:
    from django.conf import settings

    commits.events.clear()
    interval = settings.LIVE_POLL_MIN_SECONDS
    with Server(tree, args.workers) as server:
        meter = _stack.CpuMeter(server, DATABASE)
        spec = {
            "server": f"http://{HOST}:{server.port}",
            "after": newest_event_id(),
            "interval": interval,
            "clients": [{"path": f.poll_path, "cookie": cookies[f.user_id]} for f in followers],
        }
        generator = LoadGenerator("polls", spec)
        generator.start()
        meter.watch("load generator", generator.process.pid)
        before = meter.snapshot()
        started = time.monotonic()
        commit_steadily(tickets, agents, args.rate, args.seconds)
        time.sleep(interval)
        elapsed = time.monotonic() - started
        after = meter.snapshot()
        result = generator.finish()
    spent = _stack.CpuMeter.spent(before, after)
    requests = [tuple(r) for poller in result["pollers"] for r in poller["requests"]]
    statuses: dict[int, int] = {}
    for status, _ in requests:
        statuses[status] = statuses.get(status, 0) + 1
    took = [seconds * 1000 for status, seconds in requests if status == 200]
    expected = expected_receipts(followers, commits.events)
    latencies = []
    for poller, wanted in zip(result["pollers"], expected, strict=True):
        arrived = {int(k): v for k, v in poller["arrived"].items()}
        latencies += [(arrived[e] - commits.events[e]["at"]) * 1000 for e in wanted if e in arrived]
    return [
        len(followers),
        interval,
        f"{len(followers) / interval:.0f}",
        f"{len(requests) / elapsed:.0f}",
        ", ".join(f"{status or 'error'}: {count}" for status, count in sorted(statuses.items())),
        f"{percentile(took, 50):.0f}" if took else "—",
        f"{percentile(took, 99):.0f}" if took else "—",
        f"{percentile(latencies, 50):.0f}" if latencies else "—",
        f"{percentile(latencies, 99):.0f}" if latencies else "—",
        f"{spent['app'] * 1000 / max(len(requests), 1):.1f}",
        f"{spent['app'] / elapsed * 100:.0f} %",
    ]


def export(ref: str) -> Path:
    """The tree of commit `ref` in a temporary folder (git archive: no worktree, nothing checked out)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-realtime-before-"))
    archive = subprocess.run(["git", "archive", ref], cwd=BASE_DIR, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    staticfiles = BASE_DIR / "staticfiles"
    if staticfiles.is_dir():
        shutil.copytree(staticfiles, folder / "staticfiles")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--organizations", type=int, default=30)
    parser.add_argument("--rate", type=float, default=20.0, help="events committed per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--drain", type=float, default=15.0, help="seconds to wait for late receipts")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (uvicorn)")
    parser.add_argument("--before", default="main", help="git ref of the code to compare with ('' to skip)")
    parser.add_argument("--before-rate", type=float, default=None, help="events/s of the before run")
    parser.add_argument("--no-polling", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("BENCH_REDIS_URL", os.environ.get("REDIS_URL") or _stack.DEFAULT_REDIS)
    os.environ["LIVE_CHANNEL_PREFIX"] = f"bench-realtime-{uuid.uuid4().hex[:8]}"
    _stack.use_database(DATABASE)
    from django.contrib.auth import get_user_model

    followers, cookies, tickets = population(args.clients, args.organizations)
    agents = list(get_user_model().objects.filter(username__startswith="rt-agent-"))
    commits = Commits()
    commits.install()
    print(_stack.machine(), flush=True)
    print(
        f"{len(followers)} sockets: {sum(f.agent for f in followers)} agents' "
        f"({sum(f.agent and f.ticket_id is None for f in followers)} queues), "
        f"{sum(not f.agent for f in followers)} customers'; {args.workers} uvicorn worker(s)",
        flush=True,
    )
    rows = []
    rows.append(sockets_phase("this branch", BASE_DIR, args, followers, cookies, tickets, agents, commits))
    print(rows[-1], flush=True)
    if args.before:
        before_args = argparse.Namespace(**{**vars(args), "rate": args.before_rate or args.rate})
        tree = export(args.before)
        try:
            rows.append(
                sockets_phase(
                    f"{args.before} (before)", tree, before_args, followers, cookies, tickets, agents, commits
                )
            )
        finally:
            shutil.rmtree(tree, ignore_errors=True)
        print(rows[-1], flush=True)
    print(
        table(
            [
                "code",
                "sockets",
                "opened in s",
                "events",
                "events/s",
                "receipts due",
                "messages/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
                "lost",
                "duplicated",
                "leaked",
                "reconnects",
                "KiB/socket",
                "server CPU s/1k events",
                "db CPU s/1k",
                "load gen CPU s/1k",
                "committer CPU s/1k",
            ],
            rows,
        )
    )
    if not args.no_polling:
        polled = polling_phase(BASE_DIR, args, followers, cookies, tickets, agents, commits)
        print(
            table(
                [
                    "pollers",
                    "interval s",
                    "needed req/s",
                    "measured req/s",
                    "answers",
                    "request p50 ms",
                    "request p99 ms",
                    "event p50 ms",
                    "event p99 ms",
                    "server CPU ms/request",
                    "server CPU",
                ],
                [polled],
            )
        )
    _stack.purge_queue()


if __name__ == "__main__":
    sys.exit(main())
