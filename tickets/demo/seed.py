"""Seed the demo organizations, their people, two agents, a superuser and ~50 ticket histories.

Everything goes through `tickets.services` with a backdated `at=`, so the audit trail, statuses and
timestamps are exactly what the real workflow would have produced. Running it again creates nothing:
people are looked up by username, organizations by name, and the tickets are only written while the
demo organizations have none.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from tickets import knowledge, satisfaction, services
from tickets.agents import ensure_agents_group
from tickets.demo import data
from tickets.demo.data import OrganizationSpec, Person, Scenario
from tickets.models import Article, Membership, Organization, Status, Ticket

User = get_user_model()

#: How many of the demo tickets end in each status (50 in all).
STATUS_DECK = {"new": 7, "open": 9, "pending": 6, "on_hold": 6, "resolved": 11, "closed": 11}

#: Minutes from creation to the first agent reply, by severity (S1 is answered around the clock).
FIRST_RESPONSE_MINUTES = {
    "S1": (4, 20),
    "S2": (20, 180),
    "S3": (45, 480),
    "S4": (120, 1440),
    "S5": (240, 2400),
}

#: How long ago (hours) a ticket's last recorded change was, by final status: new tickets are fresh,
#: resolved ones recent (older ones would have been closed), closed ones anywhere in the window.
LAST_CHANGE_HOURS_AGO = {
    "new": (0.3, 40),
    "open": (1, 72),
    "pending": (2, 96),
    "on_hold": (3, 144),
    "resolved": (1, 96),
    "closed": (24, 330),
}
HISTORY_DAYS = 21
#: Nothing is recorded closer to "now" than this, so no timestamp can end up in the future.
SAFETY_MARGIN = timedelta(minutes=5)


@dataclass
class Login:
    """One line of the logins block."""

    username: str
    password: str
    kind: str  # "superuser", "agent" or "customer"
    detail: str
    password_matches: bool = True


@dataclass
class SeedResult:
    """What seed_demo created (all zero on a second run) and the logins to print."""

    organizations_created: int = 0
    users_created: int = 0
    tickets_created: int = 0
    passwords_reset: int = 0
    logins: list[Login] = field(default_factory=list)
    organizations: list[Organization] = field(default_factory=list)
    customers: dict[int, list] = field(default_factory=dict)  # organization id -> [User]
    agents: list = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    """One backdated action in a ticket's history, `offset` after its creation."""

    offset: timedelta
    action: str
    value: str = ""


def seed_demo(
    *, password: str | None = None, reset_passwords: bool = False, now: datetime | None = None
) -> SeedResult:
    """Create whatever demo data is missing, in one transaction, and return the logins.

    `password` replaces the per-kind demo passwords. Existing users keep their password unless
    `reset_passwords` is set: a demo command must not quietly overwrite a password someone chose.
    """
    now = now or timezone.now()
    passwords = {
        "superuser": password or data.ADMIN_PASSWORD,
        "agent": password or data.AGENT_PASSWORD,
        "customer": password or data.CUSTOMER_PASSWORD,
    }
    result = SeedResult()
    people = _PeopleSeeder(passwords, reset_passwords, result)
    with transaction.atomic():
        people.ensure_staff()
        for spec in data.ORGANIZATIONS:
            organization, created = Organization.objects.get_or_create(
                name=spec.name, defaults={"timezone": spec.timezone}
            )
            result.organizations_created += created
            result.organizations.append(organization)
            result.customers[organization.pk] = [
                people.ensure_customer(spec, organization, person) for person in spec.people
            ]
        if not Ticket.objects.filter(organization__in=result.organizations).exists():
            result.tickets_created = create_demo_tickets(result, now=now)
    return result


class _PeopleSeeder:
    """Gets or creates demo users, hashing each kind's password once (hashing is deliberately slow)."""

    def __init__(self, passwords: dict[str, str], reset: bool, result: SeedResult):
        self.passwords = passwords
        self.reset = reset
        self.result = result
        self._hashes: dict[str, str] = {}
        self._checked: dict[tuple[str, str], bool] = {}

    def ensure_staff(self) -> None:
        admin = self._ensure(data.ADMIN, "superuser", email=f"{data.ADMIN.username}@{data.SUPPORT_DOMAIN}")
        if not admin.is_superuser:
            raise CommandError(f"User “{admin.username}” exists but is not a superuser; rename it first.")
        self._login(admin, "superuser", data.ADMIN.title)
        group = ensure_agents_group()
        for person in data.AGENTS:
            agent = self._ensure(person, "agent", email=f"{person.username}@{data.SUPPORT_DOMAIN}")
            if not agent.is_staff or agent.is_superuser:
                raise CommandError(f"User “{agent.username}” exists but is not a plain staff user.")
            agent.groups.add(group)  # a no-op when already a member
            self.result.agents.append(agent)
            self._login(agent, "agent", f"{person.full_name}, {person.title}")

    def ensure_customer(self, spec: OrganizationSpec, organization: Organization, person: Person):
        user = self._ensure(person, "customer", email=spec.email(person))
        membership, _ = Membership.objects.get_or_create(
            user=user, defaults={"organization": organization, "role": person.role}
        )
        if user.is_staff or membership.organization_id != organization.pk:
            raise CommandError(f"User “{user.username}” exists but is not a customer of {organization}.")
        role = "organization admin" if membership.is_admin else "requester"
        self._login(user, "customer", f"{person.full_name}, {organization.name} ({role})")
        return user

    def _ensure(self, person: Person, kind: str, *, email: str):
        user, created = User.objects.get_or_create(
            username=person.username,
            defaults={
                "first_name": person.first_name,
                "last_name": person.last_name,
                "email": email,
                "is_staff": kind != "customer",
                "is_superuser": kind == "superuser",
                # A callable, so the deliberately slow hashing only runs when the user is created.
                "password": lambda: self._hash(kind),
            },
        )
        self.result.users_created += created
        if not created and self.reset:
            user.password = self._hash(kind)
            user.save(update_fields=["password"])
            self.result.passwords_reset += 1
        return user

    def _hash(self, kind: str) -> str:
        if kind not in self._hashes:
            encoded = make_password(self.passwords[kind])
            self._hashes[kind] = encoded
            self._checked[(self.passwords[kind], encoded)] = True  # no need to verify what we just hashed
        return self._hashes[kind]

    def _login(self, user, kind: str, detail: str) -> None:
        password = self.passwords[kind]
        key = (password, user.password)
        if key not in self._checked:
            # Users created together share one hash, so this costs one check per kind, not per user.
            self._checked[key] = check_password(password, user.password)
        self.result.logins.append(Login(user.get_username(), password, kind, detail, self._checked[key]))


# --- The ticket histories ------------------------------------------------------------------------


def create_demo_tickets(result: SeedResult, *, now: datetime) -> int:
    """Write the ~50 hand-written demo tickets with their backdated histories; return how many."""
    rng = random.Random(data.SEED)  # noqa: S311 - reproducible demo data, not security
    plan = plan_tickets(rng)
    specs = {spec.name: spec for spec in data.ORGANIZATIONS}
    drafts = []
    for index, (scenario, status, channel) in enumerate(plan):
        organization = result.organizations[index % len(result.organizations)]
        spec = specs[organization.name]
        requester_index = rng.randrange(len(spec.people))
        agent_index = rng.randrange(len(result.agents))
        steps = plan_history(rng, scenario, status)
        created = choose_created_at(rng, scenario, status, steps, spec, now=now)
        context = ticket_context(
            rng,
            spec,
            scenario,
            requester=spec.people[requester_index],
            agent=data.AGENTS[agent_index % len(data.AGENTS)],
            created=created,
        )
        requester = result.customers[organization.pk][requester_index]
        drafts.append((created, scenario, channel, steps, context, requester, agent_index))
    # Filed in time order, so references grow with age as they would have in real life (HD-1 oldest).
    drafts.sort(key=lambda draft: draft[0])
    # Ratings and deflections from a generator of their own, so the tickets stay as they always were.
    feedback = random.Random(data.SEED + 1)  # noqa: S311 - reproducible demo data, not security
    for created, scenario, channel, steps, context, requester, agent_index in drafts:
        ticket = _play(
            scenario,
            channel,
            steps,
            context,
            requester=requester,
            agents=result.agents,
            agent_index=agent_index,
            created=created,
        )
        _rate(feedback, ticket.pk, requester, now=now)
    _open_suggested_articles(feedback, result, now=now)
    return len(plan)


#: What demo customers say when they rate (good, then bad).
RATING_COMMENTS = {
    "good": ["", "", "Quick and clear, thank you.", "Fixed before our interviews started."],
    "bad": ["", "It took two days to hear back.", "The workaround is painful; please fix it for good."],
}


def _rate(rng: random.Random, ticket_id: int, requester, *, now: datetime) -> None:
    """Most resolved demo tickets get their requester's rating, mostly good, some hours after."""
    ticket = Ticket.objects.get(pk=ticket_id)
    if not satisfaction.can_be_rated(ticket) or rng.random() > 0.7:
        return
    rating = "good" if rng.random() < 0.8 else "bad"
    at = min(now, ticket.resolved_at + timedelta(hours=rng.uniform(0.5, 30)))
    satisfaction.satisfaction_rate(
        ticket=ticket, actor=requester, rating=rating, comment=rng.choice(RATING_COMMENTS[rating]), at=at
    )


def _open_suggested_articles(rng: random.Random, result: SeedResult, *, now: datetime) -> None:
    """Help-center articles demo customers opened from the new-ticket form's suggestions (deflections)."""
    articles = list(Article.objects.visible_to(None).order_by("pk"))
    customers = [user for users in result.customers.values() for user in users]
    if not articles or not customers:
        return
    for _ in range(18):
        at = now - timedelta(days=rng.uniform(0, 80))
        knowledge.deflection_open(article=rng.choice(articles), user=rng.choice(customers), at=at)


def plan_tickets(rng: random.Random) -> list[tuple[Scenario, str, str]]:
    """Each scenario `copies` times, shuffled, dealt a final status and a channel from fixed decks so
    that every status and channel is present with realistic proportions."""
    scenarios = [scenario for scenario in data.SCENARIOS for _ in range(scenario.copies)]
    rng.shuffle(scenarios)
    statuses = [status for status, count in STATUS_DECK.items() for _ in range(count)]
    rng.shuffle(statuses)
    channel_total = sum(data.CHANNEL_WEIGHTS.values())
    channels = [
        channel
        for channel, weight in data.CHANNEL_WEIGHTS.items()
        for _ in range(round(weight * len(scenarios) / channel_total))
    ]
    rng.shuffle(channels)
    plan = []
    for index, scenario in enumerate(scenarios):
        allowed = _allowed_statuses(scenario)
        status = next((s for s in statuses if s in allowed), None)
        if status is None:
            status = rng.choice(allowed)
        else:
            statuses.remove(status)
        channel = channels[index] if index < len(channels) else "portal"
        plan.append((scenario, status, channel))
    return plan


def _allowed_statuses(scenario: Scenario) -> list[str]:
    # Only scenarios with an engineering (or product) follow-up can be waiting on hold.
    return [s for s in scenario.statuses if s != Status.ON_HOLD or scenario.hold_note]


def plan_history(rng: random.Random, scenario: Scenario, status: str) -> list[Step]:
    """The actions that take a new ticket of this scenario to `status`, with increasing offsets.

    The path follows the workflow: the first agent reply opens the ticket, asking a question makes it
    pending, the customer's answer reopens it, engineering work puts it on hold, the fix resolves it
    (by the agent, or by the customer after thanking), and a closed ticket was resolved days before.
    """
    steps: list[Step] = []
    minutes = 0.0

    def add(action: str, value: str = "", lo: float = 1, hi: float = 5) -> None:
        nonlocal minutes
        minutes += rng.uniform(lo, hi)
        steps.append(Step(timedelta(minutes=minutes), action, value))

    first_lo, first_hi = FIRST_RESPONSE_MINUTES[scenario.severity]
    if status == Status.NEW:
        if rng.random() < 0.5:  # triaged and assigned, not answered yet
            add("assign", "primary", 2, min(first_hi, 90))
        return steps
    add("assign", "primary", 1, first_lo)
    if scenario.regrade:
        add("severity", scenario.regrade[0], 1, 3)
        add("note", "regrade_note", 0.5, 2)
    add("agent_reply", "agent_ask", first_lo, first_hi)
    if status == Status.OPEN:
        if rng.random() < 0.6:
            add("customer_reply", "customer_answer", 15, 240)
            if scenario.note and rng.random() < 0.6:
                add("note", "note", 5, 90)
        return steps
    add("agent_status", Status.PENDING, 0.5, 2)
    if status == Status.PENDING:
        return steps
    add("customer_reply", "customer_answer", 20, 600)
    if scenario.note and rng.random() < 0.75:
        add("note", "note", 5, 120)
    urgent = scenario.severity == "S1"
    if scenario.hold_note and (status == Status.ON_HOLD or rng.random() < 0.4):
        add("note", "hold_note", 10, 180)
        add("agent_reply", "hold_reply", 1, 20)
        add("agent_status", Status.ON_HOLD, 0.5, 2)
        if rng.random() < 0.4:
            add("assign", "other", 60, 600)  # a hand-over at shift change
        if status == Status.ON_HOLD:
            return steps
        # Engineering takes hours on an S1, days otherwise.
        if urgent:
            add("wait", "", 60, 300)
        else:
            add("wait", "", 1440, 4 * 1440)
    add("agent_reply", "agent_fix", *((30, 180) if urgent else (60, 1440)))
    if scenario.customer_thanks and rng.random() < 0.5:
        add("customer_reply", "customer_thanks", 10, 300)
        add("customer_status", Status.RESOLVED, 1, 5)
    else:
        add("agent_status", Status.RESOLVED, 1, 10)
    if scenario.reopen and rng.random() < 0.7:
        add("customer_reply", "reopen", 600, 2880)  # reopens the resolved ticket
        add("agent_reply", "reopen_reply", 30, 300)
        add("agent_status", Status.RESOLVED, 1, 10)
    if status == Status.CLOSED:
        add("agent_status", Status.CLOSED, 2 * 1440, 5 * 1440)
    return steps


def choose_created_at(
    rng: random.Random, scenario: Scenario, status: str, steps: list[Step], spec: OrganizationSpec, *, now
) -> datetime:
    """When the ticket was filed: its whole history fits in the last ~3 weeks and ends before `now`;
    non-S1 tickets are filed in the customer's business hours (S1 outages happen at any hour)."""
    span = steps[-1].offset if steps else timedelta(0)
    lo, hi = LAST_CHANGE_HOURS_AGO[status]
    created = now - SAFETY_MARGIN - timedelta(hours=rng.uniform(lo, hi)) - span
    if scenario.severity != "S1":
        created = _previous_business_moment(rng, created, ZoneInfo(spec.timezone))
    earliest = now - timedelta(days=HISTORY_DAYS)
    if created < earliest:
        room = now - SAFETY_MARGIN - span - earliest
        created = earliest + room * rng.uniform(0.1, 0.9)
    return created


def _previous_business_moment(rng: random.Random, moment: datetime, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    if local.weekday() < 5 and 8 <= local.hour < 18:
        return moment
    day = local.date() if local.hour >= 18 else local.date() - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    local = datetime(day.year, day.month, day.day, rng.randint(9, 16), rng.randrange(0, 60), tzinfo=zone)
    return local.astimezone(moment.tzinfo)


# --- Texts and intake ----------------------------------------------------------------------------


def ticket_context(
    rng: random.Random,
    spec: OrganizationSpec,
    scenario: Scenario,
    *,
    requester: Person,
    agent: Person,
    created: datetime,
) -> dict:
    """Everything a scenario's texts may mention, plus the intake values derived from the same draws
    (keys starting with "_"), so the description and the structured fields always agree."""
    zone = ZoneInfo(spec.timezone)
    shape = scenario.interview or data.InterviewShape()
    position = rng.choice(spec.positions)
    interviewers = rng.sample(spec.interviewers, rng.randint(*shape.interviewers))
    others = [name for name in spec.interviewers if name not in interviewers]
    candidates = [_candidate(rng) for _ in range(rng.randint(*shape.candidates))]
    starts, ends = _interview_range(rng, shape.when, created, position.minutes, zone)
    past_interview = shape.when == "past" and scenario.occurrence == "one_time"
    started = _started_at(rng, scenario, created, starts if past_interview else None)
    limit = rng.choice((3, 4, 5))
    cities = [place for place in data.CANDIDATE_PLACES if place.replace(" ", "_") not in spec.timezone]
    context = {
        "org": spec.name,
        "ats": spec.ats,
        "ats_credential": spec.ats_credential,
        "requester_first": requester.first_name,
        "requester_name": requester.full_name,
        "requester_title": requester.title,
        "agent_first": agent.first_name,
        "candidate": candidates[0]["name"],
        "candidate_first": candidates[0]["name"].split()[0],
        "candidate_email": candidates[0]["email"],
        "candidate_place": rng.choice(cities),
        "position": position.title,
        "template": position.template,
        "interviewer": interviewers[0],
        "interviewer_first": interviewers[0].split()[0],
        "interviewer_email": spec.email(interviewers[0]),
        "interviewer2": interviewers[1] if len(interviewers) > 1 else rng.choice(others),
        "interviewers": _join(interviewers),
        "interview_day": _day(starts.astimezone(zone), spec.date_style),
        "interview_time": _time(starts.astimezone(zone), spec.date_style),
        "started_day": _day(started.astimezone(zone), spec.date_style),
        "started_weekday": f"{started.astimezone(zone):%A}",
        "started_time": _time(started.astimezone(zone), spec.date_style),
        "count": rng.randint(4, 18),
        "limit": limit,
        "over": limit + rng.randint(3, 5),
        "hours": rng.choice(("10:00–16:00", "9:30–15:30", "11:00–17:00")),
        "pool_size": rng.choice((40, 60, 85, 120)),
        "eng": f"ENG-{rng.randint(3100, 4999)}",
        "pf": f"PF-{rng.randint(210, 689)}",
        "_subject": rng.choice(scenario.subjects),
    }
    context["_candidates"] = candidates
    context["_intake"] = {
        "affected_role": scenario.affected_role,
        "impact_scope": scenario.impact_scope,
        "product_area": scenario.product_area,
        "feature": fill(scenario.feature, context),
        "error_message": fill(scenario.error_message, context),
        "occurrence": scenario.occurrence,
        "started_at": started if scenario.occurrence else None,
        "reason": fill(scenario.reason, context),
    }
    if scenario.interview:
        context["_intake"].update(
            interview_interviewers=[f"{name} <{spec.email(name)}>" for name in interviewers],
            interview_position=position.title,
            interview_template_name=position.template,
            interview_template_changes=fill(shape.template_changes, context),
            interview_starts_at=starts,
            interview_ends_at=ends,
        )
    return context


def fill(template: str, context: dict) -> str:
    """A scenario text with its placeholders filled in."""
    return template.format_map(context) if template else ""


def _candidate(rng: random.Random) -> dict:
    first, last = rng.choice(data.CANDIDATE_FIRST_NAMES), rng.choice(data.CANDIDATE_LAST_NAMES)
    local = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode().lower()
    return {"name": f"{first} {last}", "email": f"{local}@{rng.choice(data.CANDIDATE_DOMAINS)}"}


def _interview_range(
    rng: random.Random, when: str, created: datetime, minutes: int, zone: ZoneInfo
) -> tuple[datetime, datetime]:
    # Interviews are planned times: an upcoming interview may well lie after "now".
    local = created.astimezone(zone)
    if when == "week":
        day = _add_weekdays(local.date(), 1)
        starts = datetime(day.year, day.month, day.day, 9, 0, tzinfo=zone)
        end_day = _add_weekdays(day, 4)
        return starts, datetime(end_day.year, end_day.month, end_day.day, 18, 0, tzinfo=zone)
    offset = -rng.randint(1, 3) if when == "past" else rng.randint(1, 5)
    day = _add_weekdays(local.date(), offset)
    hour = 8 if when == "early" else rng.randint(9, 15)
    starts = datetime(day.year, day.month, day.day, hour, rng.choice((0, 15, 30, 45)), tzinfo=zone)
    return starts, starts + timedelta(minutes=minutes)


def _add_weekdays(day, count: int):
    step = 1 if count >= 0 else -1
    remaining = abs(count)
    while remaining:
        day += timedelta(days=step)
        if day.weekday() < 5:
            remaining -= 1
    return day


def _started_at(rng: random.Random, scenario: Scenario, created: datetime, past_interview) -> datetime:
    if past_interview is not None:
        return past_interview
    if scenario.occurrence == "recurring":
        return created - timedelta(days=rng.uniform(2, 14))
    if scenario.occurrence == "one_time":
        return created - timedelta(hours=rng.uniform(3, 72))
    minutes = (10, 90) if scenario.severity == "S1" else (20, 24 * 60)
    return created - timedelta(minutes=rng.uniform(*minutes))


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _day(moment: datetime, style: str) -> str:
    if style == "uk":
        return f"{moment:%A} {moment.day} {moment:%B}"
    return f"{moment:%A}, {moment:%B} {moment.day}"


def _time(moment: datetime, style: str) -> str:
    if style == "uk":
        return f"{moment:%H:%M} {moment.tzname()}"
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'} {moment.tzname()}"


def _description(scenario: Scenario, channel: str, context: dict) -> str:
    body = fill(scenario.description, context)
    if channel == "email":
        return (
            f"Hi support team,\n\n{body}\n\nThanks,\n{context['requester_name']}\n"
            f"{context['requester_title']}, {context['org']}"
        )
    if channel == "agent":
        return (
            f"Logged by {context['agent_first']} from a phone call with {context['requester_name']} "
            f"({context['org']}). As described on the call:\n\n{body}"
        )
    return body


def _agent_text(body: str, context: dict, author) -> str:
    return f"Hi {context['requester_first']},\n\n{fill(body, context)}\n\nBest,\n{author.first_name}"


def _customer_text(body: str, context: dict, channel: str) -> str:
    text = fill(body, context)
    return f"{text}\n\n{context['requester_first']}" if channel == "email" else text


def _play(
    scenario: Scenario,
    channel: str,
    steps: list[Step],
    context: dict,
    *,
    requester,
    agents: list,
    agent_index: int,
    created: datetime,
) -> Ticket:
    """Create the ticket and replay its history through the services."""
    primary = agents[agent_index % len(agents)]
    other = agents[(agent_index + 1) % len(agents)]
    ticket = services.ticket_create(
        requester=requester,
        actor=primary if channel == "agent" else requester,
        subject=fill(context["_subject"], context),
        description=_description(scenario, channel, context),
        severity=scenario.severity,
        channel=channel,
        intake=context["_intake"],
        candidates=context["_candidates"] if scenario.interview else (),
        at=created,
    )
    # Replies travel on the channel the conversation happens in; the portal stands in for API/agent.
    customer_channel = channel if channel in ("portal", "email", "chat") else "portal"
    agent_channel = "chat" if channel == "chat" else None
    texts = {
        "agent_ask": scenario.agent_ask,
        "customer_answer": scenario.customer_answer,
        "note": scenario.note,
        "hold_note": scenario.hold_note,
        "hold_reply": scenario.hold_reply,
        "agent_fix": scenario.agent_fix,
        "customer_thanks": scenario.customer_thanks,
        "reopen": scenario.reopen,
        "reopen_reply": scenario.reopen_reply,
        "regrade_note": scenario.regrade[1] if scenario.regrade else "",
    }
    assignee = primary
    for step in steps:
        at = created + step.offset
        if step.action == "assign":
            target = primary if step.value == "primary" else other
            actor = assignee if ticket.assignee_id else target
            ticket = services.ticket_assign(ticket=ticket, actor=actor, assignee=target, at=at)
            assignee = target
        elif step.action == "severity":
            services.ticket_change_severity(ticket=ticket, actor=assignee, severity=step.value, at=at)
        elif step.action == "agent_reply":
            body = _agent_text(texts[step.value], context, assignee)
            services.ticket_reply(ticket=ticket, author=assignee, body=body, channel=agent_channel, at=at)
        elif step.action == "customer_reply":
            body = _customer_text(texts[step.value], context, customer_channel)
            services.ticket_reply(ticket=ticket, author=requester, body=body, channel=customer_channel, at=at)
        elif step.action == "note":
            services.ticket_add_note(
                ticket=ticket, author=assignee, body=fill(texts[step.value], context), at=at
            )
        elif step.action == "agent_status":
            services.ticket_change_status(ticket=ticket, actor=assignee, status=step.value, at=at)
        elif step.action == "customer_status":
            services.ticket_change_status(ticket=ticket, actor=requester, status=step.value, at=at)
    return ticket
