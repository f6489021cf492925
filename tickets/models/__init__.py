"""The ticket domain's models, one module per concern."""

from .agents import AgentProfile
from .articles import Article, ArticleCategory, ArticleVote, Deflection
from .chats import Chat
from .choices import (
    OPEN_STATUSES,
    SEVERITY_DEFINITIONS,
    AffectedRole,
    Channel,
    ImpactScope,
    Occurrence,
    Severity,
    Status,
)
from .conversation import Attachment, Message
from .emails import OutgoingEmail
from .events import Event
from .inbound import InboundEmail
from .integrations import ApiToken, IdempotencyRecord, WebhookDelivery, WebhookEvent, WebhookSubscription
from .macros import Macro
from .organizations import TIMEZONE_CHOICES, Membership, Organization
from .rollups import (
    DashboardDay,
    DashboardMove,
    DashboardResponseBucket,
    DashboardStaleTicket,
    DashboardTicket,
)
from .satisfaction import Rating, SatisfactionRating
from .tickets import Candidate, Ticket, parse_reference
from .workspace import Notification, NotificationSettings, SavedView

__all__ = [
    "OPEN_STATUSES",
    "SEVERITY_DEFINITIONS",
    "TIMEZONE_CHOICES",
    "AffectedRole",
    "AgentProfile",
    "ApiToken",
    "Article",
    "ArticleCategory",
    "ArticleVote",
    "Attachment",
    "Candidate",
    "Channel",
    "Chat",
    "DashboardDay",
    "DashboardMove",
    "DashboardResponseBucket",
    "DashboardStaleTicket",
    "DashboardTicket",
    "Deflection",
    "Event",
    "IdempotencyRecord",
    "ImpactScope",
    "InboundEmail",
    "Macro",
    "Membership",
    "Message",
    "Notification",
    "NotificationSettings",
    "Occurrence",
    "Organization",
    "OutgoingEmail",
    "Rating",
    "SatisfactionRating",
    "SavedView",
    "Severity",
    "Status",
    "Ticket",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookSubscription",
    "parse_reference",
]
