from django.apps import AppConfig

from helpdesk.celery import broker_back


class SlaConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sla"

    def ready(self) -> None:
        # Imported here, once the app registry is ready: the task module imports the models.
        from sla.tasks import recover_when_the_broker_is_back

        # Pages that could not be published while the broker was down go out as soon as it is back.
        broker_back.connect(
            recover_when_the_broker_is_back, dispatch_uid="sla-recover-when-the-broker-is-back"
        )
