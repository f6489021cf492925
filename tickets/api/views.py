"""API views: thin; each checks who asks, validates the shape, and calls the services."""

from __future__ import annotations

import hashlib
import re

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.db import models, transaction
from django.db.models import F, Prefetch
from django.http import Http404
from django.utils.functional import cached_property
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, parsers, status, viewsets
from rest_framework.decorators import (
    action,
    api_view,
    authentication_classes,
    parser_classes,
    permission_classes,
    throttle_classes,
)
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from sla.models import TicketClock
from tickets import intake as intake_schema
from tickets import satisfaction, selectors, services
from tickets.api import serializers as s
from tickets.api.authentication import token_organization_id
from tickets.api.errors import FieldErrors, responses
from tickets.api.filters import TicketFilter
from tickets.api.idempotency import idempotent
from tickets.api.parsers import LimitedJSONParser
from tickets.api.permissions import IsAgentOrCustomer, StaffModelPermissions
from tickets.api.throttling import ScopedRateThrottle
from tickets.models import Candidate, Channel, Message, Organization, Ticket
from tickets.models.integrations import ApiToken
from tickets.permissions import customer_membership, is_agent
from tickets.services.people import customer_create, customer_update

User = get_user_model()

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Makes a retried create return the first result instead of creating again.",
)


class PageSizePagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100


#: A count of at least this many tickets is reused for COUNT_CACHE_SECONDS by every request with the same
#: filters: counting 100,000 rows cost PostgreSQL more than the rest of the page's SQL together.
COUNT_CACHE_FROM = 10_000
COUNT_CACHE_SECONDS = 30


class IdsFirstPaginator(Paginator):
    """Pages of the ticket list, cheap however large the list and however deep the page.

    A page is read in two steps, its ids and then those rows: OFFSET skips narrow index entries instead of
    whole sorted rows (page 4,000 of 100,000 tickets took ~0.4 s the plain way), for one query more.
    The total is exact below COUNT_CACHE_FROM; above it, it may be up to COUNT_CACHE_SECONDS old (a page is
    not cut to it, so a stale total never hides a ticket from a page).
    """

    @cached_property
    def count(self) -> int:
        try:
            sql, params = self.object_list.order_by().query.sql_with_params()
        except EmptyResultSet:
            return 0
        key = "api:ticket-count:" + hashlib.sha256(f"{sql}|{params!r}".encode()).hexdigest()
        count = cache.get(key)
        if count is None:
            count = self.object_list.count()
            if count >= COUNT_CACHE_FROM:
                cache.set(key, count, COUNT_CACHE_SECONDS)
        return count

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if self.orphans and top + self.orphans >= self.count:
            top = self.count
        ids = list(self.object_list.prefetch_related(None).values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in self.object_list.filter(pk__in=ids).order_by()}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)


class TicketPagination(PageSizePagination):
    django_paginator_class = IdsFirstPaginator


class ExportPagination(CursorPagination):
    """Stable cursor pages for full exports: new tickets never shift a page.

    A cursor that is not one of ours answers 400 on `cursor`. DRF answers 404 when it cannot decode one,
    and passes on the position unchecked: `p=abc` reached the query as a ticket id and failed there (500).
    """

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "pk"
    invalid_cursor_message = "This is not a cursor from a page of this export; start from the first page."

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from exc
        # The position is a ticket id (ordering by pk): ASCII digits that fit a bigint.
        position = cursor.position if cursor is not None else None
        if position is not None and not _CURSOR_POSITION.fullmatch(position):
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})
        return cursor


_CURSOR_POSITION = re.compile(r"[0-9]{1,18}")


class PaginatedGetSchema(AutoSchema):
    """Only GET lists are paginated: a POST that answers a list (an upload of several attachments)
    answers a plain JSON array, and takes no page parameters. Cursor pages (the export) have a schema of
    their own: no `count`."""

    def _get_paginator(self):
        return super()._get_paginator() if self.method == "GET" else None

    def get_paginated_name(self, serializer_name: str) -> str:
        if isinstance(self._get_paginator(), CursorPagination):
            return f"{serializer_name}CursorPage"
        return super().get_paginated_name(serializer_name)


# --- tickets --------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List tickets",
        responses=responses({200: s.TicketSerializer(many=True)}, bad_request=True, not_found=True),
    ),
    retrieve=extend_schema(
        summary="A ticket", responses=responses({200: s.TicketSerializer}, not_found=True)
    ),
)
class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Tickets: customers see their own (organization admins their organization's); agents see all.
    A token limited to an organization sees that organization's tickets only."""

    serializer_class = s.TicketSerializer
    schema = PaginatedGetSchema()
    permission_classes = [IsAgentOrCustomer]
    pagination_class = TicketPagination
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = TicketFilter
    ordering_fields = ["severity", "created_at", "updated_at", "sla_due_at"]
    lookup_field = "reference"
    lookup_value_regex = r"(?i:hd-?)?\d+"

    def get_queryset(self):
        tickets = Ticket.objects.visible_to(self.request.user)
        organization_id = token_organization_id(self.request)
        if organization_id is not None:
            tickets = tickets.filter(organization_id=organization_id)
        # Into plain lists (to_attr): a related manager's cache costs a queryset per ticket and relation.
        tickets = satisfaction.with_current_rating(tickets)
        return tickets.prefetch_related(
            Prefetch("candidates", queryset=Candidate.objects.order_by("pk"), to_attr="api_candidates"),
            Prefetch("sla_clocks", queryset=TicketClock.objects.order_by("metric"), to_attr="api_sla_clocks"),
        ).order_by("severity", F("sla_due_at").asc(nulls_last=True), "created_at", "pk")

    def get_object(self):
        ticket = self.get_queryset().by_reference(self.kwargs["reference"]).first()
        if ticket is None:
            raise Http404("No such ticket.")
        return ticket

    def _reloaded(self, ticket: Ticket) -> Ticket:
        return self.get_queryset().get(pk=ticket.pk)

    @extend_schema(
        summary="Open a ticket",
        request=s.TicketCreateSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses=responses({201: s.TicketSerializer}, bad_request=True, idempotent=True),
    )
    def create(self, request):
        return idempotent(request, lambda: self._create(request))

    def _create(self, request):
        data = _validated(s.TicketCreateSerializer, request.data)
        agent = is_agent(request.user)
        requester = data.get("requester") if agent else request.user
        if agent and requester is None:
            raise ValidationError({"requester": ["Agents must name the customer the ticket is for."]})
        if not agent and data.get("requester") not in (None, request.user):
            requester = data["requester"]  # an organization admin filing for a colleague; the service checks
        organization_id = token_organization_id(request)
        membership = customer_membership(requester)
        if organization_id is not None and (
            membership is None or membership.organization_id != organization_id
        ):
            raise PermissionDenied("This token is limited to another organization.")
        interview = data.get("interview", {})
        intake = s.intake_to_model(data)
        with _service_errors():
            ticket = services.ticket_create(
                requester=requester,
                actor=request.user,
                subject=data["subject"],
                description=data["description"],
                severity=data["severity"],
                channel=data["channel"] if agent else Channel.API,
                intake=_blank_nulls(intake),
                candidates=interview.get("candidates", []),
            )
        return Response(s.TicketSerializer(self._reloaded(ticket)).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a ticket",
        request=s.TicketUpdateSerializer,
        responses={
            **responses({200: s.TicketSerializer}, bad_request=True, not_found=True),
            # A customer's change of another field than `status` is refused naming each such field.
            status.HTTP_403_FORBIDDEN: OpenApiResponse(
                FieldErrors,
                description="Not allowed for this user or token, or these fields not for customers.",
            ),
        },
    )
    def partial_update(self, request, reference=None):
        ticket = self.get_object()
        data = _validated(s.TicketUpdateSerializer, request.data)
        if not is_agent(request.user):
            refused = sorted(set(data) - {"status"})
            if refused:
                raise PermissionDenied(
                    {name: ["Customers may only resolve or reopen a ticket (`status`)."] for name in refused}
                )
        with _service_errors():
            ticket = _apply_update(ticket, request.user, data)
        return Response(s.TicketSerializer(self._reloaded(ticket)).data)

    @extend_schema(
        summary="Export tickets (cursor pages)",
        responses=responses({200: s.TicketSerializer(many=True)}, bad_request=True, not_found=True),
    )
    @action(
        detail=False,
        methods=["get"],
        pagination_class=ExportPagination,
        filter_backends=[DjangoFilterBackend],
    )
    def export(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()).order_by("pk"))
        return self.get_paginated_response(s.TicketSerializer(page, many=True).data)

    # --- the conversation ---------------------------------------------------------------------

    @extend_schema(
        methods=["GET"],
        summary="A ticket's messages",
        responses=responses({200: s.MessageSerializer(many=True)}, not_found=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Reply, or add an internal note (agents)",
        request=s.MessageCreateSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses=responses({201: s.MessageSerializer}, bad_request=True, not_found=True, idempotent=True),
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[], pagination_class=PageSizePagination)
    def messages(self, request, reference=None):
        ticket = self.get_object()
        if request.method == "POST":
            return idempotent(request, lambda: self._post_message(request, ticket))
        page = self.paginate_queryset(selectors.ticket_conversation(ticket, viewer=request.user))
        return self.get_paginated_response(s.MessageSerializer(page, many=True).data)

    def _post_message(self, request, ticket):
        data = _validated(s.MessageCreateSerializer, request.data)
        with _service_errors():
            if data["internal"]:
                if not is_agent(request.user):
                    raise ValidationError({"internal": ["Only agents write internal notes."]})
                message = services.ticket_add_note(ticket=ticket, author=request.user, body=data["body"])
            else:
                message = services.ticket_reply(
                    ticket=ticket, author=request.user, body=data["body"], channel=Channel.API
                )
        message = Message.objects.prefetch_related("attachments").get(pk=message.pk)
        return Response(s.MessageSerializer(message).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        summary="A ticket's attachments",
        responses=responses({200: s.AttachmentSerializer(many=True)}, not_found=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Upload attachments",
        request={"multipart/form-data": s.AttachmentUploadSerializer},
        responses=responses({201: s.AttachmentSerializer(many=True)}, bad_request=True, not_found=True),
    )
    @action(
        detail=True,
        methods=["get", "post"],
        filter_backends=[],
        pagination_class=PageSizePagination,
        parser_classes=[parsers.MultiPartParser, parsers.FormParser],
    )
    def attachments(self, request, reference=None):
        ticket = self.get_object()
        if request.method == "POST":
            files = request.FILES.getlist("file")
            if not files:
                raise ValidationError({"file": ["Attach at least one file (multipart field `file`)."]})
            try:
                with _service_errors(), transaction.atomic():
                    created = [
                        services.attachment_add(ticket=ticket, uploaded_by=request.user, upload=upload)
                        for upload in files
                    ]
            except DjangoValidationError as exc:  # the service names `attachments`; the request says `file`
                raise ValidationError({"file": exc.messages}) from exc
            return Response(s.AttachmentSerializer(created, many=True).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(selectors.ticket_attachments(ticket, viewer=request.user))
        return self.get_paginated_response(s.AttachmentSerializer(page, many=True).data)

    @extend_schema(
        summary="Rate a resolved ticket (its requester)",
        request=s.SatisfactionRequestSerializer,
        responses={
            **responses({200: s.SatisfactionSerializer}, bad_request=True, not_found=True),
            status.HTTP_403_FORBIDDEN: OpenApiResponse(
                FieldErrors, description="Only the ticket's requester rates it."
            ),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def satisfaction(self, request, reference=None):
        ticket = self.get_object()
        data = _validated(s.SatisfactionRequestSerializer, request.data)
        with _service_errors():
            row = satisfaction.satisfaction_rate(
                ticket=ticket, actor=request.user, rating=data["rating"], comment=data.get("comment")
            )
        return Response(s.satisfaction_json(row))

    @extend_schema(
        summary="A ticket's audit trail",
        responses=responses({200: s.EventSerializer(many=True)}, not_found=True),
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=PageSizePagination)
    def events(self, request, reference=None):
        ticket = self.get_object()
        page = self.paginate_queryset(selectors.ticket_timeline(ticket, viewer=request.user))
        return self.get_paginated_response(s.EventSerializer(page, many=True).data)


def _apply_update(ticket: Ticket, actor, data: dict) -> Ticket:
    """The PATCH as one service call: every change is checked before any is made."""
    details = {name: data[name] for name in ("subject", "description") if name in data}
    details.update(s.intake_to_model(data))
    interview = data.get("interview")
    candidates = interview.get("candidates") if interview is not None else None
    # A severity or status the ticket already has is sent back unchanged by clients that PATCH the whole
    # ticket: no change, where the service would refuse it.
    severity, status = data.get("severity"), data.get("status")
    return services.ticket_update(
        ticket=ticket,
        actor=actor,
        details=_blank_nulls(details) if details or candidates is not None else None,
        candidates=candidates,
        severity=severity if severity != ticket.severity else None,
        assignee=data.get("assignee", services.UNSET),
        status=status if status != ticket.status else None,
    )


#: The intake's text fields (blank when not answered; choices are texts too).
_TEXT_FIELDS = frozenset(
    name
    for name in intake_schema.FIELD_NAMES
    if isinstance(Ticket._meta.get_field(name), models.CharField | models.TextField)
)


def _blank_nulls(fields: dict) -> dict:
    """Text intake fields are blank, never null."""
    return {name: ("" if value is None and name in _TEXT_FIELDS else value) for name, value in fields.items()}


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class _service_errors:
    """Turn a service's PermissionDenied into the API's 403 (ValidationError is handled by errors.py)."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and issubclass(exc_type, DjangoPermissionDenied):
            raise PermissionDenied(str(exc) or None) from exc
        return False


# --- authentication -----------------------------------------------------------------------------


@extend_schema(
    summary="Get an API token",
    request=s.TokenRequestSerializer,
    responses=responses({200: s.TokenResponseSerializer}, bad_request=True),
    auth=[],
)
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([ScopedRateThrottle])
# Two flat fields: a form post (curl -d, an HTML form) carries them as well as JSON does.
@parser_classes([LimitedJSONParser, parsers.FormParser, parsers.MultiPartParser])
def obtain_token(request):
    """Exchange a username and password for a new token (`Authorization: Token <token>`)."""
    data = _validated(s.TokenRequestSerializer, request.data)
    user = authenticate(request, username=data["username"], password=data["password"])
    if getattr(request, "axes_locked_out", False):  # helpdesk/lockouts.py: this name here, or this address
        minutes = round(settings.AXES_COOLOFF_TIME * 60)
        return Response(
            {
                "detail": f"Too many failed sign-ins from your address (for this user name, or for many). "
                f"Try again in {minutes} minutes; until then even the right password is refused."
            },
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(minutes * 60)},
        )
    if user is None or not user.is_active:
        raise ValidationError({"non_field_errors": ["Unable to sign in with these credentials."]})
    _, key = ApiToken.objects.issue(user=user, name="Password sign-in")
    return Response({"token": key})


obtain_token.cls.throttle_scope = "auth"


# --- provisioning (staff) -------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(responses=responses({200: s.OrganizationSerializer(many=True)}, not_found=True)),
    retrieve=extend_schema(responses=responses({200: s.OrganizationSerializer}, not_found=True)),
    create=extend_schema(responses=responses({201: s.OrganizationSerializer}, bad_request=True)),
    update=extend_schema(
        responses=responses({200: s.OrganizationSerializer}, bad_request=True, not_found=True)
    ),
    partial_update=extend_schema(
        responses=responses({200: s.OrganizationSerializer}, bad_request=True, not_found=True)
    ),
    destroy=extend_schema(responses=responses({204: None}, bad_request=True, not_found=True)),
)
class OrganizationViewSet(viewsets.ModelViewSet):
    """Customer organizations. A token limited to an organization sees and changes that one only, and
    neither creates nor deletes organizations."""

    queryset = Organization.objects.order_by("name")
    serializer_class = s.OrganizationSerializer
    permission_classes = [StaffModelPermissions]
    pagination_class = PageSizePagination

    def get_queryset(self):
        organizations = Organization.objects.order_by("name")
        organization_id = token_organization_id(self.request)
        if organization_id is not None:
            organizations = organizations.filter(pk=organization_id)
        return organizations

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.action in ("create", "destroy") and token_organization_id(request) is not None:
            raise PermissionDenied(
                "A token limited to an organization cannot create or delete organizations."
            )

    @extend_schema(
        request=None,
        responses=responses({200: s.SlaPolicyAppliedSerializer}, not_found=True),
        description=(
            "Re-target the organization's open tickets (every one not closed) on its current SLA policy "
            "and that policy's calendar, keeping the business time already elapsed. Moving an "
            "organization to another policy changes its new tickets only; staff call this when the open "
            "ones should follow. Safe to repeat: tickets already on the policy are left as they are."
        ),
    )
    @action(detail=True, methods=["post"], url_path="apply-sla-policy", filter_backends=[])
    def apply_sla_policy(self, request, pk=None):
        organization = self.get_object()
        if token_organization_id(request) is not None:
            raise PermissionDenied("A token limited to an organization cannot re-target its tickets.")
        if not request.user.has_perm("tickets.change_organization"):
            raise PermissionDenied("Re-targeting tickets needs the permission to change organizations.")
        retargeted = services.organization_apply_sla_policy(organization=organization, actor=request.user)
        return Response({"organization": organization.pk, "retargeted": retargeted})

    def perform_destroy(self, instance):
        if instance.tickets.exists() or instance.memberships.exists():
            raise ValidationError(
                {"non_field_errors": ["The organization has people or tickets; it cannot go."]}
            )
        instance.delete()


@extend_schema_view(
    list=extend_schema(responses=responses({200: s.UserSerializer(many=True)}, not_found=True)),
    retrieve=extend_schema(responses=responses({200: s.UserSerializer}, not_found=True)),
    create=extend_schema(responses=responses({201: s.UserSerializer}, bad_request=True)),
    update=extend_schema(responses=responses({200: s.UserSerializer}, bad_request=True, not_found=True)),
    partial_update=extend_schema(
        responses=responses({200: s.UserSerializer}, bad_request=True, not_found=True)
    ),
)
class UserViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Customer users of organizations, for provisioning. A token limited to an organization sees that
    organization's people only, and adds or moves people to it only (the serializer checks). Agents and
    superusers are never here, membership or not: they are managed in the console, and nothing an
    organization's provisioning can do may reach their accounts."""

    queryset = (
        User.objects.filter(membership__isnull=False, is_staff=False, is_superuser=False)
        .select_related("membership")
        .order_by("pk")
    )
    serializer_class = s.UserSerializer
    permission_classes = [StaffModelPermissions]
    pagination_class = PageSizePagination

    def get_queryset(self):
        users = self.queryset.all()
        organization_id = token_organization_id(self.request)
        if organization_id is not None:
            users = users.filter(membership__organization_id=organization_id)
        return users

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        membership = data.pop("membership")
        serializer.instance = customer_create(
            organization=membership["organization"], role=membership.get("role", "requester"), **data
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        membership = data.pop("membership", {})
        serializer.instance = customer_update(
            user=serializer.instance,
            organization=membership.get("organization"),
            role=membership.get("role"),
            **data,
        )
