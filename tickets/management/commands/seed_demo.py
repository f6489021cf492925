"""`python manage.py seed_demo`: the demo organizations, people and tickets, and the logins to try them.

Safe to run on every start: a second run creates nothing and prints the same logins. `--tickets N`
adds N benchmark tickets on top (each run adds N more).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tickets.demo.bulk import DEFAULT_BATCH_SIZE, generate_benchmark_tickets
from tickets.demo.seed import SeedResult, seed_demo


class Command(BaseCommand):
    """Seed the demo (idempotent), optionally add benchmark tickets, print the logins."""

    help = (
        "Load the demo data (3 organizations, their customers, 2 agents, a superuser and ~50 tickets with "
        "their history) if it is missing, optionally add benchmark tickets, and print the logins."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--tickets",
            type=int,
            default=0,
            metavar="N",
            help="Also insert N benchmark tickets over the past year with their conversations (PostgreSQL).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            metavar="N",
            help=f"Benchmark tickets per transaction (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--password",
            help="One password for every demo login, instead of the per-kind demo passwords.",
        )
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Also set the demo password on demo users that already exist.",
        )

    def handle(self, *args, tickets: int, batch_size: int, password, reset_passwords: bool, **options):
        if tickets < 0:
            raise CommandError("--tickets must be zero or more.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        now = timezone.now()
        result = seed_demo(password=password, reset_passwords=reset_passwords, now=now)
        self._report(result)
        if tickets:
            self._benchmark(result, tickets, batch_size, now)
        self._print_logins(result)

    def _report(self, result: SeedResult) -> None:
        created = (result.organizations_created, result.users_created, result.tickets_created)
        if any(created):
            self.stdout.write(
                self.style.SUCCESS(
                    "Demo data: created {} organizations, {} users, {} tickets.".format(*created)
                )
            )
        else:
            self.stdout.write("Demo data already present: nothing created.")
        if result.passwords_reset:
            self.stdout.write(f"Reset the password of {result.passwords_reset} existing demo users.")

    def _benchmark(self, result: SeedResult, count: int, batch_size: int, now) -> None:
        self.stdout.write(f"Inserting {count:,} benchmark tickets in batches of {batch_size:,}…")
        progress = _ProgressBar(self.stdout, count)
        started = time.monotonic()
        generate_benchmark_tickets(
            count=count,
            organizations=result.organizations,
            customers=result.customers,
            agents=result.agents,
            now=now,
            batch_size=batch_size,
            progress=progress,
        )
        progress.finish()
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Inserted {count:,} benchmark tickets in {elapsed:.1f} s ({count / elapsed:,.0f} tickets/s)."
            )
        )

    def _print_logins(self, result: SeedResult) -> None:
        site = settings.SITE_URL.rstrip("/")
        width = max(len(login.username) for login in result.logins)
        rule = "=" * 78
        lines = [rule, "Demo logins"]
        sections = (
            ("Agent console", f"{site}/admin/", ("superuser", "agent")),
            ("Customer portal", f"{site}/portal/", ("customer",)),
        )
        for title, url, kinds in sections:
            lines.append(f"  {title}: {url}")
            for login in result.logins:
                if login.kind in kinds:
                    password = login.password if login.password_matches else "(changed since seeding)"
                    lines.append(f"    {login.username:<{width}}  {password:<24}  {login.detail}")
        if not all(login.password_matches for login in result.logins):
            lines.append("  Some passwords were changed after seeding; --reset-passwords restores them.")
        lines.append(rule)
        self.stdout.write(self.style.MIGRATE_HEADING(lines[0]))
        for line in lines[1:-1]:
            self.stdout.write(line)
        self.stdout.write(self.style.MIGRATE_HEADING(lines[-1]))


class _ProgressBar:
    """A one-line progress bar redrawn with \\r on a terminal; one line per batch in logs and pipes."""

    WIDTH = 30

    def __init__(self, out, total: int):
        self.out = out
        self.total = total
        self.tty = out.isatty()
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed else 0.0
        filled = self.WIDTH * done // total
        line = (
            f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done:>{len(f'{total:,}')},}/{total:,} tickets"
            f"  {rate:,.0f}/s"
        )
        if self.tty:
            self.out.write("\r" + line, ending="")
            self.out.flush()
        else:
            self.out.write(line)

    def finish(self) -> None:
        if self.tty:
            self.out.write("")  # end the redrawn line
