"""The help center in the console: writing articles with the preview, the reply box's article links, the
ticket page's suggested severity and rating, and the satisfaction and self-service dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tickets import knowledge, satisfaction, services
from tickets.help_center import STATUS_ARTICLE
from tickets.models import Article, Deflection, Status


@pytest.fixture
def console(client, agent):
    client.force_login(agent)
    return client


def test_an_agent_writes_an_article_in_the_console(console, agent):
    response = console.post(
        reverse("admin:tickets_article_add"),
        {
            "title": "Reconnecting a calendar",
            "slug": "reconnecting-a-calendar",
            "category": "",
            "visibility": "public",
            "status": "published",
            "body": "## Steps\n\n1. Open *Settings*\n2. Click **Reconnect**",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    article = Article.objects.get(slug="reconnecting-a-calendar")
    assert article.author == agent
    assert "<h2>Steps</h2>" in article.body_html and "<strong>Reconnect</strong>" in article.body_html
    assert "Reconnect" in article.body_text
    page = console.get(reverse("admin:tickets_article_change", args=[article.pk])).content.decode()
    assert "tickets/article_preview.js" in page and "/support/articles/reconnecting-a-calendar/" in page


def test_the_preview_renders_and_sanitises(console):
    url = reverse("admin:tickets_article_preview")
    html = console.post(url, {"body": "**hi** <script>x()</script> [a](javascript:alert(1))"}).json()["html"]
    assert "<strong>hi</strong>" in html and "<script>" not in html and 'href="javascript' not in html
    assert console.get(url).status_code == 405
    assert console.post(url, {"body": "x" * 200_001}).status_code == 400


def test_the_preview_and_links_are_for_agents(client, requester):
    client.force_login(requester)
    assert client.post(reverse("admin:tickets_article_preview"), {"body": "x"}).status_code == 302
    assert client.get(reverse("admin:tickets_article_links")).status_code == 302


def test_article_links_for_the_reply_box_are_public_articles_with_their_address(console, settings):
    settings.SITE_URL = "https://help.example.com"
    rows = console.get(reverse("admin:tickets_article_links"), {"q": "ticket status"}).json()["results"]
    assert rows[0] == {
        "title": "How can customers view the ticket status of their requests?",
        "url": f"https://help.example.com/support/articles/{STATUS_ARTICLE}/",
    }
    rows = console.get(reverse("admin:tickets_article_links"), {"q": "choosing a severity"}).json()["results"]
    assert "choosing-a-severity" not in str(rows)  # internal: a customer could not open it


def test_the_ticket_page_shows_suggested_vs_chosen_and_the_rating(console, requester, agent):
    ticket = services.ticket_create(
        requester=requester, subject="Critical typo in an email template", description="Typo", severity="S2"
    )
    page = console.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()
    assert "Suggested severity" in page and "S4 Low" in page and "(chosen: S2)" in page
    assert "tickets/article_links.js" in page
    services.ticket_change_status(ticket=ticket, actor=agent, status=Status.RESOLVED)
    satisfaction.satisfaction_rate(ticket=ticket, actor=requester, rating="bad", comment="Slow answer")
    page = console.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()
    assert "Bad, I&#x27;m unsatisfied" in page and "Slow answer" in page
    ratings = console.get(reverse("admin:tickets_satisfactionrating_changelist"), {"q": requester.email})
    assert "Slow answer" in ratings.content.decode()


def test_the_dashboard_charts_ratings_and_deflections(
    console, requester, agent, django_assert_max_num_queries
):
    for rating in ("good", "good", "bad"):
        ticket = services.ticket_create(requester=requester, subject="Sync", description="Calendar sync")
        services.ticket_assign(ticket=ticket, actor=agent, assignee=agent)
        services.ticket_change_status(ticket=ticket, actor=agent, status=Status.RESOLVED)
        satisfaction.satisfaction_rate(ticket=ticket, actor=requester, rating=rating)
    article = Article.objects.get(slug=STATUS_ARTICLE)
    knowledge.deflection_open(article=article, user=requester)
    knowledge.deflection_open(
        article=Article.objects.get(slug="candidates-see-no-available-times"),
        user=requester,
        at=timezone.now() - timedelta(days=8),
    )
    url = reverse("satisfaction_dashboard")
    with django_assert_max_num_queries(15):
        response = console.get(url)
    content = response.content.decode()
    assert "67 % good of 3 ratings" in content
    data = response.context["chart_data"]
    assert data["good"][-1] == 2 and data["bad"][-1] == 1
    assert sum(data["deflected"]) == 2 and data["opened"][-1] == 1
    assert data["severities"] == ["S3 Medium"] and data["agents"] == [agent.get_full_name() or agent.username]
    assert Deflection.objects.count() == 2
    assert console.get(url, {"weeks": "abc"}).status_code == 200  # a clear message, the default range
    assert "a whole number" in console.get(url, {"weeks": "0"}).content.decode()


def test_the_dashboard_is_for_agents(client, requester):
    client.force_login(requester)
    assert client.get(reverse("satisfaction_dashboard")).status_code == 302


def test_the_template_tags_any_console_page_can_use(requester, agent, django_assert_num_queries):
    from django.template import Context, Template

    from tickets.models import Ticket

    for rating in ("good", "bad"):
        ticket = services.ticket_create(
            requester=requester, subject="Critical typo in a template", description="x"
        )
        services.ticket_change_status(ticket=ticket, actor=agent, status=Status.RESOLVED)
        satisfaction.satisfaction_rate(ticket=ticket, actor=requester, rating=rating, comment=f"{rating}!")
    page = Template(
        "{% load self_service %}{% for t in tickets %}"
        "<li>{% severity_suggestion t %} {% satisfaction_rating t %}</li>{% endfor %}"
    )
    tickets = list(
        satisfaction.with_current_rating(Ticket.objects.filter(requester=requester).order_by("pk"))
    )
    with django_assert_num_queries(0):  # the annotations carry the ratings: a list costs nothing more
        html = page.render(Context({"tickets": tickets}))
    assert html.count("Suggested") == 2 and "S4 Low" in html and "(chosen: S3)" in html
    assert "Good, I&#x27;m satisfied" in html and "Bad, I&#x27;m unsatisfied" in html and "“bad!”" in html
