"""The enumerations of the ticket domain: channel and the intake answers. Severity and status are the
SLA's words too: they are defined below the domain, in sla/vocabulary.py, and offered here."""

from django.db import models

from sla.vocabulary import OPEN_STATUSES, SEVERITY_DEFINITIONS, Severity, Status

__all__ = [
    "OPEN_STATUSES",
    "SEVERITY_DEFINITIONS",
    "AffectedRole",
    "Channel",
    "ImpactScope",
    "Occurrence",
    "Severity",
    "Status",
]


class Channel(models.TextChoices):
    PORTAL = "portal", "Portal"
    CHAT = "chat", "Chat"
    EMAIL = "email", "Email"
    API = "api", "API"
    AGENT = "agent", "Agent"


class AffectedRole(models.TextChoices):
    COORDINATOR = "coordinator", "Coordinator"
    INTERVIEWER = "interviewer", "Interviewer"
    CANDIDATE = "candidate", "Candidate"
    OTHER = "other", "Other"


class ImpactScope(models.TextChoices):
    JUST_ME = "just_me", "Just me"
    SEVERAL_USERS = "several_users", "Several users"
    WHOLE_ORGANIZATION = "whole_organization", "Our whole organization"


class Occurrence(models.TextChoices):
    ONGOING = "ongoing", "Happening now"
    ONE_TIME = "one_time", "Happened once in the past"
    RECURRING = "recurring", "Keeps happening"
