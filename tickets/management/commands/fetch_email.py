"""`python manage.py fetch_email [--source URL]`: read new customer mail into tickets once, print a summary.

The source defaults to EMAIL_IN_URL (`maildir:///path`, `imaps://user:password@host/INBOX`, `imap://…`).
Malformed mails are quarantined and counted, never fatal; a source that cannot be reached is an error.
Beat runs the same fetch every minute (`tickets.tasks.fetch_email`) when EMAIL_IN_URL is set.
"""

from __future__ import annotations

import imaplib

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tickets.channels.email_in import fetch_from
from tickets.channels.mail_sources import MailSourceError, source_from_url


class Command(BaseCommand):
    help = "Read new mail from the email source into tickets and replies, then print what became of it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--source",
            metavar="URL",
            default=None,
            help="maildir:///path, imaps://user:password@host[:port]/FOLDER or imap://… "
            "(default: the EMAIL_IN_URL setting).",
        )

    def handle(self, *args, source=None, **options):
        url = source or settings.EMAIL_IN_URL
        if not url:
            raise CommandError(
                "No mail source configured: set EMAIL_IN_URL (e.g. imaps://user:password@host/INBOX or "
                "maildir:///var/mail/support) or pass --source URL."
            )
        try:
            mail_source = source_from_url(url)
            summary = fetch_from(mail_source)
        except (MailSourceError, imaplib.IMAP4.error, OSError) as exc:
            # The URL may hold a password: the message names the source without it.
            raise CommandError(f"Could not read mail: {exc}") from exc
        self.stdout.write(f"{mail_source}: {summary}")
        for result in summary.results:
            if result.status == "quarantined":
                self.stderr.write(f"Quarantined {result.message_id}: {result.reason}")
