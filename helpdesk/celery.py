"""The Celery application: configured from Django settings (the CELERY_* names), tasks autodiscovered.

Publishing fails fast while the broker is down: after a publish failed for want of the broker, the
next ones in this process raise `BrokerUnavailable` at once for `PUBLISH_RETRY_AFTER` seconds instead
of each waiting out the connection retries (helpdesk.outbox.enqueue_or_log takes it; the outbox process
delivers the rows whose tasks were not published).
"""

import os

from celery import Celery
from celery import Task as BaseTask
from kombu.exceptions import OperationalError

from helpdesk.outages import Outage, describe, outage

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

#: Seconds publishing skips the broker after it failed (the first publish after that tries again).
PUBLISH_RETRY_AFTER = 2.0


class BrokerUnavailable(OperationalError):
    """Not published: the broker failed moments ago in this process."""


def broker_outage(app: Celery) -> Outage:
    """This process's outage record of the app's current broker."""
    return outage(f"Celery broker at {describe(app.conf.broker_url)}", retry_after=PUBLISH_RETRY_AFTER)


class Task(BaseTask):
    """Tasks of this app: publishing gives up at once while the broker is known to be down."""

    def apply_async(self, *args, **kwargs):
        if self.app.conf.task_always_eager:
            return super().apply_async(*args, **kwargs)
        broker = broker_outage(self.app)
        if broker.down():
            raise BrokerUnavailable(f"{broker.name} failed moments ago; {self.name} not published")
        try:
            result = super().apply_async(*args, **kwargs)
        except OperationalError as error:
            broker.failed(error)
            raise
        broker.succeeded()
        return result


app = Celery("helpdesk", task_cls=Task)
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
