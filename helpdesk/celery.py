"""The Celery application: configured from Django settings (the CELERY_* names), tasks autodiscovered."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _create_embedded_broker_folders(sender, **kwargs):
    """The filesystem transport (embedded mode) needs its folders to exist before it starts."""
    options = sender.conf.broker_transport_options or {}
    for key in (
        "data_folder_in",
        "data_folder_out",
        "control_folder",
        "processed_folder",
    ):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)
