"""Satisfaction: the requester's rating of a resolution, good or bad with an optional comment.

One row per ticket and resolution (`resolved_at`, the instant that resolution was made): a later rating
of the same resolution replaces it; a reopened and resolved-again ticket is rated anew. The severity and
the assignee are copied when rated, so the dashboard's figures by severity and agent stay those of the
ticket as it was resolved. Written only by `tickets.satisfaction.satisfaction_rate`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from .choices import Severity
from .tickets import Ticket


class Rating(models.TextChoices):
    GOOD = "good", "Good, I'm satisfied"
    BAD = "bad", "Bad, I'm unsatisfied"


class SatisfactionRating(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="satisfaction_ratings")
    resolved_at = models.DateTimeField(help_text="The resolution rated (the ticket's resolved_at then).")
    rating = models.CharField(max_length=4, choices=Rating.choices)
    comment = models.TextField(blank=True)
    rated_at = models.DateTimeField()
    rated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    severity = models.CharField(max_length=2, choices=Severity.choices)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-rated_at", "-pk"]
        indexes = [models.Index(fields=["rated_at"], name="satisfaction_rated")]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "resolved_at"], name="one_rating_per_resolution"),
            models.CheckConstraint(condition=Q(rating__in=["good", "bad"]), name="satisfaction_rating_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_rating_display()} ({self.ticket.reference})"
