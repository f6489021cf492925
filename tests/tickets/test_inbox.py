"""Agents' notifications (tickets/inbox.py) and their pages in the console (tickets/admin/workspace.py):
who is told of what, once, never of their own doing; emails only for the kinds asked for; the centre's
pages, marking read, and flat query counts."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sla.models import Level, Metric
from tickets import events, inbox, notifications
from tickets.events import EscalationFired
from tickets.models import Notification, NotificationSettings, OutgoingEmail, SavedView, Severity
from tickets.services import ticket_assign, ticket_create, ticket_reply

pytestmark = pytest.mark.django_db

Kind = Notification.Kind


def new_ticket(requester, severity=Severity.S3, subject="Invites bounce"):
    return ticket_create(requester=requester, subject=subject, description="All of them.", severity=severity)


def kinds(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user).order_by("pk").values_list("kind", flat=True))


def fire(ticket, level: str, escalation_id: int) -> None:
    payload = EscalationFired(metric=Metric.RESOLUTION, level=level, escalation_id=escalation_id)
    with transaction.atomic():
        events._record(ticket, payload, None, timezone.now())


# --- who is told of what -------------------------------------------------------------------------------


def test_assignment_tells_the_new_assignee_not_the_agent_who_took_it(requester, agent, other_agent):
    ticket = new_ticket(requester)
    ticket_assign(ticket=ticket, actor=agent, assignee=other_agent)
    assert kinds(other_agent) == [Kind.ASSIGNED]
    notice = Notification.objects.get(recipient=other_agent)
    assert notice.ticket == ticket and notice.unread
    assert notice.text == f"Assigned to you: {ticket.reference} · S3 · Invites bounce"
    ticket_assign(ticket=ticket, actor=agent, assignee=agent)  # took it: nobody told
    assert kinds(agent) == []


def test_a_customer_reply_tells_the_assignee_an_agent_reply_does_not(requester, agent, other_agent):
    ticket = new_ticket(requester)
    ticket_assign(ticket=ticket, actor=other_agent, assignee=agent)
    Notification.objects.all().delete()
    ticket_reply(ticket=ticket, author=other_agent, body="On it.")
    assert kinds(agent) == []
    ticket_reply(ticket=ticket, author=requester, body="Still broken.")
    assert kinds(agent) == [Kind.CUSTOMER_REPLY]
    assert Notification.objects.get(recipient=agent).text.startswith("Customer replied: ")


def test_a_reply_on_an_unassigned_ticket_tells_nobody(requester, agent):
    ticket = new_ticket(requester)
    ticket_reply(ticket=ticket, author=requester, body="Hello?")
    assert Notification.objects.count() == 0


def test_sla_warnings_tell_the_assignee_and_an_s1_page_every_agent(requester, agent, other_agent):
    ticket = new_ticket(requester, severity=Severity.S1)
    ticket = ticket_assign(ticket=ticket, actor=other_agent, assignee=agent)
    Notification.objects.all().delete()
    fire(ticket, Level.AT_RISK, 1)
    fire(ticket, Level.BREACH, 2)
    assert kinds(agent) == [Kind.AT_RISK, Kind.BREACHED]
    assert kinds(other_agent) == []
    fire(ticket, Level.PAGE, 3)
    assert kinds(agent)[-1] == Kind.S1_PAGE and kinds(other_agent) == [Kind.S1_PAGE]
    assert Notification.objects.filter(kind=Kind.BREACHED).get().text.startswith("Resolution breached: HD-")


def test_a_customer_is_never_notified(requester, agent):
    ticket = new_ticket(requester, severity=Severity.S1)
    fire(ticket, Level.PAGE, 1)
    assert not Notification.objects.filter(recipient=requester).exists()
    assert kinds(agent) == [Kind.S1_PAGE]


# --- watched views --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "severity", "told"),
    [
        ("", Severity.S3, True),  # All open
        ("queue=open&severity__exact=S1", Severity.S1, True),
        ("queue=open&severity__exact=S1", Severity.S2, False),
        ("queue=unassigned_urgent", Severity.S2, True),
        ("queue=unassigned_urgent", Severity.S3, False),
        ("queue=waiting", Severity.S1, False),  # a new ticket waits on nobody
        ("queue=breached", Severity.S1, False),
        ("status__exact=closed", Severity.S3, False),
        ("q=invites", Severity.S3, True),
        ("q=invoices", Severity.S3, False),
        ("assignee=none", Severity.S3, True),
        ("assignee=me", Severity.S3, False),
    ],
)
def test_a_new_ticket_tells_whoever_watches_a_view_it_belongs_to(requester, agent, query, severity, told):
    SavedView.objects.create(owner=agent, name="Mine to watch", query=query, watch=True)
    SavedView.objects.create(owner=agent, name="Not watched", query="", watch=False)
    ticket = new_ticket(requester, severity=severity)
    assert kinds(agent) == ([Kind.NEW_TICKET] if told else [])
    if told:
        assert (
            Notification.objects.get().text
            == f"New in “Mine to watch”: {ticket.reference} · {severity} · Invites bounce"
        )


def test_two_watched_views_make_one_notification_and_an_organization_filter_counts(requester, agent):
    organization_id = requester.membership.organization_id
    SavedView.objects.create(
        owner=agent, name="A", query=f"organization__id__exact={organization_id}", watch=True
    )
    SavedView.objects.create(owner=agent, name="B", query="", watch=True)
    SavedView.objects.create(
        owner=agent, name="C", query=f"organization__id__exact={organization_id + 1}", watch=True
    )
    new_ticket(requester)
    assert kinds(agent) == [Kind.NEW_TICKET]
    assert "“A”" in Notification.objects.get().text


def test_a_watching_user_who_is_no_longer_an_agent_is_not_told(requester, agent):
    SavedView.objects.create(owner=agent, name="All", query="", watch=True)
    agent.is_staff = False
    agent.save()
    new_ticket(requester)
    assert Notification.objects.count() == 0


# --- email --------------------------------------------------------------------------------------------


def test_email_only_for_the_kinds_asked_for(
    requester, agent, other_agent, django_capture_on_commit_callbacks
):
    NotificationSettings.objects.create(user=agent, email_assigned=True)
    ticket = new_ticket(requester)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_assign(ticket=ticket, actor=other_agent, assignee=agent)
    emails = OutgoingEmail.objects.filter(kind=OutgoingEmail.Kind.AGENT_NOTICE)
    assert emails.count() == 1
    for email in emails:
        notifications.attempt(email.pk)
    sent = [message for message in mail.outbox if message.to == [agent.email]]
    assert len(sent) == 1
    assert sent[0].subject == f"[{ticket.reference}] Ticket assigned to me: Invites bounce"
    assert f"/admin/tickets/ticket/{ticket.pk}/change/" in sent[0].body
    # A customer reply: not asked for by email, so in the console only.
    with django_capture_on_commit_callbacks(execute=True):
        ticket_reply(ticket=ticket, author=requester, body="Any news?")
    assert emails.count() == 1
    assert kinds(agent) == [Kind.ASSIGNED, Kind.CUSTOMER_REPLY]


def test_an_agent_notice_to_someone_no_longer_an_agent_is_withdrawn(requester, agent, other_agent):
    NotificationSettings.objects.create(user=agent, email_assigned=True)
    ticket = new_ticket(requester)
    ticket_assign(ticket=ticket, actor=other_agent, assignee=agent)
    agent.is_active = False
    agent.save()
    mail.outbox.clear()
    email = OutgoingEmail.objects.get(kind=OutgoingEmail.Kind.AGENT_NOTICE)
    notifications.attempt(email.pk)
    assert mail.outbox == []
    email.refresh_from_db()
    assert email.status != OutgoingEmail.Status.SENT


# --- the notification centre --------------------------------------------------------------------------


def notices(agent, other_agent, requester, count):
    for index in range(count):
        ticket_assign(
            ticket=new_ticket(requester, subject=f"Ticket {index}"), actor=other_agent, assignee=agent
        )


def test_the_header_counts_unread_and_the_centre_lists_them(client, requester, agent, other_agent):
    notices(agent, other_agent, requester, 3)
    client.force_login(agent)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="hd-unread">3</span>' in page
    centre = client.get(reverse("admin:tickets_notification_changelist"))
    assert centre.status_code == 200
    text = centre.content.decode()
    assert text.count('class="hd-notice unread') == 3
    assert "Assigned to you: HD-" in text


def test_opening_a_notification_marks_it_read_and_opens_the_ticket(client, requester, agent, other_agent):
    notices(agent, other_agent, requester, 2)
    first = Notification.objects.filter(recipient=agent).order_by("pk").first()
    client.force_login(agent)
    assert client.get(reverse("admin:tickets_notification_open", args=[first.pk])).status_code == 405
    response = client.post(reverse("admin:tickets_notification_open", args=[first.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:tickets_ticket_change", args=[first.ticket_id])
    first.refresh_from_db()
    assert not first.unread
    assert inbox.unread_count(agent) == 1
    client.post(reverse("admin:tickets_notification_read_all"))
    assert inbox.unread_count(agent) == 0


def test_nobody_opens_or_reads_another_agents_notification(client, requester, agent, other_agent):
    notices(agent, other_agent, requester, 1)
    notice = Notification.objects.get(recipient=agent)
    client.force_login(other_agent)
    assert client.post(reverse("admin:tickets_notification_open", args=[notice.pk])).status_code == 404
    assert client.post(reverse("admin:tickets_notification_read", args=[notice.pk])).status_code == 404
    client.post(reverse("admin:tickets_notification_read_all"))
    notice.refresh_from_db()
    assert notice.unread
    assert (
        "Assigned to you" not in client.get(reverse("admin:tickets_notification_changelist")).content.decode()
    )


def test_customers_cannot_reach_the_centre(client, requester):
    client.force_login(requester)
    response = client.get(reverse("admin:tickets_notification_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_bad_page_parameter_is_a_message_not_an_error(client, agent):
    client.force_login(agent)
    response = client.get(reverse("admin:tickets_notification_changelist") + "?before=abc")
    assert response.status_code == 302


def test_the_centre_pages_by_id_and_its_queries_stay_flat(client, requester, agent, other_agent):
    client.force_login(agent)
    url = reverse("admin:tickets_notification_changelist")
    notices(agent, other_agent, requester, 2)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    notices(agent, other_agent, requester, inbox.PAGE_SIZE + 3)
    with CaptureQueriesContext(connection) as many:
        page = client.get(url).content.decode()
    assert len(many) == len(few)
    assert page.count('class="hd-notice ') == inbox.PAGE_SIZE
    older = page.split('href="?before=')[1].split('"')[0]
    rest = client.get(f"{url}?before={older}").content.decode()
    assert rest.count('class="hd-notice ') == 5


def test_email_settings_are_saved_per_agent(client, agent, other_agent):
    client.force_login(agent)
    url = reverse("admin:tickets_notification_settings")
    assert client.get(url).status_code == 200
    response = client.post(url, {"email_s1_page": "on", "email_assigned": "on"})
    assert response.status_code == 302
    settings = NotificationSettings.objects.get(user=agent)
    assert settings.email_s1_page and settings.email_assigned and not settings.email_customer_reply
    assert not NotificationSettings.objects.filter(user=other_agent).exists()


def test_the_unread_label_stops_at_the_cap():
    assert inbox.unread_label(3) == "3"
    assert inbox.unread_label(inbox.UNREAD_CAP + 1) == "99+"


def test_settings_exist_once_asked_for(agent):
    assert inbox.settings_for(agent).email_assigned is False
    assert NotificationSettings.objects.filter(user=agent).count() == 1
