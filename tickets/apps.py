from django.apps import AppConfig


class TicketsConfig(AppConfig):
    """The ticket domain: organizations, tickets, conversation, attachments, audit trail, agent console."""

    name = "tickets"
    verbose_name = "Tickets"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # The webhook outbox (domain) renders payloads with the API's serializers, registered here.
        import tickets.api.webhook_payloads  # noqa: F401
        from helpdesk import outbox
        from tickets import notifications, outgoing_webhooks, token_lifecycle
        from tickets.agents import ensure_agents_group
        from tickets.channels.schedule import ensure_fetch_schedule

        post_migrate.connect(ensure_agents_group, sender=self)
        post_migrate.connect(ensure_fetch_schedule, sender=self)
        token_lifecycle.connect()
        # Served by the outbox process after the escalations (sla/apps.py): emails, then webhooks.
        outbox.register(
            outbox.Outbox(name="emails", priority=1, due=notifications.due, deliver=notifications.deliver_due)
        )
        outbox.register(
            outbox.Outbox(
                name="webhooks", priority=2, due=outgoing_webhooks.due, deliver=outgoing_webhooks.deliver_due
            )
        )
