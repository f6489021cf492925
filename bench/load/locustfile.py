"""The mixed load (locust): customers in the portal, agents in the console, integrations on the API.

Started by `bench/load/run.py`, which brings the stack up and passes, in the environment:

- `LOAD_CUSTOMERS`, `LOAD_CUSTOMER_PASSWORD`: portal logins (comma-separated; users take them in turn);
- `LOAD_AGENTS`, `LOAD_AGENT_PASSWORD`: console logins;
- `LOAD_API_TOKEN`: an agent's API token; `LOAD_REQUESTERS`: customer ids an integration files for;
- `LOAD_THINK`: "min,max" seconds each user waits between two tasks.

Every request is checked: a 4xx/5xx answer, a redirect to the wrong place or an unexpected body is a
failure (`catch_response`). Request names group URLs by kind ("portal: ticket page"), so the report has
one line per kind whatever the ticket.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import struct
import uuid
import zlib
from datetime import UTC, datetime, timedelta

from locust import HttpUser, between, task

CUSTOMERS = [name for name in os.environ.get("LOAD_CUSTOMERS", "").split(",") if name]
CUSTOMER_PASSWORD = os.environ.get("LOAD_CUSTOMER_PASSWORD", "")
AGENTS = [name for name in os.environ.get("LOAD_AGENTS", "").split(",") if name]
AGENT_PASSWORD = os.environ.get("LOAD_AGENT_PASSWORD", "")
API_TOKEN = os.environ.get("LOAD_API_TOKEN", "")
REQUESTERS = [int(pk) for pk in os.environ.get("LOAD_REQUESTERS", "").split(",") if pk]
THINK = tuple(float(s) for s in os.environ.get("LOAD_THINK", "0.5,2").split(","))

# Users take the logins in turn (several users may share one: each has its own session).
_customer_logins = itertools.cycle(CUSTOMERS or [""])
_agent_logins = itertools.cycle(AGENTS or [""])

PORTAL_REFERENCE = re.compile(r'href="/portal/tickets/(HD-\d+)/"')
PORTAL_PAGES = re.compile(r"Page \d+ of (\d+)")
CONSOLE_TICKET = re.compile(r'href="/admin/tickets/ticket/(\d+)/change/')
SEARCH_WORDS = ["interview", "calendar", "invite", "sync", "candidate", "report"]
SEVERITIES = ["S1"] * 2 + ["S2"] * 15 + ["S3"] * 50 + ["S4"] * 23 + ["S5"] * 10


def _png(width: int = 320, height: int = 200) -> bytes:
    """A real PNG (RGB, a gradient with noise so it does not compress to nothing): a screenshot's stand-in."""
    rng = random.Random(7)
    rows = b"".join(
        b"\x00" + bytes((x + rng.randrange(32)) % 256 for x in range(width * 3)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


SCREENSHOT = _png()


def _csrf(user: HttpUser) -> str:
    return user.client.cookies.get("csrftoken", "")


def _sign_in(user: HttpUser, path: str, username: str, password: str, *, area: str, expect: str) -> None:
    """Sign in through a login form (GET for the CSRF cookie, POST); the session cookie stays on the
    user's client. `expect`: where a successful sign-in redirects."""
    user.client.get(path, name=f"{area}: sign-in form")
    with user.client.post(
        path,
        data={"username": username, "password": password, "csrfmiddlewaretoken": _csrf(user)},
        name=f"{area}: sign in",
        allow_redirects=False,
        catch_response=True,
    ) as response:
        if response.status_code != 302 or not response.headers.get("Location", "").startswith(expect):
            response.failure(f"sign-in as {username} answered {response.status_code}")


#: A field's error as crispy-forms (Bootstrap 5) renders it: the field's id, the message.
FORM_ERROR = re.compile(r'<p id="error_\d+_id_([\w-]+)"><strong>([^<]+)</strong>')


def _expect_redirect(response, *, contains: str) -> str | None:
    """Mark a form POST failed unless it redirected to a URL containing `contains`; return the URL. A form
    shown again (200, 400) fails with its error messages."""
    location = response.headers.get("Location", "")
    if response.status_code != 302 or contains not in location:
        errors = [f"{field}: {message}" for field, message in FORM_ERROR.findall(response.text)][:3]
        response.failure(f"{response.status_code}, Location {location!r}, errors {errors}")
        return None
    response.success()
    return location


class Customer(HttpUser):
    """A customer in the portal: My tickets (filters, search, pages), ticket pages, the chat panel's
    poll, a new ticket with a screenshot now and then, replies on open tickets."""

    weight = 6
    wait_time = between(*THINK)

    def on_start(self) -> None:
        self.username = next(_customer_logins)
        self.seen: list[str] = []  # references from the last list
        self.open: list[str] = []  # references of open tickets (replies go there)
        self.pages = 1
        _sign_in(self, "/portal/login/", self.username, CUSTOMER_PASSWORD, area="portal", expect="/portal/")

    def _list(self, query: str, name: str, *, open_only: bool = False) -> None:
        with self.client.get(f"/portal/{query}", name=name, catch_response=True) as response:
            if response.status_code != 200 or "My tickets" not in response.text:
                response.failure(f"{response.status_code}")
                return
            found = PORTAL_REFERENCE.findall(response.text)
            if found:
                self.seen = found
                if open_only:
                    self.open = found
            pages = PORTAL_PAGES.search(response.text)
            if not query and pages:
                self.pages = int(pages.group(1))

    @task(6)
    def my_tickets(self) -> None:
        self._list("", "portal: My tickets")

    @task(3)
    def my_tickets_filtered(self) -> None:
        query = random.choice(
            ["?status=open", "?status=resolved", "?severity=S2", "?status=open&severity=S3"]
        )
        self._list(query, "portal: My tickets ?status/severity", open_only=query.startswith("?status=open"))

    @task(2)
    def my_tickets_search(self) -> None:
        self._list(f"?q={random.choice(SEARCH_WORDS)}", "portal: My tickets ?q= (search)")

    @task(2)
    def my_tickets_page(self) -> None:
        if self.pages > 1:
            self._list(f"?page={random.randint(2, min(self.pages, 10))}", "portal: My tickets ?page=2..10")

    @task(6)
    def ticket_page(self) -> None:
        if not self.seen:
            return self.my_tickets()
        reference = random.choice(self.seen)
        with self.client.get(
            f"/portal/tickets/{reference}/", name="portal: ticket page", catch_response=True
        ) as response:
            if response.status_code != 200 or reference not in response.text:
                response.failure(f"{response.status_code}")

    @task(2)
    def chat_poll(self) -> None:
        with self.client.get(
            "/portal/chat/?after=-1", name="portal: chat poll", catch_response=True
        ) as response:
            try:
                state = response.json()
            except ValueError:
                state = None
            if response.status_code != 200 or not isinstance(state, dict) or "messages" not in state:
                response.failure(f"{response.status_code}")

    @task(1)
    def file_ticket(self) -> None:
        """The new-ticket form, filled as the FAQ asks, with a candidate and a PNG screenshot."""
        self.client.get("/portal/tickets/new/", name="portal: new-ticket form")
        severity = random.choice(SEVERITIES)
        number = uuid.uuid4().hex[:8]
        # A local time in the organization's zone: a day or more back is in the past in every zone.
        started = (datetime.now(UTC) - timedelta(hours=random.randint(26, 72))).strftime("%Y-%m-%dT%H:%M")
        data = {
            "csrfmiddlewaretoken": _csrf(self),
            "severity": severity,
            "subject": f"Load: interview invites not sent ({number})",
            "affected_role": "coordinator",
            "impact_scope": random.choice(["just_me", "several_users", "whole_organization"]),
            "description": "Since this morning candidates get no invitation after we schedule them. " * 3,
            "product_area": "Scheduling",
            "feature": "Invitations",
            "error_message": "Invite could not be delivered (code 502)",
            "occurrence": "ongoing",
            "started_at": started,
            "reason": "We schedule 40 interviews a day; without invites candidates do not show up.",
            "interview_position": "Senior Backend Engineer",
            "interview_template_name": "Onsite loop",
            "interview_template_changes": "",
            "interview_interviewers": "Jordan Lee\nSam Patel",
            "candidates-TOTAL_FORMS": "1",
            "candidates-INITIAL_FORMS": "0",
            "candidates-MIN_NUM_FORMS": "0",
            "candidates-MAX_NUM_FORMS": "50",
            "candidates-0-name": f"Candidate {number}",
            "candidates-0-email": f"candidate.{number}@example.com",
        }
        files = {"attachments": (f"screenshot-{number}.png", SCREENSHOT, "image/png")}
        with self.client.post(
            "/portal/tickets/new/",
            data=data,
            files=files,
            name="portal: file ticket (multipart, PNG)",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            location = _expect_redirect(response, contains="/portal/tickets/HD-")
        if location:
            reference = location.rstrip("/").rsplit("/", 1)[-1]
            self.open.append(reference)
            self.seen.append(reference)

    @task(1)
    def reply(self) -> None:
        if not self.open:
            return self._list("?status=open", "portal: My tickets ?status/severity", open_only=True)
        reference = random.choice(self.open)
        with self.client.post(
            f"/portal/tickets/{reference}/reply/",
            data={"csrfmiddlewaretoken": _csrf(self), "body": "Any news? It still happens this morning."},
            name="portal: reply",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            _expect_redirect(response, contains=f"/portal/tickets/{reference}/")


class Agent(HttpUser):
    """An agent in the console: the work queues, searches, ticket pages with their live conversation
    poll, and public replies through the ticket page's reply box."""

    weight = 2
    wait_time = between(*THINK)
    QUEUES = ["open", "open", "unassigned_urgent", "at_risk", "breached", "waiting", "mine"]
    LIST = "/admin/tickets/ticket/"

    def on_start(self) -> None:
        self.username = next(_agent_logins)
        self.tickets: list[str] = []
        _sign_in(
            self,
            "/admin/login/?next=/admin/",
            self.username,
            AGENT_PASSWORD,
            area="console",
            expect="/admin/",
        )

    def _list(self, query: str, name: str) -> None:
        with self.client.get(f"{self.LIST}{query}", name=name, catch_response=True) as response:
            if response.status_code != 200 or 'id="changelist"' not in response.text:
                response.failure(f"{response.status_code}")
                return
            found = CONSOLE_TICKET.findall(response.text)
            if found and "queue=" in query:  # replies go to tickets from the (open) queues
                self.tickets = found

    @task(5)
    def queue(self) -> None:
        self._list(f"?queue={random.choice(self.QUEUES)}", "console: queue ?queue=")

    @task(1)
    def search(self) -> None:
        self._list(f"?q={random.choice(SEARCH_WORDS)}", "console: list ?q= (search)")

    @task(1)
    def filtered(self) -> None:
        query = random.choice(["?severity__exact=S1", "?status__exact=pending", "?channel__exact=email&p=2"])
        self._list(query, "console: list ?severity/status/channel")

    @task(4)
    def ticket_page(self) -> None:
        if not self.tickets:
            return self.queue()
        pk = random.choice(self.tickets)
        with self.client.get(
            f"{self.LIST}{pk}/change/", name="console: ticket page", catch_response=True
        ) as response:
            if response.status_code != 200 or 'id="conversation"' not in response.text:
                response.failure(f"{response.status_code}")

    @task(2)
    def conversation_poll(self) -> None:
        if not self.tickets:
            return
        pk = random.choice(self.tickets)
        # The ticket page's updates where its WebSocket is blocked (the live polling fallback). A poll
        # sooner than LIVE_POLL_MIN_SECONDS after the last one is answered 429 by design: not a failure.
        with self.client.get(
            f"/live/tickets/{pk}/?after=0", name="console: live fallback poll", catch_response=True
        ) as response:
            try:
                ok = (response.status_code == 200 and "events" in response.json()) or (
                    response.status_code == 429
                )
            except ValueError:
                ok = False
            if ok:
                response.success()
            else:
                response.failure(f"{response.status_code}")

    @task(2)
    def reply(self) -> None:
        """A public reply from the ticket page's reply box (the console's own reply view)."""
        if not self.tickets:
            return self.queue()
        pk = random.choice(self.tickets)
        with self.client.post(
            f"{self.LIST}{pk}/reply/",
            data={
                "csrfmiddlewaretoken": _csrf(self),
                "body": "Thanks for the details. We are looking into the invitations now.",
                "kind": "reply",
                "then_status": "",
                "macro": "",
            },
            name="console: reply",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            # Success redirects to the conversation; a refused reply back to the box (#reply).
            _expect_redirect(response, contains="#conversation")


class Integration(HttpUser):
    """An integration with an agent's API token: lists with filters and ordering, reads tickets and
    their conversation, walks the cursor export, and now and then opens a ticket with an
    Idempotency-Key (and retries one, which must replay the first answer)."""

    weight = 1
    wait_time = between(*THINK)
    LIST = "/api/v1/tickets/"

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Token {API_TOKEN}"
        self.references: list[str] = []

    def _get(self, path: str, name: str, *, params=None) -> dict | None:
        with self.client.get(path, params=params, name=name, catch_response=True) as response:
            try:
                body = response.json()
            except ValueError:
                body = None
            if response.status_code != 200 or not isinstance(body, dict):
                response.failure(f"{response.status_code}: {response.text[:200]!r}")
                return None
            return body

    def _list(self, params: list[tuple[str, str]], name: str) -> None:
        page = self._get(self.LIST, name, params=params)
        if page and page.get("results"):
            self.references = [ticket["reference"] for ticket in page["results"]]

    @task(3)
    def queue_order(self) -> None:
        self._list(random.choice([[], [("page", "2")], [("page_size", "100")]]), "api: list (queue order)")

    @task(3)
    def filtered(self) -> None:
        week_ago = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        params = random.choice(
            [
                [("status", "open"), ("status", "new")],
                [("severity", "S1"), ("severity", "S2")],
                [("assignee", "none"), ("status", "new")],
                [("sla_state", "breached")],
                [("created_after", week_ago)],
                [("channel", "email"), ("status", "pending")],
            ]
        )
        self._list(params, "api: list ?filters")

    @task(2)
    def ordered(self) -> None:
        ordering = random.choice(["-created_at", "-updated_at", "sla_due_at", "severity"])
        self._list([("ordering", ordering), ("status", "open")], "api: list ?ordering")

    @task(1)
    def search(self) -> None:
        self._list([("search", random.choice(SEARCH_WORDS))], "api: list ?search")

    @task(3)
    def retrieve(self) -> None:
        if not self.references:
            return self.queue_order()
        self._get(f"{self.LIST}{random.choice(self.references)}/", "api: ticket")

    @task(1)
    def conversation(self) -> None:
        if self.references:
            self._get(f"{self.LIST}{random.choice(self.references)}/messages/", "api: messages")

    @task(1)
    def export(self) -> None:
        """Three pages of the cursor export, following `next`."""
        url = f"{self.LIST}export/?page_size=100"
        for _ in range(3):
            page = self._get(url, "api: export page (cursor)")
            if not page or not page.get("next"):
                return
            url = page["next"]

    @task(1)
    def create(self) -> None:
        number = uuid.uuid4().hex[:8]
        body = json.dumps(
            {
                "subject": f"Load: calendar sync stopped ({number})",
                "description": "Interviewers' calendars stopped syncing after the password change.",
                "severity": random.choice(SEVERITIES[:-10]),  # no feature requests from integrations
                "requester": random.choice(REQUESTERS),
                "channel": "email",
                "affected_role": "interviewer",
                "impact_scope": "several_users",
                "product_area": "Calendar sync",
                "occurrence": "ongoing",
                "interview": {"candidates": [{"name": f"Candidate {number}"}], "position": "Recruiter"},
            }
        )
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
        with self.client.post(
            self.LIST, data=body, headers=headers, name="api: create (Idempotency-Key)", catch_response=True
        ) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]!r}")
                return
            reference = response.json()["reference"]
        if random.random() < 0.2:  # a client that timed out and retries: the first answer comes back
            with self.client.post(
                self.LIST,
                data=body,
                headers=headers,
                name="api: create, retried (replay)",
                catch_response=True,
            ) as response:
                replayed = response.headers.get("Idempotent-Replayed") == "true"
                if response.status_code != 201 or not replayed or response.json()["reference"] != reference:
                    response.failure(f"{response.status_code}, replayed={replayed}")
