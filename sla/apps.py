from django.apps import AppConfig


class SlaConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sla"

    def ready(self) -> None:
        # Imported once the app registry is ready: these modules import models.
        from helpdesk import outbox
        from sla import escalations

        # Escalations first of all in the outbox process, and S1 pages first among them.
        outbox.register(
            outbox.Outbox(
                name="escalations", priority=0, due=escalations.due, deliver=escalations.deliver_due
            )
        )
