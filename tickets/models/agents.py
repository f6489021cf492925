"""What the console knows about an agent beyond the user account: the time zone they work in."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models

from helpdesk.timezones import validate_timezone


class AgentProfile(models.Model):
    """One per agent who changed a preference; an agent without one works in the business calendar's
    zone (`tickets.agents.agent_timezone`)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    timezone = models.CharField(
        max_length=64,
        validators=[validate_timezone],
        help_text="Every time in the console is shown in this zone (and labelled with it).",
    )

    class Meta:
        verbose_name = "agent profile"

    def __str__(self) -> str:
        return f"{self.user} ({self.timezone})"

    @property
    def zoneinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
