"""Serializers with explicit fields, as DESIGN.md's public contract names them. They validate shapes;
the services decide and write."""

from __future__ import annotations

import functools
from datetime import UTC

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from helpdesk.timezones import timezone_choices
from sla.models import Metric
from tickets import intake
from tickets.api.authentication import token_organization_id
from tickets.models import (
    Attachment,
    Channel,
    Event,
    Membership,
    Message,
    Organization,
    Rating,
    Severity,
    Status,
    Ticket,
)
from tickets.permissions import agents
from tickets.satisfaction import current_rating
from tickets.services.people import user_email_check

User = get_user_model()

# --- tickets ----------------------------------------------------------------------------------------


class SlaMetricSerializer(serializers.Serializer):
    due_at = serializers.DateTimeField(allow_null=True)
    state = serializers.ChoiceField(choices=["active", "paused", "met", "breached"])
    met_at = serializers.DateTimeField(allow_null=True)
    breached_at = serializers.DateTimeField(allow_null=True)


class SlaSerializer(serializers.Serializer):
    """Each metric the chart defines for the ticket's severity; `null` where it sets no target."""

    first_response = SlaMetricSerializer(allow_null=True)
    next_update = SlaMetricSerializer(allow_null=True)
    resolution = SlaMetricSerializer(allow_null=True)


class CandidateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, allow_blank=True, required=False)
    # No `default`: an email format with a default of "" is invalid OpenAPI; the blank is filled below.
    email = serializers.EmailField(allow_blank=True, required=False)

    def validate(self, data):
        if not data.get("name") and not data.get("email"):
            raise serializers.ValidationError("Give the candidate's name or email.")
        return {"name": "", "email": "", **data}


def intake_api_field(entry: intake.IntakeField, **kwargs) -> serializers.Field:
    """The API field of an intake field, after the kind of its model field: its choices, a text, a date
    and time, or a list of lines. Optional; a text may be blank, a time null."""
    model_field = Ticket._meta.get_field(entry.name)
    kwargs.setdefault("required", False)
    if model_field.choices:
        return serializers.ChoiceField(choices=model_field.choices, allow_blank=True, **kwargs)
    if isinstance(model_field, models.DateTimeField):
        return serializers.DateTimeField(allow_null=True, **kwargs)
    if isinstance(model_field, models.JSONField):
        return serializers.ListField(child=serializers.CharField(max_length=intake.LINE_MAX_LENGTH), **kwargs)
    return serializers.CharField(max_length=model_field.max_length, allow_blank=True, **kwargs)


class InterviewSerializer(serializers.Serializer):
    """The interview context: who, which position and template, and when."""

    candidates = CandidateSerializer(many=True, required=False)

    def get_fields(self):
        # The candidates are rows of their own; the other fields are the intake schema's.
        return {
            **super().get_fields(),
            **{entry.api_name: intake_api_field(entry) for entry in intake.api_fields("interview")},
        }

    def validate(self, data):
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends < starts:
            raise serializers.ValidationError(
                {"ends_at": "The end of the interview range is before its start."}
            )
        return data


#: Interview fields in the API → Ticket model fields.
INTERVIEW_FIELDS = {entry.api_name: entry.name for entry in intake.api_fields("interview")}
#: The intake fields at the top level of a ticket in the API (the others are in `interview`).
INTAKE_API_FIELDS = tuple(entry.api_name for entry in intake.api_fields())


def interview_to_model(interview: dict) -> dict:
    return {INTERVIEW_FIELDS[name]: value for name, value in interview.items() if name in INTERVIEW_FIELDS}


def intake_to_model(data: dict) -> dict:
    """The intake in validated data (top-level fields and the interview's), by Ticket model field."""
    fields = {name: data[name] for name in INTAKE_API_FIELDS if name in data}
    fields.update(interview_to_model(data.get("interview") or {}))
    return fields


class IntakeSerializer(serializers.Serializer):
    """The intake a client sends, shared by the create and the update: the schema's top-level fields
    after the subclass's own, then `interview`."""

    def get_fields(self):
        return {
            **super().get_fields(),
            **{entry.api_name: intake_api_field(entry) for entry in intake.api_fields()},
            "interview": InterviewSerializer(required=False),
        }


class SatisfactionSerializer(serializers.Serializer):
    rating = serializers.ChoiceField(choices=Rating.choices)
    comment = serializers.CharField(allow_blank=True)
    rated_at = serializers.DateTimeField()


class SatisfactionRequestSerializer(serializers.Serializer):
    rating = serializers.ChoiceField(choices=Rating.choices)
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Optional; a new rating keeps the last one.",
    )


class TicketSerializer(serializers.ModelSerializer):
    """A ticket as clients read it."""

    reference = serializers.CharField(read_only=True)
    interview = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField()
    satisfaction = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = (
            "reference",
            "subject",
            "description",
            "severity",
            "status",
            "channel",
            "requester",
            "organization",
            "assignee",
            "created_at",
            "updated_at",
            *INTAKE_API_FIELDS,
            "interview",
            "sla",
            "satisfaction",
        )
        read_only_fields = fields

    def get_fields(self):
        fields = super().get_fields()
        # The intake's choices as the schema's: a read-only model field would not allow the blank ("not
        # answered") a ticket may carry.
        for entry in intake.api_fields():
            if Ticket._meta.get_field(entry.name).choices:
                fields[entry.api_name] = intake_api_field(entry, read_only=True)
        return fields

    def to_representation(self, ticket: Ticket) -> dict:
        """The same dict as DRF's field-by-field path, built directly from the model's attributes: that
        path ran ~30 field objects per ticket (with a timezone lookup per timestamp), most of a list
        page's time. The declared fields still describe the schema."""
        data = {}
        for name, source, kind in _ticket_plan():
            if kind == "method":
                data[name] = getattr(self, source)(ticket)
            elif kind == "time":
                data[name] = _iso(getattr(ticket, source))
            elif kind == "id":
                data[name] = getattr(ticket, source)
            else:
                value = getattr(ticket, source)
                data[name] = None if value is None else str(value)
        return data

    @extend_schema_field(InterviewSerializer)
    def get_interview(self, ticket: Ticket) -> dict:
        return {
            "candidates": [
                {"name": c.name, "email": c.email} for c in _rows(ticket, "api_candidates", "candidates")
            ],
            **{
                api_name: _iso(getattr(ticket, name)) if name in _INTERVIEW_TIMES else getattr(ticket, name)
                for api_name, name in INTERVIEW_FIELDS.items()
            },
        }

    @extend_schema_field(SlaSerializer)
    def get_sla(self, ticket: Ticket) -> dict:
        clocks = {clock.metric: clock for clock in _rows(ticket, "api_sla_clocks", "sla_clocks")}
        return {
            metric: None
            if metric not in clocks
            else {
                "due_at": _iso(clocks[metric].due_at),
                "state": clocks[metric].state,
                "met_at": _iso(clocks[metric].met_at),
                "breached_at": _iso(clocks[metric].breached_at),
            }
            for metric in Metric.values
        }

    @extend_schema_field(SatisfactionSerializer(allow_null=True))
    def get_satisfaction(self, ticket: Ticket) -> dict | None:
        """The rating of the ticket's latest rated resolution, or null."""
        return satisfaction_json(current_rating(ticket))


def satisfaction_json(row) -> dict | None:
    if row is None:
        return None
    return {"rating": row.rating, "comment": row.comment, "rated_at": _iso(row.rated_at)}


#: The interview's date-and-time fields (written as ISO 8601 in UTC).
_INTERVIEW_TIMES = frozenset(
    name
    for name in INTERVIEW_FIELDS.values()
    if isinstance(Ticket._meta.get_field(name), models.DateTimeField)
)


def _iso(value):
    """ISO 8601 in UTC with a `Z`, as DRF's DateTimeField writes it (the contract's timestamps are UTC)."""
    if not value:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _rows(ticket: Ticket, prefetched: str, relation: str) -> list:
    """Related rows prefetched into a list (`Prefetch(to_attr=...)` in the API's querysets), else queried."""
    rows = getattr(ticket, prefetched, None)
    return rows if rows is not None else list(getattr(ticket, relation).all())


@functools.cache
def _ticket_plan() -> tuple[tuple[str, str, str], ...]:
    """(output name, attribute, kind) for each of TicketSerializer's fields, in order: kind "method" for
    the SerializerMethodFields, "id" for foreign keys (their `_id`), "time" for timestamps, else "text"."""
    plan = []
    for name in TicketSerializer.Meta.fields:
        if name in ("interview", "sla", "satisfaction"):
            plan.append((name, f"get_{name}", "method"))
        elif name == "reference":
            plan.append((name, name, "text"))
        else:
            field = Ticket._meta.get_field(name)
            if field.many_to_one:
                plan.append((name, field.attname, "id"))
            elif isinstance(field, models.DateTimeField):
                plan.append((name, name, "time"))
            else:
                plan.append((name, name, "text"))
    return tuple(plan)


class TicketCreateSerializer(IntakeSerializer):
    """What a client sends to open a ticket. Customers open their own; agents name the `requester`."""

    subject = serializers.CharField(max_length=200)
    description = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.S3)
    requester = serializers.PrimaryKeyRelatedField(
        # With the membership: the view and the service both read it.
        queryset=User.objects.filter(is_active=True, membership__isnull=False).select_related("membership"),
        required=False,
        help_text="Agents: the customer the ticket is for. Customers: omit (it is you).",
    )
    channel = serializers.ChoiceField(
        choices=[Channel.API, Channel.AGENT, Channel.EMAIL, Channel.CHAT, Channel.PORTAL],
        default=Channel.API,
        help_text="Agents may record where the request came from; customers' tickets are always `api`.",
    )


class TicketUpdateSerializer(IntakeSerializer):
    """A partial update. Agents change anything here; customers only `status` (`resolved`; `open` reopens)."""

    status = serializers.ChoiceField(choices=Status.choices, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    assignee = serializers.PrimaryKeyRelatedField(queryset=agents(), required=False, allow_null=True)
    subject = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False)


# --- conversation -------------------------------------------------------------------------------------


class AttachmentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ("id", "name", "content_type", "size", "sha256", "message", "created_at", "download_url")
        read_only_fields = fields

    def get_download_url(self, attachment: Attachment) -> str:
        return f"/attachments/{attachment.pk}/"


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        allow_empty=False,
        help_text="One or more files (repeat the `file` part).",
    )


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = ("id", "body", "internal", "author", "author_role", "channel", "created_at", "attachments")
        read_only_fields = ("id", "author", "author_role", "channel", "created_at", "attachments")

    def get_author(self, message: Message) -> int | None:
        return message.author_id


class MessageCreateSerializer(serializers.Serializer):
    body = serializers.CharField()
    internal = serializers.BooleanField(default=False, help_text="Agents only: an internal note.")


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = ("id", "kind", "actor", "from_value", "to_value", "data", "created_at")
        read_only_fields = fields

    def get_actor(self, event: Event) -> int | None:
        return event.actor_id


# --- provisioning ---------------------------------------------------------------------------------------


def timezone_field() -> serializers.ChoiceField:
    """A time zone from the list offered now (helpdesk/timezones.py; the model validates, not lists)."""
    return serializers.ChoiceField(choices=timezone_choices(), required=False)


class OrganizationSerializer(serializers.ModelSerializer):
    timezone = timezone_field()

    class Meta:
        model = Organization
        fields = ("id", "name", "timezone", "sla_policy")
        extra_kwargs = {
            "sla_policy": {
                "help_text": "The SLA policy (support plan) of its new tickets; null: the default."
            }
        }

    def validate_sla_policy(self, value):
        # A support plan is the provider's to sell: a token limited to the organization cannot change it.
        request = self.context.get("request")
        current = getattr(self.instance, "sla_policy", None)
        if request is not None and token_organization_id(request) is not None and value != current:
            raise serializers.ValidationError(
                "A token limited to an organization cannot change its SLA policy."
            )
        return value


class SlaPolicyAppliedSerializer(serializers.Serializer):
    organization = serializers.IntegerField(help_text="The organization's id.")
    retargeted = serializers.IntegerField(
        help_text="How many of its open tickets moved onto its current SLA policy (0: all were on it)."
    )


class TokenOrganizationField(serializers.PrimaryKeyRelatedField):
    """An organization by id. Through a token limited to an organization only that one is accepted; any
    other id is refused with the same message whether it exists or not."""

    def to_internal_value(self, data):
        request = self.context.get("request")
        limited_to = token_organization_id(request) if request is not None else None
        if limited_to is not None and str(data) != str(limited_to):
            raise serializers.ValidationError(
                f"This token is limited to organization {limited_to}: name that one."
            )
        return super().to_internal_value(data)


class UserSerializer(serializers.ModelSerializer):
    """A customer user of an organization (agents are managed in the console)."""

    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"})
    organization = TokenOrganizationField(
        source="membership.organization", queryset=Organization.objects.all()
    )
    role = serializers.ChoiceField(
        source="membership.role", choices=Membership.Role.choices, default="requester"
    )

    class Meta:
        model = User
        fields = ("id", "username", "email", "first_name", "last_name", "password", "organization", "role")

    def validate_password(self, value: str) -> str:
        password_validation.validate_password(value, self.instance)
        return value

    def validate_email(self, value: str) -> str:
        # Another account's address (any organization's, any case) is a 400 naming `email`.
        try:
            user_email_check(email=value, user=self.instance)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict["email"]) from error
        return value


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
