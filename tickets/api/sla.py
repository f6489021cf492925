"""The SLA's API: support plans and their charts, business calendars and holidays. Everyone signed in
reads; staff with the model permissions write. A face, like the rest of the API: the SLA engine below
knows nothing of it."""

from __future__ import annotations

import re

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from sla import holiday_rules
from sla.calendars import HolidayRule, clear_cache
from sla.models import BusinessCalendar, BusinessHours, Holiday, ResponseTarget, SlaPolicy
from tickets.api.errors import responses
from tickets.api.permissions import ChartPermissions
from tickets.api.serializers import timezone_field
from tickets.api.views import PageSizePagination
from tickets.models import Severity


class ResponseTargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = ResponseTarget
        fields = (
            "severity",
            "first_response_minutes",
            "first_response_clock",
            "update_minutes",
            "update_clock",
            "resolution_minutes",
            "resolution_clock",
            "warn_at_percent",
            "definition",
        )
        read_only_fields = ("severity",)
        extra_kwargs = {
            "first_response_minutes": {"min_value": 1},
            "update_minutes": {"min_value": 1},
            "resolution_minutes": {"min_value": 1},
        }


class PolicyTargetSerializer(ResponseTargetSerializer):
    """A row of a policy's chart; `severity` names the row."""

    class Meta(ResponseTargetSerializer.Meta):
        read_only_fields = ()
        validators = []  # rows are checked together by the policy


class SlaPolicySerializer(serializers.ModelSerializer):
    targets = PolicyTargetSerializer(many=True, help_text="One row per severity, S1 to S5.")
    calendar = serializers.PrimaryKeyRelatedField(queryset=BusinessCalendar.objects.all())

    class Meta:
        model = SlaPolicy
        fields = ("id", "name", "is_default", "calendar", "description", "targets")

    def validate_targets(self, rows):
        severities = [row["severity"] for row in rows]
        if sorted(severities) != sorted(Severity.values):
            raise serializers.ValidationError(
                "Give one row for each severity, S1 to S5 (a row may set no targets with null minutes)."
            )
        return rows

    def validate_is_default(self, value):
        if not value and self.instance is not None and self.instance.is_default:
            raise serializers.ValidationError("Make another policy the default instead; one always is.")
        if (
            value
            and SlaPolicy.objects.filter(is_default=True)
            .exclude(pk=getattr(self.instance, "pk", None))
            .exists()
        ):
            raise serializers.ValidationError("Another policy is the default; unset it first.")
        return value

    @transaction.atomic
    def create(self, validated_data):
        rows = validated_data.pop("targets")
        policy = SlaPolicy.objects.create(**validated_data)
        ResponseTarget.objects.bulk_create(ResponseTarget(policy=policy, **row) for row in rows)
        clear_cache()
        return policy

    @transaction.atomic
    def update(self, instance, validated_data):
        rows = validated_data.pop("targets", None)
        instance = super().update(instance, validated_data)
        if rows is not None:
            instance.targets.all().delete()
            ResponseTarget.objects.bulk_create(ResponseTarget(policy=instance, **row) for row in rows)
        clear_cache()
        return instance


@extend_schema_field(
    {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$", "example": "09:00"}
)
class HourMinuteField(serializers.TimeField):
    """A wall-clock time as "HH:MM" (a JSON Schema "time" would demand seconds and a UTC offset)."""

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"], **kwargs)


class HoursSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 is Monday.")
    start = HourMinuteField()
    end = HourMinuteField(help_text="After start; 00:00 means midnight.")

    def validate(self, data):
        if data["end"] <= data["start"] and data["end"].strftime("%H:%M") != "00:00":
            raise serializers.ValidationError({"end": "The window must end after it starts."})
        return data


class CalendarSerializer(serializers.ModelSerializer):
    timezone = timezone_field()
    hours = HoursSerializer(many=True)
    holiday_extras = serializers.ListField(
        child=serializers.ChoiceField(choices=holiday_rules.EXTRA_CHOICES),
        required=False,
        help_text="Company holidays beside the country's, every year.",
    )

    class Meta:
        model = BusinessCalendar
        fields = (
            "id",
            "name",
            "timezone",
            "is_default",
            "hours",
            "holiday_country",
            "holiday_subdivision",
            "holiday_extras",
        )

    def validate(self, data):
        country = data.get("holiday_country", getattr(self.instance, "holiday_country", ""))
        subdivision = data.get("holiday_subdivision", getattr(self.instance, "holiday_subdivision", ""))
        country, subdivision = holiday_rules.split_subdivision(country, subdivision)
        errors = holiday_rules.check(country, subdivision)
        if errors:
            raise serializers.ValidationError(errors)
        if "holiday_country" in data or "holiday_subdivision" in data:
            data["holiday_country"], data["holiday_subdivision"] = country, subdivision
        if "holiday_extras" in data:
            data["holiday_extras"] = list(dict.fromkeys(data["holiday_extras"]))  # each once, in order
        return data

    def validate_hours(self, hours):
        if not hours:
            raise serializers.ValidationError("A calendar needs at least one window.")
        return hours

    def validate_is_default(self, value):
        if (
            value
            and BusinessCalendar.objects.filter(is_default=True)
            .exclude(pk=getattr(self.instance, "pk", None))
            .exists()
        ):
            raise serializers.ValidationError("Another calendar is the default; unset it first.")
        return value

    @transaction.atomic
    def create(self, validated_data):
        hours = validated_data.pop("hours")
        calendar = BusinessCalendar.objects.create(**validated_data)
        BusinessHours.objects.bulk_create(BusinessHours(calendar=calendar, **h) for h in hours)
        return calendar

    @transaction.atomic
    def update(self, instance, validated_data):
        hours = validated_data.pop("hours", None)
        instance = super().update(instance, validated_data)
        if hours is not None:
            instance.hours.all().delete()
            BusinessHours.objects.bulk_create(BusinessHours(calendar=instance, **h) for h in hours)
        clear_cache()
        return instance


SOURCES = [("rule", "By the calendar's holiday rule"), ("manual", "Set by hand (a holiday row)")]


class HolidaySerializer(serializers.ModelSerializer):
    """A date set by hand: a day off added (`kind` "day_off") or a rule's holiday worked ("working_day")."""

    source = serializers.SerializerMethodField()

    class Meta:
        model = Holiday
        fields = ("id", "calendar", "date", "name", "kind", "source")

    @extend_schema_field(serializers.ChoiceField(choices=SOURCES))
    def get_source(self, holiday) -> str:
        return "manual"


class HolidayListItemSerializer(serializers.Serializer):
    """An item of the holiday list: a row set by hand, or (with `year`) an effective day off, whose `id` is
    null when it comes from the rule."""

    id = serializers.IntegerField(allow_null=True)
    calendar = serializers.IntegerField()
    date = serializers.DateField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Holiday.Kind.choices)
    source = serializers.ChoiceField(choices=SOURCES)


def _crud_docs(serializer, *, filtered: bool = False, delete_refusable: bool = False):
    """A 404 on a list is a page past the end; a 400 a bad filter value (or a refused delete)."""
    return extend_schema_view(
        list=extend_schema(
            responses=responses({200: serializer(many=True)}, bad_request=filtered, not_found=True)
        ),
        retrieve=extend_schema(responses=responses({200: serializer}, not_found=True)),
        create=extend_schema(responses=responses({201: serializer}, bad_request=True)),
        update=extend_schema(responses=responses({200: serializer}, bad_request=True, not_found=True)),
        partial_update=extend_schema(
            responses=responses({200: serializer}, bad_request=True, not_found=True)
        ),
        destroy=extend_schema(responses=responses({204: None}, bad_request=delete_refusable, not_found=True)),
    )


@extend_schema_view(
    list=extend_schema(responses=responses({200: ResponseTargetSerializer(many=True)})),
    retrieve=extend_schema(responses=responses({200: ResponseTargetSerializer}, not_found=True)),
    update=extend_schema(
        responses=responses({200: ResponseTargetSerializer}, bad_request=True, not_found=True)
    ),
    partial_update=extend_schema(
        responses=responses({200: ResponseTargetSerializer}, bad_request=True, not_found=True)
    ),
)
class ResponseTargetViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """The default policy's chart: one row per severity (`/api/v1/response-targets/S2/`). Other policies'
    charts are under `/api/v1/sla-policies/`."""

    queryset = ResponseTarget.objects.filter(policy__is_default=True).order_by("severity")
    serializer_class = ResponseTargetSerializer
    permission_classes = [ChartPermissions]
    lookup_field = "severity"
    lookup_value_regex = "S[1-5]"
    pagination_class = None


@_crud_docs(CalendarSerializer, delete_refusable=True)
class CalendarViewSet(viewsets.ModelViewSet):
    queryset = BusinessCalendar.objects.prefetch_related("hours").order_by("pk")
    serializer_class = CalendarSerializer
    permission_classes = [ChartPermissions]
    pagination_class = PageSizePagination

    def perform_destroy(self, instance):
        # Business-hour targets count on the default calendar (else the first): without one, every new
        # ticket would fail.
        if instance.is_default or not BusinessCalendar.objects.exclude(pk=instance.pk).exists():
            raise serializers.ValidationError(
                {
                    "non_field_errors": [
                        "Business-hour targets count on this calendar: make another one the default first."
                    ]
                }
            )
        in_use = list(instance.policies.values_list("name", flat=True)[:5])
        if in_use:
            raise serializers.ValidationError(
                {
                    "non_field_errors": [
                        f"SLA policies count on this calendar ({', '.join(in_use)}): give them another first."
                    ]
                }
            )
        instance.delete()


YEAR = re.compile(r"[0-9]{4}")


@_crud_docs(HolidaySerializer, filtered=True)
@extend_schema_view(
    list=extend_schema(
        description=(
            "Without `year`: the dates set by hand (days off added, and rule holidays marked worked). With "
            "`calendar` and `year`: the calendar's effective days off of that year, by rule and by hand."
        ),
        parameters=[
            OpenApiParameter(
                "year",
                OpenApiTypes.INT,
                description="List the effective days off of this year (needs `calendar`).",
            )
        ],
        responses=responses({200: HolidayListItemSerializer(many=True)}, bad_request=True, not_found=True),
    )
)
class HolidayViewSet(viewsets.ModelViewSet):
    queryset = Holiday.objects.order_by("date", "pk")
    serializer_class = HolidaySerializer
    permission_classes = [ChartPermissions]
    pagination_class = PageSizePagination
    filterset_fields = ("calendar",)

    def list(self, request, *args, **kwargs):
        if "year" not in request.query_params:
            return super().list(request, *args, **kwargs)
        year = request.query_params["year"]
        if not YEAR.fullmatch(year) or not 1 <= int(year) <= 9998:
            raise serializers.ValidationError({"year": ["A year of four digits, e.g. 2029."]})
        calendar_id = request.query_params.get("calendar", "")
        if not calendar_id:
            raise serializers.ValidationError(
                {"calendar": ["Required with year: the calendar whose days off to list."]}
            )
        calendar = None
        if calendar_id.isascii() and calendar_id.isdigit() and len(calendar_id) < 19:
            calendar = BusinessCalendar.objects.filter(pk=int(calendar_id)).first()
        if calendar is None:
            raise serializers.ValidationError({"calendar": ["No calendar has this id."]})
        days = [
            {
                "id": pk,
                "calendar": calendar.pk,
                "date": day,
                "name": name,
                "kind": Holiday.Kind.DAY_OFF,
                "source": "rule" if source == "rule" else "manual",
            }
            for day, name, source, pk in HolidayRule.of(calendar).days_off(int(year))
        ]
        page = self.paginate_queryset(days)
        return self.get_paginated_response(HolidayListItemSerializer(page, many=True).data)


@_crud_docs(SlaPolicySerializer, delete_refusable=True)
class SlaPolicyViewSet(viewsets.ModelViewSet):
    """Support plans: a chart per policy and the calendar it counts on. Organizations are put on one with
    their `sla_policy`; tickets keep the policy of their organization at creation."""

    queryset = SlaPolicy.objects.prefetch_related("targets").order_by("pk")
    serializer_class = SlaPolicySerializer
    permission_classes = [ChartPermissions]
    pagination_class = PageSizePagination

    def perform_destroy(self, instance):
        if instance.is_default:
            raise serializers.ValidationError(
                {
                    "non_field_errors": [
                        "Organizations without a policy count on this one: make another the default."
                    ]
                }
            )
        if instance.organizations.exists():
            raise serializers.ValidationError(
                {"non_field_errors": ["Organizations are on this policy: move them to another one first."]}
            )
        instance.delete()
