"""Satisfaction ratings: after a ticket is resolved its requester is asked "How did we do?", on the ticket's
page and by two links in the resolution email, good and bad, that work without signing in.

- `satisfaction_rate` records a rating (and its optional comment) for the ticket's current resolution:
  only its requester, only while it is resolved (or closed after a resolution); a later rating of the same
  resolution replaces the first. Each change is an audit event through the spine (`satisfaction_rated`),
  which the webhook outbox announces; the same rating again changes nothing and records nothing.
- `rating_links` makes the email's links: signed (Django's signing with SECRET_KEY and a salt of their
  own), naming the ticket, the resolution and the rating, and expiring after SATISFACTION_LINK_MAX_AGE.
  `read_token` checks one: a forged, altered or expired token, or one for an earlier resolution (the
  ticket was reopened since), is refused and changes nothing; a replayed one finds its rating already
  recorded and changes nothing either.
- `figures` gives the dashboard its numbers: ratings by week, severity and agent, and deflections by week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import TruncWeek
from django.utils import timezone

from tickets import events
from tickets.locks import ticket_lock
from tickets.models import Deflection, Rating, SatisfactionRating, Status, Ticket

SALT = "tickets.satisfaction.link"
COMMENT_MAX_LENGTH = 2000


def link_max_age() -> timedelta:
    return timedelta(days=settings.SATISFACTION_LINK_MAX_AGE_DAYS)


def with_current_rating(tickets):
    """`tickets` annotated with their current rating's fields (`rating_value`, `rating_comment`,
    `rating_at`: the latest rated resolution's), read in the same query as the tickets: a list costs no
    query more, whatever its length. `current_rating` reads them."""
    latest = SatisfactionRating.objects.filter(ticket=OuterRef("pk")).order_by("-resolved_at")
    return tickets.annotate(
        rating_value=Subquery(latest.values("rating")[:1]),
        rating_comment=Subquery(latest.values("comment")[:1]),
        rating_at=Subquery(latest.values("rated_at")[:1]),
    )


def current_rating(ticket: Ticket) -> SatisfactionRating | None:
    """The rating of the ticket's latest rated resolution: from the annotations of `with_current_rating`
    (unsaved, its three fields only), else one query."""
    if hasattr(ticket, "rating_value"):
        if ticket.rating_value is None:
            return None
        return SatisfactionRating(
            ticket=ticket,
            rating=ticket.rating_value,
            comment=ticket.rating_comment,
            rated_at=ticket.rating_at,
        )
    return ticket.satisfaction_ratings.order_by("-resolved_at", "-rated_at").first()


def can_be_rated(ticket: Ticket) -> bool:
    """Resolved, or closed after a resolution."""
    return ticket.resolved_at is not None and ticket.status in (Status.RESOLVED, Status.CLOSED)


def satisfaction_rate(
    *, ticket: Ticket, actor, rating: str, comment: str | None = None, at: datetime | None = None
) -> SatisfactionRating:
    """Record `actor`'s rating of the ticket's current resolution. `comment` None keeps the comment
    already given (a one-click link changes the rating only). The requester only, after resolution."""
    if actor is None or not actor.is_authenticated or actor.pk != ticket.requester_id:
        raise PermissionDenied("Only the ticket's requester rates its resolution.")
    return _rate(ticket_id=ticket.pk, actor=actor, rating=rating, comment=comment, at=at)


def _rate(*, ticket_id: int, actor, rating: str, comment: str | None, at: datetime | None, resolution=None):
    at = at or timezone.now()
    if rating not in Rating.values:
        raise ValidationError({"rating": f"Choose one of: {', '.join(Rating.values)}."})
    if comment is not None:
        comment = comment.strip()
        if len(comment) > COMMENT_MAX_LENGTH:
            raise ValidationError({"comment": f"At most {COMMENT_MAX_LENGTH} characters."})
    with transaction.atomic():
        ticket = ticket_lock(ticket_id)
        if not can_be_rated(ticket):
            raise ValidationError({"status": "A ticket can be rated once it is resolved."})
        if resolution is not None and _stamp(ticket.resolved_at) != resolution:
            raise ValidationError({"token": "This link was for an earlier resolution of the ticket."})
        row = SatisfactionRating.objects.filter(ticket=ticket, resolved_at=ticket.resolved_at).first()
        if row is not None and row.rating == rating and (comment is None or comment == row.comment):
            return row  # the same answer again (a replayed link, a double click): nothing changes
        if row is None:
            row = SatisfactionRating(ticket=ticket, resolved_at=ticket.resolved_at)
        row.rating = rating
        if comment is not None:
            row.comment = comment
        row.rated_at = at
        row.rated_by = actor
        row.severity = ticket.severity
        row.agent_id = ticket.assignee_id
        row.save()
        events.satisfaction_rated(ticket=ticket, actor=actor, at=at, rating=rating, comment=row.comment)
    return row


# --- the email's links -------------------------------------------------------------------------------


def _stamp(instant: datetime | None) -> int:
    """A resolution's identity in a token: its instant in microseconds."""
    return int(instant.timestamp() * 1_000_000) if instant else 0


def make_token(ticket: Ticket, rating: str) -> str:
    return signing.dumps(
        {"t": ticket.pk, "r": rating, "n": _stamp(ticket.resolved_at)}, salt=SALT, compress=False
    )


@dataclass(frozen=True)
class LinkClaim:
    ticket_id: int
    rating: str
    resolution: int


def read_token(token: str) -> LinkClaim:
    """The claim of a link's token; ValidationError({"token": …}) for a forged, altered or expired one."""
    try:
        data = signing.loads(token or "", salt=SALT, max_age=link_max_age())
    except signing.SignatureExpired as exc:
        raise ValidationError(
            {"token": "This link has expired: rate the ticket from its page instead."}
        ) from exc
    except signing.BadSignature as exc:
        raise ValidationError({"token": "This link is not valid."}) from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("t"), int)
        or data.get("r") not in Rating.values
        or not isinstance(data.get("n"), int)
    ):
        raise ValidationError({"token": "This link is not valid."})
    return LinkClaim(ticket_id=data["t"], rating=data["r"], resolution=data["n"])


def rate_by_link(*, claim: LinkClaim, rating: str | None = None, comment: str | None = None, at=None):
    """Record a rating from an email link (no sign-in: the signature stands for the requester). `rating`
    may differ from the link's (the page lets the customer change their mind)."""
    ticket = Ticket.objects.select_related("requester").filter(pk=claim.ticket_id).first()
    if ticket is None:
        raise ValidationError({"token": "This link is not valid."})
    return _rate(
        ticket_id=ticket.pk,
        actor=ticket.requester,
        rating=rating or claim.rating,
        comment=comment,
        at=at,
        resolution=claim.resolution,
    )


def rating_links(ticket: Ticket) -> dict[str, str]:
    """The resolution email's two links, {"good": url, "bad": url}."""
    base = settings.SITE_URL.rstrip("/")
    return {rating: f"{base}/support/rate/{make_token(ticket, rating)}/" for rating in Rating.values}


# --- the dashboard's figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    by_week: list[dict]  # {"week", "good", "bad", "percent"}
    by_severity: list[dict]  # {"severity", "good", "bad", "percent"}
    by_agent: list[dict]  # {"agent", "good", "bad", "percent"}
    deflections_by_week: list[dict]  # {"week", "opened", "deflected"}


def _counts(rows, key: str) -> list[dict]:
    out = []
    for row in rows:
        good, bad = row["good"], row["bad"]
        out.append(
            {
                key: row[key],
                "good": good,
                "bad": bad,
                "percent": round(100 * good / (good + bad)) if good + bad else None,
            }
        )
    return out


def figures(start: datetime, end: datetime) -> Figures:
    """Ratings made and suggested articles opened in [start, end): five queries whatever the numbers."""
    ratings = SatisfactionRating.objects.filter(rated_at__gte=start, rated_at__lt=end)
    tally = {
        "good": Count("pk", filter=Q(rating=Rating.GOOD)),
        "bad": Count("pk", filter=Q(rating=Rating.BAD)),
    }
    by_week = ratings.annotate(week=TruncWeek("rated_at")).values("week").annotate(**tally).order_by("week")
    by_severity = ratings.values("severity").annotate(**tally).order_by("severity")
    by_agent = (
        ratings.values("agent", "agent__username", "agent__first_name", "agent__last_name")
        .annotate(**tally)
        .order_by("agent__username")
    )
    agents = [
        {
            "agent": (
                f"{row['agent__first_name']} {row['agent__last_name']}".strip() or row["agent__username"]
                if row["agent"]
                else "Unassigned"
            ),
            "good": row["good"],
            "bad": row["bad"],
        }
        for row in by_agent
    ]
    opened = (
        Deflection.objects.filter(opened_at__gte=start, opened_at__lt=end)
        .annotate(week=TruncWeek("opened_at"))
        .values("week")
        .annotate(opened=Count("pk"), deflected=Count("pk", filter=Q(ticket__isnull=True)))
        .order_by("week")
    )
    return Figures(
        by_week=_counts([{**row, "week": row["week"].date()} for row in by_week], "week"),
        by_severity=_counts(list(by_severity), "severity"),
        by_agent=_counts(agents, "agent"),
        deflections_by_week=[
            {"week": row["week"].date(), "opened": row["opened"], "deflected": row["deflected"]}
            for row in opened
        ],
    )
