"""`manage.py housekeeping`: what beat runs daily, by hand (expired Idempotency-Keys, orphan files)."""

from django.core.management.base import BaseCommand

from tickets import housekeeping


class Command(BaseCommand):
    help = "Forget expired Idempotency-Keys and delete attachment files no attachment refers to."

    def handle(self, *args, **options):
        result = housekeeping.run()
        self.stdout.write(
            f"{result.idempotency_keys} idempotency key(s) expired; "
            f"{result.orphan_files} orphan file(s) deleted ({result.orphan_bytes} bytes)."
        )
