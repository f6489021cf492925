"""Isolation across the portal and the API: every role against another organization's ticket, its
messages, attachments and events, and internal notes kept from every customer.

One world: organization A's ticket (a chat, so the chat panel is tested too) with a public attachment, a
public agent reply with a file, an internal note with a file, an assignment and a severity change; and
organization B's own ticket, so that B's lists are not trivially empty. The matrix runs each case (a
request and what it must and must not show) for each role:

- would-be intruders: anonymous; organization B's requester and admin (signed in); organization A's
  requester who is not the ticket's; an API token of B's admin; an agent's token limited to B;
- positive controls, which prove a case can see a leak: the ticket's requester, A's admin, an agent.

Another organization's ticket answers 404 everywhere (never 403), as docs/api.md says. Below the matrix:
notification emails, webhook deliveries, organization-limited tokens on provisioning and the shared chart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import AgentFactory, CustomerFactory, OrganizationFactory
from tickets import services
from tickets.models import Chat, Event, Message, Severity, Status, Ticket
from tickets.models.integrations import ApiToken, WebhookDelivery, WebhookSubscription
from tickets.services.people import customer_update

User = get_user_model()

PNG = (
    b"\x89PNG\r\n\x1a\n"
    + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)

# What organization A's ticket says: none of it may reach anyone who may not see the ticket.
SUBJECT = "Quokka calendar sync drops interviews"
DESCRIPTION = "Since the Quokka upgrade every panel loses its slots."
CANDIDATE_EMAIL = "ada.quokka@candidates.example"
REQUESTER_EMAIL = "requester-a@orga.example"
REPLY = "Quokka engineering reproduced the sync drop."
PUBLIC_FILES = ("quokka-screen.png", "quokka-fix.png")
# What its internal note says: it may reach agents only.
NOTE = "INTERNAL Quokka: customer is on the legacy plan, do not promise a fix"
NOTE_FILE = "quokka-internal.log"
NOTE_FILE_TEXT = b"2026-11-24 09:00:01 ERROR quokka shard 7 corrupted\n"

PUBLIC_MARKERS = (SUBJECT, DESCRIPTION, CANDIDATE_EMAIL, REQUESTER_EMAIL, REPLY, *PUBLIC_FILES)
INTERNAL_MARKERS = (NOTE, NOTE_FILE, NOTE_FILE_TEXT.decode().strip())


def png(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


# --- roles ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Role:
    name: str
    session: str | None = None  # the world's user signed in to the portal / console, if any
    token: str | None = None  # the world's user whose API token the role sends, if any
    token_organization: str | None = None  # the organization that token is limited to
    sees: bool = False  # may see organization A's ticket
    internal: bool = False  # and its internal notes

    @property
    def portal(self) -> str:
        """What the portal does for this role: `login`, `console` (agents), `shown` or `hidden`."""
        if self.session is None:
            return "login"
        if self.session == "agent":
            return "console"
        return "shown" if self.sees else "hidden"

    @property
    def api(self) -> str:
        """What the API does: `anonymous` (401), `shown` or `hidden` (404)."""
        if self.session is None and self.token is None:
            return "anonymous"
        return "shown" if self.sees else "hidden"


ROLES = {
    role.name: role
    for role in (
        Role("anonymous"),
        Role("requester_b", session="requester_b"),
        Role("admin_b", session="admin_b"),
        Role("colleague_a", session="colleague_a"),
        Role("customer_b_token", token="admin_b"),
        Role("org_b_token", token="agent", token_organization="org_b"),
        Role("requester_a", session="requester_a", token="requester_a", sees=True),
        Role("admin_a", session="admin_a", token="admin_a", sees=True),
        Role("agent", session="agent", token="agent", sees=True, internal=True),
    )
}

#: The tickets each role's lists hold ("t": organization A's ticket, "b": organization B's).
LISTED = {
    "requester_b": {"b"},
    "admin_b": {"b"},
    "colleague_a": set(),
    "customer_b_token": {"b"},
    "org_b_token": {"b"},
    "requester_a": {"t"},
    "admin_a": {"t"},
    "agent": {"t", "b"},
}


# --- the world --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _generous_throttles(monkeypatch):
    """Throttle counters are shared (Redis in CI): the matrix must not trip them."""
    for scope in ("token", "anon", "auth"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")


@pytest.fixture
def w(db):
    org_a, org_b = OrganizationFactory(name="Org A"), OrganizationFactory(name="Org B")
    requester_a = CustomerFactory(
        username="requester-a", email=REQUESTER_EMAIL, membership__organization=org_a
    )
    colleague_a = CustomerFactory(username="colleague-a", membership__organization=org_a)
    admin_a = CustomerFactory(username="admin-a", membership__organization=org_a, membership__role="admin")
    requester_b = CustomerFactory(username="requester-b", membership__organization=org_b)
    admin_b = CustomerFactory(username="admin-b", membership__organization=org_b, membership__role="admin")
    agent = AgentFactory(username="agent")

    ticket = services.ticket_create(
        requester=requester_a,
        subject=SUBJECT,
        description=DESCRIPTION,
        severity=Severity.S2,
        channel="chat",
        candidates=[{"name": "Ada", "email": CANDIDATE_EMAIL}],
        attachments=[png(PUBLIC_FILES[0])],
    )
    reply = services.ticket_reply(ticket=ticket, author=agent, body=REPLY, attachments=[png(PUBLIC_FILES[1])])
    note = services.ticket_add_note(
        ticket=ticket,
        author=agent,
        body=NOTE,
        attachments=[SimpleUploadedFile(NOTE_FILE, NOTE_FILE_TEXT, content_type="text/plain")],
    )
    services.ticket_assign(ticket=ticket, actor=agent, assignee=agent)
    services.ticket_change_severity(ticket=ticket, actor=agent, severity=Severity.S3)
    b_ticket = services.ticket_create(requester=requester_b, subject="Org B's own", description="Theirs")

    ticket.refresh_from_db()
    files = {a.original_name: a for a in ticket.attachments.all()}
    world = SimpleNamespace(
        org_a=org_a,
        org_b=org_b,
        requester_a=requester_a,
        colleague_a=colleague_a,
        admin_a=admin_a,
        requester_b=requester_b,
        admin_b=admin_b,
        agent=agent,
        ticket=ticket,
        ref=ticket.reference,
        b_ticket=b_ticket,
        reply=reply,
        note=note,
        public_file=files[PUBLIC_FILES[0]],
        reply_file=files[PUBLIC_FILES[1]],
        note_file=files[NOTE_FILE],
    )
    world.refs = {"t": ticket.reference, "b": b_ticket.reference}
    return world


def portal_client(w, role: Role) -> Client:
    """The browser: the role's session, if any (a token does not open the portal)."""
    client = Client()
    if role.session:
        client.force_login(getattr(w, role.session))
    return client


def api_client(w, role: Role) -> Client:
    """The integration: the role's token if it has one, else its session (the browsable API)."""
    if role.token is None:
        return portal_client(w, role)
    organization = getattr(w, role.token_organization) if role.token_organization else None
    _, key = ApiToken.objects.issue(user=getattr(w, role.token), name="test", organization=organization)
    client = Client(headers={"Authorization": f"Token {key}"})
    if role.session:
        client.force_login(getattr(w, role.session))
    return client


# --- assertions -------------------------------------------------------------------------------------


def text(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def assert_nothing_of_the_ticket(response) -> None:
    body = text(response)
    leaked = [marker for marker in PUBLIC_MARKERS + INTERNAL_MARKERS if marker in body]
    assert not leaked, f"leaked {leaked}"


def assert_no_internal(response) -> None:
    body = text(response)
    leaked = [marker for marker in INTERNAL_MARKERS if marker in body]
    assert not leaked, f"internal note leaked: {leaked}"


def assert_refused_by_portal(response, role: Role) -> None:
    """Anyone not signed in (a token is not a sign-in) is sent to log in; agents to the console."""
    assert response.status_code == 302
    if role.portal == "login":
        assert response["Location"].startswith("/portal/login/")
    else:
        assert response["Location"].startswith("/admin/")


def assert_hidden_api(response) -> None:
    assert response.status_code == 404, text(response)[:300]
    assert response["Content-Type"].startswith("application/json")
    assert_nothing_of_the_ticket(response)


def assert_anonymous_api(response) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def ticket_messages_by(w, user) -> int:
    return Message.objects.filter(ticket=w.ticket, author=user).count()


# --- the cases --------------------------------------------------------------------------------------

#: case name → (channel, function(world, role)).
CASES: dict[str, tuple[str, Callable]] = {}


def case(channel: str):
    """Register a case of the matrix. `portal` and `session_download` run for every role with its session,
    `api` for every role with its token (else its session), `token_download` for the roles with a token."""

    def register(function):
        CASES[function.__name__.removeprefix("case_")] = (channel, function)
        return function

    return register


@case("portal")
def case_portal_ticket_page(w, role):
    client = portal_client(w, role)
    for reference in (w.ref, w.ref.lower(), str(w.ticket.pk)):
        response = client.get(f"/portal/tickets/{reference}/")
        if role.portal in ("login", "console"):
            assert_refused_by_portal(response, role)
        elif role.portal == "hidden":
            assert response.status_code == 404
            assert_nothing_of_the_ticket(response)
        else:
            assert response.status_code == 200
            body = text(response)
            for marker in (SUBJECT, DESCRIPTION, REPLY, *PUBLIC_FILES):
                assert marker in body
            assert_no_internal(response)
            assert f"/attachments/{w.note_file.pk}/" not in body


@case("portal")
def case_portal_reply(w, role):
    user = getattr(w, role.session) if role.session else None
    response = portal_client(w, role).post(f"/portal/tickets/{w.ref}/reply/", {"body": "Me too"})
    if role.portal in ("login", "console"):
        assert_refused_by_portal(response, role)
        assert w.ticket.messages.count() == 2
    elif role.portal == "hidden":
        assert response.status_code == 404
        assert_nothing_of_the_ticket(response)
        assert ticket_messages_by(w, user) == 0
    else:
        assert response.status_code == 302
        assert ticket_messages_by(w, user) == 1


@case("portal")
def case_portal_resolve(w, role):
    response = portal_client(w, role).post(f"/portal/tickets/{w.ref}/resolve/")
    w.ticket.refresh_from_db()
    if role.portal == "shown":
        assert response.status_code == 302
        assert w.ticket.status == Status.RESOLVED
        return
    if role.portal == "hidden":
        assert response.status_code == 404
        assert_nothing_of_the_ticket(response)
    else:
        assert_refused_by_portal(response, role)
    assert w.ticket.status == Status.OPEN


@case("portal")
def case_portal_reopen(w, role):
    services.ticket_change_status(ticket=w.ticket, actor=w.agent, status=Status.RESOLVED)
    response = portal_client(w, role).post(f"/portal/tickets/{w.ref}/reopen/")
    w.ticket.refresh_from_db()
    if role.portal == "shown":
        assert response.status_code == 302
        assert w.ticket.status == Status.OPEN
        return
    if role.portal == "hidden":
        assert response.status_code == 404
        assert_nothing_of_the_ticket(response)
    else:
        assert_refused_by_portal(response, role)
    assert w.ticket.status == Status.RESOLVED


@case("portal")
def case_portal_chat_state(w, role):
    """The chat panel shows the customer's own chat only, and offers only the tickets they may see."""
    # The requester's chat panel is on the ticket (the chat opened it).
    Chat.objects.get_or_create(
        ticket=w.ticket,
        customer=w.requester_a,
        ended_at=None,
        defaults={
            "started_at": w.ticket.created_at,
            "opened_ticket": True,
            "last_message_at": w.ticket.created_at,
        },
    )
    client = portal_client(w, role)
    response = client.get("/portal/chat/")
    if role.portal in ("login", "console"):
        assert_refused_by_portal(response, role)
        return
    assert response.status_code == 200
    state = response.json()
    offered = [ticket["reference"] for ticket in state["open_tickets"]]
    if role.name == "requester_a":
        assert state["ticket"]["reference"] == w.ref
        assert REPLY in json.dumps(state["messages"])
        assert w.ref in offered
        assert_no_internal(response)
    elif role.name == "admin_a":  # may see the ticket (and continue on it), but it is not their chat
        assert state["ticket"] is None and state["messages"] == []
        assert w.ref in offered
        assert_no_internal(response)
    else:
        assert state["ticket"] is None and state["messages"] == []
        assert w.ref not in offered
        assert_nothing_of_the_ticket(response)


@case("portal")
def case_portal_chat_post(w, role):
    """A chat line goes on a ticket the writer may see, never on another's: naming someone else's ticket
    is a 400 on the `ticket` field, and nothing is written to it."""
    user = getattr(w, role.session) if role.session else None
    client = portal_client(w, role)
    response = client.post("/portal/chat/", {"body": "Hello, anyone there?", "ticket": w.ref})
    if role.portal in ("login", "console"):
        assert_refused_by_portal(response, role)
        return
    if role.name in ("requester_a", "admin_a"):
        assert response.status_code == 201
        assert response.json()["ticket"]["reference"] == w.ref
        assert ticket_messages_by(w, user) == 1
        assert_no_internal(response)
        return
    assert response.status_code == 400 and "ticket" in response.json()["errors"]
    assert_nothing_of_the_ticket(response)
    assert ticket_messages_by(w, user) == 0
    started = client.post(
        "/portal/chat/", {"body": "Hello, anyone there?", "subject": "Hello", "severity": "S4"}
    )
    assert started.status_code == 201
    assert started.json()["ticket"]["reference"] != w.ref
    assert_nothing_of_the_ticket(started)
    chat = Ticket.objects.get(requester=user, channel="chat")
    assert chat.organization_id == user.membership.organization_id


@case("portal")
def case_portal_list_and_search(w, role):
    """My tickets, its organization scope and its search: the ticket is found only by those who may see
    it, the count agrees with the rows, and the note's words find nothing for anyone."""
    client = portal_client(w, role)
    queries = [
        ({"scope": "organization"}, True),
        ({"q": "Quokka calendar"}, True),
        ({"scope": "organization", "q": w.ref}, True),
        ({"scope": "organization", "q": str(w.ticket.pk), "status": "open", "severity": "S3"}, True),
        ({"scope": "organization", "q": "legacy plan"}, False),
    ]
    for params, findable in queries:
        response = client.get("/portal/", params)
        if role.portal in ("login", "console"):
            assert_refused_by_portal(response, role)
            continue
        assert response.status_code == 200
        rows = [ticket.pk for ticket, _ in response.context["rows"]]
        assert response.context["page"].paginator.count == len(rows)
        # A's admin finds the ticket in the organization scope; in "mine" it is the requester's alone.
        mine_only = role.name == "admin_a" and params.get("scope") != "organization"
        expected = findable and role.portal == "shown" and not mine_only
        assert (w.ticket.pk in rows) is expected, params
        if role.portal == "hidden":
            assert_nothing_of_the_ticket(response)
        assert_no_internal(response)


def _download(w, role, attachment, *, by_token: bool) -> None:
    """The download URL (the API's `download_url`) by session or by token, with the same checks."""
    client = api_client(w, role) if by_token else portal_client(w, role)
    response = client.get(f"/attachments/{attachment.pk}/")
    signed_in = role.token if by_token else role.session
    may = role.internal if attachment == w.note_file else role.sees
    if signed_in is None:
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/login/")
    elif may:
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
        assert "no-store" in response["Cache-Control"]
        body = b"".join(response.streaming_content)
        assert body == (NOTE_FILE_TEXT if attachment == w.note_file else PNG)
    else:
        assert response.status_code == 404
        if by_token:
            assert response.json() == {"detail": "No such attachment."}
        assert_nothing_of_the_ticket(response)


@case("session_download")
def case_download_public_file_by_session(w, role):
    _download(w, role, w.public_file, by_token=False)


@case("session_download")
def case_download_reply_file_by_session(w, role):
    _download(w, role, w.reply_file, by_token=False)


@case("session_download")
def case_download_note_file_by_session(w, role):
    _download(w, role, w.note_file, by_token=False)


@case("token_download")
def case_download_public_file_by_token(w, role):
    _download(w, role, w.public_file, by_token=True)


@case("token_download")
def case_download_reply_file_by_token(w, role):
    _download(w, role, w.reply_file, by_token=True)


@case("token_download")
def case_download_note_file_by_token(w, role):
    _download(w, role, w.note_file, by_token=True)


@case("api")
def case_api_ticket(w, role):
    client = api_client(w, role)
    for reference in (w.ref, w.ref.lower(), str(w.ticket.pk)):
        response = client.get(f"/api/v1/tickets/{reference}/")
        if role.api == "anonymous":
            assert_anonymous_api(response)
        elif role.api == "hidden":
            assert_hidden_api(response)
        else:
            assert response.status_code == 200
            assert response.json()["subject"] == SUBJECT
            assert_no_internal(response)


@case("api")
def case_api_ticket_patch(w, role):
    response = api_client(w, role).patch(
        f"/api/v1/tickets/{w.ref}/", {"status": "resolved"}, content_type="application/json"
    )
    w.ticket.refresh_from_db()
    if role.api == "shown":
        assert response.status_code == 200
        assert w.ticket.status == Status.RESOLVED
        return
    if role.api == "anonymous":
        assert_anonymous_api(response)
    else:
        assert_hidden_api(response)
    assert w.ticket.status == Status.OPEN


@case("api")
def case_api_messages(w, role):
    response = api_client(w, role).get(f"/api/v1/tickets/{w.ref}/messages/")
    if role.api == "anonymous":
        assert_anonymous_api(response)
    elif role.api == "hidden":
        assert_hidden_api(response)
    elif role.internal:
        assert response.status_code == 200
        assert {m["id"] for m in response.json()["results"]} == {w.reply.pk, w.note.pk}
    else:
        assert response.status_code == 200
        assert [m["id"] for m in response.json()["results"]] == [w.reply.pk]
        assert_no_internal(response)


@case("api")
def case_api_reply(w, role):
    response = api_client(w, role).post(
        f"/api/v1/tickets/{w.ref}/messages/", {"body": "Any news?"}, content_type="application/json"
    )
    if role.api == "anonymous":
        assert_anonymous_api(response)
    elif role.api == "hidden":
        assert_hidden_api(response)
    else:
        assert response.status_code == 201
    assert w.ticket.messages.filter(body="Any news?").exists() is (role.api == "shown")


@case("api")
def case_api_note(w, role):
    response = api_client(w, role).post(
        f"/api/v1/tickets/{w.ref}/messages/",
        {"body": "Another note", "internal": True},
        content_type="application/json",
    )
    if role.api == "anonymous":
        assert_anonymous_api(response)
    elif role.api == "hidden":
        assert_hidden_api(response)
    elif role.internal:
        assert response.status_code == 201
        assert response.json()["internal"] is True
    else:
        assert response.status_code == 400
        assert "internal" in response.json()
    assert w.ticket.messages.filter(internal=True).count() == (2 if role.internal else 1)


@case("api")
def case_api_attachments(w, role):
    response = api_client(w, role).get(f"/api/v1/tickets/{w.ref}/attachments/")
    if role.api == "anonymous":
        assert_anonymous_api(response)
    elif role.api == "hidden":
        assert_hidden_api(response)
    else:
        assert response.status_code == 200
        names = {a["name"] for a in response.json()["results"]}
        assert names == set(PUBLIC_FILES) | ({NOTE_FILE} if role.internal else set())


@case("api")
def case_api_upload(w, role):
    response = api_client(w, role).post(f"/api/v1/tickets/{w.ref}/attachments/", {"file": png("mine.png")})
    if role.api == "anonymous":
        assert_anonymous_api(response)
    elif role.api == "hidden":
        assert_hidden_api(response)
    else:
        assert response.status_code == 201
    assert w.ticket.attachments.filter(original_name="mine.png").exists() is (role.api == "shown")


@case("api")
def case_api_events(w, role):
    response = api_client(w, role).get(f"/api/v1/tickets/{w.ref}/events/")
    if role.api == "anonymous":
        assert_anonymous_api(response)
        return
    if role.api == "hidden":
        assert_hidden_api(response)
        return
    assert response.status_code == 200
    events = response.json()["results"]
    kinds = {e["kind"] for e in events}
    if role.internal:
        assert {"note_added", "assigned", "attachment_added"} <= kinds
        return
    assert kinds == {"created", "replied", "status_changed", "severity_changed"}
    assert kinds <= set(Event.PUBLIC_KINDS)
    assert all(e["data"].get("message_id") in (None, w.reply.pk) for e in events)
    assert_no_internal(response)


def _listed(response) -> set[str]:
    data = response.json()
    references = {t["reference"] for t in data["results"]}
    if "count" in data:  # the export has no count
        assert data["count"] == len(data["results"]), "the count tells of tickets not listed"
    return references


@case("api")
def case_api_list_and_export(w, role):
    client = api_client(w, role)
    for path in ("/api/v1/tickets/", "/api/v1/tickets/export/", "/api/v1/tickets/?ordering=-created_at"):
        response = client.get(path)
        if role.api == "anonymous":
            assert_anonymous_api(response)
            continue
        assert response.status_code == 200
        assert _listed(response) == {w.refs[key] for key in LISTED[role.name]}, path
        if not role.sees:
            assert_nothing_of_the_ticket(response)
        if not role.internal:
            assert_no_internal(response)


@case("api")
def case_api_search(w, role):
    """Search by the ticket's subject, reference, candidate or requester finds it only for those who may
    see it; by its note's words, for agents only (a customer's search never reads internal notes)."""
    client = api_client(w, role)
    searches = [
        ("Quokka calendar", True),
        (w.ref, True),
        (str(w.ticket.pk), True),
        (CANDIDATE_EMAIL, True),
        (REQUESTER_EMAIL, True),
        ("legacy plan", "internal"),
        (NOTE, "internal"),
    ]
    for path in ("/api/v1/tickets/", "/api/v1/tickets/export/"):
        for term, findable in searches:
            response = client.get(path, {"search": term})
            if role.api == "anonymous":
                assert_anonymous_api(response)
                continue
            assert response.status_code == 200
            if findable == "internal":
                findable = role.internal
            assert _listed(response) == ({w.ref} if findable and role.sees else set()), (path, term)


@case("api")
def case_api_filters(w, role):
    """Every filter only narrows what the caller may see: aimed at organization A's ticket, they find
    nothing for the others (an agent's token limited to B asking for its own assignments included)."""
    client = api_client(w, role)
    filters = [
        {"organization": w.org_a.pk},
        {"assignee": w.agent.pk},
        {"assignee": "me"},
        {"channel": "chat"},
        {"severity": "S3", "status": "open"},
        {"sla_state": "met"},
        {"created_after": "2000-01-01T00:00:00Z", "due_before": "2999-01-01T00:00:00Z"},
    ]
    for path in ("/api/v1/tickets/", "/api/v1/tickets/export/"):
        for params in filters:
            response = client.get(path, params)
            if role.api == "anonymous":
                assert_anonymous_api(response)
                continue
            assert response.status_code == 200
            # `me` is the caller: the ticket is assigned to the agent (whose token B's is, too).
            expected = role.sees and (params != {"assignee": "me"} or role.internal)
            assert (w.ref in _listed(response)) is expected, (path, params)


def _matrix():
    for name, (channel, _) in CASES.items():
        for role in ROLES.values():
            if channel == "token_download" and role.token is None:
                continue
            yield pytest.param(name, role.name, id=f"{name}-{role.name}")


MATRIX = list(_matrix())


@pytest.mark.parametrize(("case_name", "role_name"), MATRIX)
def test_isolation(w, case_name, role_name):
    _channel, function = CASES[case_name]
    function(w, ROLES[role_name])


def test_the_matrix_runs_every_case_for_every_role():
    """9 roles × (7 portal + 3 session-download + 11 API cases) + 5 token roles × 3 token downloads."""
    by_channel: dict[str, int] = {}
    for channel, _function in CASES.values():
        by_channel[channel] = by_channel.get(channel, 0) + 1
    token_roles = [role for role in ROLES.values() if role.token]
    expected = (
        len(ROLES) * (by_channel["portal"] + by_channel["session_download"] + by_channel["api"])
        + len(token_roles) * by_channel["token_download"]
    )
    assert len(MATRIX) == expected == 9 * (7 + 3 + 11) + 5 * 3
    positives = {name for name, role in ROLES.items() if role.sees}
    assert positives == {"requester_a", "admin_a", "agent"}, "the matrix needs roles that do see the ticket"


# --- beyond the request matrix --------------------------------------------------------------------------


@pytest.fixture
def eager_celery():
    """Run Celery tasks in-process as they are enqueued (emails, webhook deliveries)."""
    from helpdesk.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def token_client(user, organization=None) -> Client:
    _, key = ApiToken.objects.issue(user=user, name="test", organization=organization)
    return Client(headers={"Authorization": f"Token {key}"})


def test_internal_notes_never_reach_a_mailbox(
    w, eager_celery, mailoutbox, django_capture_on_commit_callbacks
):
    agent_api = token_client(w.agent)
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_add_note(
            ticket=w.ticket,
            author=w.agent,
            body=NOTE,
            attachments=[SimpleUploadedFile(NOTE_FILE, NOTE_FILE_TEXT, content_type="text/plain")],
        )
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_api.post(
            f"/api/v1/tickets/{w.ref}/messages/",
            {"body": NOTE, "internal": True},
            content_type="application/json",
        )
    assert response.status_code == 201
    assert mailoutbox == []
    # Control: a public reply and a status change do write, to the ticket's requester alone.
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(ticket=w.ticket, author=w.agent, body="We shipped a fix.")
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_change_status(ticket=w.ticket, actor=w.agent, status=Status.PENDING)
    assert len(mailoutbox) == 2
    for email in mailoutbox:
        assert email.to == [REQUESTER_EMAIL] and not email.cc and not email.bcc
        assert not email.attachments
        for marker in INTERNAL_MARKERS:
            assert marker not in email.subject and marker not in email.body


@pytest.mark.parametrize("loses_access", ["moved", "deactivated"])
def test_a_requester_who_lost_access_gets_no_more_mail_about_the_ticket(
    w, loses_access, eager_celery, mailoutbox, django_capture_on_commit_callbacks
):
    """Recipients are checked when the mail is sent, with the portal's rule: a requester moved to another
    organization or deactivated no longer sees the ticket, so no reply or status mail tells them of it."""
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(ticket=w.ticket, author=w.agent, body="Before the move.")
    assert [email.to for email in mailoutbox] == [[REQUESTER_EMAIL]]  # control: mail does go out
    mailoutbox.clear()
    if loses_access == "moved":
        customer_update(user=w.requester_a, organization=w.org_b)
    else:
        w.requester_a.is_active = False
        w.requester_a.save(update_fields=["is_active"])
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(ticket=w.ticket, author=w.agent, body=NOTE)
        services.ticket_change_status(ticket=w.ticket, actor=w.agent, status=Status.PENDING)
    assert mailoutbox == []


def test_webhooks_hear_only_their_organization_and_never_a_note(
    w, settings, eager_celery, monkeypatch, django_capture_on_commit_callbacks
):
    from helpdesk import webhooks

    # The "is any subscription active?" flag is cached; parallel workers share Redis.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    events = ["ticket.created", "ticket.updated", "message.created"]
    urls = {name: f"https://hooks.example.com/{name}" for name in ("org_a", "org_b", "all")}
    for name, organization in (("org_a", w.org_a), ("org_b", w.org_b), ("all", None)):
        WebhookSubscription.objects.create(
            url=urls[name], secret="s" * 20, events=events, organization=organization
        )
    sent: dict[str, list[dict]] = {url: [] for url in urls.values()}

    def post(url, payload, **kwargs):
        sent[url].append(payload)
        return webhooks.WebhookResult(status=200)

    monkeypatch.setattr(webhooks, "post", post)
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_add_note(
            ticket=w.ticket,
            author=w.agent,
            body=NOTE,
            attachments=[SimpleUploadedFile(NOTE_FILE, NOTE_FILE_TEXT, content_type="text/plain")],
        )
    assert sent == {url: [] for url in urls.values()}, "an internal note produced a webhook"
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reply(ticket=w.ticket, author=w.agent, body="We shipped a fix.")
        services.ticket_change_status(ticket=w.ticket, actor=w.agent, status=Status.PENDING)
        services.ticket_create(requester=w.colleague_a, subject="Org A again", description="More")
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_create(requester=w.requester_b, subject="Org B again", description="Theirs")

    def organizations(url):
        return {payload["data"]["ticket"]["organization"] for payload in sent[url]}

    assert organizations(urls["org_b"]) == {w.org_b.pk}
    assert organizations(urls["org_a"]) == {w.org_a.pk}
    assert organizations(urls["all"]) == {w.org_a.pk, w.org_b.pk}
    assert {p["event"] for p in sent[urls["org_a"]]} == set(events)
    everything = json.dumps(sent)
    for marker in INTERNAL_MARKERS:
        assert marker not in everything
    assert not WebhookDelivery.objects.filter(dedupe_key=f"message-{w.note.pk}").exists()


def test_a_customer_moved_to_another_organization_leaves_its_chat_behind(w):
    """The chat panel reads through the same visibility as every page: the old organization's chat is
    neither shown nor offered nor written to."""
    customer_update(user=w.requester_a, organization=w.org_b)
    client = Client()
    client.force_login(w.requester_a)
    state = client.get("/portal/chat/").json()
    assert state["ticket"] is None and state["messages"] == []
    assert w.ref not in [ticket["reference"] for ticket in state["open_tickets"]]
    response = client.post("/portal/chat/", {"body": "Hello again", "ticket": w.ref})
    assert response.status_code == 400 and "ticket" in response.json()["errors"]
    response = client.post("/portal/chat/", {"body": "Hello again", "subject": "Hello", "severity": "S4"})
    assert response.status_code == 201
    assert response.json()["ticket"]["reference"] != w.ref
    assert_nothing_of_the_ticket(response)


def test_a_download_by_token_is_refused_as_the_api_refuses(w):
    """A bad or revoked token is a 401, whatever session comes with it; an unknown or hidden file a JSON
    404 even when the client asked for a file type (never a 406)."""
    url = f"/attachments/{w.public_file.pk}/"
    bad = Client(headers={"Authorization": "Token not-a-key"})
    bad.force_login(w.requester_a)
    for response in (bad.get(url), Client(headers={"Authorization": "Token"}).get(url)):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert "detail" in response.json()
        assert_nothing_of_the_ticket(response)
    revoked = token_client(w.requester_a)
    ApiToken.objects.filter(user=w.requester_a).update(revoked_at=w.ticket.created_at)
    assert revoked.get(url).status_code == 401
    outsider = token_client(w.admin_b)
    for path in (url, "/attachments/987654/"):
        response = outsider.get(path, headers={"Accept": "image/png"})
        assert response.status_code == 404
        assert response.json() == {"detail": "No such attachment."}
    agent = token_client(w.agent).get(url, headers={"Accept": "image/png"})
    assert agent.status_code == 200 and agent["Content-Type"] == "image/png"
    assert b"".join(agent.streaming_content) == PNG
    assert token_client(w.agent).post(url).status_code == 405


# --- organization-limited tokens on what is not a ticket ---------------------------------------------------


@pytest.fixture
def superuser(db):
    from tests.factories import PASSWORD

    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


def test_an_organization_limited_token_sees_and_changes_only_its_organization(w, superuser):
    client = token_client(superuser, w.org_b)
    listed = client.get("/api/v1/organizations/").json()
    assert listed["count"] == 1 and [o["id"] for o in listed["results"]] == [w.org_b.pk]
    assert client.get(f"/api/v1/organizations/{w.org_b.pk}/").status_code == 200
    other = f"/api/v1/organizations/{w.org_a.pk}/"
    assert client.get(other).status_code == 404
    renamed = client.patch(other, {"name": "Mine now"}, content_type="application/json")
    assert renamed.status_code == 404
    assert (
        client.patch(
            f"/api/v1/organizations/{w.org_b.pk}/",
            {"name": "Org B, renamed"},
            content_type="application/json",
        ).json()["name"]
        == "Org B, renamed"
    )
    # It creates and deletes no organization, its own included.
    created = client.post(
        "/api/v1/organizations/", {"name": "Initech", "timezone": "UTC"}, content_type="application/json"
    )
    assert created.status_code == 403 and "limited" in created.json()["detail"]
    assert client.delete(f"/api/v1/organizations/{w.org_b.pk}/").status_code == 403
    assert client.delete(other).status_code == 403
    w.org_a.refresh_from_db()
    assert w.org_a.name == "Org A"
    # The same user's unlimited token still sees every organization.
    assert token_client(superuser).get("/api/v1/organizations/").json()["count"] == 2


def test_an_agents_organization_limited_token_lists_only_its_organization(w):
    client = token_client(w.agent, w.org_b)
    listed = client.get("/api/v1/organizations/").json()
    assert [o["id"] for o in listed["results"]] == [w.org_b.pk]
    assert client.get(f"/api/v1/organizations/{w.org_a.pk}/").status_code == 404


def test_an_organization_limited_token_provisions_only_its_organizations_people(w, superuser):
    client = token_client(superuser, w.org_b)
    response = client.get("/api/v1/users/")
    assert {u["username"] for u in response.json()["results"]} == {"requester-b", "admin-b"}
    assert response.json()["count"] == 2
    assert REQUESTER_EMAIL not in text(response) and "@example.com" in text(response)
    for user in (w.requester_a, w.admin_a):
        assert client.get(f"/api/v1/users/{user.pk}/").status_code == 404
        patched = client.patch(
            f"/api/v1/users/{user.pk}/", {"organization": w.org_b.pk}, content_type="application/json"
        )
        assert patched.status_code == 404
    new_user = {"username": "newhire", "email": "newhire@b.example", "password": "a-long-enough-passphrase"}
    for organization_id in (w.org_a.pk, 987654):  # another's and none: the same answer
        refused = client.post(
            "/api/v1/users/", {**new_user, "organization": organization_id}, content_type="application/json"
        )
        assert refused.status_code == 400
        assert refused.json() == {
            "organization": [f"This token is limited to organization {w.org_b.pk}: name that one."]
        }
    assert not User.objects.filter(username="newhire").exists()
    created = client.post(
        "/api/v1/users/", {**new_user, "organization": w.org_b.pk}, content_type="application/json"
    )
    assert created.status_code == 201
    assert User.objects.get(username="newhire").membership.organization == w.org_b
    moved = client.patch(
        f"/api/v1/users/{w.requester_b.pk}/", {"organization": w.org_a.pk}, content_type="application/json"
    )
    assert moved.status_code == 400 and "organization" in moved.json()
    w.requester_b.membership.refresh_from_db()
    assert w.requester_b.membership.organization == w.org_b
    # Control: the unlimited token lists everyone and files people anywhere.
    assert token_client(superuser).get("/api/v1/users/").json()["count"] == 6


def test_an_organization_limited_token_keeps_its_webhooks_in_its_organization(w, superuser):
    client = token_client(superuser, w.org_b)
    created = client.post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example.com/b", "secret": "s" * 20, "events": ["ticket.created"]},
        content_type="application/json",
    )
    assert created.status_code == 201 and created.json()["organization"] == w.org_b.pk
    path = f"/api/v1/webhooks/{created.json()['id']}/"
    for organization in (None, w.org_a.pk):
        response = client.patch(path, {"organization": organization}, content_type="application/json")
        assert response.status_code == 200 and response.json()["organization"] == w.org_b.pk
    full = {
        "url": "https://hooks.example.com/b2",
        "secret": "t" * 20,
        "events": ["ticket.updated"],
        "organization": None,
    }
    assert client.put(path, full, content_type="application/json").json()["organization"] == w.org_b.pk
    assert WebhookSubscription.objects.get().organization == w.org_b


def test_an_organization_limited_token_reads_but_never_changes_the_shared_chart(w, superuser):
    client = token_client(superuser, w.org_b)
    assert client.get("/api/v1/response-targets/S2/").status_code == 200
    changed = client.patch(
        "/api/v1/response-targets/S2/", {"first_response_minutes": 1}, content_type="application/json"
    )
    assert changed.status_code == 403 and "limited to an organization" in changed.json()["detail"]
    calendar = client.post(
        "/api/v1/calendars/",
        {"name": "Ours", "timezone": "UTC", "hours": [{"weekday": 0, "start": "09:00", "end": "17:00"}]},
        content_type="application/json",
    )
    assert calendar.status_code == 403
    # Control: the unlimited token may.
    assert (
        token_client(superuser)
        .patch(
            "/api/v1/response-targets/S2/", {"first_response_minutes": 120}, content_type="application/json"
        )
        .json()["first_response_minutes"]
        == 120
    )
