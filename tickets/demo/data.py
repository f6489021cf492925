"""The demo's fixed texts: organizations, people, interview pools and hand-written ticket scenarios.

The customer is an interview-scheduling SaaS, so the scenarios are the tickets its support team really
gets: calendar sync, self-scheduling links, ATS stage sync, interviewer load, reports, feature requests.
Texts are `str.format` templates filled from a per-ticket context (see `seed.ticket_context`); every
e-mail address uses a reserved example domain so notifications can never reach a real person.
"""

from __future__ import annotations

from dataclasses import dataclass

#: One seed for everything random in the demo, so two databases seeded on different days hold the same
#: tickets (only shifted in time).
SEED = 20260301

# Readable but not guessable demo passwords, one per kind of login (set_password skips the validators).
ADMIN_PASSWORD = "demo-admin-2026"  # noqa: S105 - a published demo login, printed by seed_demo
AGENT_PASSWORD = "demo-agent-2026"  # noqa: S105 - a published demo login, printed by seed_demo
CUSTOMER_PASSWORD = "demo-customer-2026"  # noqa: S105 - a published demo login, printed by seed_demo

SUPPORT_DOMAIN = "helpdesk.example"


@dataclass(frozen=True)
class Person:
    """A demo login: `role` is "admin" or "requester" for customers, ignored for staff."""

    username: str
    first_name: str
    last_name: str
    role: str = "requester"
    title: str = ""

    @property
    def full_name(self) -> str:
        """First and last name, as shown in signatures and the logins block."""
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Position:
    """A job the customer hires for, with the interview template its candidates go through."""

    title: str
    template: str
    minutes: int


@dataclass(frozen=True, kw_only=True)
class OrganizationSpec:
    """A demo customer company with its people and the pools its tickets draw from."""

    name: str
    timezone: str
    domain: str
    date_style: str  # "us" (Tuesday, March 3, 2:30 PM) or "uk" (Tuesday 3 March, 14:30)
    ats: str
    ats_credential: str
    people: tuple[Person, ...]
    interviewers: tuple[str, ...]
    positions: tuple[Position, ...]

    def email(self, person_or_name: Person | str) -> str:
        """The work address of one of the organization's people or interviewers (first.last@domain)."""
        if isinstance(person_or_name, Person):
            local = f"{person_or_name.first_name}.{person_or_name.last_name}"
        else:
            local = person_or_name.replace(" ", ".")
        # "Kevin O'Neil" -> kevin.oneil@...: only letters and dots, like a real directory would make.
        return f"{''.join(c for c in local.lower() if c.isalpha() or c == '.')}@{self.domain}"


ADMIN = Person("admin", "Alex", "Morgan", title="Helpdesk administrator")
AGENTS = (
    Person("agent1", "Maya", "Lopez", title="Support engineer"),
    Person("agent2", "Tom", "Becker", title="Support engineer"),
)

ORGANIZATIONS = (
    OrganizationSpec(
        name="Acme Talent",
        timezone="America/New_York",
        domain="acmetalent.example",
        date_style="us",
        ats="Greenhouse",
        ats_credential="Harvest API key",
        people=(
            Person("sarah.chen", "Sarah", "Chen", "admin", "Director of Recruiting Operations"),
            Person("marcus.reed", "Marcus", "Reed", "requester", "Recruiting Coordinator"),
            Person("priya.raman", "Priya", "Raman", "requester", "Senior Recruiting Coordinator"),
        ),
        interviewers=(
            "Dana Kim",
            "Luis Ortega",
            "Rachel Goldberg",
            "Ethan Brooks",
            "Nadia Haddad",
            "Kevin O'Neil",
        ),
        positions=(
            Position("Senior Backend Engineer", "Engineering Onsite Loop (5 rounds)", 300),
            Position("Account Executive, Mid-Market", "Sales Panel + Mock Pitch", 120),
            Position("Product Designer", "Design Portfolio Review", 90),
            Position("Data Analyst", "Analytics Technical Screen", 60),
        ),
    ),
    OrganizationSpec(
        name="Globex Recruiting",
        timezone="Europe/London",
        domain="globexrecruiting.example",
        date_style="uk",
        ats="Workday",
        ats_credential="integration system user",
        people=(
            Person("hannah.wright", "Hannah", "Wright", "admin", "Head of Talent Acquisition"),
            Person("oliver.hughes", "Oliver", "Hughes", "requester", "Talent Coordinator"),
            Person("amelia.clarke", "Amelia", "Clarke", "requester", "Graduate Recruitment Coordinator"),
        ),
        interviewers=(
            "James Whitfield",
            "Sophie Turner",
            "Arjun Mehta",
            "Chloe Evans",
            "Tomasz Nowak",
            "Fiona MacLeod",
        ),
        positions=(
            Position("Graduate Software Engineer", "Graduate Assessment Centre", 240),
            Position("Client Services Manager", "Two-Stage Competency Interview", 90),
            Position("Payroll Specialist", "Finance Technical Interview", 60),
            Position("Head of Marketing", "Leadership Panel", 150),
        ),
    ),
    OrganizationSpec(
        name="Initech Hiring",
        timezone="America/Los_Angeles",
        domain="initechhiring.example",
        date_style="us",
        ats="Lever",
        ats_credential="Lever API key",
        people=(
            Person("diego.alvarez", "Diego", "Alvarez", "admin", "Talent Operations Manager"),
            Person("kim.nguyen", "Kim", "Nguyen", "requester", "Recruiting Coordinator"),
            Person("ryan.porter", "Ryan", "Porter", "requester", "Technical Recruiter"),
        ),
        interviewers=(
            "Samir Patel",
            "Jenna Morales",
            "Brian Lumbergh",
            "Wei Zhang",
            "Carla Jimenez",
            "Trevor Lund",
        ),
        positions=(
            Position("Site Reliability Engineer", "SRE Virtual Onsite", 240),
            Position("Customer Support Representative (Hourly)", "Hourly Phone Screen", 30),
            Position("Warehouse Associate", "Hourly Group Interview", 45),
            Position("Engineering Manager", "Manager Loop (4 rounds)", 210),
        ),
    ),
)

CANDIDATE_FIRST_NAMES = (
    "Jordan", "Aisha", "Mateo", "Emily", "Kwame", "Sofia", "Liam", "Mei", "Noah", "Fatima",
    "Lucas", "Hana", "Gabriel", "Zoe", "Daniel", "Ines", "Omar", "Grace", "Ravi", "Chloé",
    "Isaac", "Leila", "Marco", "Anya", "Tyler", "Yuki", "Samuel", "Elena", "Caleb", "Amara",
)  # fmt: skip
CANDIDATE_LAST_NAMES = (
    "Ellis", "Okafor", "Rossi", "Nakamura", "Mensah", "Hernandez", "Walsh", "Lindqvist", "Park",
    "Begum", "Dubois", "Novak", "Friedman", "Osei", "Costa", "Abernathy", "Sato", "Kowalski",
    "Iyer", "Byrne", "Fischer", "Moreau", "Adeyemi", "Larsen", "Santos",
)  # fmt: skip
#: Reserved example domains (RFC 2606): candidate addresses look real and bounce harmlessly.
CANDIDATE_DOMAINS = ("example.com", "example.net", "example.org")
#: Where remote candidates sit, for the time-zone tickets.
CANDIDATE_PLACES = ("Chicago", "London", "Berlin", "Bangalore", "Denver", "Toronto", "Lisbon")

PRODUCT_AREAS = (
    "Scheduling",
    "Availability",
    "Calendar sync",
    "ATS integration (Greenhouse/Lever/Workday)",
    "Candidate self-scheduling",
    "Interviewer load balancing",
    "Reporting",
    "Settings",
)


@dataclass(frozen=True)
class InterviewShape:
    """Which interview context a scenario's tickets carry.

    `when` places the interviews relative to the ticket: "upcoming" (the next few days), "early" (the
    next few days at 8 in the morning, before anyone's working hours), "past" (the interview the ticket
    is about already happened) or "week" (a range over the coming week).
    """

    candidates: tuple[int, int] = (1, 1)
    interviewers: tuple[int, int] = (1, 3)
    when: str = "upcoming"
    template_changes: str = ""


GENERIC_HOLD_REPLY = (
    "I've reproduced this and passed it to our engineering team (internal reference {eng}). I'm putting "
    "the ticket on hold while they work on it; you don't need to do anything, and I'll update you here as "
    "soon as there's a fix or a workaround."
)
FEATURE_HOLD_REPLY = (
    "I've shared your request with our product team as {pf}, with your numbers. I'm putting the ticket on "
    "hold while they review it and will let you know here what they decide."
)


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A hand-written ticket with its conversation. Agent texts get a greeting and sign-off added.

    The seed builds a history to a target status from these parts: `agent_ask` (first reply, usually a
    question), `customer_answer`, `note` (internal), `hold_note`/`hold_reply` (waiting on engineering),
    `agent_fix` (the resolution), and optionally `customer_thanks` (the customer then resolves it
    themselves), `reopen`/`reopen_reply` (the customer reopens a resolved ticket) and `regrade`.
    """

    key: str
    severity: str
    copies: int
    subjects: tuple[str, ...]
    description: str
    product_area: str
    feature: str
    affected_role: str
    impact_scope: str
    occurrence: str = ""
    error_message: str = ""
    reason: str = ""
    interview: InterviewShape | None = None
    agent_ask: str
    customer_answer: str
    note: str = ""
    hold_note: str = ""
    hold_reply: str = GENERIC_HOLD_REPLY
    agent_fix: str
    customer_thanks: str = ""
    reopen: str = ""
    reopen_reply: str = ""
    regrade: tuple[str, str] | None = None
    #: Final statuses that make sense for this scenario (an S1 outage is never left unanswered).
    statuses: tuple[str, ...] = ("new", "open", "pending", "on_hold", "resolved", "closed")


SCENARIOS = (
    Scenario(
        key="calendar_sync_outage",
        severity="S1",
        copies=2,
        statuses=("open", "on_hold", "resolved", "closed"),
        subjects=(
            "Interviews not showing up on interviewers' Google calendars",
            "URGENT: calendar sync down, new interviews missing from every calendar",
        ),
        description=(
            "Since about {started_time} none of the interviews we schedule are being written to our "
            "interviewers' Google calendars. The interviews show as Scheduled in the dashboard and the "
            "candidates get their confirmations, but the interviewers have nothing on their calendars, so "
            "they are not turning up.\n\n"
            "This affects every coordinator on our team and we have {count} interviews today alone. "
            "Settings > Calendar shows the error below for every interviewer.\n\n"
            "Example: {candidate} for {position} with {interviewers}. The candidate has the invite, none of "
            "the interviewers do.\n\n"
            "Please treat this as critical; we are phoning interviewers one by one in the meantime."
        ),
        product_area="Calendar sync",
        feature="Google Workspace calendar sync",
        affected_role="coordinator",
        impact_scope="whole_organization",
        occurrence="ongoing",
        error_message=(
            "Calendar sync failed for 214 of 214 users: "
            "401 invalid_grant (Token has been expired or revoked.)"
        ),
        interview=InterviewShape(interviewers=(2, 4), when="upcoming"),
        agent_ask=(
            "Thanks for raising this. I've set it to S1 and paged our on-call engineer; we can see the "
            "invalid_grant errors for your workspace on our side as well.\n\n"
            "One quick check while we dig in: did anyone on your IT team change the Google Workspace API "
            "access or the domain-wide delegation for our app today?"
        ),
        customer_answer=(
            "Our IT team confirmed they rotated the service account keys this morning as part of a "
            "security review. They didn't realise it would affect scheduling. Can we just re-authorise "
            "from our side?"
        ),
        note=(
            "Confirmed with {requester_first}: their IT rotated the service-account key at about "
            "{started_time}. Every token refresh since returns invalid_grant. {count}+ calendar writes are "
            "queued for this org; they need replaying after the re-auth, not just the auth fix."
        ),
        hold_note="On-call is building a replay of the failed calendar writes ({eng}). Holding until done.",
        agent_fix=(
            "Good news: after your IT team re-authorised the integration under Settings > Calendar > Google "
            "Workspace, our engineer replayed every calendar write that had failed since {started_time}. "
            "All {count} interviews are now on the interviewers' calendars. I spot-checked {candidate}'s "
            "panel with {interviewer} and it's there.\n\n"
            "If the service account key is rotated again, re-authorising straight away avoids the gap. "
            "Reply here if you find an interview that is still missing."
        ),
        customer_thanks="Confirmed, everything is back on calendars. Thanks for the quick turnaround.",
    ),
    Scenario(
        key="self_scheduling_links_error",
        severity="S1",
        copies=1,
        statuses=("on_hold", "resolved", "closed"),
        subjects=("All candidate self-scheduling links show an error page",),
        description=(
            "Every self-scheduling link we've sent since {started_time} opens an error page instead of the "
            "availability picker. Candidates are emailing our recruiters asking what's going on, including "
            "{candidate} ({candidate_email}) for our {position} role.\n\n"
            "Sending a fresh link from the dashboard fails the same way, in Chrome and Safari, on and off "
            "our network. Coordinators can still schedule manually, but our whole high-volume pipeline "
            "depends on self-scheduling."
        ),
        product_area="Candidate self-scheduling",
        feature="Self-scheduling links",
        affected_role="candidate",
        impact_scope="whole_organization",
        occurrence="ongoing",
        error_message=(
            "Something went wrong. We couldn't load available times. (Error 500, request id 7f3c2a9e-41b1)"
        ),
        interview=InterviewShape(when="upcoming"),
        agent_ask=(
            "I've escalated this as S1 and our on-call engineer is investigating now. We're seeing errors "
            "on the scheduling page for a subset of customers, yours included.\n\n"
            "Could you tell me whether the failing links all use the same interview template "
            "({template})? That would help us narrow it down."
        ),
        customer_answer=(
            "Not just that one. I checked three other templates and their links fail too. Links sent "
            "before yesterday seem to be fine."
        ),
        note=(
            "Links generated after the {started_time} deploy carry the new token format; the "
            "availability endpoint rejects them for orgs with a custom candidate domain. {org} uses one. "
            "Tracking in {eng}."
        ),
        hold_note="Fix for {eng} is in review; rollout expected within the hour.",
        agent_fix=(
            "The fix is live. New scheduling links were being rejected for organisations that use a custom "
            "candidate domain, for every link created after {started_time}. The links you already sent work "
            "again without resending; {candidate}'s link now opens the picker.\n\n"
            "We're sorry for the disruption to your candidates. Our engineering team will send a written "
            "incident summary."
        ),
        customer_thanks=(
            "Working for us too. Please do send the incident summary, our TA director will want it."
        ),
    ),
    Scenario(
        key="misfiled_urgent",
        severity="S1",
        copies=1,
        statuses=("open", "resolved", "closed"),
        regrade=(
            "S3",
            "Downgraded S1 → S3: one candidate, and the coordinator can book manually. S1 is for "
            "service-wide outages per the chart. Explained in my reply.",
        ),
        subjects=("URGENT!!! Candidate cannot select any time slot",),
        description=(
            "URGENT: {candidate} is trying to book their interview for {position} and says the scheduling "
            "page shows no available times at all. The interview has to happen this week or we lose the "
            "candidate. Please help ASAP."
        ),
        product_area="Candidate self-scheduling",
        feature="Availability picker",
        affected_role="candidate",
        impact_scope="just_me",
        occurrence="ongoing",
        interview=InterviewShape(interviewers=(3, 4), when="week"),
        agent_ask=(
            "I'm on it. I've set this to S3, because our S1 level is for outages affecting the whole "
            "service, but I'm looking at it right now.\n\n"
            "The '{template}' template needs {interviewers} together, and between now and Friday they have "
            "no common free slot that long, so the page has nothing to offer. Would you like to widen the "
            "date range, or allow a substitute interviewer for one of the rounds?"
        ),
        customer_answer="Let's allow substitutes from the pool. Where do I switch that on?",
        note="No bug: no common availability. Walked the customer through substitutes.",
        agent_fix=(
            "In the template's panel settings, tick 'Allow substitutes from pool' for the round you can "
            "flex. I checked with that option on and {candidate_first} now has six slots this week. The "
            "candidate's existing link updates by itself, so there's no need to resend it."
        ),
        customer_thanks="Candidate just booked. Sorry for the panic and thanks!",
    ),
    Scenario(
        key="double_booking",
        severity="S2",
        copies=3,
        subjects=(
            "Interviewer double-booked even though their calendar showed busy",
            "Auto-schedule booked {interviewer} over an existing meeting",
        ),
        description=(
            "{interviewer} has been double-booked twice this week. Auto-schedule put the {position} panel "
            "for {candidate} on {interview_day} at {interview_time}, but {interviewer_first} already had a "
            "recurring 1:1 in that slot, and it shows as Busy on their Google calendar.\n\n"
            "Template: {template}. Interviewers: {interviewers}. I changed the panel before scheduling (see "
            "modifications).\n\n"
            "We're now checking every auto-scheduled interview by hand, which defeats the purpose. Is the "
            "availability check ignoring recurring events?"
        ),
        product_area="Scheduling",
        feature="Auto-schedule",
        affected_role="interviewer",
        impact_scope="several_users",
        occurrence="recurring",
        interview=InterviewShape(
            interviewers=(2, 4),
            when="upcoming",
            template_changes="Removed {interviewer2} from the panel and let auto-schedule pick a replacement "
            "from the interviewer pool.",
        ),
        agent_ask=(
            "Thanks for the detail, it makes this much easier. I can see the panel for {candidate}. To check "
            "what our availability service saw at scheduling time: is the 1:1 an event {interviewer_first} "
            "owns, or one they were invited to from another calendar (a shared team calendar, say)?"
        ),
        customer_answer=(
            "It's on a shared team calendar; their manager organises it. {interviewer_first} is a guest and "
            "accepted it."
        ),
        note=(
            "Reproduced: free/busy ignores accepted guest events of a recurring series created before the "
            "interviewer connected their calendar. Same root cause as {eng}."
        ),
        hold_note="Linked to {eng} (free/busy for accepted recurring invites); in the current sprint.",
        agent_fix=(
            "The fix for this went out today: our availability check now counts accepted recurring invites "
            "from calendars an interviewer doesn't own. I re-ran availability for {interviewer_first}'s "
            "coming week and the 1:1 now shows as busy.\n\n"
            "Interviews booked before the fix aren't moved automatically; the Conflicts view under "
            "Scheduling lists any remaining overlaps so you can reschedule them."
        ),
        reopen=(
            "Sorry to reopen: it happened again this morning, this time to {interviewer2}. Same pattern, a "
            "recurring meeting on a shared calendar."
        ),
        reopen_reply=(
            "Thanks for flagging it. {interviewer2}'s calendar was connected after our nightly free/busy "
            "refresh, so the fix hadn't reached it yet. I've refreshed your whole team now and the meeting "
            "shows as busy. I'll resolve this again, but reply if you see another one."
        ),
    ),
    Scenario(
        key="confirmation_time_zone",
        severity="S2",
        copies=3,
        subjects=(
            "Candidate confirmation email shows the wrong time zone",
            "Confirmation showed {interview_time} in our time zone, candidate joined an hour late",
        ),
        description=(
            "{candidate} booked through self-scheduling for our {position} role and the confirmation email "
            "shows the time in our office time zone, not theirs. The candidate is in {candidate_place}; the "
            "email said {interview_time} without saying which time zone, and they joined an hour late.\n\n"
            "This has happened with at least {count} candidates in the last two weeks, all in a different "
            "time zone from the recruiter. The scheduling page itself shows the right local time; it's only "
            "the confirmation email and the description of the calendar invite.\n\n"
            "We're emailing every remote candidate by hand to confirm the time."
        ),
        product_area="Candidate self-scheduling",
        feature="Confirmation emails",
        affected_role="candidate",
        impact_scope="several_users",
        occurrence="recurring",
        interview=InterviewShape(when="past"),
        agent_ask=(
            "Sorry about the late start, that's a bad experience for the candidate. Could you forward one "
            "of the confirmation emails as the candidate received it (a screenshot is fine), and tell me "
            "whether you've customised the confirmation template under Settings > Email templates?"
        ),
        customer_answer=(
            "Screenshot attached in the email I just sent. Yes, we customised the template last month: we "
            "replaced the default time line with our own wording that uses the interview_time placeholder."
        ),
        note=(
            "Customer template uses interview_time, which renders in the organizer's zone; the default uses "
            "candidate_local_time. Docs don't say so: docs fix filed as {eng}."
        ),
        agent_fix=(
            "Found it: your customised confirmation template uses the interview_time placeholder, which is "
            "shown in the scheduler's time zone. Replace it with candidate_local_time (it includes the zone, "
            'e.g. "3:00 PM BST") and candidates will see their own time. I\'ve made that change on a copy '
            'of your template called "{template}, fixed time zone" so you can compare before switching.\n\n'
            "We're also updating the placeholder docs, which didn't make this clear."
        ),
        customer_thanks="Switched over and sent myself a test booking, it shows my local time now. Thanks!",
    ),
    Scenario(
        key="ats_stage_sync",
        severity="S2",
        copies=3,
        statuses=("new", "open", "pending", "resolved", "closed"),
        subjects=(
            "{ats} stage changes not syncing since {started_weekday}",
            "Candidates stuck in the wrong stage in {ats}",
        ),
        description=(
            "When an interview is scheduled or completed, the candidate's stage in {ats} is no longer "
            "updated. Since {started_day} about {count} candidates have been left in 'Application Review' "
            "in {ats} even though their interviews are booked, so recruiters think nobody has been "
            "scheduled.\n\n"
            "Example: {candidate} ({candidate_email}), {position}, interview on {interview_day}. In {ats} "
            "the candidate is still in the previous stage.\n\n"
            "The integration page shows a green Connected badge, but the sync log has the error below for "
            "every update."
        ),
        product_area="ATS integration (Greenhouse/Lever/Workday)",
        feature="{ats} stage sync",
        affected_role="coordinator",
        impact_scope="whole_organization",
        occurrence="ongoing",
        error_message=(
            "{ats} sync failed: 403 Forbidden: the {ats_credential} is not permitted to update candidate "
            "stages."
        ),
        interview=InterviewShape(when="upcoming"),
        agent_ask=(
            "The 403 tells us {ats} is refusing the update, rather than us not sending it. Has anyone "
            "changed the {ats_credential} or its permissions recently? Please check in {ats} that the "
            "credential our integration uses may still edit candidates and move stages."
        ),
        customer_answer=(
            "Our {ats} admin says the credential was recreated during an access audit last week and the new "
            "one only has read permissions. They've added the edit permissions back now."
        ),
        note=(
            "Customer re-granted permissions on the {ats_credential}. Replayed failed stage updates for "
            "{org} from the integration admin tool: {count} succeeded, 0 failed."
        ),
        agent_fix=(
            "Thanks to your {ats} admin. With the permissions back I re-ran every stage update that failed "
            "since {started_day}: {count} candidates, {candidate} included, are in the right stage in {ats} "
            "now.\n\n"
            "The integration page shows the last sync error even while the badge is green; we've also "
            "asked our product team to turn the badge amber after repeated errors."
        ),
    ),
    Scenario(
        key="sso_audience_mismatch",
        severity="S2",
        copies=2,
        statuses=("new", "open", "pending", "resolved", "closed"),
        subjects=(
            "New coordinators can't log in with SSO",
            "SSO login loop for users added this week",
        ),
        description=(
            "We added {count} coordinators to our identity provider this week and none of them can log in. "
            "They click Sign in with SSO, authenticate with our IdP and land back on the login page with the "
            "error below. Everyone who was set up before last week can still log in fine.\n\n"
            "These coordinators can't schedule anything until this works; we're covering their reqs with "
            "the rest of the team."
        ),
        product_area="Settings",
        feature="SAML single sign-on",
        affected_role="coordinator",
        impact_scope="several_users",
        occurrence="ongoing",
        error_message=(
            "SAML response rejected: Audience mismatch (expected https://app.scheduling.example/saml/metadata)"
        ),
        agent_ask=(
            "The audience mismatch means your identity provider is sending these users an assertion meant "
            "for a different app. Were the new coordinators added to the same SAML app in your identity "
            "provider as everyone else, or to a second one?"
        ),
        customer_answer=(
            "IT says they created a second app for the new team by mistake. They've moved the users to the "
            "original app now."
        ),
        note="Failing assertions carried the old sandbox entity ID. Successful logins since IT's change.",
        agent_fix=(
            "I can see successful SSO logins for all {count} new coordinators since your IT team moved them "
            "to the original app, so this is fixed. IT can delete the second app so it can't happen again."
        ),
        customer_thanks="All of them are in. Thanks for spotting that so quickly.",
    ),
    Scenario(
        key="report_negative_durations",
        severity="S3",
        copies=2,
        regrade=("S2", "Raising S3 → S2: wrong calculated values are S2 per the chart."),
        subjects=(
            "Time-to-schedule report shows negative durations",
            "Reporting: average time to schedule is negative for last month",
        ),
        description=(
            "The Time to schedule report for last month shows an average of -3.2 days for the {position} "
            "pipeline, and some rows have negative durations. We present this to our leadership every "
            "Monday, so we need numbers we can trust.\n\n"
            "One example: {candidate}, requested {started_day}, scheduled for {interview_day}, shows -2 days "
            "in the report.\n\n"
            "Filters used: Department = all, Date range = last 30 days."
        ),
        product_area="Reporting",
        feature="Time-to-schedule report",
        affected_role="coordinator",
        impact_scope="whole_organization",
        occurrence="recurring",
        interview=InterviewShape(when="past"),
        agent_ask=(
            "Wrong numbers in a report count as S2 for us, so I've raised the severity. I can reproduce the "
            "negative durations. Were any of these candidates moved between requisitions, or re-requested "
            "after an interview was cancelled?"
        ),
        customer_answer=(
            "Yes, several were moved from a closed req to the new {position} req, {candidate} included."
        ),
        note=(
            "Report computes scheduled_at - request.created_at with the latest request; moved candidates get "
            "a new request after they're scheduled. {eng}."
        ),
        hold_note="Engineering fix in {eng}: measure from the first request per application.",
        agent_fix=(
            "The fix is out: time to schedule is now measured from the first scheduling request of the "
            "application, so candidates moved between requisitions no longer produce negative values. I "
            "re-ran last month's report for {position} and the average is 2.6 days, with no negative "
            "rows.\n\n"
            "Reports exported before today still show the old values."
        ),
    ),
    Scenario(
        key="ats_jobs_missing",
        severity="S3",
        copies=3,
        subjects=(
            "Some {ats} jobs missing from the position list",
            "New {ats} requisitions not showing up",
        ),
        description=(
            "We opened {count} new requisitions in {ats} on {started_day} and only some of them appear in "
            "the position list when I create an interview plan. The missing ones include {position}. The "
            "import log under Settings > Integrations says they were skipped (message below).\n\n"
            "We can work around it by creating the position by hand, but then it isn't linked to {ats} and "
            "stage updates don't flow back."
        ),
        product_area="ATS integration (Greenhouse/Lever/Workday)",
        feature="{ats} job import",
        affected_role="coordinator",
        impact_scope="just_me",
        occurrence="one_time",
        error_message="Import skipped {count} jobs: required field 'hiring_manager' is empty.",
        agent_ask=(
            "The import skips a job that has no hiring manager, because we use the hiring manager as the "
            "default approver. Could you check in {ats} whether the missing jobs, {position} included, have "
            "a hiring manager set?"
        ),
        customer_answer=(
            "You're right, they were created from a job template that leaves the hiring manager blank. "
            "We've filled it in on all of them."
        ),
        note=(
            "Expected behaviour, but skipped jobs aren't shown anywhere a coordinator looks. "
            "+1'd the product ask."
        ),
        agent_fix=(
            "I ran a fresh import and all {count} jobs, {position} included, are in your position list and "
            "linked to {ats}. If you created {position} by hand in the meantime, archive the manual copy "
            "under Settings > Positions so nobody picks the unlinked one."
        ),
    ),
    Scenario(
        key="zoom_link_missing",
        severity="S3",
        copies=4,
        subjects=(
            "Zoom link missing from some interview invites",
            "Interview invites going out without a video link",
        ),
        description=(
            "Some of our interview invites go out without a Zoom link. The calendar event has the right time "
            "and attendees, but the location just says 'Video link to follow'. It happened to {candidate}'s "
            "interview with {interviewer} on {interview_day}, and to {count} others this week.\n\n"
            "All the affected interviews are with interviewers who joined recently. Coordinators are pasting "
            "links in by hand as a workaround."
        ),
        product_area="Settings",
        feature="Zoom video conferencing",
        affected_role="interviewer",
        impact_scope="several_users",
        occurrence="recurring",
        error_message="Could not create Zoom meeting for host {interviewer_email}: User does not exist.",
        interview=InterviewShape(interviewers=(1, 2), when="upcoming"),
        agent_ask=(
            "That error means we tried to create the meeting with {interviewer_first} as host and Zoom "
            "doesn't know that address. Are your new interviewers licensed users in your Zoom account, under "
            "the same email address they use for their calendar?"
        ),
        customer_answer=(
            "They're in Zoom, but under our old email domain. IT says changing that on the Zoom side will "
            "take a week or so."
        ),
        note="Suggested the fallback host setting as the interim fix until their Zoom emails match.",
        agent_fix=(
            "Until IT updates the Zoom addresses, turn on Settings > Video conferencing > 'If the "
            "interviewer has no Zoom account, host the meeting as the coordinator'. I tested it with a "
            "dummy interview for {interviewer_first} and the invite now has a Zoom link. Once the Zoom "
            "emails match, meetings will be hosted by the interviewers again automatically."
        ),
        customer_thanks="Turned it on, new invites have links. Thank you!",
    ),
    Scenario(
        key="working_hours_ignored",
        severity="S3",
        copies=3,
        subjects=(
            "Interviewer's working hours are being ignored",
            "Candidates can book {interviewer} outside their working hours",
        ),
        description=(
            "{interviewer} changed their working hours to {hours} last week, but candidates can still pick "
            "slots outside those hours on the self-scheduling page. {candidate} booked {interview_time} on "
            "{interview_day} for the {position} panel, outside {interviewer_first}'s hours.\n\n"
            "We can work around it by blocking time on {interviewer_first}'s calendar, but we'd rather the "
            "setting worked."
        ),
        product_area="Availability",
        feature="Interviewer working hours",
        affected_role="interviewer",
        impact_scope="just_me",
        occurrence="recurring",
        interview=InterviewShape(interviewers=(1, 3), when="early"),
        agent_ask=(
            "Could you check one thing for me: in {interviewer_first}'s profile, is the time zone next to "
            "the working hours their local zone? If the profile zone differs from their calendar's zone, the "
            "hours are shifted."
        ),
        customer_answer=(
            "Good catch, the profile says UTC. I've corrected it. Do the existing bookings move by "
            "themselves now?"
        ),
        note=(
            "Profile zone was UTC from the SCIM provisioning default; others provisioned that day "
            "probably have it too."
        ),
        agent_fix=(
            "With the profile time zone corrected, the self-scheduling page only offers slots inside "
            "{interviewer_first}'s hours. Existing bookings don't move automatically, so {candidate}'s "
            "interview stays unless you reschedule it.\n\n"
            "Heads-up: interviewers provisioned from your identity provider on the same day also have UTC as "
            "their profile zone. The Interviewers list can be filtered by time zone to find them."
        ),
    ),
    Scenario(
        key="load_balancing_limit",
        severity="S3",
        copies=3,
        subjects=(
            "Load balancing keeps picking the same interviewer",
            "{interviewer} is way over their weekly interview limit",
        ),
        description=(
            "We use load balancing on the '{template}' panel with a limit of {limit} interviews per week per "
            "interviewer. {interviewer} has {over} interviews this week while others in the pool "
            "({interviewers}) have one or two.\n\n"
            "It looks like interviews that candidates book through self-scheduling don't count towards the "
            "limit. Coordinators are picking interviewers by hand for now."
        ),
        product_area="Interviewer load balancing",
        feature="Interviewer pools and weekly limits",
        affected_role="interviewer",
        impact_scope="several_users",
        occurrence="recurring",
        interview=InterviewShape(interviewers=(3, 5), when="week"),
        agent_ask=(
            "Thanks. Is the limit set on the interviewer pool or on each interviewer's profile? They're "
            "counted slightly differently and I'd like to reproduce it with your exact setup."
        ),
        customer_answer="On the pool: '{position} interviewers', {limit} per week. Nothing on the profiles.",
        note=(
            "Reproduced on staging: pool-level weekly limits are checked when coordinators schedule but not "
            "on the self-scheduling path, which reads profile limits only. {eng}."
        ),
        hold_note="Waiting on {eng}; engineering estimate is the next release.",
        agent_fix=(
            "Last night's release fixes this: pool-level weekly limits now apply to self-scheduling too. "
            "{interviewer_first} won't be offered for more than {limit} interviews a week, and the load "
            "dashboard counts self-scheduled interviews.\n\n"
            "Interviews already booked over the limit stay as they are; they're flagged in amber on the "
            "load dashboard."
        ),
    ),
    Scenario(
        key="template_edit_not_applied",
        severity="S3",
        copies=3,
        subjects=(
            "Edits to interview template not applied to scheduled interviews",
            "Changed the {template} template but booked interviews still use the old panel",
        ),
        description=(
            "I updated our '{template}' template yesterday (changes below). Interviews scheduled since then "
            "look right, but the {count} that were already scheduled still have the old panel. {candidate}'s "
            "interview on {interview_day} for {position} still shows the old rounds.\n\n"
            "Is there a way to push the template change to interviews that are already scheduled, or do we "
            "have to reschedule each one?"
        ),
        product_area="Scheduling",
        feature="Interview templates",
        affected_role="coordinator",
        impact_scope="just_me",
        occurrence="one_time",
        interview=InterviewShape(
            interviewers=(3, 5),
            when="upcoming",
            template_changes="Replaced the 60-minute system design round with a 60-minute pair-programming "
            "round; shortened lunch from 60 to 45 minutes; moved {interviewer2} from the hiring manager "
            "slot to the values round.",
        ),
        agent_ask=(
            "Template edits only apply to interviews scheduled afterwards, on purpose, so candidates don't "
            "get surprise changes. For interviews already booked there's 'Apply template changes' on each "
            "interview's page, which shows what would change before anything is sent.\n\n"
            "Would you like me to check whether your {count} interviews can take the change without moving "
            "their times?"
        ),
        customer_answer="Yes please, especially {candidate}'s, that's the one I'm worried about.",
        note=(
            "Checked all {count}: the panel swap fits the existing slots; the shorter lunch moves one "
            "afternoon."
        ),
        agent_fix=(
            "I went through the {count} interviews: all of them can take the new panel without changing the "
            "candidate's times, except one where the shorter lunch moves the afternoon rounds 15 minutes "
            "earlier. {candidate}'s is fine.\n\n"
            "Use 'Apply template changes' on each interview: it emails the interviewers whose rounds changed "
            "and leaves the candidate's invite alone unless their times move."
        ),
        customer_thanks="Done, all updated. Thanks for checking them for me.",
    ),
    Scenario(
        key="reschedule_email_bounced",
        severity="S3",
        copies=3,
        statuses=("new", "open", "pending", "resolved", "closed"),
        subjects=(
            "Candidate says they never got the reschedule email",
            "{candidate} didn't receive the new interview time",
        ),
        description=(
            "We rescheduled {candidate}'s interview for {position} to {interview_day} at {interview_time}. "
            "The activity log says the reschedule email was sent, but the candidate says nothing arrived "
            "(not in spam either). Candidate email: {candidate_email}.\n\n"
            "We've sent the new time from our own mailbox for now. Can you check whether it was delivered?"
        ),
        product_area="Candidate self-scheduling",
        feature="Reschedule notifications",
        affected_role="candidate",
        impact_scope="just_me",
        occurrence="one_time",
        interview=InterviewShape(when="upcoming"),
        agent_ask=(
            "Our mail provider's log shows the message to {candidate_email} was rejected by the candidate's "
            "mail server ('550 5.2.2 mailbox full'). Could you ask the candidate whether there's another "
            "address we should use?"
        ),
        customer_answer=(
            "The candidate cleared their inbox and gave us a second address just in case. I've added it to "
            "their profile."
        ),
        note="Bounce 550 5.2.2 put the address on the provider's suppression list; removed it.",
        agent_fix=(
            "I removed {candidate_email} from our mail provider's bounce list (addresses land there after a "
            "hard bounce) and re-sent the reschedule email to both addresses. The log shows it delivered "
            "this time."
        ),
        customer_thanks="Candidate confirmed they have it. Thanks!",
    ),
    Scenario(
        key="logo_stretched",
        severity="S4",
        copies=2,
        subjects=(
            "Our logo looks stretched in candidate emails",
            "Logo distorted in interview invitation emails",
        ),
        description=(
            "Our logo looks squashed in the invitation and confirmation emails candidates receive, as if "
            "it were forced into a square. It looks fine on the scheduling page. We uploaded a 600x150 PNG "
            "under Settings > Branding.\n\n"
            "Not urgent, but candidates see it in every email and our brand team noticed."
        ),
        product_area="Settings",
        feature="Email branding",
        affected_role="candidate",
        impact_scope="whole_organization",
        occurrence="recurring",
        agent_ask=(
            "Thanks for reporting this. Which email client are you viewing it in? Outlook for Windows "
            "handles image sizes differently from most others."
        ),
        customer_answer="Outlook desktop on Windows. Now that I check, it looks fine in Gmail.",
        note="Known: Outlook ignores max-width on images without width/height attributes. {eng}.",
        hold_note="Template change in {eng}, ships with the next email-template release.",
        agent_fix=(
            "The email templates now include your logo's real dimensions, so Outlook for Windows shows it in "
            "the right proportions. I sent myself a test invitation in Outlook and it looks right."
        ),
    ),
    Scenario(
        key="help_article_broken_link",
        severity="S4",
        copies=2,
        statuses=("new", "open", "pending", "resolved", "closed"),
        subjects=(
            "Help article on Microsoft Teams setup links to a missing page",
            "Broken link in the help center (Teams admin consent)",
        ),
        description=(
            "The help article 'Connecting Microsoft Teams for video interviews' has a 'Step 3: grant admin "
            "consent' link that goes to Page not found. Our IT admin is setting up Teams this week and is "
            "stuck at that step.\n\n"
            "Where: Help center > Integrations > Video conferencing."
        ),
        product_area="Settings",
        feature="Help center",
        affected_role="coordinator",
        impact_scope="just_me",
        occurrence="one_time",
        error_message="404: The page you were looking for doesn't exist.",
        agent_ask=(
            "Thanks for letting us know, I've asked our docs team to fix the link. Would your IT admin like "
            "a call with one of our integration specialists to go through admin consent, or is the article "
            "enough once it's fixed?"
        ),
        customer_answer="The article is enough, they just need the consent step.",
        note="Link pointed at the old docs domain. Docs team fixed it the same day.",
        agent_fix=(
            "The link is fixed. Step 3 is under Help center > Integrations > Video conferencing > Microsoft "
            "Teams: admin consent. A Microsoft 365 global admin approves the consent prompt once for the "
            "whole tenant."
        ),
    ),
    Scenario(
        key="ambiguous_dates",
        severity="S4",
        copies=3,
        subjects=(
            "Dates on the scheduling page are ambiguous for UK candidates",
            "Candidate confused by 03/04 style dates on the booking page",
        ),
        description=(
            "Candidates in the UK see dates like 03/04 on the scheduling page and read them as 3 April when "
            "we mean 4 March. {candidate} asked us which day we meant. Could the page use the candidate's "
            "locale, or spell out the month?"
        ),
        product_area="Candidate self-scheduling",
        feature="Candidate scheduling page",
        affected_role="candidate",
        impact_scope="several_users",
        occurrence="recurring",
        interview=InterviewShape(when="upcoming"),
        agent_ask=(
            "The scheduling page follows the candidate's browser language. Do you know whether "
            "{candidate_first}'s browser is set to English (United States)? Many laptops ship with it."
        ),
        customer_answer="The candidate says their browser is set to English (UK), so it should have worked.",
        note="Confirmed: the date picker's short format ignores en-GB and falls back to en-US. {eng}.",
        hold_note="Queued for the next front-end release ({eng}).",
        agent_fix=(
            'The scheduling page now spells out the month ("Tue 4 Mar") in every language, which removes '
            "the ambiguity whatever the browser settings."
        ),
    ),
    Scenario(
        key="feature_bulk_reschedule",
        severity="S5",
        copies=3,
        subjects=(
            "Feature request: reschedule all of an interviewer's interviews at once",
            "Request: bulk reschedule when an interviewer is out sick",
        ),
        description=(
            "When an interviewer calls in sick we have to open each of their interviews one by one and "
            "reschedule them or swap the interviewer. Last week {interviewer} was out and {count} interviews "
            "had to be handled by hand, which took a coordinator most of the morning.\n\n"
            "We'd like to select an interviewer and a date range and have the scheduler either swap in "
            "someone from the same pool or offer the candidates new times."
        ),
        product_area="Scheduling",
        feature="Rescheduling",
        affected_role="coordinator",
        impact_scope="several_users",
        reason=(
            "It would save our coordinators hours every time someone is out, and candidates would hear from "
            "us sooner. We have about {pool_size} interviewers and this happens roughly twice a week."
        ),
        agent_ask=(
            "Thanks for the detailed request, I'll pass it to our product team. One question first: should "
            "the scheduler swap interviewers automatically when someone in the pool is free, or always ask "
            "the candidate to pick a new time?"
        ),
        customer_answer=(
            "Swap automatically when possible; only contact the candidate if nobody in the pool is free."
        ),
        note=(
            "Logged as product feedback {pf} with {org}'s numbers. Related to the 'out of office' "
            "roadmap item."
        ),
        hold_note="Feature request with product ({pf}).",
        hold_reply=FEATURE_HOLD_REPLY,
        agent_fix=(
            "I've logged this with our product team as {pf}, with your numbers and your preference for "
            "automatic swaps. They've linked it to the interviewer out-of-office work planned for next "
            "quarter.\n\n"
            "In the meantime, the 'Replace interviewer' action on the Interviews list works on several "
            "interviews at once if you filter by interviewer and date. I'll resolve the ticket here; product "
            "will email you when there's news."
        ),
    ),
    Scenario(
        key="feature_scheduled_export",
        severity="S5",
        copies=2,
        subjects=(
            "Feature request: scheduled export of the interviewer load report",
            "Can we get the load report emailed weekly as CSV?",
        ),
        description=(
            "Every Monday I export the interviewer load report to CSV and paste it into a Google Sheet for "
            "our hiring managers. Could you add a scheduled export, as a CSV by email or straight into "
            "Google Sheets?"
        ),
        product_area="Reporting",
        feature="Interviewer load report",
        affected_role="coordinator",
        impact_scope="just_me",
        reason=(
            "Our hiring managers don't have scheduler logins, and the manual export takes about an hour a "
            "week across the team. A scheduled export would also make sure the numbers go out when I'm on "
            "holiday."
        ),
        agent_ask=(
            "Thanks for the request. Would a weekly CSV by email be enough, or do you need the Google Sheets "
            "connection specifically?"
        ),
        customer_answer="CSV by email would already help a lot; Sheets would be nice to have.",
        note="Scheduled exports (CSV by email) are in beta; enabling for {org}. Sheets tracked as {pf}.",
        hold_note="Sheets export tracked as {pf}.",
        hold_reply=FEATURE_HOLD_REPLY,
        agent_fix=(
            "Good news: scheduled exports are in beta and I've enabled them for {org}. Go to Reporting > "
            "Interviewer load > Schedule export, pick Monday 8:00 and add your hiring managers' addresses; "
            "they'll get the CSV by email. Google Sheets is on the roadmap as {pf} and I've added your vote."
        ),
        customer_thanks="Set up for next Monday. This is great, thanks!",
    ),
    Scenario(
        key="feature_sms_reminders",
        severity="S5",
        copies=2,
        subjects=(
            "Request: SMS reminders for candidates",
            "Feature request: text message reminders before interviews",
        ),
        description=(
            "We'd like candidates to get a text message reminder a few hours before their interview, as "
            "well as the email. Our no-show rate for hourly roles is around 18%, and most of those "
            "candidates tell us they didn't see the email."
        ),
        product_area="Candidate self-scheduling",
        feature="Candidate reminders",
        affected_role="candidate",
        impact_scope="whole_organization",
        reason=(
            "Hourly candidates mostly use their phones and rarely check email. Other teams we've talked to "
            "say SMS reminders cut no-shows by about a third, which for us would be {count} interviews "
            "a week."
        ),
        agent_ask=(
            "Thanks for the request. Do you already collect candidates' mobile numbers in {ats}, and would "
            "they need to opt in to texts where you hire?"
        ),
        customer_answer=(
            "Yes, the phone number is a required field in {ats}, and our application form has an SMS opt-in "
            "checkbox."
        ),
        note=(
            "SMS reminders are on the roadmap ({pf}); {org} has the opt-in data already, good beta candidate."
        ),
        hold_note="Waiting on product for the SMS beta ({pf}).",
        hold_reply=FEATURE_HOLD_REPLY,
        agent_fix=(
            "SMS reminders are on our roadmap as {pf}, and since you already collect opt-ins in {ats} I've "
            "put {org} on the list for the beta. Product will contact you before it starts; I'll resolve "
            "the ticket here in the meantime."
        ),
    ),
)

#: Channels and how often demo tickets come in through each.
CHANNEL_WEIGHTS = {"portal": 40, "email": 25, "chat": 15, "api": 10, "agent": 10}
