from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class HelpdeskConfig(AppConfig):
    """Project-level app: holds the commands that run the whole stack and the health check."""

    name = "helpdesk"
    verbose_name = "Helpdesk"

    def ready(self) -> None:
        if not settings.REDIS_URL:
            make_embedded_broker_folders()


def make_embedded_broker_folders() -> None:
    """The embedded Celery broker's folders (messages are files there). Made at start-up, not by the first
    task: until then /healthz would find no broker and answer 503."""
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
