"""Benchmark volumes: many realistic tickets written with `bulk_create`, bypassing the services.

The services write one ticket per transaction with its side effects, which is right for real traffic
and far too slow for 100,000 rows. Here each batch is one transaction holding the tickets, their
candidates and one CREATED event per ticket (what `ticket_create` records), so the audit trail still
has every ticket's creation. Statuses are final states with consistent `resolved_at`/`closed_at`; the
intermediate history (replies, status events) is not generated.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.management.base import CommandError
from django.db import connection, transaction

from tickets.demo import data
from tickets.demo.seed import fill, ticket_context
from tickets.models import Candidate, Event, Ticket

DEFAULT_BATCH_SIZE = 5000

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
#: Distinct texts rendered per scenario and organization; tickets draw from this pool.
VARIANTS_PER_SCENARIO = 4


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
    """Insert `count` tickets spread over the past year across the demo organizations; return `count`.

    `progress(done, count)` is called after each committed batch.
    """
    if not connection.features.can_return_rows_from_bulk_insert:
        raise CommandError("Benchmark tickets need a database that returns ids from bulk inserts.")
    rng = random.Random(data.SEED)  # noqa: S311 - reproducible benchmark data, not security
    variants = _render_variants(rng, organizations, now)
    requesters = {org_id: [user.pk for user in users] for org_id, users in customers.items()}
    agent_ids = [agent.pk for agent in agents]
    statuses, status_weights = zip(*STATUS_WEIGHTS.items(), strict=True)
    channels, channel_weights = zip(*data.CHANNEL_WEIGHTS.items(), strict=True)
    latest = now - timedelta(seconds=1)

    done = 0
    while done < count:
        size = min(batch_size, count - done)
        picks = zip(
            rng.choices(variants, k=size),
            rng.choices(statuses, weights=status_weights, k=size),
            rng.choices(channels, weights=channel_weights, k=size),
            strict=True,
        )
        tickets, variant_of = [], []
        for variant, status, channel in picks:
            tickets.append(_ticket(rng, variant, status, channel, requesters, agent_ids, now, latest))
            variant_of.append(variant)
        with transaction.atomic():
            Ticket.objects.bulk_create(tickets, batch_size=batch_size)
            Event.objects.bulk_create(
                [
                    Event(
                        ticket_id=ticket.pk,
                        # Agent-channel tickets are filed by an agent on the customer's behalf.
                        actor_id=ticket.assignee_id if ticket.channel == "agent" else ticket.requester_id,
                        kind=Event.Kind.CREATED,
                        to_value=ticket.severity,
                        data={"channel": ticket.channel},
                        created_at=ticket.created_at,
                    )
                    for ticket in tickets
                ],
                batch_size=batch_size,
            )
            Candidate.objects.bulk_create(
                [
                    Candidate(ticket_id=ticket.pk, name=name, email=email)
                    for ticket, variant in zip(tickets, variant_of, strict=True)
                    for name, email in variant.candidates
                ],
                batch_size=batch_size,
            )
        done += size
        if progress:
            progress(done, count)
    return count


def _ticket(rng, variant: _Variant, status, channel, requesters, agent_ids, now, latest) -> Ticket:
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
    elif status == "new":
        updated = created
    else:
        updated = created + (latest - created) * rng.uniform(0.05, 0.6)
    return Ticket(
        subject=variant.subject,
        description=variant.description,
        severity=variant.severity,
        status=status,
        channel=channel,
        organization_id=variant.organization_id,
        requester_id=rng.choice(requesters[variant.organization_id]),
        # New tickets have not been triaged yet; agent-channel ones were filed by their agent.
        assignee_id=rng.choice(agent_ids) if status != "new" or channel == "agent" else None,
        created_at=created,
        updated_at=updated,
        resolved_at=resolved_at,
        closed_at=closed_at,
        started_at=created + variant.started if variant.started is not None else None,
        interview_starts_at=created + variant.interview_starts
        if variant.interview_starts is not None
        else None,
        interview_ends_at=created + variant.interview_ends if variant.interview_ends is not None else None,
        **variant.intake,
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
                    )
                )
    return variants
