"""The agent's own corner of the console: saved queue views and the notification centre.

Saved views are the ticket list's filters and order under a name, listed with their counts in the list's
sidebar. Each count is capped (COUNT over at most VIEW_COUNT_CAP + 1 rows: "1,000+"), and all of them are
counted in the one query that counts the queues, whatever the number of views or of tickets (a view
with a search costs the search's own queries first).

The notification centre lists the agent's notifications (tickets.inbox), newest first, a page at a time
by id (no OFFSET, no COUNT); opening one marks it read. Its settings page says which kinds also come by
email.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from tickets import inbox
from tickets.admin.filters import (
    ALL_TICKETS,
    QUEUE_COUNTS,
    QueueFilter,
    default_queue,
    queue_conditions,
    queue_counts,
)
from tickets.models import (
    Channel,
    Event,
    Notification,
    NotificationSettings,
    SavedView,
    Severity,
    Status,
    Ticket,
)
from tickets.models.workspace import VIEW_PARAMETERS, clean_view_query
from tickets.permissions import is_agent

#: A saved view's count stops at this many tickets and reads "1,000+".
VIEW_COUNT_CAP = 1000

_DIGITS = re.compile(r"[0-9]{1,18}")
_ORDER = re.compile(r"-?[0-9]{1,2}(\.-?[0-9]{1,2}){0,9}")


# --- saved views ------------------------------------------------------------------------------------


def view_queryset(ticket_admin, request, parameters: dict[str, str]):
    """The tickets of a saved view: the list's own queue, field filters and search, without its page."""
    queryset = Ticket.objects.all()
    queue = parameters.get("queue") or default_queue(parameters)
    condition = queue_conditions(request.user).get(queue)
    if condition is not None:
        queryset = queryset.filter(condition)
    for name in ("severity__exact", "status__exact", "channel__exact", "organization__id__exact"):
        if name in parameters:
            queryset = queryset.filter(**{name: parameters[name]})
    assignee = parameters.get("assignee")
    if assignee == "me":
        queryset = queryset.filter(assignee=request.user)
    elif assignee == "none":
        queryset = queryset.filter(assignee__isnull=True)
    elif assignee:
        queryset = queryset.filter(assignee_id=int(assignee))
    if parameters.get("q"):
        queryset, _ = ticket_admin.get_search_results(request, queryset, parameters["q"])
    return queryset


def _view_rows(ticket_admin, request, view: SavedView):
    """The ids of the view's tickets, or None for a view whose filters no longer make sense."""
    try:
        return view_queryset(ticket_admin, request, view.parameters).order_by().values("pk")
    except (ValueError, ValidationError, IncorrectLookupParameters):
        return None


def _count_label(count: int) -> str:
    return f"{VIEW_COUNT_CAP:,}+" if count > VIEW_COUNT_CAP else f"{count:,}"


@dataclass(frozen=True)
class ListNumbers:
    """What the ticket list shows beside its rows, read in one query before them: the saved views
    (name, address, count, whether the list shows it now), the unread notifications' badge, and the
    newest event's id (where the list's live updates start: events after it come over the socket)."""

    views: list[dict]
    unread: str
    newest_event: int


def list_numbers(ticket_admin, request) -> ListNumbers:
    """The ticket list's numbers: its saved views' counts, the queues' (kept on the request for the queue
    filter), the unread badge's and the newest event, in the one query that counts the queues
    (filters.queue_counts)."""
    current = clean_view_query(request.GET.urlencode())
    changelist = reverse("admin:tickets_ticket_changelist")
    views = list(SavedView.objects.filter(owner=request.user))
    rows = {f"view_{view.pk}": _view_rows(ticket_admin, request, view) for view in views}
    more = {name: (found, VIEW_COUNT_CAP) for name, found in rows.items() if found is not None}
    more["unread"] = (inbox.unread(request.user).values("pk"), inbox.UNREAD_CAP)
    newest = Event.objects.order_by("-pk").values("pk")
    counted = queue_counts(request.user, more, {"newest_event": newest})
    setattr(request, QUEUE_COUNTS, {key: counted[key] for key, _ in QueueFilter.QUEUES})
    return ListNumbers(
        views=[
            {
                "view": view,
                "url": f"{changelist}?{view.query}",
                "count": "?" if rows[f"view_{view.pk}"] is None else _count_label(counted[f"view_{view.pk}"]),
                "current": view.query == current,
            }
            for view in views
        ],
        unread=inbox.unread_label(counted["unread"]),
        newest_event=counted["newest_event"] or 0,
    )


def save_view_url(request) -> str:
    """The "Save this view" link: the add form, filled with the list's current filters and order."""
    query = clean_view_query(request.GET.urlencode())
    return reverse("admin:tickets_savedview_add") + "?" + urlencode({"query": query})


class SavedViewForm(forms.ModelForm):
    class Meta:
        model = SavedView
        fields = ("name", "query", "watch", "position")

    def __init__(self, *args, owner=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError("Give the view a name.")
        taken = SavedView.objects.filter(owner=self.owner, name__iexact=name).exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(f"You already have a view named “{name}”.")
        return name

    def clean_query(self) -> str:
        query = clean_view_query(self.cleaned_data["query"].strip())
        problems = [
            problem
            for key, value in SavedView(query=query).parameters.items()
            if (problem := _check(key, value))
        ]
        if problems:
            raise ValidationError(problems)
        return query


def _check(key: str, value: str) -> str:
    """What is wrong with one parameter of a view ('' if nothing)."""
    allowed = {
        "queue": {key for key, _ in QueueFilter.QUEUES} | {ALL_TICKETS},
        "severity__exact": set(Severity.values),
        "status__exact": set(Status.values),
        "channel__exact": set(Channel.values),
    }
    if key in allowed and value not in allowed[key]:
        return f"{key}: “{value}” is not one of {', '.join(sorted(allowed[key]))}."
    if key == "organization__id__exact" and not _DIGITS.fullmatch(value):
        return f"{key}: “{value}” is not an organization id."
    if key == "assignee" and value not in ("me", "none") and not _DIGITS.fullmatch(value):
        return f"{key}: “{value}” is not “me”, “none” or an agent id."
    if key == "o" and not _ORDER.fullmatch(value):
        return f"{key}: “{value}” is not a column order such as 2.-5."
    return ""


class AgentsOnly:
    """Every agent manages their own rows (no model permission needed: the rows are theirs)."""

    def has_module_permission(self, request) -> bool:
        return is_agent(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_agent(request.user) and (obj is None or self.owner_of(obj) == request.user.pk)

    @staticmethod
    def owner_of(obj) -> int:
        raise NotImplementedError


@admin.register(SavedView)
class SavedViewAdmin(AgentsOnly, admin.ModelAdmin):
    form = SavedViewForm
    list_display = ("name", "filters", "watch", "position", "open_link")
    fields = ("name", "query", "watch", "position")
    search_fields = ("name",)

    class Media:
        css = {"all": ("tickets/admin.css",)}

    @staticmethod
    def owner_of(obj) -> int:
        return obj.owner_id

    def has_add_permission(self, request) -> bool:
        return is_agent(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return self.has_view_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.has_view_permission(request, obj)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(owner=request.user)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class OwnedForm(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, owner=request.user, **inner)

        return OwnedForm

    def save_model(self, request, obj, form, change):
        if not change:
            obj.owner = request.user
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        if "_continue" in request.POST or "_addanother" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        self.message_user(request, f"Saved the view “{obj.name}”.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:tickets_ticket_changelist") + "?" + obj.query)

    @admin.display(description="Filters and order")
    def filters(self, view: SavedView) -> str:
        return describe(view) or "All open, queue order"

    @admin.display(description="Open")
    def open_link(self, view: SavedView) -> str:
        url = reverse("admin:tickets_ticket_changelist") + "?" + view.query
        return format_html('<a href="{}">Open “{}”</a>', url, view.name)


def describe(view: SavedView) -> str:
    """The view's filters in words: "queue: at_risk · severity: S1 · search: “sso”"."""
    names = {
        "queue": "queue",
        "severity__exact": "severity",
        "status__exact": "status",
        "channel__exact": "channel",
        "organization__id__exact": "organization",
        "assignee": "assignee",
        "q": "search",
        "o": "order",
    }
    parameters = view.parameters
    return " · ".join(f"{names[key]}: {parameters[key]}" for key in VIEW_PARAMETERS if key in parameters)


# --- notifications ----------------------------------------------------------------------------------


class NotificationSettingsForm(forms.ModelForm):
    class Meta:
        model = NotificationSettings
        fields = (
            "email_new_ticket",
            "email_customer_reply",
            "email_assigned",
            "email_at_risk",
            "email_breached",
            "email_s1_page",
        )


@admin.register(Notification)
class NotificationAdmin(AgentsOnly, admin.ModelAdmin):
    """The notification centre (its list is a page of its own: `inbox_view`)."""

    @staticmethod
    def owner_of(obj) -> int:
        return obj.recipient_id

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.inbox_view), name="tickets_notification_changelist"),
            path("read-all/", wrap(self.read_all_view), name="tickets_notification_read_all"),
            path("settings/", wrap(self.settings_view), name="tickets_notification_settings"),
            path("<int:notification_id>/open/", wrap(self.open_view), name="tickets_notification_open"),
            path("<int:notification_id>/read/", wrap(self.read_view), name="tickets_notification_read"),
        ]

    def _agent(self, request) -> None:
        if not is_agent(request.user):
            raise PermissionDenied

    def inbox_view(self, request):
        """The agent's notifications, newest first, PAGE_SIZE at a time (`?before=<id>` for older)."""
        self._agent(request)
        rows = inbox.inbox(request.user)
        before = request.GET.get("before", "")
        if before:
            if not _DIGITS.fullmatch(before):
                messages.error(request, "before: give the id of a notification.")
                return HttpResponseRedirect(reverse("admin:tickets_notification_changelist"))
            rows = rows.filter(pk__lt=int(before))
        page = list(rows[: inbox.PAGE_SIZE + 1])
        older = page[inbox.PAGE_SIZE - 1].pk if len(page) > inbox.PAGE_SIZE else None
        page = page[: inbox.PAGE_SIZE]
        context = {
            **self.admin_site.each_context(request),
            "title": "Notifications",
            "opts": self.opts,
            "notifications": page,
            "older": older,
            # The newest shown: the socket sends what comes after it (nothing is prepended to older pages).
            "newest_id": "" if before else (page[0].pk if page else 0),
            "unread": inbox.unread_label(inbox.unread_count(request.user)),
        }
        return TemplateResponse(request, "admin/tickets/notification/inbox.html", context)

    def open_view(self, request, notification_id: int):
        """Mark the notification read and open its ticket (POST)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._agent(request)
        notification = get_object_or_404(Notification, pk=notification_id, recipient=request.user)
        inbox.mark_read(request.user, [notification.pk])
        return HttpResponseRedirect(reverse("admin:tickets_ticket_change", args=[notification.ticket_id]))

    def read_view(self, request, notification_id: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._agent(request)
        get_object_or_404(Notification, pk=notification_id, recipient=request.user)
        inbox.mark_read(request.user, [notification_id])
        return HttpResponseRedirect(reverse("admin:tickets_notification_changelist"))

    def read_all_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._agent(request)
        changed = inbox.mark_all_read(request.user)
        self.message_user(request, f"Marked {changed} notification(s) read.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:tickets_notification_changelist"))

    def settings_view(self, request):
        """Which kinds also come by email (every kind is always in the console)."""
        self._agent(request)
        settings = inbox.settings_for(request.user)
        form = NotificationSettingsForm(request.POST or None, instance=settings)
        if request.method == "POST" and form.is_valid():
            form.save()
            self.message_user(request, "Notification settings saved.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:tickets_notification_settings"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Notification settings",
            "opts": self.opts,
            "form": form,
            "email": request.user.email,
        }
        return TemplateResponse(request, "admin/tickets/notification/settings.html", context)
