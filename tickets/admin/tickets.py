"""The agent console's ticket list and ticket page.

Every change made here goes through `tickets.services`: the admin's own save is bypassed so that each
change is validated, audited and followed by its side effects like everywhere else.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from functools import partial

from django.contrib import admin, messages
from django.contrib.admin.views.main import ORDER_VAR, SEARCH_VAR, ChangeList
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, re_path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html

from helpdesk.paging import CappedPaginator
from sla.display import ticket_sla_html
from sla.models import TicketClock
from tickets import intake, satisfaction, search, selectors, services
from tickets.admin import chats, rows, ticket_page, workspace
from tickets.admin.filters import AssigneeFilter, OrganizationFilter, QueueFilter
from tickets.admin.forms import CandidateInlineForm, ReplyForm, TicketAdminForm, intake_lines_field
from tickets.admin.knowledge import TicketSelfService
from tickets.agents import may_share_macros
from tickets.models import Candidate, Channel, Macro, Severity, Status, Ticket

# The badges' colours (tickets/static/tickets/admin.css has the same, as classes .severity-s1 …); each is
# at least 4.5:1 against the white text on it (WCAG AA).
SEVERITY_COLOURS = {"S1": "#b42318", "S2": "#c2410c", "S3": "#8a6a00", "S4": "#1c64b8", "S5": "#5f6b7a"}

TIMESTAMPS = ("created_at", "updated_at", "resolved_at", "closed_at")

#: What a page of the queue reads of each ticket (its cells, the checkbox's label: reference and subject;
#: the description for a search's snippets) and of its clocks (the SLA column, sla/display.py).
LIST_FIELDS = (
    "subject",
    "severity",
    "status",
    "created_at",
    "organization__name",
    "requester__email",
    f"requester__{get_user_model().USERNAME_FIELD}",
    f"assignee__{get_user_model().USERNAME_FIELD}",
)
LIST_CLOCK_FIELDS = ("ticket_id", "metric", "state", "met_at", "paused_at", "due_at", "at_risk_at")

#: The list's total is exact up to this many tickets ("1,000+ tickets" above: 20 pages; narrow the filters
#: or search to go further), so that counting costs the same whatever the size of the history.
LIST_COUNT_CAP = 1000


def intake_fieldsets() -> list[tuple[str, dict]]:
    """One fieldset per intake group, its fields laid out as the schema's rows (a pair side by side)."""
    return [
        (group.title, {"fields": tuple(row[0] if len(row) == 1 else row for row in group.layout)})
        for group in intake.GROUPS
    ]


class CandidateInline(admin.TabularInline):
    model = Candidate
    form = CandidateInlineForm
    extra = 1
    verbose_name_plural = "Interview context: candidates"

    # Candidates are part of the ticket's intake: whoever may edit the ticket may edit them (through
    # the services, see TicketAdmin.save_related).
    def has_add_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("tickets.change_ticket")

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("tickets.change_ticket")

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("tickets.change_ticket")


@admin.register(Ticket)
class TicketAdmin(TicketSelfService, admin.ModelAdmin):
    form = TicketAdminForm
    inlines = [CandidateInline]
    change_form_template = "admin/tickets/ticket/change_form.html"
    change_list_template = "admin/tickets/ticket/change_list.html"

    # One line per ticket at 1366 px (tickets/static/tickets/admin.css sizes the columns; a long subject
    # ends in an ellipsis and shows whole on hover).
    list_display = (
        "reference_display",
        "severity_badge",
        "subject_line",
        "status",
        "requester_display",
        "organization",
        "assignee",
        "sla",
        "age",
    )
    list_display_links = ("reference_display", "subject_line")
    list_filter = (QueueFilter, "severity", "status", "channel", OrganizationFilter, AssigneeFilter)
    list_select_related = ("organization", "requester", "assignee")
    # Searched by tickets.search (get_search_results); the admin only needs to know there is a search.
    search_fields = ("subject",)
    search_help_text = (
        'Reference (HD-12), an email address, or words: "a phrase", -exclude, this or that. '
        "Searches subjects, descriptions, intake and the conversation (internal notes too)."
    )
    # S1 first, then the nearest SLA due time, then the oldest.
    ordering = ("severity", F("sla_due_at").asc(nulls_last=True), "created_at", "pk")
    list_per_page = 50
    show_full_result_count = False
    # Each sortable column is read from an index (columns ordered by a joined name would sort every row).
    sortable_by = ("reference_display", "severity_badge", "status", "sla", "age")
    paginator = CappedPaginator  # "1,000+ tickets" past its cap (get_paginator)
    raw_id_fields = ("requester",)
    actions = ["assign_to_me", *[f"set_status_{status}" for status in Status.values if status != Status.NEW]]

    readonly_fields = (
        "reference_display",
        "channel",
        "organization",
        *TIMESTAMPS,
        "severity_suggestion",
        "satisfaction",
    )
    fieldsets = (
        (None, {"fields": ("reference_display", "subject", "description")}),
        (
            "Triage",
            {
                "fields": (
                    ("severity", "status"),
                    # The help center's additions (tickets/admin/knowledge.py): suggested vs chosen, rating.
                    ("severity_suggestion", "satisfaction"),
                    "assignee",
                    ("requester", "organization", "channel"),
                    TIMESTAMPS,
                )
            },
        ),
        *intake_fieldsets(),
    )

    class Media:
        css = {"all": ("tickets/admin.css",)}
        js = (
            "tickets/sla.js",
            "tickets/live.js",
            "tickets/conversation.js",
            "tickets/macros.js",
            "tickets/forms.js",
            "tickets/shortcuts.js",
            "tickets/article_links.js",
        )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        return intake_lines_field(db_field) or super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_queryset(self, request):
        # One query for the page's clocks, whatever the number of rows.
        return super().get_queryset(request).prefetch_related("sla_clocks")

    def get_object(self, request, object_id, from_field=None):
        # As the admin's own, read with what the ticket page shows beside it: who asked, for which
        # organization, who has it, on which SLA policy, and its current satisfaction rating (one query,
        # not five).
        # The change view reads it once for the page and once in the admin's own view: the same request
        # gets the same object.
        cached = getattr(request, "_ticket_page_object", None)
        if cached is not None and cached[0] == (str(object_id), from_field):
            return cached[1]
        queryset = satisfaction.with_current_rating(
            self.get_queryset(request).select_related("requester", "organization", "assignee", "sla_policy")
        )
        field = Ticket._meta.pk if from_field is None else Ticket._meta.get_field(from_field)
        try:
            ticket = queryset.get(**{field.name: field.to_python(object_id)})
        except (Ticket.DoesNotExist, ValidationError, ValueError):
            return None
        request._ticket_page_object = ((str(object_id), from_field), ticket)
        return ticket

    # --- list columns -----------------------------------------------------------------------------

    @admin.display(description="Ref", ordering="pk")
    def reference_display(self, ticket: Ticket) -> str:
        return ticket.reference

    @admin.display(description="Subject", ordering="subject")
    def subject_line(self, ticket: Ticket) -> str:
        return format_html('<span class="hd-subject" title="{0}">{0}</span>', ticket.subject)

    @admin.display(description="Sev.", ordering="severity")
    def severity_badge(self, ticket: Ticket) -> str:
        return severity_badge_html(ticket.severity)

    @admin.display(description="SLA", ordering=F("sla_due_at").asc(nulls_last=True))
    def sla(self, ticket: Ticket) -> str:
        clocks = ticket.__dict__.get("list_clocks")  # read with the page (TicketChangeList.get_results)
        return ticket_sla_html(ticket.sla_clocks.all() if clocks is None else clocks, timezone.now())

    @admin.display(description="Requester", ordering="requester__email")
    def requester_display(self, ticket: Ticket) -> str:
        return format_html(
            '<span title="{0}">{0}</span>', ticket.requester.email or ticket.requester.get_username()
        )

    @admin.display(description="Age", ordering="created_at")
    def age(self, ticket: Ticket) -> str:
        return compact_age(timezone.now() - ticket.created_at)

    @admin.display(description="Match")
    def search_match(self, ticket: Ticket) -> str:
        return getattr(ticket, "search_snippet", "")

    # --- search -----------------------------------------------------------------------------------

    def get_search_results(self, request, queryset, search_term):
        results = search.search_tickets(queryset, search_term, viewer=request.user)
        if search_term.strip() and ORDER_VAR in request.GET:
            results = results.order_by(*queryset.query.order_by)  # a clicked column wins over relevance
        return results, False

    def get_list_display(self, request):
        if request.GET.get(SEARCH_VAR, "").strip():
            columns = list(super().get_list_display(request))
            columns.insert(
                columns.index("subject") + 1 if "subject" in columns else len(columns), "search_match"
            )
            return columns
        return super().get_list_display(request)

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return CappedPaginator(queryset, per_page, orphans, allow_empty_first_page, cap=LIST_COUNT_CAP)

    def get_changelist(self, request, **kwargs):
        return TicketChangeList

    # --- permissions ------------------------------------------------------------------------------

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # tickets are closed, never deleted from the console

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("reference_display", "channel", "organization", *TIMESTAMPS)
        return (*self.readonly_fields, "requester")

    def get_fieldsets(self, request, obj=None):
        if obj is not None:
            return self.fieldsets
        # A new ticket starts as "new" and is assigned later; the channel is "agent".
        return [(None, {"fields": ("requester", "subject", "description", "severity")}), *intake_fieldsets()]

    # --- saving through the services --------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        """Nothing here: `save_related` makes every change through the services, with the candidates."""

    def save_related(self, request, form, formsets, change):
        candidates = _candidates_from(formsets)
        if not change:
            ticket = services.ticket_create(
                requester=form.cleaned_data["requester"],
                subject=form.cleaned_data["subject"],
                description=form.cleaned_data["description"],
                severity=form.cleaned_data["severity"],
                channel=Channel.AGENT,
                actor=request.user,
                intake={
                    name: form.cleaned_data[name]
                    for name in services.INTAKE_FIELDS
                    if name in form.cleaned_data
                },
                candidates=candidates or (),
            )
        else:
            ticket = _apply_changes(request.user, form, candidates)
        form.instance.pk = ticket.pk
        form.instance.refresh_from_db()

    def construct_change_message(self, request, form, formsets, add):
        # The inline formsets are never saved by the admin (the services replace the candidates), so
        # only the form's changes are described; the audit trail has the details.
        return super().construct_change_message(request, form, [], add)

    # --- the ticket page --------------------------------------------------------------------------

    def get_urls(self):
        # Ticket ids are integers: the converter keeps `abc` from the views, which turned it into a query
        # (a ValueError, a 500); the pattern after them answers such an address 404, rather than the
        # admin's catch-all redirecting it to a change page.
        return [
            path(
                "<int:object_id>/reply/",
                self.admin_site.admin_view(self.reply_view),
                name="tickets_ticket_reply",
            ),
            path(
                "take-next/", self.admin_site.admin_view(self.take_next_view), name="tickets_ticket_take_next"
            ),
            path("chats/", self.admin_site.admin_view(chats.queue_view(self)), name="tickets_ticket_chats"),
            path(
                "chats/<int:chat_id>/accept/",
                self.admin_site.admin_view(chats.accept_view(self)),
                name="tickets_ticket_chat_accept",
            ),
            path(
                "<int:object_id>/edit/<slug:section>/",
                self.admin_site.admin_view(partial(ticket_page.edit_view, self)),
                name="tickets_ticket_edit",
            ),
            path(
                "customer/<int:user_id>/",
                self.admin_site.admin_view(partial(ticket_page.customer_view, self)),
                name="tickets_customer",
            ),
            path(
                "my-timezone/",
                self.admin_site.admin_view(partial(ticket_page.timezone_view, self)),
                name="tickets_agent_timezone",
            ),
            re_path(r"^[^/]+/reply/$", self.admin_site.admin_view(_no_such_ticket)),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        """The queue: its saved views with their counts in the sidebar, and live updates (the agents'
        socket; the rows are fetched again, rendered here, when an event comes)."""
        numbers = workspace.list_numbers(self, request)  # one query, before the tickets are read
        extra_context = {
            **(extra_context or {}),
            "live_after": numbers.newest_event,
            "saved_views": numbers.views,
            "unread_label": numbers.unread,  # the header's badge (templatetags/console.py)
            "save_view_url": workspace.save_view_url(request),
            "shortcuts_script": _shortcuts_script(),
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        live_after = selectors.last_event_id()  # before the ticket is read: later events come live
        ticket = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if ticket is not None:
            extra_context.update(ticket_page.page_context(request, ticket), live_after=live_after)
        return super().change_view(request, object_id, form_url, extra_context)

    def take_next_view(self, request):
        """Assign the most urgent unassigned ticket to the agent who asks (POST), and open it."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        ticket = services.ticket_take_next(agent=request.user)
        if ticket is None:
            self.message_user(request, "Nothing is waiting: every open ticket has an agent.", messages.INFO)
            return HttpResponseRedirect(reverse("admin:tickets_ticket_changelist"))
        self.message_user(request, f"{ticket.reference} is yours.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:tickets_ticket_change", args=[ticket.pk]))

    def reply_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        ticket = get_object_or_404(Ticket, pk=object_id)
        if not self.has_change_permission(request, ticket):
            raise PermissionDenied
        change_url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
        form = ReplyForm(request.POST, request.FILES, macros=selectors.active_macros(request.user))
        if not form.is_valid():
            return self._reply_failed(request, ticket, form.errors.get_json_data(), change_url)
        data = form.cleaned_data
        try:
            if data["macro"] is not None:
                # The macro sets its own status; a different one chosen in the box is set after it.
                with transaction.atomic():
                    services.macro_apply(
                        macro=data["macro"], ticket=ticket, agent=request.user, body=data["body"]
                    )
                    ticket.refresh_from_db()
                    if data["then_status"] and data["then_status"] != ticket.status:
                        services.ticket_change_status(
                            ticket=ticket, actor=request.user, status=data["then_status"]
                        )
            elif data["kind"] == ReplyForm.KIND_NOTE:
                services.ticket_add_note(
                    ticket=ticket,
                    author=request.user,
                    body=data["body"],
                    attachments=data["attachments"],
                    then_status=data["then_status"],
                )
            else:
                services.ticket_reply(
                    ticket=ticket,
                    author=request.user,
                    body=data["body"],
                    attachments=data["attachments"],
                    then_status=data["then_status"],
                )
        except ValidationError as exc:
            return self._reply_failed(request, ticket, exc.message_dict, change_url)
        internal = data["macro"].internal if data["macro"] else data["kind"] == ReplyForm.KIND_NOTE
        sent = "Internal note added" if internal else "Reply sent"
        self.message_user(request, f"{sent} on {ticket.reference}.", messages.SUCCESS)
        return HttpResponseRedirect(change_url + "#conversation")

    def _reply_failed(self, request, ticket: Ticket, errors: dict, change_url: str):
        """Keep what the agent typed (in the session) and say what was wrong."""
        request.session[ticket_page.reply_draft_key(ticket.pk)] = {
            key: request.POST.get(key, "") for key in ("body", "kind", "then_status")
        }
        for field, problems in errors.items():
            for problem in problems:
                text = problem["message"] if isinstance(problem, dict) else problem
                self.message_user(request, f"{field}: {text}", messages.ERROR)
        return HttpResponseRedirect(change_url + "#reply")

    # --- bulk actions -----------------------------------------------------------------------------

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        done = self._bulk(
            request,
            queryset,
            lambda t: services.ticket_assign(ticket=t, actor=request.user, assignee=request.user),
        )
        self.message_user(request, f"Assigned {done} ticket(s) to you.", messages.SUCCESS)

    def _bulk(self, request, queryset, change) -> int:
        done = 0
        for ticket in queryset.order_by("pk"):
            try:
                with transaction.atomic():
                    change(ticket)
                done += 1
            except ValidationError as exc:
                problems = "; ".join(
                    message for messages_ in exc.message_dict.values() for message in messages_
                )
                self.message_user(request, f"{ticket.reference}: {problems}", messages.WARNING)
        return done


class TicketChangeList(ChangeList):
    """The ticket list; when searching, each row of the page gets the snippet of where it matched (the
    order is the search's, relevance first, unless a column was clicked: get_search_results)."""

    @cached_property
    def table(self) -> dict:
        """The queue's table: the admin's headers, the rows written a column at a time (rows.py)."""
        return rows.table_context(self)

    def get_ordering(self, request, queryset):
        """A clicked column, then the queue order as the tiebreak (the admin's way); when the first
        clicked column is descending the tiebreak is reversed too, so that a descending list is the
        ascending one read backwards: both read in order from one index (the open tickets' by due time,
        by age, and the queue order's), where a descending column followed by ascending ones made
        PostgreSQL sort every open ticket (seconds at a million)."""
        ordering = super().get_ordering(request, queryset)
        if not self.params.get(ORDER_VAR, "").startswith("-"):
            return ordering
        tiebreak = list(queryset.query.order_by)  # the queue order, after the clicked columns
        for start in range(len(ordering) - len(tiebreak), -1, -1):
            if ordering[start : start + len(tiebreak)] == tiebreak:
                # (It ends with the id: the admin's "-pk" after it adds nothing.)
                return [*ordering[:start], *map(_reversed, tiebreak)]
        return ordering

    def get_results(self, request):
        # A page reads what its cells show: a whole row held the description, the intake and two search
        # vectors, which were most of the bytes and of the time spent making the page's tickets.
        fields = (*LIST_FIELDS, "description") if self.query.strip() else LIST_FIELDS
        self.queryset = self.queryset.only(*fields).prefetch_related(None)
        super().get_results(request)
        self.result_list = list(self.result_list)
        _attach_list_clocks(self.result_list)
        if self.query.strip():
            search.attach_snippets(self.result_list, self.query, viewer=request.user)


def _reversed(order):
    """An ordering term the other way round: "-created_at" for "created_at", nulls first for nulls last."""
    if isinstance(order, str):
        return order.removeprefix("-") if order.startswith("-") else f"-{order}"
    order = order.copy()
    order.reverse_ordering()
    return order


def _attach_list_clocks(tickets: list[Ticket]) -> None:
    """The page's clocks in one query, as `list_clocks` on each ticket (the SLA column): what the column
    reads of them, without the prefetch machinery's per-ticket querysets."""
    clocks = defaultdict(list)
    for clock in TicketClock.objects.filter(ticket_id__in=[t.pk for t in tickets]).only(*LIST_CLOCK_FIELDS):
        clocks[clock.ticket_id].append(clock)
    for ticket in tickets:
        ticket.list_clocks = clocks[ticket.pk]


def _make_status_action(status: Status):
    def action(modeladmin, request, queryset):
        done = modeladmin._bulk(
            request,
            queryset,
            lambda t: services.ticket_change_status(ticket=t, actor=request.user, status=status),
        )
        modeladmin.message_user(request, f"Set {done} ticket(s) to {status.label.lower()}.", messages.SUCCESS)

    action.__name__ = f"set_status_{status.value}"
    return admin.action(description=f"Set status: {status.label}", permissions=["change"])(action)


for _status in Status:
    if _status != Status.NEW:
        setattr(TicketAdmin, f"set_status_{_status.value}", _make_status_action(_status))


def _apply_changes(actor, form, candidates) -> Ticket:
    """The edited form as one service call: every change is checked before any is made."""
    changed = set(form.changed_data)
    details = {name: form.cleaned_data[name] for name in services.EDITABLE_FIELDS if name in changed}
    return services.ticket_update(
        ticket=form.instance,  # the service locks and reads the row itself; only its id is used
        actor=actor,
        details=details if details or candidates is not None else None,
        candidates=candidates,
        severity=form.cleaned_data["severity"] if "severity" in changed else None,
        assignee=form.cleaned_data["assignee"] if "assignee" in changed else services.UNSET,
        status=form.cleaned_data["status"] if "status" in changed else None,
    )


def _candidates_from(formsets) -> list[dict] | None:
    """The candidates as edited in the inline, or None when the inline was left untouched."""
    for formset in formsets:
        if formset.model is Candidate:
            if not formset.has_changed():
                return None
            return [
                {"name": f.cleaned_data.get("name", ""), "email": f.cleaned_data.get("email", "")}
                for f in formset.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")
            ]
    return None


@functools.cache
def _shortcuts_script() -> str:
    """The keyboard shortcuts' script (j/k/Enter on the rows' data-row-link), when the build has it."""
    return "tickets/shortcuts.js" if finders.find("tickets/shortcuts.js") else ""


def _no_such_ticket(request, *args, **kwargs):
    raise Http404("No such ticket.")


@functools.cache
def severity_badge_html(severity: str) -> str:
    """The list's severity badge: the code ("S2"), its name for screen readers and on hover ("S2 High: …").
    Five of them, made once each (the chart's definitions are the enum's)."""
    label = Severity(severity).label
    return format_html(
        '<span class="severity-badge severity-{}" title="{}: {}">'
        '{}<span class="visually-hidden"> {}</span></span>',
        severity.lower(),
        label,
        Severity(severity).definition,
        severity,
        label.removeprefix(severity).strip(),
    )


def compact_age(delta) -> str:
    """'45 min', '5 h', '3 d 4 h' — short enough for a list column."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 24:
        return f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    """Canned replies. Every agent keeps personal ones (theirs alone: offered to them, edited by them);
    team leads (`tickets.share_macro`) write the shared ones every agent is offered, and see everyone's."""

    list_display = ("name", "owner", "set_status", "internal", "active", "updated_at")
    list_filter = ("shared", "active", "internal", "set_status")
    search_fields = ("name", "body")

    class Media:
        css = {"all": ("tickets/admin.css",)}

    @admin.display(description="Offered to", ordering="shared")
    def owner(self, macro: Macro) -> str:
        if macro.shared:
            return "Everyone"
        author = macro.created_by
        return f"{author.get_full_name() or author.get_username()} only" if author else "Nobody (author gone)"

    def get_queryset(self, request):
        macros = super().get_queryset(request).select_related("created_by")
        if may_share_macros(request.user):
            return macros
        return macros.filter(Q(shared=True) | Q(created_by=request.user))

    def get_fields(self, request, obj=None):
        fields = ["name", "body", "set_status", "internal", "active"]
        return [*fields, "shared"] if may_share_macros(request.user) else fields

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._may_write(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._may_write(request, obj)

    @staticmethod
    def _may_write(request, macro: Macro | None) -> bool:
        # A shared reply is the leads'; a personal one its author's (a lead may retire a leaver's).
        if macro is None or may_share_macros(request.user):
            return True
        return not macro.shared and macro.created_by_id == request.user.pk

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        user, lead = request.user, may_share_macros(request.user)

        class OwnedMacroForm(form):
            # Author and sharing are set before validation, which checks the name is free where it will
            # live (among the shared replies, or among this agent's own).
            def _post_clean(self):
                if self.instance.pk is None:
                    self.instance.created_by = user
                if not lead:
                    self.instance.shared = False
                super()._post_clean()

        return OwnedMacroForm

    def get_changeform_initial_data(self, request):
        # Leads write for the team by default, agents for themselves (they cannot share).
        return {**super().get_changeform_initial_data(request), "shared": may_share_macros(request.user)}

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        if not may_share_macros(request.user):
            obj.shared = False
        super().save_model(request, obj, form, change)
