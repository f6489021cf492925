"""`manage.py outbox`: the outbox process ("the pager"), delivering S1 pages, escalations, notification
emails and webhooks from the database (helpdesk/pager.py). Runs until SIGTERM or Ctrl-C; `--once`
delivers what is due now and exits.

Run one beside the Celery workers (docker compose's `outbox` service, `make run`); more are safe.
"""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from helpdesk import outbox
from helpdesk.pager import Pager

#: Seconds the start waits for the listener before saying it runs.
LISTEN_WAIT = 10.0


class Command(BaseCommand):
    help = "Deliver the outbox (pages, emails, webhooks) from the database until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Deliver what is due now, then exit.")
        parser.add_argument(
            "--poll",
            type=float,
            default=settings.OUTBOX_POLL_SECONDS,
            help="Seconds between two looks at the database when nothing wakes the process "
            "(default: OUTBOX_POLL_SECONDS).",
        )
        parser.add_argument(
            "--grace",
            type=float,
            default=settings.OUTBOX_GRACE_SECONDS,
            help="Seconds a row's Celery task has to send it before this process does "
            "(default: OUTBOX_GRACE_SECONDS; --once takes everything due, without one).",
        )

    def handle(self, *args, once: bool, poll: float, grace: float, **options):
        if poll <= 0 or grace < 0:
            raise CommandError("--poll must be a positive number of seconds, --grace not negative.")
        outbox.disable_fast_path()  # what this process writes, it delivers itself
        if once:
            Pager(poll=poll).deliver_due()
            return
        pager = Pager(poll=poll, grace=grace)
        pager.start()
        names = ", ".join(pager.lanes)
        woken = "a poll"
        if pager.listener is not None:
            # Said once it LISTENs (what starts it may wait for this line); it polls meanwhile anyway.
            listening = pager.listener.listening.wait(timeout=LISTEN_WAIT)
            woken = "LISTEN/NOTIFY and a poll" if listening else "a poll until it can LISTEN, and a poll"
        self.stdout.write(
            f"Outbox delivering {names} {grace:g} s after they are due; woken by {woken} every {poll:g} s. "
            "Ctrl-C stops it."
        )

        def stop(signum, frame):
            pager.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not pager.stopping.wait(1.0):
            pass
        if not pager.stop():
            raise CommandError("An outbox thread did not finish its attempt in time.")
        self.stdout.write("Outbox stopped.")
