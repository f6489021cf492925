"""Benchmark volumes: a million realistic tickets with their conversations in a few minutes.

The services write one ticket per transaction with its side effects, which is right for real traffic
and far too slow for a million rows. Here the texts come from a pool: every scenario of the demo is
rendered a few times per organization (subject, description, intake, candidates, and a conversation of
an agent's question, the customer's answer, an internal note and the agent's fix). Python draws each
ticket's shape (variant, status, channel, people, times, 2-4 messages) and streams it to PostgreSQL with
COPY; PostgreSQL then writes the tickets, their messages, candidates, CREATED events and SLA clocks with
`INSERT … SELECT` joins against the pool. The search vectors are built once per pool entry with the same
SQL functions the triggers use (migration 0016) and concatenated per ticket, so a million tickets do not
run a million text parsers; the triggers are switched off for the session meanwhile
(`helpdesk.search_sync`), and foreign keys are not re-checked row by row (`session_replication_role`,
when the database user may set it) — every id written comes from rows just read.

Statuses are final states with consistent `resolved_at`/`closed_at`. Every ticket gets its SLA clocks,
counted around the clock on targets close to the shipped chart's: a first response, met at the first
agent reply (drawn between 5 % and 125 % of the target, so about one in five is late: breached) or still
running for `new` tickets (breached once its target has passed); and a resolution, met at `resolved_at`
(breached when that was past the target) or, for open tickets, running (breached when its target has
passed, paused while pending or on hold). So the console's SLA queues and the dashboard's attainment and
response times have a year of data. The intermediate history (status and assignment events) is not
generated. The dashboard's roll-ups are rebuilt once at the end, in one pass, rather than marked day by
day by their triggers (`helpdesk.dashboard_sync` is off meanwhile).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.management.base import CommandError
from django.db import connection, transaction

from tickets import rollups
from tickets.demo import data
from tickets.demo.seed import fill, ticket_context

DEFAULT_BATCH_SIZE = 100_000

#: Final statuses of benchmark tickets: a year of history is mostly finished work.
STATUS_WEIGHTS = {"closed": 62, "resolved": 18, "open": 7, "pending": 4, "on_hold": 3, "new": 6}
#: How old a ticket in each status is (hours): closed ones span the year, open ones are recent.
AGE_HOURS = {
    "closed": (7 * 24, 365 * 24),
    "resolved": (2, 21 * 24),
    "open": (1, 45 * 24),
    "pending": (2, 45 * 24),
    "on_hold": (4, 60 * 24),
    "new": (0.1, 72),
}
#: Time to resolution (hours) by severity.
RESOLUTION_HOURS = {"S1": (1, 12), "S2": (4, 96), "S3": (6, 288), "S4": (24, 480), "S5": (24, 720)}
#: The resolution target of the tickets' clocks (minutes, around the clock) by severity.
RESOLUTION_TARGET_MINUTES = {"S1": 8 * 60, "S2": 2 * 1440, "S3": 5 * 1440, "S4": 15 * 1440, "S5": 30 * 1440}
#: The first-response target (minutes, around the clock): the shipped chart's minutes.
FIRST_RESPONSE_TARGET_MINUTES = {"S1": 30, "S2": 4 * 60, "S3": 540, "S4": 3 * 540, "S5": 5 * 540}
#: How long the first agent reply takes, as a share of the first-response target: uniform over this
#: span, so that a fifth of the answered tickets are answered late.
FIRST_REPLY_SPAN = (0.05, 1.25)
WARN_AT_PERCENT = 75
#: Distinct texts rendered per scenario and organization; tickets draw from this pool.
VARIANTS_PER_SCENARIO = 4
#: Tables with more rows than this after the load get their text indexes dropped and rebuilt rather than
#: updated row by row (a GIN index built in one pass is several times faster).
REBUILD_INDEXES_FROM = 50_000

INTAKE_COLUMNS = (
    "affected_role",
    "impact_scope",
    "product_area",
    "feature",
    "error_message",
    "occurrence",
    "reason",
    "interview_interviewers",
    "interview_position",
    "interview_template_name",
    "interview_template_changes",
)
#: The indexes rebuilt after a large load (created by migration 0016 and kept in step with it).
TEXT_INDEXES = {
    "ticket_search_all": "CREATE INDEX ticket_search_all ON tickets_ticket USING gin (search_all)",
    "ticket_search_public": "CREATE INDEX ticket_search_public ON tickets_ticket USING gin (search_public)",
    "ticket_subject_trgm": (
        "CREATE INDEX ticket_subject_trgm ON tickets_ticket USING gin (subject gin_trgm_ops)"
    ),
}


@dataclass(frozen=True, slots=True)
class _Variant:
    """A rendered scenario; datetimes are offsets from the ticket's creation."""

    organization_id: int
    severity: str
    subject: str
    description: str
    intake: dict
    started: timedelta | None
    interview_starts: timedelta | None
    interview_ends: timedelta | None
    candidates: tuple[tuple[str, str], ...]
    #: (author role, internal, body): the agent's question, the answer, an internal note, the fix.
    conversation: tuple[tuple[str, bool, str], ...]


def generate_benchmark_tickets(
    *,
    count: int,
    organizations: list,
    customers: dict[int, list],
    agents: list,
    now: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Insert `count` tickets spread over the past year across the demo organizations, each with 2-4
    messages; return `count`. `progress(done, count)` is called after each committed batch."""
    if connection.vendor != "postgresql":
        raise CommandError("Benchmark tickets need PostgreSQL (they are loaded with COPY).")
    rng = random.Random(data.SEED)  # noqa: S311 - reproducible benchmark data, not security
    variants = _render_variants(rng, organizations, now)
    requesters = {org_id: [user.pk for user in users] for org_id, users in customers.items()}
    agent_ids = [agent.pk for agent in agents]
    rebuild = count >= REBUILD_INDEXES_FROM
    with connection.cursor() as cursor:
        _prepare_session(cursor)
        _load_pool(cursor, variants)
        if rebuild:
            for name in TEXT_INDEXES:
                cursor.execute(f"DROP INDEX IF EXISTS {name}")
    done = 0
    try:
        while done < count:
            size = min(batch_size, count - done)
            with transaction.atomic(), connection.cursor() as cursor:
                first_id = _reserve_ids(cursor, size)
                _copy_shapes(cursor, rng, variants, size, requesters, agent_ids, now, first_id)
                _insert_batch(cursor, agent_ids[0], now)
            done += size
            if progress:
                progress(done, count)
    finally:
        with connection.cursor() as cursor:
            if rebuild:
                cursor.execute("SET maintenance_work_mem = '512MB'")
                for sql in TEXT_INDEXES.values():
                    cursor.execute(sql.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
            cursor.execute("ANALYZE tickets_ticket")
            cursor.execute("ANALYZE tickets_message")
            cursor.execute("ANALYZE sla_ticketclock")
            cursor.execute("ANALYZE tickets_candidate")
            cursor.execute("ANALYZE tickets_event")
            cursor.execute("RESET helpdesk.search_sync")
            cursor.execute("RESET helpdesk.dashboard_sync")
            cursor.execute("RESET session_replication_role")
            cursor.execute("DROP TABLE IF EXISTS seed_variant, seed_message, seed_candidate, seed_ticket")
    rollups.rebuild()
    return count


def _prepare_session(cursor) -> None:
    cursor.execute("SET helpdesk.search_sync = 'off'")
    cursor.execute("SET helpdesk.dashboard_sync = 'off'")
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if cursor.fetchone()[0]:
        # Skips the deferred foreign-key checks (one queued trigger event per row otherwise).
        cursor.execute("SET session_replication_role = replica")
    cursor.execute(
        "CREATE TEMP TABLE seed_variant (idx int PRIMARY KEY, organization_id bigint, severity text, "
        "subject text, description text, affected_role text, impact_scope text, product_area text, "
        "feature text, error_message text, occurrence text, reason text, interview_interviewers jsonb, "
        "interview_position text, interview_template_name text, interview_template_changes text, "
        "started interval, interview_starts interval, interview_ends interval, details text, "
        "doc tsvector, public2 tsvector, public3 tsvector, public4 tsvector, "
        "all2 tsvector, all3 tsvector, all4 tsvector)"
    )
    cursor.execute(
        "CREATE TEMP TABLE seed_message (idx int, seq int, author_role text, internal boolean, body text)"
    )
    cursor.execute("CREATE TEMP TABLE seed_candidate (idx int, seq int, name text, email text)")
    cursor.execute(
        "CREATE TEMP TABLE seed_ticket (id bigint, idx int, status text, channel text, requester_id bigint, "
        "assignee_id bigint, created_at timestamptz, updated_at timestamptz, resolved_at timestamptz, "
        "closed_at timestamptz, messages int, first_reply_at timestamptz)"
    )


def _load_pool(cursor, variants: list[_Variant]) -> None:
    """The rendered texts into temporary tables, with their search vectors built once each."""
    with cursor.copy(
        "COPY seed_variant (idx, organization_id, severity, subject, description, affected_role, "
        "impact_scope, product_area, feature, error_message, occurrence, reason, interview_interviewers, "
        "interview_position, interview_template_name, interview_template_changes, started, "
        "interview_starts, interview_ends) FROM STDIN"
    ) as copy:
        for idx, v in enumerate(variants):
            intake = {name: v.intake.get(name, "") for name in INTAKE_COLUMNS}
            intake["interview_interviewers"] = json.dumps(intake["interview_interviewers"] or [])
            copy.write_row(
                (
                    idx,
                    v.organization_id,
                    v.severity,
                    v.subject,
                    v.description,
                    *intake.values(),
                    v.started,
                    v.interview_starts,
                    v.interview_ends,
                )
            )
    with cursor.copy("COPY seed_message FROM STDIN") as copy:
        for idx, v in enumerate(variants):
            for seq, (role, internal, body) in enumerate(v.conversation, start=1):
                copy.write_row((idx, seq, role, internal, body))
    with cursor.copy("COPY seed_candidate FROM STDIN") as copy:
        for idx, v in enumerate(variants):
            for seq, (name, email) in enumerate(v.candidates, start=1):
                copy.write_row((idx, seq, name, email))
    # The same words, in the same weights, as tickets_search_refresh() gives a ticket.
    cursor.execute(
        """
        UPDATE seed_variant v SET doc = tickets_search_doc(v.subject, concat_ws(' ', v.description,
            v.error_message, v.feature, v.product_area, v.reason, v.interview_position,
            v.interview_template_name, v.interview_template_changes,
            (SELECT string_agg(concat_ws(' ', c.name, c.email), ' ' ORDER BY c.seq)
               FROM seed_candidate c WHERE c.idx = v.idx)))
        """
    )
    for n in (2, 3, 4):
        cursor.execute(
            f"""
            UPDATE seed_variant v SET
                public{n} = coalesce((SELECT tickets_search_talk(string_agg(m.body, ' ' ORDER BY m.seq))
                    FROM seed_message m WHERE m.idx = v.idx AND m.seq <= {n} AND NOT m.internal), ''),
                all{n} = coalesce((SELECT tickets_search_talk(string_agg(m.body, ' ' ORDER BY m.seq)
                    FILTER (WHERE NOT m.internal)) FROM seed_message m
                    WHERE m.idx = v.idx AND m.seq <= {n}), '')
                  || coalesce((SELECT tickets_search_talk(string_agg(m.body, ' ' ORDER BY m.seq))
                    FROM seed_message m WHERE m.idx = v.idx AND m.seq <= {n} AND m.internal), '')
            """  # noqa: S608 - n is one of three literals
        )
    cursor.execute("ANALYZE seed_variant")


def _reserve_ids(cursor, size: int) -> int:
    """The first of `size` consecutive ticket ids taken from the table's sequence."""
    cursor.execute(
        "SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), "
        "nextval(pg_get_serial_sequence('tickets_ticket', 'id')) + %s - 1)",
        [size],
    )
    return cursor.fetchone()[0] - size + 1


def _copy_shapes(cursor, rng, variants, size, requesters, agent_ids, now, first_id) -> None:
    statuses, status_weights = zip(*STATUS_WEIGHTS.items(), strict=True)
    channels, channel_weights = zip(*data.CHANNEL_WEIGHTS.items(), strict=True)
    latest = now - timedelta(seconds=1)
    indexes = range(len(variants))
    cursor.execute("TRUNCATE seed_ticket")
    with cursor.copy("COPY seed_ticket FROM STDIN") as copy:
        picks = zip(
            rng.choices(indexes, k=size),
            rng.choices(statuses, weights=status_weights, k=size),
            rng.choices(channels, weights=channel_weights, k=size),
            strict=True,
        )
        for offset, (idx, status, channel) in enumerate(picks):
            variant = variants[idx]
            copy.write_row(
                (
                    first_id + offset,
                    idx,
                    status,
                    channel,
                    *_shape(rng, variant, status, channel, requesters, agent_ids, now, latest),
                )
            )
    cursor.execute("ANALYZE seed_ticket")


def _shape(rng, variant: _Variant, status, channel, requesters, agent_ids, now, latest) -> tuple:
    """requester, assignee, created, updated, resolved, closed, the number of messages and the time of the
    first agent reply (none for a new ticket) of a ticket."""
    lo, hi = AGE_HOURS[status]
    created = now - timedelta(hours=rng.uniform(lo, hi))
    resolved_at = closed_at = None
    if status in ("resolved", "closed"):
        resolved_at = created + timedelta(hours=rng.uniform(*RESOLUTION_HOURS[variant.severity]))
        if resolved_at > latest:
            resolved_at = created + (latest - created) * rng.uniform(0.3, 0.9)
        updated = resolved_at
        if status == "closed":
            closed_at = resolved_at + timedelta(days=rng.uniform(2, 7))
            if closed_at > latest:
                closed_at = resolved_at + (latest - resolved_at) * rng.uniform(0.2, 0.9)
            updated = closed_at
        messages = rng.choice((3, 4, 4))  # finished work ends with the agent's fix more often than not
    elif status == "new":
        updated = created + (latest - created) * rng.uniform(0.05, 0.3)
        messages = 2
    else:
        updated = created + (latest - created) * rng.uniform(0.05, 0.6)
        messages = rng.choice((2, 3))
    # New tickets have not been triaged yet; agent-channel ones were filed by their agent.
    assignee = rng.choice(agent_ids) if status != "new" or channel == "agent" else None
    requester = rng.choice(requesters[variant.organization_id])
    first_reply = None
    if status != "new":
        # Before the fix and the close, so that the conversation reads in order.
        target = timedelta(minutes=FIRST_RESPONSE_TARGET_MINUTES[variant.severity])
        first_reply = created + min(
            target * rng.uniform(*FIRST_REPLY_SPAN), ((resolved_at or updated) - created) * 0.5
        )
    return (requester, assignee, created, updated, resolved_at, closed_at, messages, first_reply)


def _insert_batch(cursor, fallback_agent_id: int, now: datetime) -> None:
    """The batch in seed_ticket into the real tables, joined with the pool."""
    intake = ", ".join(INTAKE_COLUMNS)
    intake_v = ", ".join(f"v.{name}" for name in INTAKE_COLUMNS)
    cursor.execute(
        f"""
        INSERT INTO tickets_ticket (id, subject, description, severity, status, channel, organization_id,
            requester_id, assignee_id, created_at, updated_at, resolved_at, closed_at, started_at,
            interview_starts_at, interview_ends_at, {intake}, search_public, search_all,
            suggested_severity, suggested_severity_reason)
        SELECT s.id, v.subject, v.description, v.severity, s.status, s.channel, v.organization_id,
            s.requester_id, s.assignee_id, s.created_at, s.updated_at, s.resolved_at, s.closed_at,
            s.created_at + v.started, s.created_at + v.interview_starts, s.created_at + v.interview_ends,
            {intake_v},
            v.doc || CASE s.messages WHEN 2 THEN v.public2 WHEN 3 THEN v.public3 ELSE v.public4 END,
            v.doc || CASE s.messages WHEN 2 THEN v.all2 WHEN 3 THEN v.all3 ELSE v.all4 END,
            '', ''
        FROM seed_ticket s JOIN seed_variant v ON v.idx = s.idx
        ORDER BY s.id
        """  # noqa: S608 - column names are constants
    )
    # The first message (the agent's question) is the first reply; the others spread between it and the
    # last update (a new ticket's between its creation and its last update); agents' ones by the
    # assignee (or the first agent for a ticket nobody has taken yet).
    cursor.execute(
        """
        INSERT INTO tickets_message (ticket_id, author_id, author_role, body, internal, channel, created_at)
        SELECT s.id,
            CASE WHEN m.author_role = 'customer' THEN s.requester_id
                 ELSE coalesce(s.assignee_id, %s) END,
            m.author_role, m.body, m.internal,
            CASE WHEN s.channel IN ('portal', 'email', 'chat') THEN s.channel ELSE 'portal' END,
            CASE WHEN s.first_reply_at IS NULL
                THEN s.created_at + (s.updated_at - s.created_at) * m.seq / (s.messages + 1)
                ELSE s.first_reply_at + (s.updated_at - s.first_reply_at) * (m.seq - 1) / s.messages END
        FROM seed_ticket s JOIN seed_message m ON m.idx = s.idx AND m.seq <= s.messages
        ORDER BY s.id, m.seq
        """,
        [fallback_agent_id],
    )
    cursor.execute(
        """
        INSERT INTO tickets_candidate (ticket_id, name, email)
        SELECT s.id, c.name, c.email FROM seed_ticket s JOIN seed_candidate c ON c.idx = s.idx
        ORDER BY s.id, c.seq
        """
    )
    # What ticket_create records; agent-channel tickets are filed by an agent on the customer's behalf.
    cursor.execute(
        """
        INSERT INTO tickets_event (ticket_id, actor_id, kind, from_value, to_value, data, created_at)
        SELECT s.id, CASE WHEN s.channel = 'agent' THEN s.assignee_id ELSE s.requester_id END,
            'created', '', v.severity, jsonb_build_object('channel', s.channel), s.created_at
        FROM seed_ticket s JOIN seed_variant v ON v.idx = s.idx
        ORDER BY s.id
        """
    )
    fr_targets = " ".join(
        f"WHEN '{severity}' THEN {minutes}" for severity, minutes in FIRST_RESPONSE_TARGET_MINUTES.items()
    )
    res_targets = " ".join(
        f"WHEN '{severity}' THEN {minutes}" for severity, minutes in RESOLUTION_TARGET_MINUTES.items()
    )
    # As the clocks service leaves them: met on time, or met late (breached at its due time); running,
    # breached once due, or paused while the ticket waits (no due time then).
    cursor.execute(
        f"""
        INSERT INTO sla_ticketclock (ticket_id, metric, clock, target_minutes, warn_at_percent, state, cycle,
            started_at, pauses, paused_at, due_at, at_risk_at, warned_at, met_at, breached_at)
        SELECT c.id, c.metric, '24x7', c.target, {WARN_AT_PERCENT},
            CASE WHEN c.met IS NOT NULL THEN CASE WHEN c.met > c.due THEN 'breached' ELSE 'met' END
                 WHEN c.paused THEN 'paused' WHEN c.due <= %(now)s THEN 'breached' ELSE 'active' END,
            0, c.created_at, '[]'::jsonb,
            CASE WHEN c.paused THEN c.updated_at END,
            CASE WHEN NOT c.paused THEN c.due END,
            CASE WHEN c.met IS NULL AND NOT c.paused
                THEN c.created_at + make_interval(mins => c.target * {WARN_AT_PERCENT} / 100) END,
            NULL,
            c.met,
            CASE WHEN c.met > c.due OR (c.met IS NULL AND NOT c.paused AND c.due <= %(now)s) THEN c.due END
        FROM (
            SELECT t.*, t.created_at + make_interval(mins => t.target) AS due
            FROM (
                SELECT s.id, 'first_response' AS metric, s.created_at, s.updated_at, false AS paused,
                    s.first_reply_at AS met, (CASE v.severity {fr_targets} END) AS target
                FROM seed_ticket s JOIN seed_variant v ON v.idx = s.idx
                UNION ALL
                SELECT s.id, 'resolution', s.created_at, s.updated_at,
                    s.resolved_at IS NULL AND s.status IN ('pending', 'on_hold'),
                    s.resolved_at, (CASE v.severity {res_targets} END)
                FROM seed_ticket s JOIN seed_variant v ON v.idx = s.idx
            ) AS t
        ) AS c
        ORDER BY c.id, c.metric
        """,  # noqa: S608 - constants
        {"now": now},
    )
    # The queue's sort key: the nearest due time of a running clock.
    cursor.execute(
        """
        UPDATE tickets_ticket t SET sla_due_at = c.due
        FROM (
            SELECT c.ticket_id, min(c.due_at) AS due
            FROM sla_ticketclock c JOIN seed_ticket s ON s.id = c.ticket_id
            WHERE c.met_at IS NULL AND c.paused_at IS NULL AND c.due_at IS NOT NULL
            GROUP BY c.ticket_id
        ) AS c
        WHERE t.id = c.ticket_id
        """
    )


def _render_variants(rng: random.Random, organizations: list, now: datetime) -> list[_Variant]:
    """Fill each scenario's texts a few times per organization; the dates become offsets so each
    benchmark ticket can be placed anywhere in the year."""
    specs = {spec.name: spec for spec in data.ORGANIZATIONS}
    variants = []
    for organization in organizations:
        spec = specs[organization.name]
        for scenario in data.SCENARIOS:
            for _ in range(VARIANTS_PER_SCENARIO):
                context = ticket_context(
                    rng,
                    spec,
                    scenario,
                    requester=rng.choice(spec.people),
                    agent=rng.choice(data.AGENTS),
                    created=now,
                )
                intake = dict(context["_intake"])
                started = intake.pop("started_at")
                starts = intake.pop("interview_starts_at", None)
                ends = intake.pop("interview_ends_at", None)
                final_severity = scenario.regrade[0] if scenario.regrade else scenario.severity
                candidates = context["_candidates"] if scenario.interview else ()
                agent_name = context["agent_first"]
                requester_first = context["requester_first"]
                note = (
                    scenario.note or scenario.hold_note or (scenario.regrade[1] if scenario.regrade else "")
                )
                conversation = (
                    (
                        "agent",
                        False,
                        _signed(scenario.agent_ask, context, requester_first, agent_name),
                    ),
                    ("customer", False, fill(scenario.customer_answer, context)),
                    (
                        "agent",
                        True,
                        fill(note or "Checked the account settings; nothing unusual there.", context),
                    ),
                    (
                        "agent",
                        False,
                        _signed(scenario.agent_fix, context, requester_first, agent_name),
                    ),
                )
                variants.append(
                    _Variant(
                        organization_id=organization.pk,
                        severity=final_severity,
                        subject=fill(context["_subject"], context),
                        description=fill(scenario.description, context),
                        intake=intake,
                        started=started - now if started else None,
                        interview_starts=starts - now if starts else None,
                        interview_ends=ends - now if ends else None,
                        candidates=tuple((c["name"], c["email"]) for c in candidates),
                        conversation=conversation,
                    )
                )
    return variants


def _signed(body: str, context: dict, requester_first: str, agent_first: str) -> str:
    """An agent's message as the services' demo writes it: a greeting and a sign-off."""
    return f"Hi {requester_first},\n\n{fill(body, context)}\n\nBest,\n{agent_first}"
