"""Reads for chat: the customer's chat in progress and the tickets they may continue on, what the panel
promises about an answer, the lines of a chat, and the agents' Chats queue. The writes are in
`tickets.services.chats`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from sla.calendars import policy as sla_policy
from sla.models import Metric
from sla.promises import answer_by_text, first_response_due
from tickets.models import OPEN_STATUSES, Chat, Message, Severity, Ticket
from tickets.permissions import agents, customer_membership
from tickets.presence import agents_online

#: How many open tickets the panel offers to continue on (the most recently updated).
CONTINUE_LIMIT = 10
#: How many lines of a chat the panel shows when it opens (the newest; the ticket's page has them all).
LINES_SHOWN = 100
#: The longest line excerpt shown in the Chats queue.
EXCERPT_CHARS = 140

AGENT_ONLINE_TEXT = "An agent is online."


def chat_in_progress(customer) -> Chat | None:
    """The customer's chat in progress: the latest that has not gone quiet, on a ticket they may still
    see and that is still open (a chat in an organization they have since left stays there)."""
    return (
        Chat.objects.filter(
            customer=customer,
            ended_at__isnull=True,
            ticket__in=Ticket.objects.visible_to(customer).open(),
        )
        .select_related("ticket")
        .order_by("-started_at", "-pk")
        .first()
    )


def tickets_to_continue(customer) -> list[Ticket]:
    """The open tickets the customer may see, most recently updated first: what the panel offers to
    continue on (an organization admin's include their colleagues' tickets, which they may see)."""
    return list(Ticket.objects.visible_to(customer).open().order_by("-updated_at", "-pk")[:CONTINUE_LIMIT])


def chat_lines(chat: Chat) -> list[dict]:
    """The chat's lines as the customer's panel shows them, oldest first: its opening line (the ticket's
    description, id 0) when it opened the ticket, then the public messages since it started."""
    ticket = chat.ticket
    lines = []
    messages = list(
        Message.objects.filter(ticket=ticket, internal=False, created_at__gte=chat.started_at)
        .select_related("author")
        .order_by("-created_at", "-pk")[:LINES_SHOWN]
    )
    if chat.opened_ticket and len(messages) < LINES_SHOWN:
        lines.append(line(0, "customer", _name(ticket.requester), ticket.description, ticket.created_at))
    for message in reversed(messages):
        lines.append(
            line(
                message.pk,
                message.author_role,
                author_for_customers(message),
                message.body,
                message.created_at,
            )
        )
    return lines


def line(pk: int, role: str, author: str, body: str, created_at: datetime) -> dict:
    return {"id": pk, "role": role, "author": author, "body": body, "created_at": created_at.isoformat()}


def author_for_customers(message: Message) -> str:
    """As the portal names authors: agents as "Name (support)", so the customer sees who answered."""
    if message.author_role == Message.AuthorRole.AGENT:
        return f"{(message.author.get_full_name() if message.author else '') or 'Support'} (support)"
    return _name(message.author)


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else "You"


# --- what the panel promises ------------------------------------------------------------------------


@dataclass(frozen=True)
class Availability:
    """What the panel says about an answer: an agent is online, or when we will answer."""

    agent_online: bool
    #: When we will answer without an agent online: on the chat's ticket, or for S3 before a severity
    #: is chosen. The panel shows it when the last agent closes the console (its socket's heartbeat says).
    offline_text: str
    #: For a new conversation: when we will answer each severity, in the customer's time zone.
    by_severity: dict[str, str]

    @property
    def text(self) -> str:
        return AGENT_ONLINE_TEXT if self.agent_online else self.offline_text

    def as_json(self) -> dict:
        return {
            "agent_online": self.agent_online,
            "text": self.text,
            "offline_text": self.offline_text,
            "by_severity": self.by_severity,
        }


def availability(customer, *, ticket: Ticket | None = None, at: datetime | None = None) -> Availability:
    """ "An agent is online." while an agent has the console open; otherwise "We'll answer by …" in the
    customer's time zone. For a new conversation: the chart's first-response target for the severity
    from `at`, counted on the customer's support plan and its calendar (business hours, weekends,
    holidays; S1 around the clock). On a ticket: what its own SLA clocks promise (`ticket_answer_by`)."""
    at = at or timezone.now()
    membership = customer_membership(customer)
    tz = membership.organization.zoneinfo if membership else timezone.get_default_timezone()
    policy_id = membership.organization.sla_policy_id if membership else None
    plan = sla_policy(policy_id)
    by_severity = {
        severity: answer_by_text(first_response_due(severity, at=at, policy_id=plan.pk), tz)
        for severity in Severity.values
    }
    offline = by_severity[Severity.S3] if ticket is None else ticket_answer_by(ticket, tz, at=at)
    return Availability(agent_online=has_agent_online(), offline_text=offline, by_severity=by_severity)


def ticket_answer_by(ticket: Ticket, tz, *, at: datetime) -> str:
    """When we will answer on `ticket`: its first response if not given yet, else its next update if
    one is due (the SLA clocks' own due times), else the chart's first-response target from `at` for its
    severity, on the plan and calendar it counts on. Honest when late."""
    clocks = {clock.metric: clock for clock in ticket.sla_clocks.all()}
    for metric in (Metric.FIRST_RESPONSE, Metric.NEXT_UPDATE):
        clock = clocks.get(metric)
        if clock is None or clock.met_at is not None or clock.paused_at is not None:
            continue
        if clock.due_at is None or clock.due_at <= at:
            return "We are late with our answer; the team has been alerted."
        return answer_by_text(clock.due_at, tz)
    due = first_response_due(
        ticket.severity, at=at, policy_id=ticket.sla_policy_id, calendar_id=ticket.sla_calendar_id
    )
    return answer_by_text(due, tz)


def has_agent_online() -> bool:
    """Whether an active agent has a console page open now (`tickets.presence`)."""
    online = agents_online()
    return bool(online) and agents().filter(pk__in=online).exists()


# --- the agents' Chats queue -------------------------------------------------------------------------


def waiting_chats() -> QuerySet[Chat]:
    """The chats in progress that wait for an agent: nobody has their ticket, or the customer wrote last
    (an answer is due). Unassigned first, then the oldest. Each row carries `last_role`, `last_body` and
    `last_at`: the chat's newest public line (the ticket's description for a chat that opened it and has
    no reply yet)."""
    newest = Message.objects.filter(ticket=OuterRef("ticket_id"), internal=False).order_by(
        "-created_at", "-pk"
    )
    chats = (
        Chat.objects.filter(ended_at__isnull=True, ticket__status__in=OPEN_STATUSES)
        .annotate(
            # No message yet: the chat opened the ticket, its description is the customer's line.
            last_role=Coalesce(
                Subquery(newest.values("author_role")[:1]), Value(Message.AuthorRole.CUSTOMER)
            ),
            last_body=Subquery(newest.values("body")[:1]),
            last_at=Subquery(newest.values("created_at")[:1]),
            unassigned=Case(
                When(ticket__assignee__isnull=True, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
        )
        .select_related("ticket__organization", "ticket__assignee", "customer")
    )
    return chats.exclude(ticket__assignee__isnull=False, last_role=Message.AuthorRole.AGENT).order_by(
        "unassigned", "started_at", "pk"
    )


def queue_row(chat: Chat, *, now: datetime) -> dict:
    """A Chats queue row as JSON (the page's script builds it with text nodes)."""
    ticket = chat.ticket
    body = chat.last_body if chat.last_body is not None else ticket.description
    role = chat.last_role or "customer"
    return {
        "chat": chat.pk,
        "ticket": ticket.pk,
        "reference": ticket.reference,
        "subject": ticket.subject,
        "severity": ticket.severity,
        "status": ticket.get_status_display(),
        "organization": str(ticket.organization),
        "customer": _name(chat.customer),
        "assignee": (ticket.assignee.get_full_name() or ticket.assignee.get_username())
        if ticket.assignee
        else "",
        "waiting": _minutes(now - chat.started_at),
        "started_at": chat.started_at.isoformat(),
        "last_role": role,
        "last_line": body if len(body) <= EXCERPT_CHARS else body[: EXCERPT_CHARS - 1] + "…",
    }


def _minutes(delta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
