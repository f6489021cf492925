from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    """Project-level app: holds the commands that run the whole stack and the health check."""

    name = "helpdesk"
    verbose_name = "Helpdesk"
