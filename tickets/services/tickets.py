"""Services that create a ticket and move it to another SLA policy (changes to a ticket's details,
severity, assignee and status are in `changes.py`; the checks both make are in `checks.py`).

Each is atomic, writes its audit Event and schedules side effects on commit. Views, the admin, the API
and the email channel call these; nothing else writes tickets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from sla.calendars import policy as sla_policy
from sla.clocks import sla_policy_changed, sla_ticket_created
from tickets import events
from tickets.attachments import check_uploads
from tickets.locks import ticket_lock
from tickets.models import Candidate, Channel, Severity, Status, Ticket
from tickets.permissions import customer_membership, is_agent, require_agent
from tickets.services.checks import INTAKE_FIELDS, check_not_closed, clean_candidates, single_line
from tickets.services.conversation import attachment_add
from tickets.severity_suggestion import suggest_severity


def ticket_create(
    *,
    requester,
    subject: str,
    description: str,
    severity: str = Severity.S3,
    channel: str = Channel.PORTAL,
    actor=None,
    intake: Mapping | None = None,
    candidates: Iterable[Mapping] = (),
    attachments: Iterable = (),
    at: datetime | None = None,
) -> Ticket:
    """Open a ticket for `requester` (a customer). `actor` is who files it: the requester, their
    organization admin or an agent; it defaults to the requester."""
    at = at or timezone.now()
    actor = actor or requester
    membership = customer_membership(requester)
    if membership is None:
        raise ValidationError({"requester": "The requester must be an active customer of an organization."})
    _check_may_file_for(actor, requester, membership)
    intake = dict(intake or {})
    unknown = set(intake) - set(INTAKE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This is not an intake field."))

    # The organization's support plan and its calendar at creation: the clocks count on them for good.
    plan = sla_policy(membership.organization.sla_policy_id)
    ticket = Ticket(
        requester=requester,
        organization_id=membership.organization_id,
        sla_policy_id=plan.pk,
        sla_calendar_id=plan.calendar_id,
        subject=single_line(subject),
        description=(description or "").strip(),
        severity=severity,
        channel=channel,
        status=Status.NEW,
        created_at=at,
        updated_at=at,
        **intake,
    )
    # What the definitions suggest from these answers, kept for the console to show beside the choice.
    suggestion = suggest_severity(
        {"subject": subject, "description": description, **intake},
        organization=membership.organization,
        now=at,
    )
    ticket.suggested_severity = suggestion.severity
    ticket.suggested_severity_reason = suggestion.reason[:300]
    # The requester and its organization were just read: no query to check that they exist.
    ticket.full_clean(exclude=["requester", "organization"], validate_constraints=False)
    candidate_rows = clean_candidates(candidates)
    attachments = check_uploads(attachments)

    with transaction.atomic():
        ticket.save()
        for row in candidate_rows:
            row.ticket = ticket
        Candidate.objects.bulk_create(candidate_rows)
        events.ticket_created(ticket=ticket, actor=actor, at=at)
        for upload in attachments:
            attachment_add(ticket=ticket, uploaded_by=actor, upload=upload, at=at)
        sla_ticket_created(ticket, at=at)
    return ticket


def ticket_apply_sla_policy(*, ticket: Ticket, actor, at: datetime | None = None) -> bool:
    """Re-target a ticket that is not closed on its organization's current SLA policy and that policy's
    calendar, keeping the time already elapsed (as a severity change does). False when it already counts
    on them."""
    at = at or timezone.now()
    require_agent(actor, "re-target a ticket's SLA")
    with transaction.atomic():
        ticket = ticket_lock(ticket.pk)
        check_not_closed(ticket)
        organization = ticket.organization
        plan = sla_policy(organization.sla_policy_id)
        if (ticket.sla_policy_id, ticket.sla_calendar_id) == (plan.pk, plan.calendar_id):
            return False
        previous = sla_policy(ticket.sla_policy_id).name if ticket.sla_policy_id else ""
        ticket.sla_policy_id, ticket.sla_calendar_id = plan.pk, plan.calendar_id
        ticket.updated_at = at
        ticket.save(update_fields=["sla_policy", "sla_calendar", "updated_at"])
        events.sla_policy_changed(ticket=ticket, actor=actor, at=at, previous=previous, current=plan.name)
        sla_policy_changed(ticket, at=at)
    return True


def organization_apply_sla_policy(*, organization, actor, at: datetime | None = None) -> int:
    """Re-target every ticket of the organization that is not closed on its current SLA policy (staff ask
    for it after moving the organization to another plan); how many changed. One transaction per ticket,
    so a long backlog never holds all its rows locked at once."""
    require_agent(actor, "re-target tickets' SLA")
    changed = 0
    for ticket in (
        Ticket.objects.filter(organization=organization).exclude(status=Status.CLOSED).order_by("pk")
    ):
        changed += ticket_apply_sla_policy(ticket=ticket, actor=actor, at=at)
    return changed


def _check_may_file_for(actor, requester, membership) -> None:
    if is_agent(actor) or actor.pk == requester.pk:
        return
    actor_membership = customer_membership(actor)
    if (
        actor_membership
        and actor_membership.is_admin
        and actor_membership.organization_id == membership.organization_id
    ):
        return
    raise PermissionDenied("Customers may only open tickets for themselves (admins: for their organization).")
