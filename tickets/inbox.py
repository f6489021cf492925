"""Agents' notifications: who hears of what, written in the transaction of the change (a spine subscriber).

Each recorded event may concern some agents; each gets one `Notification` row (and, if they asked for that
kind by email, an `OutgoingEmail` through the outbox, as the customers' emails go):

- **new ticket** (CREATED): the owners of the saved views marked "notify me of new tickets" that the new
  ticket belongs to. A new ticket is simple (open, unassigned unless an agent gave it away at once, no
  SLA clock at risk yet), so each view is matched here, in Python, against its filters: one query for
  all the watched views, whatever their number;
- **customer reply** (REPLIED, not by an agent): the ticket's assignee;
- **assigned** (ASSIGNED): the new assignee, unless they took it themselves;
- **at risk / breached** (SLA_AT_RISK, SLA_BREACHED): the ticket's assignee;
- **S1 page** (ESCALATED, the on-call page of an S1): every agent: an S1 is everyone's business.

No one is told of their own doing. After commit, `tickets.live_updates.notify_users` tells each
recipient's open console pages (the `user.<id>` group) to fetch what is new; a page opened later reads
the rows.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from helpdesk import outbox
from tickets import live_updates, notifications, spine
from tickets.events import Assigned, EscalationFired, MessageAdded, payload_of
from tickets.models import OPEN_STATUSES, Event, OutgoingEmail, Severity, Ticket
from tickets.models.workspace import Notification, NotificationSettings, SavedView
from tickets.permissions import agents, is_agent

Kind = Event.Kind
NoticeKind = Notification.Kind

#: How far an unread count is counted: the header says "99+" beyond (a count that stays cheap).
UNREAD_CAP = 99
#: Notifications shown per page of the notification centre.
PAGE_SIZE = 50

_WATCHED_CACHE_KEY = "inbox:any-watched-view"
_WATCHED_CACHE_SECONDS = 30

#: The queues of the console's ticket list a new ticket can be in (tickets.admin.filters.QueueFilter),
#: decided from the ticket alone: a new ticket has no clock at risk or breached, and is not waiting.
_NEW_TICKET_QUEUES = {
    "open": lambda ticket, owner: True,
    "all": lambda ticket, owner: True,
    "mine": lambda ticket, owner: ticket.assignee_id == owner.pk,
    "unassigned_urgent": lambda ticket, owner: (
        ticket.assignee_id is None and ticket.severity in (Severity.S1, Severity.S2)
    ),
}


def view_takes_new_ticket(view: SavedView, ticket: Ticket) -> bool:
    """Whether the just-created `ticket` belongs to the saved `view` (its queue and filters; a search
    term matches words of the subject or the requester's email)."""
    params = view.parameters
    queue = params.get("queue") or ("all" if params.get("status__exact") else "open")
    in_queue = _NEW_TICKET_QUEUES.get(queue)
    if in_queue is None or not in_queue(ticket, view.owner):
        return False
    if ticket.status not in OPEN_STATUSES and queue != "all":
        return False
    exact = {
        "severity__exact": ticket.severity,
        "status__exact": ticket.status,
        "channel__exact": ticket.channel,
        "organization__id__exact": str(ticket.organization_id),
    }
    if any(params.get(name, value) != value for name, value in exact.items()):
        return False
    assignee = params.get("assignee")
    if assignee == "none" and ticket.assignee_id is not None:
        return False
    if assignee == "me" and ticket.assignee_id != view.owner.pk:
        return False
    if assignee and assignee not in ("me", "none") and assignee != str(ticket.assignee_id):
        return False
    term = params.get("q", "").strip().lower()
    if term:
        haystack = f"{ticket.reference} {ticket.subject} {ticket.requester.email}".lower()
        return all(word in haystack for word in term.split())
    return True


def notify_agents(event: Event) -> None:
    """The spine subscriber (in the transaction): the event's notifications, and their emails."""
    recipients = _recipients(event)
    recipients.pop(event.actor_id, None)  # nobody is told of their own doing
    if not recipients:
        return
    ticket = event.ticket
    now = timezone.now()
    rows = Notification.objects.bulk_create(
        Notification(
            recipient_id=user_id, kind=kind, ticket=ticket, event=event, text=text[:300], created_at=now
        )
        for user_id, (kind, text) in recipients.items()
    )
    wanted = {
        settings.user_id: settings
        for settings in NotificationSettings.objects.filter(user_id__in=list(recipients))
    }
    for row in rows:
        settings = wanted.get(row.recipient_id)
        if settings is not None and settings.wants_email(row.kind):
            _queue_email(row)
    event._notified = sorted(recipients)  # read by `announce` after commit


def announce(event: Event) -> None:
    """The spine subscriber (after commit): tell the recipients' open pages."""
    notified = getattr(event, "_notified", None)
    if notified:
        live_updates.notify_users(notified)


def _recipients(event: Event) -> dict[int, tuple[str, str]]:
    """{agent id: (kind, text)} for `event`."""
    ticket = event.ticket
    about = f"{ticket.reference} · {ticket.severity} · {ticket.subject}"
    if event.kind == Kind.CREATED:
        return _watchers(ticket, about)
    if event.kind == Kind.REPLIED:
        added: MessageAdded = payload_of(event)
        if added.by_agent is False or (added.by_agent is None and not is_agent(event.actor)):
            return _assignee(ticket, NoticeKind.CUSTOMER_REPLY, f"Customer replied: {about}")
        return {}
    if event.kind == Kind.ASSIGNED:
        assigned: Assigned = payload_of(event)
        if assigned.current_id is None or ticket.assignee_id != assigned.current_id:
            return {}
        return _assignee(ticket, NoticeKind.ASSIGNED, f"Assigned to you: {about}")
    if event.kind in (Kind.SLA_AT_RISK, Kind.SLA_BREACHED):
        fired: EscalationFired = payload_of(event)
        metric = fired.metric.replace("_", " ")
        if event.kind == Kind.SLA_AT_RISK:
            return _assignee(ticket, NoticeKind.AT_RISK, f"{metric.capitalize()} at risk: {about}")
        return _assignee(ticket, NoticeKind.BREACHED, f"{metric.capitalize()} breached: {about}")
    if event.kind == Kind.ESCALATED:
        text = f"S1 page: {about}"
        return dict.fromkeys(agents().values_list("pk", flat=True), (NoticeKind.S1_PAGE, text))
    return {}


def _assignee(ticket: Ticket, kind: str, text: str) -> dict[int, tuple[str, str]]:
    if ticket.assignee_id is None or not is_agent(ticket.assignee):
        return {}
    return {ticket.assignee_id: (kind, text)}


def _watchers(ticket: Ticket, about: str) -> dict[int, tuple[str, str]]:
    if not views_watched():
        return {}
    watched = SavedView.objects.filter(watch=True, owner__is_staff=True, owner__is_active=True)
    found: dict[int, tuple[str, str]] = {}
    for view in watched.select_related("owner").order_by("owner_id", "position", "pk"):
        if view.owner_id not in found and view_takes_new_ticket(view, ticket):
            found[view.owner_id] = (NoticeKind.NEW_TICKET, f"New in “{view.name}”: {about}")
    return found


def views_watched() -> bool:
    """Whether any saved view is watched (cached briefly, forgotten when a view changes: a ticket's
    creation asks, and most helpdesks watch none)."""
    value = cache.get(_WATCHED_CACHE_KEY)
    if value is None:
        value = SavedView.objects.filter(watch=True).exists()
        cache.set(_WATCHED_CACHE_KEY, value, _WATCHED_CACHE_SECONDS)
    return value


def _forget_watched(**kwargs) -> None:
    cache.delete(_WATCHED_CACHE_KEY)


def _queue_email(row: Notification) -> None:
    """By the customers' email path (the outbox): the row commits with the change, is sent once."""
    email = OutgoingEmail.objects.create(
        kind=OutgoingEmail.Kind.AGENT_NOTICE,
        ticket=row.ticket,
        data={"notification": row.pk},
        msgid=notifications.notification_id(row.ticket, "agent", row.pk),
    )
    outbox.enqueue_or_log(notifications.send_email, email.pk)


# --- reading and marking ----------------------------------------------------------------------------


def inbox(user) -> QuerySet[Notification]:
    """The agent's notifications, newest first, with what a line shows (one query)."""
    return Notification.objects.filter(recipient=user).select_related("ticket")


def unread(user):
    """The agent's unread notifications (read from the partial index of unread ones)."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True)


def unread_count(user) -> int:
    """The agent's unread notifications, counted up to UNREAD_CAP + 1."""
    return unread(user)[: UNREAD_CAP + 1].count()


def unread_label(count: int) -> str:
    return f"{UNREAD_CAP}+" if count > UNREAD_CAP else str(count)


def mark_read(user, notification_ids) -> int:
    """Mark the agent's own notifications read (others' ids are ignored); how many changed."""
    changed = Notification.objects.filter(
        recipient=user, pk__in=list(notification_ids), read_at__isnull=True
    ).update(read_at=timezone.now())
    if changed:
        live_updates.notify_users([user.pk])
    return changed


def mark_all_read(user) -> int:
    changed = Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())
    if changed:
        live_updates.notify_users([user.pk])
    return changed


def settings_for(user) -> NotificationSettings:
    settings, _ = NotificationSettings.objects.get_or_create(user=user)
    return settings


def connect() -> None:
    """Subscribe to the spine (from `tickets.subscribers.connect`)."""
    spine.subscribe(notify_agents, durable=True)
    spine.subscribe(announce)
    post_save.connect(_forget_watched, sender=SavedView, dispatch_uid="inbox-watched-save")
    post_delete.connect(_forget_watched, sender=SavedView, dispatch_uid="inbox-watched-delete")
