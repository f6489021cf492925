"""The console's global search (the box in every console page's header): tickets, customers and
organizations matching what the agent typed, a few of each, with a link to all the matching tickets.

Tickets come from the one search service (tickets.search); people and organizations are small tables,
matched on their names and emails (and on PostgreSQL by trigram similarity too, so "Jon Smiht" finds
John Smith).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.postgres.search import TrigramSimilarity
from django.core.exceptions import PermissionDenied
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Greatest
from django.template.response import TemplateResponse
from django.urls import reverse

from tickets import search
from tickets.models import Organization, Ticket

#: How many of each kind the page shows.
SHOWN = 10
#: How alike a name must be to the text (pg_trgm's similarity, 0–1) to match without containing it.
NAME_SIMILARITY = 0.3
#: The longest text searched for (a longer one is cut: nobody types more into a search box).
MAX_LENGTH = 200


def _console_search(request):
    if not request.user.has_perm("tickets.view_ticket"):
        raise PermissionDenied
    text = request.GET.get("q", "").strip()[:MAX_LENGTH]
    context = {**admin.site.each_context(request), "title": "Search", "query": text}
    if text:
        tickets = list(
            search.search_tickets(Ticket.objects.with_list_relations(), text, viewer=request.user)[:SHOWN]
        )
        search.attach_snippets(tickets, text, viewer=request.user)
        context.update(
            tickets=tickets,
            customers=list(_customers(text)[:SHOWN]),
            organizations=list(_organizations(text)[:SHOWN]),
            all_tickets_url=reverse("admin:tickets_ticket_changelist") + "?" + urlencode({"q": text}),
        )
    return TemplateResponse(request, "admin/tickets/search.html", context)


def _customers(text: str):
    customers = (
        get_user_model().objects.filter(membership__isnull=False).select_related("membership__organization")
    )
    contains = (
        Q(email__icontains=text)
        | Q(username__icontains=text)
        | Q(first_name__icontains=text)
        | Q(last_name__icontains=text)
    )
    if not search.uses_postgresql():
        return customers.filter(contains).order_by("last_name", "first_name", "pk")
    full_name = Concat(F("first_name"), Value(" "), F("last_name"))
    return (
        customers.annotate(
            similarity=Greatest(TrigramSimilarity(full_name, text), TrigramSimilarity("email", text))
        )
        .filter(contains | Q(similarity__gte=NAME_SIMILARITY))
        .order_by("-similarity", "last_name", "pk")
    )


def _organizations(text: str):
    contains = Q(name__icontains=text)
    if not search.uses_postgresql():
        return Organization.objects.filter(contains).order_by("name")
    return (
        Organization.objects.annotate(similarity=TrigramSimilarity("name", text))
        .filter(contains | Q(similarity__gte=NAME_SIMILARITY))
        .order_by("-similarity", "name")
    )


#: The view, behind the console's sign-in (staff only).
console_search_view = admin.site.admin_view(_console_search)
