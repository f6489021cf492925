"""Ticket search (tickets/search.py): what each query finds, in which order, for whom, and at what cost.

The same tests run on PostgreSQL (full-text vectors kept by triggers) and on SQLite (the embedded mode's
`icontains` fallback); what only PostgreSQL does (ranking by weight, stemming, typos) is marked so.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from helpdesk import search as helpdesk_search
from tests.factories import CandidateFactory, CustomerFactory, TicketFactory
from tickets import search
from tickets.models import Ticket
from tickets.services import ticket_add_note, ticket_create, ticket_reply

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="ranking, stemming and typos are PostgreSQL's"
)

CHANGELIST = reverse("admin:tickets_ticket_changelist")


def found(text, viewer, tickets=None):
    tickets = Ticket.objects.visible_to(viewer) if tickets is None else tickets
    return list(search.search_tickets(tickets, text, viewer=viewer).values_list("pk", flat=True))


def new(requester, subject, description="Nothing more to say.", **intake):
    return ticket_create(requester=requester, subject=subject, description=description, intake=intake)


@pytest.fixture
def tickets(requester, agent):
    """A few tickets of one organization, with conversations."""
    calendar = new(requester, "Calendar sync stopped for Google", "Interviews are missing from calendars.")
    outlook = new(requester, "Outlook calendar sync is slow", "It takes an hour to show up.")
    scorecard = new(requester, "Scorecards not saved", "The Save button does nothing on scorecards.")
    ticket_reply(ticket=scorecard, author=agent, body="Could you try clearing the browser cache?")
    ticket_add_note(ticket=scorecard, author=agent, body="Customer is on the legacy plan: quokka flag.")
    return {"calendar": calendar, "outlook": outlook, "scorecard": scorecard}


def test_words_match_subject_description_and_conversation(tickets, agent):
    assert set(found("calendar", agent)) == {tickets["calendar"].pk, tickets["outlook"].pk}
    assert found("missing", agent) == [tickets["calendar"].pk]  # the description
    assert found("browser cache", agent) == [tickets["scorecard"].pk]  # an agent's reply
    assert found("nothing matches this", agent) == []


def test_phrase_exclusion_and_or(tickets, agent):
    assert found('"calendar sync"', agent) in ([tickets["outlook"].pk, tickets["calendar"].pk],) or set(
        found('"calendar sync"', agent)
    ) == {tickets["calendar"].pk, tickets["outlook"].pk}
    assert found('"sync calendar"', agent) == []  # a phrase is in order
    assert found("calendar -google", agent) == [tickets["outlook"].pk]
    assert set(found("scorecards or outlook", agent)) == {tickets["scorecard"].pk, tickets["outlook"].pk}
    assert found("-calendar", agent) == []  # nothing but an exclusion: nothing to search for


@postgresql_only
def test_subject_ranks_above_description_and_conversation(requester, agent):
    in_reply = new(requester, "Question about invoices", "Billing question.")
    ticket_reply(ticket=in_reply, author=agent, body="The webhook retries three times.")
    in_description = new(requester, "Delivery problem", "Our webhook endpoint returns errors.")
    in_subject = new(requester, "Webhook deliveries failing", "Since this morning.")
    assert found("webhook", agent) == [in_subject.pk, in_description.pk, in_reply.pk]


@postgresql_only
def test_stemming_and_typos(tickets, agent):
    assert found("syncing calendars", agent)  # stems: sync, calendar
    # No word matches: subjects that look like the text do (pg_trgm).
    assert found("calender synk", agent)[:2] and set(found("calender synk", agent)) <= {
        tickets["calendar"].pk,
        tickets["outlook"].pk,
    }
    assert found("scorcards", agent) == [tickets["scorecard"].pk]


def test_reference_and_emails_come_first(requester, agent):
    target = new(requester, "Unrelated subject")
    mentions = new(requester, f"See ticket {target.pk} and jane.doe@candidates.example")
    CandidateFactory(ticket=target, email="Jane.Doe@Candidates.example")
    assert found(target.reference, agent)[0] == target.pk
    assert found(str(target.pk), agent)[0] == target.pk
    assert found(target.reference.lower(), agent)[0] == target.pk
    assert found("jane.doe@candidates.example", agent)[0] == target.pk  # any case
    assert mentions.pk in found("jane.doe@candidates.example", agent)
    requester_hits = found(requester.email.upper(), agent)
    assert set(requester_hits) == {target.pk, mentions.pk}


def test_customers_never_find_internal_notes_or_other_organizations(tickets, requester, agent):
    outsider = CustomerFactory()
    theirs = new(outsider, "Calendar sync broken for us too", "quokka")
    assert found("quokka", agent) == [theirs.pk, tickets["scorecard"].pk]
    # The note's words are for agents; the other organization's ticket for its own people.
    assert found("quokka", requester) == []
    assert found("legacy plan", requester) == []
    assert theirs.pk not in found("calendar", requester)
    assert found(theirs.reference, requester) == []
    assert found(outsider.email, requester) == []
    assert found("quokka", outsider) == [theirs.pk]


def test_vectors_follow_changes(requester, agent):
    """Replies, notes, candidates and edited intake are searchable at once (triggers on PostgreSQL)."""
    ticket = new(requester, "Something odd")
    assert found("pangolin", agent) == []
    ticket_reply(ticket=ticket, author=requester, body="The pangolin report fails.")
    assert found("pangolin", agent) == [ticket.pk]
    assert found("pangolin", requester) == [ticket.pk]
    ticket_add_note(ticket=ticket, author=agent, body="Escalate to the narwhal team.")
    assert found("narwhal", agent) == [ticket.pk]
    assert found("narwhal", requester) == []
    CandidateFactory(ticket=ticket, name="Ursula Okapi", email="u.okapi@example.org")
    assert found("okapi", agent) == [ticket.pk]
    Ticket.objects.filter(pk=ticket.pk).update(error_message="E_TAPIR_TIMEOUT at step 3")
    if connection.vendor == "postgresql":
        ticket.refresh_from_db()
        ticket.error_message = "tapir timeout at step 3"
        ticket.save(update_fields=["error_message"])
    assert found("tapir", agent) == [ticket.pk]


def test_snippets_mark_the_match_and_escape_the_text(requester, agent):
    ticket = new(requester, "Export fails", "The <script>alert(1)</script> export of scorecards & more.")
    results = list(search.search_tickets(Ticket.objects.all(), "scorecards", viewer=agent))
    search.attach_snippets(results, "scorecards", viewer=agent)
    (row,) = results
    assert row.pk == ticket.pk
    assert "<mark>scorecards</mark>" in row.search_snippet
    # PostgreSQL's headline drops tags itself; the fallback escapes them. Either way no markup but <mark>.
    assert "<script>" not in row.search_snippet and "</script>" not in row.search_snippet
    assert "&amp; more" in row.search_snippet


def test_a_customer_snippet_never_shows_a_note(requester, agent):
    ticket = new(requester, "Kiwi import fails", "Nothing else.")
    ticket_add_note(ticket=ticket, author=agent, body="Kiwi importer secret: internal-only words")
    results = list(search.search_tickets(Ticket.objects.visible_to(requester), "kiwi", viewer=requester))
    search.attach_snippets(results, "kiwi", viewer=requester)
    assert "internal-only" not in results[0].search_snippet
    agent_rows = list(search.search_tickets(Ticket.objects.all(), "kiwi", viewer=agent))
    search.attach_snippets(agent_rows, "kiwi", viewer=agent)
    assert "secret" in agent_rows[0].search_snippet or "internal" in agent_rows[0].search_snippet


def test_the_parser_reads_websearch_syntax():
    parse = helpdesk_search.parse
    Term = helpdesk_search.Term
    assert parse('calendar "sync failed" -google') == [
        [Term("calendar"), Term("sync failed"), Term("google", exclude=True)]
    ]
    assert parse("a or b") == [[Term("a")], [Term("b")]]
    assert parse('-"not this"') == []
    assert parse("   ") == []
    assert parse('unclosed "quote here') == [[Term("unclosed"), Term("quote here")]]


def test_console_search_lists_snippets_in_relevance_order(client, agent, tickets):
    client.force_login(agent)
    response = client.get(CHANGELIST, {"q": "scorecards"})
    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [tickets["scorecard"].pk]
    assert "<mark>" in response.content.decode()
    # A clicked column orders the results instead.
    response = client.get(CHANGELIST, {"q": "calendar", "o": "-1"})
    assert [row.pk for row in response.context["cl"].result_list] == sorted(
        [tickets["calendar"].pk, tickets["outlook"].pk], reverse=True
    )


def test_portal_and_api_search_through_the_same_service(client, requester, agent, tickets):
    client.force_login(requester)
    response = client.get(reverse("portal:tickets"), {"q": "browser cache"})
    assert [t.pk for t, _ in response.context["rows"]] == [tickets["scorecard"].pk]
    assert client.get(reverse("portal:tickets"), {"q": "quokka"}).context["rows"] == []
    api = APIClient()
    api.force_authenticate(agent)
    body = api.get("/api/v1/tickets/", {"search": "quokka"}).json()
    assert [row["reference"] for row in body["results"]] == [tickets["scorecard"].reference]
    api.force_authenticate(requester)
    assert api.get("/api/v1/tickets/", {"search": "quokka"}).json()["results"] == []


@pytest.mark.parametrize("face", ["console", "portal", "api"])
def test_search_queries_do_not_grow_with_the_database(client, requester, agent, face):
    """The same number of queries with 3 matching tickets as with 60 (and 60 others)."""

    def add(count):
        for index in range(count):
            ticket = TicketFactory(requester=requester, subject=f"Interview sync problem {index}")
            CandidateFactory(ticket=ticket)
            TicketFactory(requester=requester, subject=f"Unrelated {index}")

    def count_queries():
        if face == "console":
            client.force_login(agent)
            url, params = CHANGELIST, {"q": "interview"}
        elif face == "portal":
            client.force_login(requester)
            url, params = reverse("portal:tickets"), {"q": "interview"}
        else:
            client.force_login(agent)
            url, params = "/api/v1/tickets/", {"search": "interview"}
        client.get(url, params)  # warm the per-process caches
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, params).status_code == 200
        return len(queries)

    add(3)
    small = count_queries()
    add(57)
    assert count_queries() == small
    # The console's list page carries the workspace beside the results: the live updates' starting
    # event id, the agent's saved views and their counts, and the notification badge (issue 14): three
    # queries over the 12, none of them growing with the database.
    assert small <= (15 if face == "console" else 12)


def test_global_search_finds_tickets_customers_and_organizations(client, agent, requester, tickets):
    requester.first_name, requester.last_name = "Priya", "Raman"
    requester.save()
    client.force_login(agent)
    page = client.get(reverse("admin:index"))
    assert reverse("console_search") in page.content.decode()  # the box in the header
    response = client.get(reverse("console_search"), {"q": "raman"})
    assert response.status_code == 200
    assert [c.pk for c in response.context["customers"]] == [requester.pk]
    org = requester.membership.organization
    response = client.get(reverse("console_search"), {"q": org.name})
    assert org.pk in [o.pk for o in response.context["organizations"]]
    response = client.get(reverse("console_search"), {"q": "scorecards"})
    assert [t.pk for t in response.context["tickets"]] == [tickets["scorecard"].pk]
    assert "<mark>" in response.content.decode()


def test_global_search_is_for_agents_only(client, requester):
    client.force_login(requester)
    response = client.get(reverse("console_search"), {"q": "x"})
    assert response.status_code == 302  # to the console's sign-in


@pytest.mark.parametrize("face", ["console", "portal", "api"])
def test_every_kind_of_search_costs_the_same_queries(client, requester, agent, face):
    """Words, a phrase, an email address (exact matches), a reference and a typo (look-alike subjects,
    read only when nothing else matches) are one query for the matches, whatever they find. (SQLite has
    no typo tolerance, and two queries for the exact email matches.)"""
    ticket = TicketFactory(requester=requester, subject="Interview sync problem")
    CandidateFactory(ticket=ticket, email="lena.park@example.com")
    texts = ["interview", '"sync problem"', "lena.park@example.com", ticket.reference, "interveiw sync"]
    if face == "console":
        client.force_login(agent)
        url, key, link = CHANGELIST, "q", f"{CHANGELIST}{ticket.pk}/change/"
    elif face == "portal":
        client.force_login(requester)
        url, key = reverse("portal:tickets"), "q"
        link = reverse("portal:ticket", args=[ticket.reference])
    else:
        client.force_login(agent)
        url, key = "/api/v1/tickets/", "search"
    if connection.vendor != "postgresql":
        texts.remove("interveiw sync")
    client.get(url, {key: "warm"})  # the per-process caches
    counts = {}
    for text in texts:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {key: text})
        assert response.status_code == 200
        if face != "api":
            assert link in response.content.decode(), text
        else:
            assert [row["reference"] for row in response.json()["results"]] == [ticket.reference], text
        counts[text] = len(queries)
    if connection.vendor != "postgresql":
        # The embedded mode reads the exact email matches in two queries of their own.
        assert counts.pop("lena.park@example.com") == counts["interview"] + 2
    assert len(set(counts.values())) == 1, counts
