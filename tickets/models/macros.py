"""Canned replies: saved texts with placeholders, optionally moving the ticket to a status."""

from __future__ import annotations

import string

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from .choices import Status

#: Placeholders a macro may use, and what they become.
PLACEHOLDERS = {
    "requester_name": "The requester's first name (or user name).",
    "requester_full_name": "The requester's full name.",
    "reference": "The ticket reference, e.g. HD-1042.",
    "subject": "The ticket subject.",
    "sla_promise": "Our first-response promise, in the customer's time zone.",
    "agent_name": "Your name.",
    "agent_first_name": "Your first name (or user name).",
    "organization": "The customer's organization.",
}


class Macro(models.Model):
    name = models.CharField(max_length=100)
    body = models.TextField(
        help_text="Placeholders: " + ", ".join("{" + name + "}" for name in PLACEHOLDERS) + "."
    )
    set_status = models.CharField(
        "then set status",
        max_length=16,
        blank=True,
        choices=[(s.value, s.label) for s in Status if s not in (Status.NEW, Status.CLOSED)],
    )
    internal = models.BooleanField(
        default=False, help_text="Post as an internal note instead of a public reply."
    )
    active = models.BooleanField(default=True)
    shared = models.BooleanField(
        default=True,
        help_text="Offered to every agent (team leads decide); a personal one is offered to its author only.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "canned reply"
        verbose_name_plural = "canned replies"
        permissions = [("share_macro", "Can write the canned replies shared with every agent")]
        constraints = [
            # A shared name is the team's; a personal one is its author's (two agents may each keep a
            # "Sign-off" of their own).
            models.UniqueConstraint(
                fields=["name"], condition=Q(shared=True), name="macro_shared_name_unique"
            ),
            models.UniqueConstraint(
                fields=["created_by", "name"], condition=Q(shared=False), name="macro_personal_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            fields = {field for _, field, _, _ in string.Formatter().parse(self.body) if field}
        except ValueError as exc:
            raise ValidationError({"body": f"Braces must pair up around a placeholder ({exc})."}) from exc
        unknown = sorted(fields - set(PLACEHOLDERS))
        if unknown:
            raise ValidationError({"body": f"Unknown placeholder(s): {', '.join(unknown)}."})
