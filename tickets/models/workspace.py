"""An agent's own workspace: the queue views they saved, their notifications and how they want them.

A saved view is the console's ticket list as the agent filtered and sorted it, kept as the list's query
string, so opening it is opening that address. Notifications are rows, written by a spine subscriber in
the transaction of the change they tell about (`tickets.inbox`): what a page shows is what is stored, with
or without a live socket.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.db import models
from django.db.models import Q

from .tickets import Ticket

#: The ticket list's parameters a saved view keeps (filters, search and order); anything else in the
#: address (page number, popups, the admin's own flags) is dropped when a view is saved.
VIEW_PARAMETERS = (
    "queue",
    "severity__exact",
    "status__exact",
    "channel__exact",
    "organization__id__exact",
    "assignee",
    "q",
    "o",
)


def clean_view_query(query: str) -> str:
    """`query` (a query string, with or without "?") reduced to the parameters a view keeps, in a fixed
    order: two saves of the same list give the same text."""
    pairs = parse_qsl(query.lstrip("?"), keep_blank_values=False)
    kept = [(key, value) for key, value in pairs if key in VIEW_PARAMETERS]
    kept.sort(key=lambda pair: VIEW_PARAMETERS.index(pair[0]))
    return urlencode(kept)


class SavedView(models.Model):
    """A ticket list an agent named and keeps in the console's sidebar, with its count."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=60)
    query = models.CharField(
        "filters and order",
        max_length=500,
        blank=True,
        help_text="The ticket list's address after the “?”, e.g. queue=open&severity__exact=S1.",
    )
    watch = models.BooleanField(
        "notify me of new tickets",
        default=False,
        help_text="Tell me (in the console, and by email if I chose so) when a new ticket enters this view.",
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower comes first in the sidebar.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "name", "pk"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_view_name_per_owner")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.query = clean_view_query(self.query)
        super().save(*args, **kwargs)

    @property
    def parameters(self) -> dict[str, str]:
        return dict(parse_qsl(self.query))


class Notification(models.Model):
    """One thing an agent should know about, shown in the console's notification centre until read."""

    class Kind(models.TextChoices):
        NEW_TICKET = "new_ticket", "New ticket in a view I watch"
        CUSTOMER_REPLY = "customer_reply", "Customer reply on my ticket"
        ASSIGNED = "assigned", "Ticket assigned to me"
        AT_RISK = "at_risk", "SLA at risk on my ticket"
        BREACHED = "breached", "SLA breached on my ticket"
        S1_PAGE = "s1_page", "S1 page"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey("tickets.Event", on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        constraints = [
            # One notification per agent and event: a subscriber run twice (or two reasons) tells once.
            models.UniqueConstraint(fields=["recipient", "event"], name="notification_once_per_event"),
        ]
        indexes = [
            models.Index(fields=["recipient", "-id"], name="notification_inbox"),
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text}"

    @property
    def unread(self) -> bool:
        return self.read_at is None


class NotificationSettings(models.Model):
    """Which notifications an agent also wants by email (all are always in the console)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    email_new_ticket = models.BooleanField("new ticket in a view I watch", default=False)
    email_customer_reply = models.BooleanField("customer reply on my ticket", default=False)
    email_assigned = models.BooleanField("ticket assigned to me", default=False)
    email_at_risk = models.BooleanField("SLA at risk on my ticket", default=False)
    email_breached = models.BooleanField("SLA breached on my ticket", default=False)
    email_s1_page = models.BooleanField("S1 page", default=False)

    class Meta:
        verbose_name = "notification settings"
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"Notification settings of {self.user}"

    def wants_email(self, kind: str) -> bool:
        return bool(getattr(self, f"email_{kind}", False))
