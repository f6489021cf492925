"""The severity suggestion: from the intake answers and the words of the subject, description and error
message, which severity the written definitions point to, and why, in one sentence the customer reads
("Your whole organization is affected and it is happening now: S1 Critical — on-call is paged at once").

Rule-based, so that every suggestion can be explained and tested (tests/tickets/test_severity_suggestion.py
holds a table of realistic intakes). The rules follow the definitions of the response-target chart:

- **S1 Critical**: the service unusable for critical functions (it is down, nobody can sign in or
  schedule) for the whole organization, happening now; or data corrupted or lost.
- **S2 High**: a major function broken with no workaround for several users or everyone; severe slowness
  for several users; wrong calculated values (times, counts, time zones, double bookings).
- **S3 Medium**: something broken with a workaround, or affecting one person — the default for a problem.
- **S4 Low**: cosmetic issues (a typo, a misaligned button, wording) and help-system questions, whatever
  words of alarm come with them: "critical typo in an email template" is S4.
- **S5 Enhancement**: feature requests (the "why" answered, or a request in the words) with nothing broken.

Words of alarm alone ("urgent", "critical", "ASAP") never raise a severity: the definitions decide.

**Interview urgency.** When the intake names an interview that starts before the suggested severity's
first response would arrive (computed by the SLA engine on the organization's support plan and calendar),
the suggestion is raised to the least severity that answers in time — at most S2, since only S1's
definition makes an S1 — and says so: "Your interview starts in 1 h 30 min, before an S3 answer would
arrive: S2 suggested". Feature requests are not raised: an interview does not wait on them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from sla.calendars import calendar_for, policy, response_target
from sla.models import Metric
from tickets.models import ImpactScope, Occurrence, Severity

#: The answers the suggestion reads (the API's and the form's names for them).
INPUTS = (
    "subject",
    "description",
    "error_message",
    "affected_role",
    "impact_scope",
    "occurrence",
    "reason",
    "product_area",
    "feature",
    "interview_starts_at",
    "interview_ends_at",
)


def _words(*patterns: str) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")", re.IGNORECASE)


# Data corrupted, lost or overwritten.
_CORRUPTION = _words(
    r"data (?:is |was |got |are |were |has been |have been )?(?:corrupt|lost|loss|gone|wiped|deleted|"
    r"overwritten)",
    r"corrupt",
    r"(?:lost|deleted|wiped|erased|overwrote|overwritten) (?:all|every|our|the) ",
    # "interviews for tomorrow vanished": a few words may come between the thing and its loss.
    r"(?:records?|candidates?|interviews?|data|feedback)\b[^.!?]{0,40}?\b"
    r"(?:disappeared|vanished|(?:have |has )?been (?:deleted|wiped))",
    r"mixed up (?:between|with) (?:candidates|organizations|accounts)",
    r"another (?:company|organization|customer)'?s? (?:data|candidates)",
)
# The service, or a critical function of it, unusable.
_OUTAGE = _words(
    r"(?:site|app|platform|service|system|portal|product|everything) (?:is |seems |went )?(?:down|"
    r"offline|unreachable|unavailable)",
    r"outage",
    r"down for (?:everyone|all|us)",
    r"(?:no ?one|nobody|none of us|all (?:of )?(?:our |the )?users?) (?:can|could|is able|are able)",
    r"(?:can ?not|can't|cannot|unable to|could not|couldn't) (?:log ?in|sign ?in|access|load|open) "
    r"(?:the )?(?:app|platform|site|product|anything|goodtime)",
    r"(?:can ?not|can't|cannot|unable to) (?:log ?in|sign ?in)",
    r"unusable",
    r"(?:502|503|504|500) (?:error|bad gateway|service unavailable)",
    r"(?:error|http) (?:502|503|504|500)",
    r"internal server error",
    r"blank (?:white )?(?:page|screen)",
    r"completely (?:broken|down|unusable)",
    r"(?:all|every) (?:interviews?|scheduling|invites?|invitations?) (?:is |are )?(?:failing|broken|"
    r"stopped|down)",
)
# Values the product computes that are wrong.
_WRONG_VALUES = _words(
    r"wrong (?:time|date|day|hour|count|number|total|value|result|calculation|time ?zone|slot|"
    r"duration|interviewer)",
    r"incorrect(?:ly)? (?:time|date|calculat|count|number|total|value|time ?zone|slot|duration)",
    r"(?:miscalculat|calculated wrong|wrongly calculated|calculates? wrong)",
    r"(?:an|one) hour (?:off|early|late|ahead|behind)",
    r"(?:off by|shifted by) (?:an? |one |\d+ )(?:hour|day)",
    r"double[- ]?book",
    r"(?:numbers|counts|totals|metrics|reports?) (?:are |is )?(?:wrong|off|incorrect|don't add up|do "
    r"not add up)",
    r"time ?zones? (?:is |are )?(?:wrong|incorrect|off)",
)
_SLOW = _words(
    r"(?:very|extremely|really|super|painfully|so) slow",
    r"slow(?:ness| to load| loading)",
    r"takes? (?:minutes|forever|ages|\d+ (?:seconds|minutes))",
    r"tim(?:es|ing|ed) ?out",
    r"hangs",
    r"freez(?:es|ing)",
)
_NO_WORKAROUND = _words(
    r"no workaround", r"no way (?:around|to work around)", r"blocked", r"blocking", r"stuck"
)
_WORKAROUND = _words(r"workaround", r"work around", r"manually", r"instead", r"for now we")
_BROKEN = _words(
    r"(?:not|isn't|aren't|doesn't|don't|won't|didn't|never) (?:work|working|show|showing|load|loading|"
    r"sync|syncing|send|sending|sent|appear|appearing|save|saving|update|updating)",
    r"broken",
    r"error",
    r"fail",
    r"(?:can ?not|can't|cannot|unable to|could not|couldn't)",
    r"missing",
    r"bug",
    r"crash",
    r"disappear",
    r"stopped",
    r"wrong",
    r"exception",
)
_COSMETIC = _words(
    r"typo",
    r"spelling",
    r"misspel",
    r"cosmetic",
    r"misalign",
    r"alignment",
    r"(?:font|colou?r|icon|logo|spacing|padding) (?:is |looks |size |wrong|off)",
    r"wording",
    r"grammar",
    r"capitali[sz]",
    r"looks? (?:odd|weird|off|ugly)",
    r"overlap",
    r"(?:text|label|button) (?:is )?(?:cut off|truncated|overlapping)",
)
# The help system itself: an S4 by definition, even when something in it is "broken".
_HELP_DOCS = _words(
    r"help (?:article|center|centre|page|docs?)",
    r"documentation",
    r"knowledge base",
    r"tooltip",
)
# A question about how to use the product (S4 when nothing is broken).
_HELP_SYSTEM = _words(
    r"how (?:do|can|should) (?:i|we)",
    r"how to",
    r"is there a way to",
    r"where (?:do|can) (?:i|we) find",
    r"question about",
)
_FEATURE = _words(
    r"feature request",
    r"would (?:like|love) (?:to (?:have|see|be able)|a|an|the ability)",
    r"it would be (?:nice|great|helpful|useful)",
    r"(?:could|can) you (?:please )?add",
    r"please add",
    r"(?:an )?option to",
    r"ability to",
    r"enhancement",
    r"suggestion",
    r"wish(?:list)?",
    r"support for",
    r"request(?:ing)? (?:a|an|that)",
)


@dataclass(frozen=True)
class Suggestion:
    severity: str
    reason: str
    #: Which rule decided (stable keys, for tests and the console).
    rule: str

    @property
    def label(self) -> str:
        return Severity(self.severity).label

    def as_dict(self) -> dict:
        return {"severity": self.severity, "label": self.label, "reason": self.reason, "rule": self.rule}


_AFTER = {
    Severity.S1: "on-call is paged at once",
    Severity.S2: "we answer within 4 business hours",
}


def _sentence(why: str, severity: str) -> str:
    label = Severity(severity).label
    tail = _AFTER.get(severity)
    return f"{why}: {label}" + (f" — {tail}." if tail else ".")


def suggest_severity(answers: Mapping, *, organization=None, now: datetime | None = None) -> Suggestion:
    """The severity the definitions point to for these intake `answers` (any of INPUTS; missing ones
    count as not answered), with its reason. `organization` gives the support plan and calendar the
    interview urgency counts on (the default plan without one)."""
    now = now or timezone.now()
    base = _by_definition(answers)
    if base.severity in (Severity.S1, Severity.S5):
        return base
    return _interview_urgency(base, answers, organization=organization, now=now)


def _text(answers: Mapping) -> str:
    parts = [answers.get(name) or "" for name in ("subject", "description", "error_message", "feature")]
    return " ".join(str(part) for part in parts)[:20_000]


def _by_definition(answers: Mapping) -> Suggestion:
    text = _text(answers)
    scope = answers.get("impact_scope") or ""
    occurrence = answers.get("occurrence") or ""
    error = str(answers.get("error_message") or "").strip()
    reason = str(answers.get("reason") or "").strip()
    widely = scope in (ImpactScope.SEVERAL_USERS, ImpactScope.WHOLE_ORGANIZATION)
    everyone = scope == ImpactScope.WHOLE_ORGANIZATION
    now_happening = occurrence in (Occurrence.ONGOING, "")
    who = {
        ImpactScope.WHOLE_ORGANIZATION: "Your whole organization is affected",
        ImpactScope.SEVERAL_USERS: "Several users are affected",
        ImpactScope.JUST_ME: "Only you are affected",
    }.get(scope, "")

    if _CORRUPTION.search(text):
        return Suggestion(
            Severity.S1, _sentence("Data looks corrupted or lost", Severity.S1), "data_corruption"
        )
    outage = bool(_OUTAGE.search(text))
    if outage and everyone and occurrence == Occurrence.ONGOING:
        why = "Your whole organization is affected and it is happening now"
        return Suggestion(Severity.S1, _sentence(why, Severity.S1), "outage_everyone_now")

    # Cosmetic and help-system issues before any broken-sounding words: a typo stays S4 however it is
    # described ("critical typo", "the wording is broken").
    if _COSMETIC.search(text) and not outage:
        return Suggestion(Severity.S4, _sentence("It is a cosmetic issue", Severity.S4), "cosmetic")
    if _HELP_DOCS.search(text) and not outage:
        why = "It is about our help articles or documentation"
        return Suggestion(Severity.S4, _sentence(why, Severity.S4), "help_system")

    broken = bool(error) or bool(_BROKEN.search(text)) or outage
    if not broken and (reason or _FEATURE.search(text)):
        return Suggestion(
            Severity.S5, _sentence("It is a request for a new feature", Severity.S5), "feature_request"
        )
    if _WRONG_VALUES.search(text):
        return Suggestion(Severity.S2, _sentence("Values are calculated wrong", Severity.S2), "wrong_values")
    if outage and widely:
        why = f"{who} and the service cannot be used" + ("" if now_happening else " when it happens")
        return Suggestion(Severity.S2, _sentence(why, Severity.S2), "outage_widely")
    if _SLOW.search(text) and widely:
        return Suggestion(Severity.S2, _sentence(f"{who} by severe slowness", Severity.S2), "severe_slowness")
    if (
        broken
        and widely
        and _NO_WORKAROUND.search(text)
        and not _WORKAROUND.search(_NO_WORKAROUND.sub("", text))
    ):
        return Suggestion(
            Severity.S2, _sentence(f"{who} and there is no workaround", Severity.S2), "no_workaround"
        )
    if broken and everyone and occurrence == Occurrence.ONGOING and not _WORKAROUND.search(text):
        why = "Your whole organization is affected and it is happening now"
        return Suggestion(Severity.S2, _sentence(why, Severity.S2), "broken_everyone_now")
    if not broken and _HELP_SYSTEM.search(text):
        return Suggestion(
            Severity.S4, _sentence("It is a question about how to use the product", Severity.S4), "question"
        )
    if broken or outage or _SLOW.search(text):
        if scope == ImpactScope.JUST_ME:
            why = "Only you are affected"
        elif _WORKAROUND.search(text):
            why = "Something is broken and a workaround exists"
        elif occurrence == Occurrence.ONE_TIME:
            why = "It happened once and is not happening now"
        else:
            why = "Something is broken"
        return Suggestion(Severity.S3, _sentence(why, Severity.S3), "broken")
    return Suggestion(
        Severity.S3,
        _sentence("Nothing points to a higher or lower severity yet", Severity.S3),
        "default",
    )


def first_response_due(severity: str, *, organization=None, now: datetime) -> datetime | None:
    """When a first response to a ticket of `severity` filed now would be due, on the organization's
    support plan and calendar (as the SLA engine will count it); None if the plan sets no target."""
    plan = policy(getattr(organization, "sla_policy_id", None))
    row = response_target(severity, plan.pk)
    target = row.target(Metric.FIRST_RESPONSE) if row is not None else None
    if target is None:
        return None
    duration, clock = target
    return calendar_for(clock, plan.calendar_id).add(now, duration)


def _interview_urgency(base: Suggestion, answers: Mapping, *, organization, now: datetime) -> Suggestion:
    tz = getattr(organization, "zoneinfo", None) or timezone.get_current_timezone()
    starts = _instant(answers.get("interview_starts_at"), tz)
    ends = _instant(answers.get("interview_ends_at"), tz)
    if starts is None or (ends is not None and ends <= now) or (ends is None and starts <= now):
        return base
    due = first_response_due(base.severity, organization=organization, now=now)
    if due is None or due <= starts:
        return base
    # The least severity (from the base upwards, S2 at most) whose first answer comes before the interview.
    raised = Severity.S2
    for candidate in (Severity.S3, Severity.S2):
        if candidate >= base.severity:
            continue
        candidate_due = first_response_due(candidate, organization=organization, now=now)
        if candidate_due is not None and candidate_due <= starts:
            raised = candidate
            break
    if raised >= base.severity:  # already S2: nothing faster short of S1
        return base
    if starts <= now:
        reason = f"Your interview is under way and an {base.severity} answer would come after it"
    else:
        wait = _duration(starts - now)
        reason = f"Your interview starts in {wait}, before an {base.severity} answer would arrive"
    reason += f": {raised} suggested ({Severity(raised).label})."
    return Suggestion(raised, reason, "interview_urgency")


def _instant(value, tz) -> datetime | None:
    """An aware instant from a datetime or an ISO 8601 text; a time without an offset is read in the
    organization's time zone, as the portal's form means it."""
    if not value:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if timezone.is_naive(value):
        value = value.replace(tzinfo=tz)
    return value


def _duration(delta: timedelta) -> str:
    minutes = max(1, round(delta.total_seconds() / 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes and not days:
        parts.append(f"{minutes} min")
    return " ".join(parts) or "1 min"
