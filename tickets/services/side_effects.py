"""Scheduling side effects (Celery tasks) to run once the surrounding transaction commits."""

from __future__ import annotations

import logging

from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def after_commit(task, *args) -> None:
    """Enqueue the Celery `task` with `args` after commit.

    A broker that is down must not fail a request whose data is already saved: the error is logged and
    the periodic sweeps pick up what matters (S1 pages); a lost courtesy email is only logged.
    """

    def send() -> None:
        try:
            task.delay(*args)
        except OperationalError as error:  # the broker is down: helpdesk.outages logs the outage once
            logger.warning("Could not enqueue %s%r: %s", task.name, args, error)
        except Exception:
            logger.exception("Could not enqueue %s%r; the broker may be down", task.name, args)

    transaction.on_commit(send)
