"""Who may do what through the API: one table (role × endpoint × method → status), the single source of
truth for both this test and the permission matrix in docs/api.md, plus the isolation guarantees.

Roles: anonymous (no credentials), requester and organization admin (customers of organization A), agent
(staff in the Agents group, not superuser) and superuser, each with a token of their own, and the org token:
the superuser's token limited to organization A (an integration acting for that customer company). Paths
name the fixtures they act on: `{own}` is the requester's ticket, `{colleague}` a colleague's ticket in
organization A, `{other}` a ticket in organization B; `{…_file}` an attachment on that ticket (`{note_file}`
one on an internal note of `{own}`), downloaded at the API's `download_url`.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from sla.models import BusinessCalendar, BusinessHours, Holiday, ResponseTarget, SlaPolicy
from tests.factories import PASSWORD, AgentFactory, CustomerFactory, OrganizationFactory
from tickets import services
from tickets.models import Article, Attachment, Message
from tickets.models.integrations import ApiToken, WebhookSubscription

User = get_user_model()

ROLES = ("anonymous", "requester", "org_admin", "agent", "superuser", "org_token")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"

# fmt: off
#: (method, path, body, expected status for each of ROLES). `body` names an entry of BODIES ("" for none).
MATRIX: list[tuple[str, str, str, tuple[int, ...]]] = [
    # method    path                                       body           anon req  admin agent super org
    ("POST",   "/api/v1/auth/token/",                      "credentials", (400, 200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/auth/tokens/",                     "",            (401, 200, 200, 200, 200, 200)),
    ("DELETE", "/api/v1/auth/tokens/{agent_token}/",       "",            (401, 404, 404, 204, 404, 404)),
    ("GET",    "/api/v1/tickets/",                         "",            (401, 200, 200, 200, 200, 200)),
    ("POST",   "/api/v1/tickets/",                         "ticket",      (401, 201, 201, 201, 201, 201)),
    ("GET",    "/api/v1/tickets/export/",                  "",            (401, 200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/tickets/{own}/",                   "",            (401, 200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/tickets/{colleague}/",             "",            (401, 404, 200, 200, 200, 200)),
    ("GET",    "/api/v1/tickets/{other}/",                 "",            (401, 404, 404, 200, 200, 404)),
    ("PATCH",  "/api/v1/tickets/{own}/",                   "resolve",     (401, 200, 200, 200, 200, 200)),
    ("PATCH",  "/api/v1/tickets/{own}/",                   "severity",    (401, 403, 403, 200, 200, 200)),
    ("PATCH",  "/api/v1/tickets/{colleague}/",             "resolve",     (401, 404, 200, 200, 200, 200)),
    ("PATCH",  "/api/v1/tickets/{other}/",                 "resolve",     (401, 404, 404, 200, 200, 404)),
    ("PUT",    "/api/v1/tickets/{own}/",                   "resolve",     (401, 405, 405, 405, 405, 405)),
    ("DELETE", "/api/v1/tickets/{own}/",                   "",            (401, 405, 405, 405, 405, 405)),
    ("GET",    "/api/v1/tickets/{own}/messages/",          "",            (401, 200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/tickets/{colleague}/messages/",    "",            (401, 404, 200, 200, 200, 200)),
    ("GET",    "/api/v1/tickets/{other}/messages/",        "",            (401, 404, 404, 200, 200, 404)),
    ("POST",   "/api/v1/tickets/{own}/messages/",          "reply",       (401, 201, 201, 201, 201, 201)),
    ("POST",   "/api/v1/tickets/{own}/messages/",          "note",        (401, 400, 400, 201, 201, 201)),
    ("POST",   "/api/v1/tickets/{colleague}/messages/",    "reply",       (401, 404, 201, 201, 201, 201)),
    ("POST",   "/api/v1/tickets/{other}/messages/",        "reply",       (401, 404, 404, 201, 201, 404)),
    ("GET",    "/api/v1/tickets/{own}/attachments/",       "",            (401, 200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/tickets/{colleague}/attachments/", "",            (401, 404, 200, 200, 200, 200)),
    ("GET",    "/api/v1/tickets/{other}/attachments/",     "",            (401, 404, 404, 200, 200, 404)),
    ("POST",   "/api/v1/tickets/{own}/attachments/",       "upload",      (401, 201, 201, 201, 201, 201)),
    ("POST",   "/api/v1/tickets/{other}/attachments/",     "upload",      (401, 404, 404, 201, 201, 404)),
    ("GET",    "/api/v1/tickets/{own}/events/",            "",            (401, 200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/tickets/{colleague}/events/",      "",            (401, 404, 200, 200, 200, 200)),
    ("GET",    "/api/v1/tickets/{other}/events/",          "",            (401, 404, 404, 200, 200, 404)),
    ("GET",    "/api/v1/response-targets/",                "",            (401, 200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/response-targets/S2/",             "",            (401, 200, 200, 200, 200, 200)),
    ("PATCH",  "/api/v1/response-targets/S2/",             "target",      (401, 403, 403, 403, 200, 403)),
    ("PUT",    "/api/v1/response-targets/S2/",             "target_full", (401, 403, 403, 403, 200, 403)),
    ("GET",    "/api/v1/calendars/",                       "",            (401, 200, 200, 200, 200, 200)),
    ("POST",   "/api/v1/calendars/",                       "calendar",    (401, 403, 403, 403, 201, 403)),
    ("GET",    "/api/v1/calendars/{calendar}/",            "",            (401, 200, 200, 200, 200, 200)),
    ("PATCH",  "/api/v1/calendars/{calendar}/",            "rename",      (401, 403, 403, 403, 200, 403)),
    ("PUT",    "/api/v1/calendars/{calendar}/",            "calendar",    (401, 403, 403, 403, 200, 403)),
    ("DELETE", "/api/v1/calendars/{calendar}/",            "",            (401, 403, 403, 403, 204, 403)),
    ("GET",    "/api/v1/holidays/",                        "",            (401, 200, 200, 200, 200, 200)),
    ("POST",   "/api/v1/holidays/",                        "holiday",     (401, 403, 403, 403, 201, 403)),
    ("GET",    "/api/v1/holidays/{holiday}/",              "",            (401, 200, 200, 200, 200, 200)),
    ("PATCH",  "/api/v1/holidays/{holiday}/",              "rename",      (401, 403, 403, 403, 200, 403)),
    ("PUT",    "/api/v1/holidays/{holiday}/",              "holiday",     (401, 403, 403, 403, 200, 403)),
    ("DELETE", "/api/v1/holidays/{holiday}/",              "",            (401, 403, 403, 403, 204, 403)),
    ("GET",    "/api/v1/sla-policies/",                    "",            (401, 200, 200, 200, 200, 200)),
    ("POST",   "/api/v1/sla-policies/",                    "policy",      (401, 403, 403, 403, 201, 403)),
    ("GET",    "/api/v1/sla-policies/{policy}/",           "",            (401, 200, 200, 200, 200, 200)),
    ("PATCH",  "/api/v1/sla-policies/{policy}/",           "rename",      (401, 403, 403, 403, 200, 403)),
    ("PUT",    "/api/v1/sla-policies/{policy}/",           "policy",      (401, 403, 403, 403, 200, 403)),
    ("DELETE", "/api/v1/sla-policies/{policy}/",           "",            (401, 403, 403, 403, 204, 403)),
    ("GET",    "/api/v1/organizations/",                   "",            (401, 403, 403, 200, 200, 200)),
    ("POST",   "/api/v1/organizations/",                   "organization", (401, 403, 403, 403, 201, 403)),
    ("GET",    "/api/v1/organizations/{organization}/",    "",            (401, 403, 403, 200, 200, 200)),
    ("GET",    "/api/v1/organizations/{other_organization}/", "",        (401, 403, 403, 200, 200, 404)),
    ("PATCH",  "/api/v1/organizations/{organization}/",    "rename",      (401, 403, 403, 403, 200, 200)),
    ("PUT",    "/api/v1/organizations/{organization}/",    "organization", (401, 403, 403, 403, 200, 200)),
    ("DELETE", "/api/v1/organizations/{empty_organization}/", "",         (401, 403, 403, 403, 204, 403)),
    ("DELETE", "/api/v1/organizations/{organization}/",    "",            (401, 403, 403, 403, 400, 403)),
    ("POST",   "/api/v1/organizations/{organization}/apply-sla-policy/", "", (401, 403, 403, 403, 200, 403)),
    ("GET",    "/api/v1/users/",                           "",            (401, 403, 403, 403, 200, 200)),
    ("POST",   "/api/v1/users/",                           "user",        (401, 403, 403, 403, 201, 201)),
    ("POST",   "/api/v1/users/",                           "user_elsewhere", (401, 403, 403, 403, 201, 400)),
    ("GET",    "/api/v1/users/{user}/",                    "",            (401, 403, 403, 403, 200, 200)),
    ("GET",    "/api/v1/users/{other_user}/",              "",            (401, 403, 403, 403, 200, 404)),
    ("PATCH",  "/api/v1/users/{user}/",                    "promote",     (401, 403, 403, 403, 200, 200)),
    ("PUT",    "/api/v1/users/{user}/",                    "user_full",   (401, 403, 403, 403, 200, 200)),
    ("DELETE", "/api/v1/users/{user}/",                    "",            (401, 403, 403, 403, 405, 405)),
    ("GET",    "/api/v1/webhooks/",                        "",            (401, 403, 403, 403, 200, 200)),
    ("POST",   "/api/v1/webhooks/",                        "webhook",     (401, 403, 403, 403, 201, 201)),
    ("GET",    "/api/v1/webhooks/{webhook}/",              "",            (401, 403, 403, 403, 200, 404)),
    ("PATCH",  "/api/v1/webhooks/{webhook}/",              "deactivate",  (401, 403, 403, 403, 200, 404)),
    ("PUT",    "/api/v1/webhooks/{webhook}/",              "webhook",     (401, 403, 403, 403, 200, 404)),
    ("DELETE", "/api/v1/webhooks/{webhook}/",              "",            (401, 403, 403, 403, 204, 404)),
    ("POST",   "/api/v1/webhooks/{webhook}/rotate-secret/", "",           (401, 403, 403, 403, 200, 404)),
    ("GET",    "/api/v1/articles/",                        "",            (200, 200, 200, 200, 200, 200)),
    ("POST",   "/api/v1/articles/",                        "article",     (401, 403, 403, 201, 201, 403)),
    ("GET",    "/api/v1/articles/{article}/",              "",            (200, 200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/articles/{internal_article}/",     "",            (404, 404, 404, 200, 200, 200)),
    ("PATCH",  "/api/v1/articles/{article}/",              "retitle",     (401, 403, 403, 200, 200, 403)),
    ("DELETE", "/api/v1/articles/{article}/",              "",            (401, 403, 403, 204, 204, 403)),
    ("GET",    "/api/v1/articles/suggest/?q=calendar",     "",            (200, 200, 200, 200, 200, 200)),
    ("POST",   "/api/v1/severity-suggestion/",             "intake",      (401, 200, 200, 200, 200, 200)),
    ("POST",   "/api/v1/tickets/{resolved}/satisfaction/", "rating",      (401, 200, 403, 403, 403, 403)),
    ("POST",   "/api/v1/tickets/{own}/satisfaction/",      "rating",      (401, 400, 403, 403, 403, 403)),
    ("POST",   "/api/v1/tickets/{other}/satisfaction/",    "rating",      (401, 404, 404, 403, 403, 404)),
    ("GET",    "/attachments/{own_file}/",                 "",            (302, 200, 200, 200, 200, 200)),
    ("GET",    "/attachments/{colleague_file}/",           "",            (302, 404, 200, 200, 200, 200)),
    ("GET",    "/attachments/{note_file}/",                "",            (302, 404, 404, 200, 200, 200)),
    ("GET",    "/attachments/{other_file}/",               "",            (302, 404, 404, 200, 200, 404)),
]
# fmt: on

PNG = (
    b"\x89PNG\r\n\x1a\n"
    + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)


def png(name: str = "screenshot.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def _credentials(w, role):
    user = w.users.get(role)
    if user is None:
        return {"username": "nobody", "password": "wrong-password"}
    return {"username": user.username, "password": PASSWORD}


#: Request bodies: body name → function(world, role) → (data, format).
BODIES = {
    "credentials": lambda w, role: (_credentials(w, role), "json"),
    "ticket": lambda w, role: (
        {"subject": "Sync stopped", "description": "No candidates since 9am", "requester": w.requester.pk},
        "json",
    ),
    "resolve": lambda w, role: ({"status": "resolved"}, "json"),
    "severity": lambda w, role: ({"severity": "S1"}, "json"),
    "reply": lambda w, role: ({"body": "Any news?"}, "json"),
    "note": lambda w, role: ({"body": "Checked the logs.", "internal": True}, "json"),
    "upload": lambda w, role: ({"file": png()}, "multipart"),
    "target": lambda w, role: ({"first_response_minutes": 120}, "json"),
    "target_full": lambda w, role: (
        {
            "first_response_minutes": 120,
            "first_response_clock": "business",
            "update_minutes": 540,
            "update_clock": "business",
            "resolution_minutes": 1620,
            "resolution_clock": "business",
            "warn_at_percent": 80,
            "definition": "Major function broken.",
        },
        "json",
    ),
    "calendar": lambda w, role: (
        {
            "name": "Support Berlin",
            "timezone": "Europe/Berlin",
            "is_default": False,
            "hours": [{"weekday": day, "start": "08:00", "end": "17:00"} for day in range(5)],
        },
        "json",
    ),
    "rename": lambda w, role: ({"name": "Renamed"}, "json"),
    "holiday": lambda w, role: (
        {"calendar": w.calendar.pk, "date": "2027-10-03", "name": "Unity Day"},
        "json",
    ),
    "policy": lambda w, role: (
        {
            "name": "Enterprise",
            "calendar": w.calendar.pk,
            "targets": [
                {
                    "severity": f"S{level}",
                    "first_response_minutes": 60 * level,
                    "first_response_clock": "24x7" if level < 3 else "business",
                    "definition": f"Level {level}.",
                }
                for level in range(1, 6)
            ],
        },
        "json",
    ),
    "organization": lambda w, role: ({"name": "Initech", "timezone": "Europe/London"}, "json"),
    "user": lambda w, role: (
        {
            "username": "newhire",
            "email": "newhire@example.com",
            "password": "a-long-enough-passphrase",
            "organization": w.org_a.pk,
            "role": "requester",
        },
        "json",
    ),
    "user_elsewhere": lambda w, role: (
        {
            "username": "newhire",
            "email": "newhire@example.com",
            "password": "a-long-enough-passphrase",
            "organization": w.org_b.pk,
            "role": "requester",
        },
        "json",
    ),
    "promote": lambda w, role: ({"role": "admin"}, "json"),
    "user_full": lambda w, role: (
        {
            "username": w.colleague.username,
            "email": "colleague@example.com",
            "organization": w.org_a.pk,
            "role": "admin",
        },
        "json",
    ),
    "webhook": lambda w, role: (
        {"url": "https://hooks.example.com/helpdesk", "secret": "s" * 24, "events": ["ticket.created"]},
        "json",
    ),
    "article": lambda w, role: ({"title": "Reconnecting a calendar", "body": "Open **Settings**."}, "json"),
    "retitle": lambda w, role: ({"title": "Renamed"}, "json"),
    "intake": lambda w, role: (
        {"subject": "Nobody can log in", "impact_scope": "whole_organization"},
        "json",
    ),
    "rating": lambda w, role: ({"rating": "good", "comment": "Thanks"}, "json"),
    "deactivate": lambda w, role: ({"active": False}, "json"),
}


#: What each body is, as the docs' table says it.
BODY_NOTES = {
    "credentials": "own username and password (anonymous: wrong ones)",
    "ticket": "subject, description, `requester`: the requester",
    "resolve": '`{"status": "resolved"}`',
    "severity": '`{"severity": "S1"}`',
    "reply": '`{"body": ...}`',
    "note": '`{"body": ..., "internal": true}`',
    "upload": "multipart `file`: a PNG",
    "target": '`{"first_response_minutes": 120}`',
    "target_full": "every field of the row",
    "calendar": "name, timezone, hours",
    "rename": '`{"name": ...}`',
    "holiday": "calendar, date, name",
    "policy": "name, calendar, targets (S1–S5)",
    "organization": "name, timezone",
    "user": "username, email, password, organization, role",
    "user_elsewhere": "the same, in organization B",
    "promote": '`{"role": "admin"}`',
    "user_full": "username, email, organization, role",
    "webhook": "url, secret, events",
    "deactivate": '`{"active": false}`',
    "article": "title, body (Markdown)",
    "retitle": '`{"title": ...}`',
    "intake": "subject, intake answers",
    "rating": '`{"rating": "good", "comment": ...}`',
}


def _case_id(role: str, method: str, path: str, body: str, same_route: int) -> str:
    return f"{role}-{method}-{path}" + (f"-{body}" if same_route > 1 else "")


def _cases():
    routes: dict[tuple[str, str], int] = {}
    for method, path, _, _ in MATRIX:
        routes[method, path] = routes.get((method, path), 0) + 1
    for method, path, body, statuses in MATRIX:
        for role, expected in zip(ROLES, statuses, strict=True):
            yield pytest.param(
                role,
                method,
                path,
                body,
                expected,
                id=_case_id(role, method, path, body, routes[method, path]),
            )


# --- the world every case acts on ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _generous_throttles(monkeypatch):
    """Throttle counters are shared (the cache, Redis in CI): these tests must not trip them."""
    for scope in ("token", "anon", "auth"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")


@pytest.fixture
def world(db):
    org_a, org_b = OrganizationFactory(name="Org A"), OrganizationFactory(name="Org B")
    requester = CustomerFactory(username="req-a", membership__organization=org_a)
    colleague = CustomerFactory(username="colleague-a", membership__organization=org_a)
    org_admin = CustomerFactory(username="admin-a", membership__organization=org_a, membership__role="admin")
    requester_b = CustomerFactory(username="req-b", membership__organization=org_b)
    agent = AgentFactory(username="agent")
    superuser = User.objects.create_superuser("root", "root@example.com", PASSWORD)

    own = services.ticket_create(
        requester=requester,
        subject="Own ticket",
        description="The requester's",
        candidates=[{"name": "Ada", "email": "ada@a.example.com"}],
    )
    colleague_ticket = services.ticket_create(
        requester=colleague, subject="Colleague's ticket", description="Same organization"
    )
    other = services.ticket_create(
        requester=requester_b,
        subject="Org B ticket",
        description="Another organization",
        candidates=[{"name": "Bea", "email": "bea@b.example.com"}],
    )
    public_reply = services.ticket_reply(ticket=own, author=agent, body="We are looking into it.")
    note = services.ticket_add_note(ticket=own, author=agent, body="INTERNAL: customer is on legacy plan")
    own_file = services.attachment_add(ticket=own, uploaded_by=requester, upload=png("public.png"))
    note_file = services.attachment_add(
        ticket=own, uploaded_by=agent, upload=png("internal.png"), message=note
    )
    colleague_file = services.attachment_add(
        ticket=colleague_ticket, uploaded_by=colleague, upload=png("colleague.png")
    )
    other_file = services.attachment_add(ticket=other, uploaded_by=requester_b, upload=png("other.png"))
    services.ticket_reply(ticket=other, author=agent, body="Org B reply")

    calendar = BusinessCalendar.objects.create(name="Support EU", timezone="Europe/Dublin")
    BusinessHours.objects.create(calendar=calendar, weekday=0, start="09:00", end="17:00")
    holiday = Holiday.objects.create(calendar=calendar, date="2027-03-17", name="St Patrick's Day")
    # On the shipped calendar: the matrix deletes "Support EU", which a policy using it would keep.
    policy = SlaPolicy.objects.create(name="Premium", calendar=BusinessCalendar.objects.get(is_default=True))
    ResponseTarget.objects.create(policy=policy, severity="S2", first_response_minutes=60, definition="High")
    webhook = WebhookSubscription.objects.create(
        url="https://hooks.example.com/a", secret="x" * 20, events=["ticket.created"]
    )
    users = {
        "requester": requester,
        "org_admin": org_admin,
        "agent": agent,
        "superuser": superuser,
    }
    keys = {role: ApiToken.objects.issue(user=user, name="test")[1] for role, user in users.items()}
    users["org_token"] = superuser
    agent_token, _ = ApiToken.objects.issue(user=agent, name="spare")
    keys["org_token"] = ApiToken.objects.issue(user=superuser, name="integration", organization=org_a)[1]
    return SimpleNamespace(
        org_a=org_a,
        org_b=org_b,
        empty_org=OrganizationFactory(name="Empty Org"),
        requester=requester,
        colleague=colleague,
        org_admin=org_admin,
        requester_b=requester_b,
        agent=agent,
        superuser=superuser,
        users=users,
        keys=keys,
        own=own,
        colleague_ticket=colleague_ticket,
        other=other,
        public_reply=public_reply,
        note=note,
        own_file=own_file,
        colleague_file=colleague_file,
        note_file=note_file,
        other_file=other_file,
        calendar=calendar,
        holiday=holiday,
        policy=policy,
        webhook=webhook,
        agent_token=agent_token,
        article=Article.objects.get(slug="how-can-customers-view-the-ticket-status-of-their-requests"),
        internal_article=Article.objects.get(slug="choosing-a-severity"),
    )


def client_for(world, role: str, *, organization=None) -> APIClient:
    client = APIClient()
    if role == "anonymous":
        return client
    key = world.keys[role]
    if organization is not None:
        _, key = ApiToken.objects.issue(user=world.users[role], name="limited", organization=organization)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _resolved(world) -> str:
    """`{resolved}`: the requester's own ticket, resolved (only for the paths that name it)."""
    if world.own.status != "resolved":
        services.ticket_change_status(ticket=world.own, actor=world.agent, status="resolved")
        world.own.refresh_from_db()
    return world.own.reference


def resolve_path(world, path: str) -> str:
    values = {
        "own": world.own.reference,
        "resolved": _resolved(world) if "{resolved}" in path else "",
        "article": world.article.pk,
        "internal_article": world.internal_article.pk,
        "colleague": world.colleague_ticket.reference,
        "other": world.other.reference,
        "calendar": world.calendar.pk,
        "holiday": world.holiday.pk,
        "policy": world.policy.pk,
        "organization": world.org_a.pk,
        "other_organization": world.org_b.pk,
        "empty_organization": world.empty_org.pk,
        "user": world.colleague.pk,
        "other_user": world.requester_b.pk,
        "webhook": world.webhook.pk,
        "agent_token": world.agent_token.pk,
        "own_file": world.own_file.pk,
        "colleague_file": world.colleague_file.pk,
        "note_file": world.note_file.pk,
        "other_file": world.other_file.pk,
    }
    return path.format(**values)


# --- the matrix -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "method", "path", "body", "expected"), list(_cases()))
def test_permission_matrix(world, role, method, path, body, expected):
    client = client_for(world, role)
    kwargs = {}
    if body:
        data, fmt = BODIES[body](world, role)
        kwargs = {"data": data, "format": fmt}
    response = getattr(client, method.lower())(resolve_path(world, path), **kwargs)
    assert response.status_code == expected, response.content[:500]
    if expected in (400, 401, 403, 404):
        assert response["Content-Type"].startswith("application/json")
        assert response.json(), "an error names what is wrong"


def _schema_path(path: str) -> str:
    path = path.split("?")[0]
    path = re.sub(r"\{(own|colleague|other|resolved)\}", "{reference}", path)
    path = re.sub(
        r"\{(calendar|holiday|policy|organization|other_organization|empty_organization|user|other_user|webhook|agent_token"
        r"|article|internal_article)\}",
        "{id}",
        path,
    )
    return path.replace("/S2/", "/{severity}/")


def test_the_matrix_covers_every_documented_operation():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    documented = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    covered = {(method, _schema_path(path)) for method, path, _, _ in MATRIX}
    assert documented - covered == set()


def matrix_markdown() -> str:
    """The matrix as the Markdown table docs/api.md shows (kept equal by the test below)."""
    names = {
        "anonymous": "anonymous",
        "requester": "requester",
        "org_admin": "org admin",
        "agent": "agent",
        "superuser": "superuser",
        "org_token": "org token",
    }
    lines = [
        "| Method | Path | Request | " + " | ".join(names[r] for r in ROLES) + " |",
        "|---|---|---|" + "---|" * len(ROLES),
    ]
    for method, path, body, statuses in MATRIX:
        request = BODY_NOTES[body] if body else ""
        lines.append(f"| {method} | `{path}` | {request} | " + " | ".join(str(s) for s in statuses) + " |")
    return "\n".join(lines) + "\n"


def test_docs_show_this_matrix():
    assert set(BODY_NOTES) == set(BODIES)
    assert matrix_markdown() in DOCS.read_text(), "regenerate the table in docs/api.md from MATRIX"


# --- isolation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["requester", "org_admin"])
def test_customers_never_receive_internal_notes(world, role):
    client = client_for(world, role)
    messages = client.get(f"/api/v1/tickets/{world.own.reference}/messages/").json()["results"]
    assert [m["id"] for m in messages] == [world.public_reply.pk]
    assert all(not m["internal"] for m in messages)
    assert "INTERNAL" not in str(messages)
    files = client.get(f"/api/v1/tickets/{world.own.reference}/attachments/").json()["results"]
    assert world.note_file.pk not in [f["id"] for f in files]
    assert {f["name"] for f in files} == {"public.png"}
    events = client.get(f"/api/v1/tickets/{world.own.reference}/events/").json()["results"]
    kinds = {e["kind"] for e in events}
    assert "note_added" not in kinds and "attachment_added" not in kinds
    assert str(world.note.pk) not in str([e["data"] for e in events])


def test_agents_do_see_internal_notes(world):
    client = client_for(world, "agent")
    messages = client.get(f"/api/v1/tickets/{world.own.reference}/messages/").json()["results"]
    assert {m["id"] for m in messages} == {world.public_reply.pk, world.note.pk}
    files = client.get(f"/api/v1/tickets/{world.own.reference}/attachments/").json()["results"]
    assert world.note_file.pk in [f["id"] for f in files]


@pytest.mark.parametrize("role", ["requester", "org_admin"])
def test_customers_never_see_another_organizations_data(world, role):
    client = client_for(world, role)
    other = world.other.reference
    listed = client.get("/api/v1/tickets/?page_size=100").json()
    references = {t["reference"] for t in listed["results"]}
    assert other not in references
    assert {t["organization"] for t in listed["results"]} == {world.org_a.pk}
    exported = client.get("/api/v1/tickets/export/").json()["results"]
    assert other not in {t["reference"] for t in exported}
    # Filters do not open a way round: the other organization's id, or its candidate's email, finds nothing.
    assert client.get(f"/api/v1/tickets/?organization={world.org_b.pk}").json()["count"] == 0
    assert client.get("/api/v1/tickets/?search=bea@b.example.com").json()["count"] == 0
    assert client.get(f"/api/v1/tickets/?search={other}").json()["count"] == 0
    for suffix in ("", "messages/", "attachments/", "events/"):
        response = client.get(f"/api/v1/tickets/{other}/{suffix}")
        assert response.status_code == 404, suffix
        assert "Org B" not in response.content.decode()
    assert client.patch(f"/api/v1/tickets/{other}/", {"status": "resolved"}).status_code == 404
    assert client.post(f"/api/v1/tickets/{other}/messages/", {"body": "hi"}).status_code == 404
    assert (
        client.post(f"/api/v1/tickets/{other}/attachments/", {"file": png()}, format="multipart").status_code
        == 404
    )
    # Nor can they open a ticket in another organization's name.
    created = client.post(
        "/api/v1/tickets/", {"subject": "x", "description": "y", "requester": world.requester_b.pk}
    )
    assert created.status_code == 403
    assert not Message.objects.filter(ticket=world.other, author=world.users[role]).exists()
    assert not Attachment.objects.filter(ticket=world.other, uploaded_by=world.users[role]).exists()


def test_a_requester_sees_only_their_own_tickets(world):
    client = client_for(world, "requester")
    listed = client.get("/api/v1/tickets/").json()
    assert [t["reference"] for t in listed["results"]] == [world.own.reference]
    admin = client_for(world, "org_admin").get("/api/v1/tickets/").json()
    assert {t["reference"] for t in admin["results"]} == {
        world.own.reference,
        world.colleague_ticket.reference,
    }


def test_a_requester_cannot_file_for_a_colleague(world):
    response = client_for(world, "requester").post(
        "/api/v1/tickets/", {"subject": "x", "description": "y", "requester": world.colleague.pk}
    )
    assert response.status_code == 403


def test_an_organization_admin_files_for_a_colleague(world):
    response = client_for(world, "org_admin").post(
        "/api/v1/tickets/", {"subject": "x", "description": "y", "requester": world.colleague.pk}
    )
    assert response.status_code == 201
    assert response.json()["requester"] == world.colleague.pk


@pytest.mark.parametrize("role", ["agent", "superuser"])
def test_an_organization_limited_token_sees_only_its_organization(world, role):
    client = client_for(world, role, organization=world.org_a)
    listed = client.get("/api/v1/tickets/?page_size=100").json()
    assert {t["reference"] for t in listed["results"]} == {
        world.own.reference,
        world.colleague_ticket.reference,
    }
    exported = client.get("/api/v1/tickets/export/").json()["results"]
    assert {t["organization"] for t in exported} == {world.org_a.pk}
    other = world.other.reference
    for suffix in ("", "messages/", "attachments/", "events/"):
        assert client.get(f"/api/v1/tickets/{other}/{suffix}").status_code == 404, suffix
    assert client.patch(f"/api/v1/tickets/{other}/", {"status": "open"}).status_code == 404
    assert client.post(f"/api/v1/tickets/{other}/messages/", {"body": "hi"}).status_code == 404
    refused = client.post(
        "/api/v1/tickets/", {"subject": "x", "description": "y", "requester": world.requester_b.pk}
    )
    assert refused.status_code == 403
    allowed = client.post(
        "/api/v1/tickets/", {"subject": "x", "description": "y", "requester": world.requester.pk}
    )
    assert allowed.status_code == 201
    # The same user's unlimited token still sees everything.
    everything = client_for(world, role).get("/api/v1/tickets/?page_size=100").json()
    assert other in {t["reference"] for t in everything["results"]}


def test_an_organization_limited_token_manages_only_its_organizations_webhooks(world):
    client = client_for(world, "superuser", organization=world.org_a)
    assert client.get("/api/v1/webhooks/").json()["count"] == 0  # the global one is not its own
    assert client.get(f"/api/v1/webhooks/{world.webhook.pk}/").status_code == 404
    created = client.post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example.com/b", "secret": "y" * 20, "events": ["ticket.updated"]},
    )
    assert created.status_code == 201 and created.json()["organization"] == world.org_a.pk


def test_a_revoked_token_is_refused(world):
    from django.utils import timezone

    ApiToken.objects.filter(user=world.requester).update(revoked_at=timezone.now())
    response = client_for(world, "requester").get("/api/v1/tickets/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_malformed_token_header_is_refused(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token two parts")
    assert client.get("/api/v1/tickets/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Token not-a-key")
    assert client.get("/api/v1/tickets/").status_code == 401
