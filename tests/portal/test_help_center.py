"""The help center's pages (public, with search and "Was this helpful?"), deflections, and satisfaction:
the ticket page's banner and the resolution email's signed links (no sign-in; forged, expired, replayed or
earlier-resolution links change nothing)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from tickets import knowledge, satisfaction, services
from tickets.help_center import INFORMATION_ARTICLE, STATUS_ARTICLE
from tickets.models import Article, ArticleVote, Deflection, Event, OutgoingEmail, SatisfactionRating, Status
from tickets.notifications import attempt


def test_the_help_center_is_public_with_categories(client, db):
    page = client.get("/support/articles/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "Getting support" in content and "Scheduling and calendars" in content
    assert "How can customers view the ticket status of their requests?" in content
    assert "Choosing a severity" not in content  # internal


def test_search_is_ranked_and_highlighted(client, db):
    content = client.get("/support/articles/", {"q": "interview not showing on calendar"}).content.decode()
    first = re.search(r'<a class="fw-semibold" href="/support/articles/([^/]+)/"', content).group(1)
    assert first == "an-interview-is-not-showing-on-a-calendar"
    assert "<mark>" in content


def test_search_escapes_the_query_and_survives_any_text(client, db):
    for text in ["<script>alert(1)</script>", "日本語", "'\"&|!:*", "x" * 5000]:
        response = client.get("/support/articles/", {"q": text})
        assert response.status_code == 200
        assert "<script>alert(1)</script>" not in response.content.decode()


def test_an_article_page_and_the_old_help_address(client, db):
    response = client.get(f"/support/articles/{STATUS_ARTICLE}/")
    assert response.status_code == 200
    assert "<strong>My tickets</strong>" in response.content.decode()
    assert client.get("/support/help/").url == f"/support/articles/{INFORMATION_ARTICLE}/"


def test_internal_articles_are_for_agents_only(client, requester, agent):
    url = "/support/articles/choosing-a-severity/"
    assert client.get(url).status_code == 404
    client.force_login(requester)
    assert client.get(url).status_code == 404
    client.force_login(agent)
    page = client.get(url)
    assert page.status_code == 200 and "Internal: agents only" in page.content.decode()


def test_was_this_helpful_one_answer_per_reader(client, requester):
    article = Article.objects.get(slug=STATUS_ARTICLE)
    url = reverse("support:article_vote", args=[article.slug])
    client.post(url, {"helpful": "no"})  # a visitor, told apart by session
    client.force_login(requester)
    client.post(url, {"helpful": "yes"})
    client.post(url, {"helpful": "yes"})
    client.post(url, {"helpful": "no"})
    article.refresh_from_db()
    assert (article.helpful_yes, article.helpful_no) == (0, 2)
    assert ArticleVote.objects.filter(article=article).count() == 2
    assert client.post(url, {"helpful": "maybe"}).status_code == 302  # refused with a message, nothing saved
    assert ArticleVote.objects.filter(article=article).count() == 2


# --- deflections --------------------------------------------------------------------------------------


def test_opening_a_suggested_article_records_a_deflection_until_a_ticket_is_filed(client, requester):
    client.force_login(requester)
    url = "/support/articles/an-interview-is-not-showing-on-a-calendar/"
    client.get(url, {"from": "new-ticket", "q": "interview not showing"})
    client.get(url, {"from": "new-ticket", "q": "interview not showing"})  # once per window
    client.get(url)  # not from the suggestions
    deflection = Deflection.objects.get()
    assert deflection.deflected and deflection.query == "interview not showing"

    response = client.post(
        "/portal/tickets/new/",
        {
            "severity": "S3",
            "subject": "Interview still missing",
            "description": "The article did not help.",
            "candidates-TOTAL_FORMS": "0",
            "candidates-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    deflection.refresh_from_db()
    assert not deflection.deflected and deflection.ticket.subject == "Interview still missing"


def test_only_customers_record_deflections(client, agent, db):
    client.get("/support/articles/an-interview-is-not-showing-on-a-calendar/", {"from": "new-ticket"})
    client.force_login(agent)
    client.get("/support/articles/an-interview-is-not-showing-on-a-calendar/", {"from": "new-ticket"})
    assert not Deflection.objects.exists()


def test_the_new_ticket_form_has_the_suggestion_hooks(client, requester):
    client.force_login(requester)
    content = client.get("/portal/tickets/new/").content.decode()
    assert 'id="article-suggestions"' in content and 'id="severity-suggestion"' in content
    assert "portal/self_service" in content


def test_the_ticket_keeps_the_suggested_severity(client, requester):
    client.force_login(requester)
    client.post(
        "/portal/tickets/new/",
        {
            "severity": "S1",
            "subject": "Critical typo in an email template",
            "description": "The confirmation email says 'Intreview'.",
            "candidates-TOTAL_FORMS": "0",
            "candidates-INITIAL_FORMS": "0",
        },
    )
    ticket = requester.tickets.get()
    assert (ticket.severity, ticket.suggested_severity) == ("S1", "S4")


# --- satisfaction -------------------------------------------------------------------------------------


@pytest.fixture
def resolved(requester, agent):
    ticket = services.ticket_create(requester=requester, subject="Sync stopped", description="Calendar sync")
    services.ticket_change_status(ticket=ticket, actor=agent, status=Status.RESOLVED)
    ticket.refresh_from_db()
    return ticket


def test_the_ticket_page_asks_the_requester_after_resolution(client, requester, org_admin, resolved):
    page = f"/portal/tickets/{resolved.reference}/"
    client.force_login(requester)
    assert "How did we do?" in client.get(page).content.decode()
    client.post(f"{page}satisfaction/", {"rating": "good", "comment": "Quick, thanks"})
    assert "Your rating: Good" in client.get(page).content.decode()
    assert SatisfactionRating.objects.get().comment == "Quick, thanks"
    client.force_login(org_admin)
    assert "How did we do?" not in client.get(page).content.decode()
    assert client.post(f"{page}satisfaction/", {"rating": "bad"}).status_code == 404
    assert SatisfactionRating.objects.get().rating == "good"


def test_the_resolution_email_carries_two_signed_links(resolved):
    email = OutgoingEmail.objects.filter(ticket=resolved, data__current="resolved").get()
    mail.outbox.clear()
    assert attempt(email.pk).status == "sent"
    body = mail.outbox[0].body
    links = re.findall(r"http://\S+/support/rate/(\S+)/", body)
    assert len(links) == 2 and "How did we do?" in body
    assert {satisfaction.read_token(token).rating for token in links} == {"good", "bad"}


def test_a_rating_link_works_without_signing_in(client, resolved):
    token = satisfaction.make_token(resolved, "bad")
    page = client.get(f"/support/rate/{token}/")
    assert page.status_code == 200 and 'id="rating-bad" value="bad" checked' in page.content.decode()
    assert not SatisfactionRating.objects.exists()  # opening the page alone rates nothing (mail scanners)
    response = client.post(f"/support/rate/{token}/", {"rating": "bad"}, HTTP_ACCEPT="application/json")
    assert response.json() == {"rating": "bad", "comment": ""}
    client.post(f"/support/rate/{token}/", {"rating": "bad", "comment": "Two days for a reply"})
    row = SatisfactionRating.objects.get()
    assert (row.rating, row.comment, row.rated_by_id) == (
        "bad",
        "Two days for a reply",
        resolved.requester_id,
    )
    assert Event.objects.filter(ticket=resolved, kind=Event.Kind.SATISFACTION_RATED).count() == 2


def test_a_replayed_link_changes_nothing(client, resolved):
    token = satisfaction.make_token(resolved, "good")
    for _ in range(3):
        client.post(f"/support/rate/{token}/", {"rating": "good"}, HTTP_ACCEPT="application/json")
    assert SatisfactionRating.objects.count() == 1
    assert Event.objects.filter(ticket=resolved, kind=Event.Kind.SATISFACTION_RATED).count() == 1


def test_forged_and_altered_links_change_nothing(client, resolved):
    token = satisfaction.make_token(resolved, "good")
    forged = signing.dumps({"t": resolved.pk, "r": "bad", "n": 1}, salt="another-salt")
    altered = token.replace(token.split(":")[0], signing.dumps({"t": resolved.pk, "r": "bad"}).split(":")[0])
    for bad in (forged, altered, "nonsense", "x" * 3000):
        response = client.post(f"/support/rate/{bad}/", {"rating": "bad"})
        assert response.status_code == 400
        assert "cannot be used" in response.content.decode()
    assert not SatisfactionRating.objects.exists()


def test_expired_links_change_nothing(client, resolved, settings):
    token = satisfaction.make_token(resolved, "good")
    settings.SATISFACTION_LINK_MAX_AGE_DAYS = 0
    response = client.post(f"/support/rate/{token}/", {"rating": "good"})
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert not SatisfactionRating.objects.exists()


def test_a_link_of_an_earlier_resolution_changes_nothing(client, requester, agent, resolved):
    old = satisfaction.make_token(resolved, "bad")
    services.ticket_change_status(ticket=resolved, actor=requester, status=Status.OPEN)
    assert client.post(f"/support/rate/{old}/", {"rating": "bad"}).status_code == 400  # not resolved now
    services.ticket_change_status(ticket=resolved, actor=agent, status=Status.RESOLVED)
    response = client.post(f"/support/rate/{old}/", {"rating": "bad"})
    assert response.status_code == 400 and "earlier resolution" in response.content.decode()
    assert not SatisfactionRating.objects.exists()
    resolved.refresh_from_db()
    client.post(f"/support/rate/{satisfaction.make_token(resolved, 'good')}/", {"rating": "good"})
    assert SatisfactionRating.objects.get().resolved_at == resolved.resolved_at


def test_each_resolution_is_rated_once(client, requester, agent, resolved):
    client.post(f"/support/rate/{satisfaction.make_token(resolved, 'bad')}/", {"rating": "bad"})
    services.ticket_change_status(ticket=resolved, actor=requester, status=Status.OPEN)
    services.ticket_change_status(ticket=resolved, actor=agent, status=Status.RESOLVED)
    resolved.refresh_from_db()
    client.post(f"/support/rate/{satisfaction.make_token(resolved, 'good')}/", {"rating": "good"})
    assert list(SatisfactionRating.objects.order_by("rated_at").values_list("rating", flat=True)) == [
        "bad",
        "good",
    ]
    assert satisfaction.current_rating(resolved).rating == "good"


def test_deflection_window(requester):
    article = Article.objects.get(slug=STATUS_ARTICLE)
    long_ago = timezone.now() - knowledge.DEFLECTION_WINDOW - timedelta(minutes=1)
    knowledge.deflection_open(article=article, user=requester, at=long_ago)
    ticket = services.ticket_create(requester=requester, subject="Later", description="A new problem")
    assert knowledge.deflections_withdraw(ticket=ticket) == 0
    assert Deflection.objects.get().deflected
