"""Services that create a ticket and change its status, severity, assignee and intake.

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
from sla.clocks import sla_policy_changed, sla_severity_changed, sla_status_changed, sla_ticket_created
from tickets import intake as intake_schema
from tickets import tasks, workflow
from tickets.attachments import check_uploads
from tickets.events import event_record
from tickets.locks import ticket_lock
from tickets.models import Candidate, Channel, Event, Severity, Status, Ticket
from tickets.permissions import customer_membership, is_agent, require_agent
from tickets.services.side_effects import after_commit

#: Intake fields a ticket is created with (and agents may edit), as the intake schema lists them.
#: Subject and description are separate.
INTAKE_FIELDS = intake_schema.FIELD_NAMES
EDITABLE_FIELDS = ("subject", "description", *INTAKE_FIELDS)


def single_line(text: str | None) -> str:
    """A subject is one line (it becomes an email's Subject header): runs of whitespace, line breaks
    included, become one space."""
    return " ".join((text or "").split())


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
    from tickets.services.conversation import attachment_add

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
    # The requester and its organization were just read: no query to check that they exist.
    ticket.full_clean(exclude=["requester", "organization"], validate_constraints=False)
    candidate_rows = _clean_candidates(candidates)
    attachments = check_uploads(attachments)

    with transaction.atomic():
        ticket.save()
        for row in candidate_rows:
            row.ticket = ticket
        Candidate.objects.bulk_create(candidate_rows)
        event_record(
            ticket=ticket,
            kind=Event.Kind.CREATED,
            actor=actor,
            at=at,
            to_value=ticket.severity,
            data={"channel": ticket.channel},
        )
        for upload in attachments:
            attachment_add(ticket=ticket, uploaded_by=actor, upload=upload, at=at)
        sla_ticket_created(ticket, at=at)
        after_commit(tasks.notify_ticket_received, ticket.pk)
    return ticket


def ticket_change_status(*, ticket: Ticket, actor, status: str, at: datetime | None = None) -> Ticket:
    """Move the ticket along the workflow: agents between the working statuses (and close a resolved
    ticket); customers may only resolve their ticket or reopen it."""
    at = at or timezone.now()
    by_agent = is_agent(actor)
    if not by_agent:
        _check_customer_may_act(actor, ticket)
    with transaction.atomic():
        ticket = ticket_lock(ticket.pk)
        workflow.check_transition(ticket.status, status, by_agent=by_agent)
        _set_status(ticket, status, actor=actor, at=at)
        ticket.updated_at = at
        ticket.save()
    return ticket


def _set_status(ticket: Ticket, status: str, *, actor, at: datetime, reason: str = "") -> None:
    """Change the status on a locked ticket and record it. The caller saves the ticket."""
    previous = ticket.status
    ticket.status = status
    if status == Status.RESOLVED:
        ticket.resolved_at = at
    elif status == Status.CLOSED:
        ticket.closed_at = at
    else:
        ticket.resolved_at = None
    event_record(
        ticket=ticket,
        kind=Event.Kind.STATUS_CHANGED,
        actor=actor,
        at=at,
        from_value=previous,
        to_value=status,
        data={"reason": reason} if reason else None,
    )
    sla_status_changed(ticket, previous=previous, at=at)
    after_commit(tasks.notify_status_changed, ticket.pk, previous, status)


def ticket_change_severity(*, ticket: Ticket, actor, severity: str, at: datetime | None = None) -> Ticket:
    """Agents re-grade a ticket (customers choose the severity only when they file it)."""
    at = at or timezone.now()
    require_agent(actor, "change a ticket's severity")
    if severity not in Severity.values:
        raise ValidationError({"severity": f"“{severity}” is not a severity; use one of S1–S5."})
    with transaction.atomic():
        ticket = ticket_lock(ticket.pk)
        _check_not_closed(ticket)
        if ticket.severity == severity:
            raise ValidationError({"severity": f"The ticket is already {severity}."})
        previous = ticket.severity
        ticket.severity = severity
        ticket.updated_at = at
        ticket.save(update_fields=["severity", "updated_at"])
        event_record(
            ticket=ticket,
            kind=Event.Kind.SEVERITY_CHANGED,
            actor=actor,
            at=at,
            from_value=previous,
            to_value=severity,
        )
        sla_severity_changed(ticket, previous=previous, at=at)
    return ticket


def ticket_apply_sla_policy(*, ticket: Ticket, actor, at: datetime | None = None) -> bool:
    """Re-target a ticket that is not closed on its organization's current SLA policy and that policy's
    calendar, keeping the time already elapsed (as a severity change does). False when it already counts
    on them."""
    at = at or timezone.now()
    require_agent(actor, "re-target a ticket's SLA")
    with transaction.atomic():
        ticket = ticket_lock(ticket.pk)
        _check_not_closed(ticket)
        organization = ticket.organization
        plan = sla_policy(organization.sla_policy_id)
        if (ticket.sla_policy_id, ticket.sla_calendar_id) == (plan.pk, plan.calendar_id):
            return False
        previous = sla_policy(ticket.sla_policy_id).name if ticket.sla_policy_id else ""
        ticket.sla_policy_id, ticket.sla_calendar_id = plan.pk, plan.calendar_id
        ticket.updated_at = at
        ticket.save(update_fields=["sla_policy", "sla_calendar", "updated_at"])
        event_record(
            ticket=ticket,
            kind=Event.Kind.SLA_POLICY_CHANGED,
            actor=actor,
            at=at,
            from_value=previous,
            to_value=plan.name,
        )
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


def ticket_assign(*, ticket: Ticket, actor, assignee, at: datetime | None = None) -> Ticket:
    """Give the ticket to an agent, or take it off anyone's plate with `assignee=None`."""
    at = at or timezone.now()
    require_agent(actor, "assign tickets")
    if assignee is not None and not is_agent(assignee):
        raise ValidationError({"assignee": "Tickets can only be assigned to active agents."})
    with transaction.atomic():
        ticket = ticket_lock(ticket.pk)
        _check_not_closed(ticket)
        if ticket.assignee_id == (assignee.pk if assignee else None):
            return ticket
        previous = ticket.assignee
        ticket.assignee = assignee
        ticket.updated_at = at
        ticket.save(update_fields=["assignee", "updated_at"])
        event_record(
            ticket=ticket,
            kind=Event.Kind.ASSIGNED,
            actor=actor,
            at=at,
            from_value=previous.get_username() if previous else "",
            to_value=assignee.get_username() if assignee else "",
            data={"from_id": previous.pk if previous else None, "to_id": assignee.pk if assignee else None},
        )
    return ticket


def ticket_update_details(
    *,
    ticket: Ticket,
    actor,
    changes: Mapping,
    candidates: Iterable[Mapping] | None = None,
    at: datetime | None = None,
) -> Ticket:
    """Agents correct the subject, description or intake; `candidates`, when given, replaces the list."""
    at = at or timezone.now()
    require_agent(actor, "edit a ticket's details")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be edited here."))
    if "subject" in changes:
        changes = {**changes, "subject": single_line(changes["subject"])}
    with transaction.atomic():
        ticket = ticket_lock(ticket.pk)
        changed = [name for name, value in changes.items() if getattr(ticket, name) != value]
        for name in changed:
            setattr(ticket, name, changes[name])
        ticket.full_clean(validate_constraints=False)
        if candidates is not None:
            rows = _clean_candidates(candidates)
            current = [(c.name, c.email) for c in ticket.candidates.all()]
            if current != [(c.name, c.email) for c in rows]:
                ticket.candidates.all().delete()
                for row in rows:
                    row.ticket = ticket
                Candidate.objects.bulk_create(rows)
                changed.append("candidates")
        if not changed:
            return ticket
        ticket.updated_at = at
        ticket.save()
        event_record(
            ticket=ticket, kind=Event.Kind.INTAKE_UPDATED, actor=actor, at=at, data={"fields": changed}
        )
    return ticket


def _clean_candidates(candidates: Iterable[Mapping]) -> list[Candidate]:
    rows, errors = [], {}
    for index, data in enumerate(candidates):
        row = Candidate(name=(data.get("name") or "").strip(), email=(data.get("email") or "").strip())
        if not row.name and not row.email:
            continue  # an empty line in a form is not a candidate
        try:
            # Its one constraint (a name or an email) is the check above; validating it costs a query.
            row.full_clean(exclude=["ticket"], validate_constraints=False)
        except ValidationError as exc:
            errors[f"candidates[{index}]"] = exc.messages
        rows.append(row)
    if errors:
        raise ValidationError(errors)
    return rows


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


def _check_customer_may_act(actor, ticket: Ticket) -> None:
    from tickets.permissions import can_view_ticket

    if not can_view_ticket(actor, ticket):
        raise PermissionDenied("You cannot change this ticket.")


def _check_not_closed(ticket: Ticket) -> None:
    if ticket.status == Status.CLOSED:
        raise ValidationError({"status": "The ticket is closed; open a follow-up ticket instead."})


def ticket_take_next(*, agent, at: datetime | None = None) -> Ticket | None:
    """Assign `agent` the most urgent unassigned ticket that needs us (not waiting on the customer).

    The candidate row is locked with SKIP LOCKED, so agents pressing "Take next" at the same moment get
    different tickets instead of waiting for, or overwriting, each other.
    """
    require_agent(agent, "take tickets")
    with transaction.atomic():
        ticket = (
            Ticket.objects.filter(status__in=[Status.NEW, Status.OPEN, Status.ON_HOLD], assignee__isnull=True)
            .in_queue_order()
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if ticket is None:
            return None
        return ticket_assign(ticket=ticket, actor=agent, assignee=agent, at=at)
