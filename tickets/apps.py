from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TicketsConfig(AppConfig):
    """The ticket domain: organizations, tickets, conversation, attachments, audit trail, agent console."""

    name = "tickets"
    verbose_name = "Tickets"

    def ready(self) -> None:
        # Imported here, once the app registry is ready: each of these modules imports models.
        import tickets.api.webhook_payloads  # noqa: F401 - the webhook outbox renders with the API's serializers
        from helpdesk import outbox
        from sla import clocks
        from tickets import notifications, outgoing_webhooks, subscribers, token_lifecycle
        from tickets.agents import ensure_agents_group
        from tickets.channels.schedule import ensure_fetch_schedule
        from tickets.selectors import SlaHistory

        post_migrate.connect(ensure_agents_group, sender=self)
        post_migrate.connect(ensure_fetch_schedule, sender=self)
        token_lifecycle.connect()
        # The SLA clocks (below the domain) read a ticket's past through the domain's selectors.
        clocks.read_history_with(SlaHistory())
        subscribers.connect()
        # Served by the outbox process after the escalations (sla/apps.py): emails, then webhooks.
        outbox.register(
            outbox.Outbox(name="emails", priority=1, due=notifications.due, deliver=notifications.deliver_due)
        )
        outbox.register(
            outbox.Outbox(
                name="webhooks", priority=2, due=outgoing_webhooks.due, deliver=outgoing_webhooks.deliver_due
            )
        )
