"""Template tags for the console's pages: the severity suggested at creation beside the one chosen, and
the customer's satisfaction rating. Self-contained, so any console page can show them with one line:

    {% load self_service %}
    {% severity_suggestion original %}    {# on the ticket page #}
    {% satisfaction_rating ticket %}      {# on the ticket page, or in a row of the customer profile #}

`satisfaction_rating` costs one query per ticket unless the tickets were read with
`tickets.satisfaction.with_current_rating` (then none): a list should use it.
"""

from __future__ import annotations

from django import template

from tickets import satisfaction
from tickets.models import Severity

register = template.Library()


@register.inclusion_tag("admin/tickets/self_service/severity_suggestion.html")
def severity_suggestion(ticket) -> dict:
    suggested = ticket.suggested_severity
    return {
        "suggested": suggested,
        "label": Severity(suggested).label if suggested else "",
        "reason": ticket.suggested_severity_reason,
        "chosen": ticket.severity,
        "same": suggested == ticket.severity,
    }


@register.inclusion_tag("admin/tickets/self_service/satisfaction.html")
def satisfaction_rating(ticket) -> dict:
    row = satisfaction.current_rating(ticket) if ticket.pk else None
    return {"rating": row, "can_be_rated": satisfaction.can_be_rated(ticket)}
