"""What the ticket services check and clean before they write, shared by creation (`tickets.py`) and
changes (`changes.py`): the fields a ticket is filed and edited with, a one-line subject, the candidates,
and that a closed ticket takes no change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError

from tickets import intake as intake_schema
from tickets.models import Candidate, Status, Ticket

#: Intake fields a ticket is created with (and agents may edit), as the intake schema lists them.
#: Subject and description are separate.
INTAKE_FIELDS = intake_schema.FIELD_NAMES
EDITABLE_FIELDS = ("subject", "description", *INTAKE_FIELDS)


def single_line(text: str | None) -> str:
    """A subject is one line (it becomes an email's Subject header): runs of whitespace, line breaks
    included, become one space."""
    return " ".join((text or "").split())


def clean_candidates(candidates: Iterable[Mapping]) -> list[Candidate]:
    rows, errors = [], {}
    for index, data in enumerate(candidates):
        row = Candidate(name=(data.get("name") or "").strip(), email=(data.get("email") or "").strip())
        if not row.name and not row.email:
            continue  # an empty line in a form is not a candidate
        try:
            # Its one constraint (a name or an email) is the check above; validating it costs a query.
            row.full_clean(exclude=["ticket"], validate_constraints=False)
        except ValidationError as exc:
            errors[f"candidates[{index}]"] = exc.messages
        rows.append(row)
    if errors:
        raise ValidationError(errors)
    return rows


def check_not_closed(ticket: Ticket) -> None:
    if ticket.status == Status.CLOSED:
        raise ValidationError({"status": "The ticket is closed; open a follow-up ticket instead."})
