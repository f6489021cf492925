"""Whom a mail may speak for: the email channel's rules on sender authentication.

A From header is typed by the sender, so the channel believes it only as far as the receiving server's
verdict (`tickets.channels.mail_auth`, from the authserv-ids in EMAIL_IN_TRUSTED_AUTHSERV_IDS) goes:

- **Agents' addresses** post public agent replies to any organization's customer, which meet SLA
  clocks and are emailed on: such a mail must pass DMARC. Without any trusted verdict it is refused
  too, unless EMAIL_IN_AGENT_REPLIES_WITHOUT_AUTH says the relay in front accepts nothing unchecked.
- **Customers**: a mail whose DMARC failed is held. Without a trusted verdict customer mail is taken
  as before (most deployments have none configured, and a customer can only reach their own
  organization). An organization admin answering a colleague's ticket acts for someone else: once a
  trusted server judges the mail, only a pass will do.
- **Unknown senders** become accounts (EMAIL_IN_UNKNOWN_SENDERS=open) only on a pass.
- **Automatic answers** (refusals, the unknown-sender pointer) go to an address taken from the mail:
  only on a pass, so a forged From cannot make us mail a victim (backscatter).

A mail that fails a rule raises `Held`: it is quarantined with the reason and its bytes, nothing is
posted or sent, and an agent may release it from the console (the release bypasses these rules only).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from email.message import EmailMessage as MimeMessage

from django.conf import settings

from tickets.channels import mail_auth

logger = logging.getLogger(__name__)

#: How the reason of every held mail begins (the console filters and the fuzz tests look for it).
HELD = "Held, sender not authenticated: "


class Held(Exception):
    """A mail whose verdict does not prove the sender it claims; the message is the reason recorded."""


def sender_verdict(msg: MimeMessage, sender: str) -> mail_auth.Verdict:
    """The trusted receiving server's verdict on `sender`'s domain (see `mail_auth.verdict`)."""
    values = []
    try:
        headers = msg.get_all("Authentication-Results") or []
    except Exception:  # noqa: BLE001 - unreadable headers prove nothing: no verdict
        headers = []
    for header in headers:
        try:
            values.append(str(header))
        except Exception:  # noqa: BLE001 - one unreadable header is one that does not count
            logger.info("An unreadable Authentication-Results header was ignored")
    return mail_auth.verdict(
        values,
        trusted_ids=settings.EMAIL_IN_TRUSTED_AUTHSERV_IDS,
        from_domain=sender.rpartition("@")[2],
    )


@dataclass(frozen=True)
class Trust:
    """A mail's verdict, and whether an agent released it (which stands in for a pass)."""

    verdict: mail_auth.Verdict = field(default_factory=mail_auth.Verdict)
    released: bool = False

    @property
    def passed(self) -> bool:
        return self.released or self.verdict.result == mail_auth.PASS

    def check_agent(self) -> None:
        """Raise Held unless mail from an agent's address may be posted."""
        if self.passed:
            return
        if not self.verdict.trusted and settings.EMAIL_IN_AGENT_REPLIES_WITHOUT_AUTH:
            return
        raise Held(
            f"{HELD}mail from an agent's address is posted only when it passes DMARC; "
            f"verdict: {self.verdict.describe()}."
        )

    def check_customer(self, *, for_someone_else: bool) -> None:
        """Raise Held if a customer's mail failed DMARC, or acts on a colleague's ticket without a pass
        while a trusted server judged it."""
        if self.released:
            return
        if self.verdict.result == mail_auth.FAIL:
            raise Held(f"{HELD}it failed DMARC for the sender's domain; verdict: {self.verdict.describe()}.")
        if for_someone_else and self.verdict.trusted and not self.passed:
            raise Held(
                f"{HELD}an organization admin's mail on a colleague's ticket is posted only when it passes "
                f"DMARC; verdict: {self.verdict.describe()}."
            )

    def check_new_account(self) -> None:
        """Raise Held unless an unknown sender may become a requester (and be mailed as one)."""
        if not self.passed:
            raise Held(
                f"{HELD}an unknown sender becomes a requester only when the mail passes DMARC; "
                f"verdict: {self.verdict.describe()}."
            )

    def may_answer(self) -> bool:
        """Whether an automatic answer may go to the mail's From address (no backscatter to a victim)."""
        return self.passed
