"""`manage.py rebuild_dashboard`: recompute the SLA dashboard's roll-ups from every ticket and clock.

The triggers and the every-minute refresh keep them current; this is for after a restore, a bulk load
with the triggers off, or a change to how the roll-ups count (one set-based pass: under a minute at a
million tickets).
"""

import time

from django.core.management.base import BaseCommand

from tickets import rollups


class Command(BaseCommand):
    help = "Recompute the SLA dashboard's daily roll-ups from all tickets and clocks (PostgreSQL)."

    def handle(self, *args, **options):
        if not rollups.available():
            self.stdout.write("Nothing to rebuild: on SQLite the dashboard reads the tickets themselves.")
            return
        started = time.monotonic()
        tickets = rollups.rebuild()
        seconds = time.monotonic() - started
        self.stdout.write(f"Rebuilt the dashboard's roll-ups from {tickets:,} tickets in {seconds:.1f} s.")
