"""`manage.py runstack`: the web server, a Celery worker, the pager worker, Celery beat and the outbox
process together, for `make run`.

The web server is uvicorn on the ASGI application (helpdesk/asgi.py), as in production: pages and the
live-update WebSockets under /ws/ from one process, reloaded on code changes unless --no-reload.

The workers and beat use Redis when REDIS_URL is set and the embedded filesystem broker otherwise, so
escalations work on a machine with no server installed. The outbox process (`manage.py outbox`) reads
the database: LISTEN/NOTIFY on PostgreSQL, a poll every OUTBOX_POLL_SECONDS on SQLite. Ctrl-C (or
SIGTERM) stops them all; if one of them dies, the others are stopped too and the command fails.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from helpdesk.web_worker import WS_MAX_SIZE


class Command(BaseCommand):
    help = "Run the web server, the Celery workers, Celery beat and the outbox process until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument(
            "--no-reload", action="store_true", help="Do not restart the web server on code changes."
        )

    def handle(self, *args, addrport: str, no_reload: bool, **options):
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "helpdesk"]
        host, _, port = addrport.rpartition(":")
        commands = {
            "web": [
                python,
                "-m",
                "uvicorn",
                "helpdesk.asgi:application",
                "--host",
                host or "127.0.0.1",
                "--port",
                port,
                "--lifespan",
                "off",  # Django has no start-up or shutdown hooks to run
                "--ws-max-size",
                str(WS_MAX_SIZE),
                *([] if no_reload else ["--reload"]),
            ],
            # The worker takes everything; the pager only escalations, so pages never queue behind emails.
            "worker": [
                *celery,
                "worker",
                "--loglevel=INFO",
                "--concurrency=2",
                "-n",
                "worker@%h",
                "-Q",
                f"{settings.CELERY_TASK_DEFAULT_QUEUE},{settings.CELERY_ESCALATION_QUEUE}",
            ],
            "pager": [
                *celery,
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                "-n",
                "pager@%h",
                "-Q",
                settings.CELERY_ESCALATION_QUEUE,
            ],
            "beat": [
                *celery,
                "beat",
                "--loglevel=INFO",
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
            ],
            # Delivers from the database what the broker lost or never got: pages, emails, webhooks.
            "outbox": [python, "manage.py", "outbox"],
        }
        broker = "Redis" if settings.REDIS_URL else f"embedded broker in {settings.CELERY_BROKER_DIR}"
        self.stdout.write(
            f"Starting web on http://{addrport}/ (live updates on ws://{addrport}/ws/), a Celery worker, "
            f"a pager worker and beat ({broker}), and the outbox process. Ctrl-C stops all."
        )
        processes = {
            name: subprocess.Popen(command, cwd=settings.BASE_DIR)  # noqa: S603 - our own fixed commands
            for name, command in commands.items()
        }

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        failed = None
        try:
            while not stopping and failed is None:
                for name, process in processes.items():
                    if process.poll() is not None:
                        failed = name
                        break
                time.sleep(0.5)
        finally:
            self._stop_all(processes)
        if failed and not stopping:
            raise CommandError(
                f"{failed} exited with code {processes[failed].returncode}; stopped the others."
            )
        self.stdout.write("Stopped.")

    def _stop_all(self, processes: dict[str, subprocess.Popen]) -> None:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
