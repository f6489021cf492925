"""Customer organizations and their people (requesters and organization admins)."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from helpdesk.timezones import DEFAULT_TIMEZONE, timezone_choices, validate_timezone

# pytz's curated list makes a sensible drop-down (helpdesk/timezones.py); the value stored is an IANA name
# used with zoneinfo. Forms offer it; the model only validates, so that migrations do not freeze it.
TIMEZONE_CHOICES = timezone_choices()


class Organization(models.Model):
    """A customer company. Its people see the organization's tickets according to their role."""

    name = models.CharField(max_length=200, unique=True)
    timezone = models.CharField(max_length=64, default=DEFAULT_TIMEZONE, validators=[validate_timezone])
    sla_policy = models.ForeignKey(
        "sla.SlaPolicy",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="organizations",
        verbose_name="SLA policy",
        help_text="The support plan of its new tickets; empty: the default policy.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def zoneinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Membership(models.Model):
    """Makes a user a customer of one organization, as a requester or an organization admin."""

    class Role(models.TextChoices):
        REQUESTER = "requester", "Requester"
        ADMIN = "admin", "Organization admin"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.REQUESTER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["requester", "admin"]),
                name="membership_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.organization})"

    def clean(self) -> None:
        # An agent with a membership would be reachable by whatever manages the organization's people
        # (an organization-limited token could set their password). Checked in every form (the console's
        # user page validates this with the staff flag as submitted) and by tickets.services.people.
        user = getattr(self, "user", None)
        if user is not None and (user.is_staff or user.is_superuser):
            # Not tied to the `user` field: the console's user page has no such field to show it on.
            raise ValidationError(
                "Agents (staff) cannot be customers of an organization; leave it empty for agents."
            )

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN
