"""The severity suggestion on a table of realistic intakes, each with the severity the written definitions
give it (including misleading words: "critical typo" is S4), and the interview urgency computed with the
SLA engine's first-response due time on the organization's plan and calendar.

`test_agreement_on_the_table` prints the agreement; every row must agree (the figure in the report).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import OrganizationFactory
from tickets.severity_suggestion import first_response_due, suggest_severity

# Tuesday 8 December 2026, 10:00 in Los Angeles (the default calendar: Mon–Fri 09:00–18:00 Pacific).
TUESDAY_10AM_PT = datetime(2026, 12, 8, 18, 0, tzinfo=UTC)

W, S, J = "whole_organization", "several_users", "just_me"
NOW, ONCE, AGAIN = "ongoing", "one_time", "recurring"

#: (subject, description, other answers, expected severity)
TABLE: list[tuple[str, str, dict, str]] = [
    # Misleading words: alarm does not make a severity, the definitions do.
    (
        "Critical typo in an email template",
        "The candidate confirmation says 'Intreview' instead of 'Interview'.",
        {},
        "S4",
    ),
    (
        "URGENT: button misaligned on the scheduling page",
        "The Save button overlaps the footer.",
        {"impact_scope": W},
        "S4",
    ),
    (
        "Logo looks blurry on the candidate portal",
        "Our logo looks stretched since yesterday.",
        {"affected_role": "candidate"},
        "S4",
    ),
    (
        "ASAP: help article about the Zoom integration is out of date",
        "The help article still shows the old settings screen.",
        {},
        "S4",
    ),
    (
        "Broken link in the help center",
        "The link to the calendar guide in the help center is broken.",
        {},
        "S4",
    ),
    (
        "Where can I find the notification settings? Urgent",
        "I want to stop the daily digest email.",
        {"impact_scope": J},
        "S4",
    ),
    (
        "How do I add a new interview template?",
        "We want a template for the engineering onsite loop.",
        {},
        "S4",
    ),
    (
        "Wording on the reschedule page",
        "The wording of the reschedule page is confusing for candidates.",
        {},
        "S4",
    ),
    # S1: the service unusable for critical functions, now, for everyone; or data corrupted or lost.
    (
        "The whole platform is down",
        "Nothing loads for anyone at our company.",
        {"impact_scope": W, "occurrence": NOW},
        "S1",
    ),
    (
        "Nobody can log in",
        "Every coordinator gets an error on the sign-in page.",
        {"impact_scope": W, "occurrence": NOW},
        "S1",
    ),
    (
        "Entire company cannot access GoodTime",
        "Blank page after signing in, for all of us.",
        {"impact_scope": W, "occurrence": NOW},
        "S1",
    ),
    (
        "500 error on every page",
        "Internal server error for everyone since 9am.",
        {"impact_scope": W, "occurrence": NOW, "error_message": "500 Internal Server Error"},
        "S1",
    ),
    (
        "Interview data corrupted after the ATS sync",
        "Candidate records show another candidate's interviews.",
        {"impact_scope": S},
        "S1",
    ),
    (
        "We lost all interview feedback from yesterday",
        "The feedback forms are empty.",
        {"impact_scope": S, "occurrence": ONCE},
        "S1",
    ),
    (
        "Critical: interviews for tomorrow vanished from the schedule",
        "All 14 interviews for tomorrow are gone.",
        {"impact_scope": W},
        "S1",
    ),
    # S2: a major function broken with no workaround; severe slowness; wrong calculated values.
    (
        "Times are an hour off since the DST change",
        "Every interview shows one hour late.",
        {"impact_scope": S, "occurrence": NOW},
        "S2",
    ),
    (
        "Double bookings",
        "Two candidates were double-booked in the same slot with the same interviewer.",
        {"impact_scope": S, "occurrence": AGAIN},
        "S2",
    ),
    (
        "Candidate got an invite with the wrong time zone",
        "The invite says 3pm Eastern, it should be Pacific.",
        {"affected_role": "candidate", "impact_scope": J},
        "S2",
    ),
    (
        "Interviewer load report shows wrong numbers",
        "The report numbers are wrong: Anna has 3 interviews, not 12.",
        {},
        "S2",
    ),
    (
        "Scheduling page takes minutes to load",
        "Every coordinator waits 2-3 minutes for the page.",
        {"impact_scope": S, "occurrence": NOW},
        "S2",
    ),
    (
        "Cannot send availability requests",
        "The Send button does nothing; we are blocked, there is no workaround.",
        {"impact_scope": S, "occurrence": NOW},
        "S2",
    ),
    (
        "Candidate emails are not sending",
        "No candidate receives any email since this morning.",
        {"impact_scope": W, "occurrence": NOW},
        "S2",
    ),
    (
        "The platform went down during our interview loop",
        "It was unreachable for an hour yesterday; fine now.",
        {"impact_scope": W, "occurrence": ONCE},
        "S2",
    ),
    # S3: a minor function broken, a workaround exists, or one person affected.
    (
        "Scheduling page is slow for me",
        "It takes a while to load on my laptop.",
        {"impact_scope": J, "occurrence": NOW},
        "S3",
    ),
    (
        "Self-scheduling link shows no slots",
        "One candidate sees no available times.",
        {"impact_scope": J, "error_message": "No availability found"},
        "S3",
    ),
    (
        "Calendar sync stopped for one interviewer",
        "Her events don't sync; we book her manually for now.",
        {"impact_scope": S},
        "S3",
    ),
    (
        "Error 500 when opening the reports page",
        "Only on my account.",
        {"impact_scope": J, "error_message": "HTTP 500"},
        "S3",
    ),
    (
        "Interviewer removed from the panel still gets invites",
        "We removed Sam last week but he still gets invitations.",
        {"impact_scope": J},
        "S3",
    ),
    (
        "ATS integration failed once last week",
        "One sync failed on Tuesday; it has worked since.",
        {"occurrence": ONCE},
        "S3",
    ),
    (
        "Feedback form is not saving",
        "It fails to save; we paste feedback into the notes field instead.",
        {"impact_scope": S, "occurrence": AGAIN},
        "S3",
    ),
    (
        "Interview not showing on calendar",
        "The interview is not showing on the interviewer's calendar.",
        {"impact_scope": J},
        "S3",
    ),
    # S5: feature requests.
    (
        "Feature request: export schedules to PDF",
        "Coordinators print the week for hiring managers.",
        {"reason": "Hiring managers want a printed schedule."},
        "S5",
    ),
    (
        "Buffer times per interviewer",
        "We would love the ability to set buffer times per interviewer.",
        {"reason": "Some interviewers need 15 minutes between calls."},
        "S5",
    ),
    ("Please add Microsoft Teams support", "We moved from Zoom to Teams.", {}, "S5"),
    (
        "It would be nice to see interviewer names in color",
        "On the calendar view.",
        {"reason": "Faster to scan."},
        "S5",
    ),
]


@pytest.fixture
def organization(db):
    return OrganizationFactory(timezone="America/Los_Angeles")


def _suggest(subject, description, answers, organization, now=TUESDAY_10AM_PT):
    return suggest_severity(
        {"subject": subject, "description": description, **answers}, organization=organization, now=now
    )


def test_the_table_is_large_enough():
    assert len(TABLE) >= 30
    assert {row[3] for row in TABLE} == {"S1", "S2", "S3", "S4", "S5"}


@pytest.mark.parametrize(
    ("subject", "description", "answers", "expected"), TABLE, ids=[row[0][:40] for row in TABLE]
)
def test_each_intake(subject, description, answers, expected, organization):
    suggestion = _suggest(subject, description, answers, organization)
    assert suggestion.severity == expected, suggestion
    assert suggestion.reason.endswith(".") and suggestion.label.split()[0] in suggestion.reason


def test_agreement_on_the_table(organization, capsys):
    agree = sum(_suggest(s, d, a, organization).severity == e for s, d, a, e in TABLE)
    with capsys.disabled():
        print(f"\nseverity suggestion: {agree}/{len(TABLE)} intakes agree ({100 * agree / len(TABLE):.0f}%)")
    assert agree == len(TABLE)


def test_words_of_alarm_alone_change_nothing(organization):
    plain = _suggest("Feedback form is not saving", "", {}, organization)
    alarmed = _suggest("URGENT CRITICAL ASAP!!! Feedback form is not saving", "emergency", {}, organization)
    assert plain.severity == alarmed.severity == "S3"


def test_reasons_say_why_in_one_sentence(organization):
    assert _suggest("Nobody can log in", "", {"impact_scope": W, "occurrence": NOW}, organization).reason == (
        "Your whole organization is affected and it is happening now: S1 Critical — on-call is paged at once."
    )
    assert _suggest("Critical typo in an email template", "", {}, organization).reason == (
        "It is a cosmetic issue: S4 Low."
    )


# --- interview urgency ----------------------------------------------------------------------------------


def test_first_response_due_comes_from_the_sla_engine(organization):
    # S3: one business day (540 business minutes) from Tuesday 10:00 → Wednesday 10:00 Pacific.
    assert first_response_due(
        "S3", organization=organization, now=TUESDAY_10AM_PT
    ) == TUESDAY_10AM_PT + timedelta(days=1)
    # S2: four business hours → 14:00 Pacific the same day.
    assert first_response_due(
        "S2", organization=organization, now=TUESDAY_10AM_PT
    ) == TUESDAY_10AM_PT + timedelta(hours=4)
    # S1: 30 minutes, 24/7.
    assert first_response_due(
        "S1", organization=organization, now=TUESDAY_10AM_PT
    ) == TUESDAY_10AM_PT + timedelta(minutes=30)


def test_an_interview_before_the_s3_answer_raises_to_s2(organization):
    starts = TUESDAY_10AM_PT + timedelta(minutes=90)
    suggestion = _suggest(
        "Interviewer missing from the panel",
        "One interviewer does not appear.",
        {"impact_scope": J, "interview_starts_at": starts},
        organization,
    )
    assert suggestion.severity == "S2" and suggestion.rule == "interview_urgency"
    assert suggestion.reason == (
        "Your interview starts in 1 h 30 min, before an S3 answer would arrive: S2 suggested (S2 High)."
    )


def test_an_interview_next_week_changes_nothing(organization):
    starts = TUESDAY_10AM_PT + timedelta(days=7)
    suggestion = _suggest(
        "Interviewer missing from the panel",
        "",
        {"impact_scope": J, "interview_starts_at": starts},
        organization,
    )
    assert suggestion.severity == "S3" and suggestion.rule != "interview_urgency"


def test_a_cosmetic_issue_is_raised_only_as_far_as_needed(organization):
    # S4 answers in 3 business days (Friday); S3 by Wednesday 10:00, before a Thursday interview: S3.
    starts = TUESDAY_10AM_PT + timedelta(days=2)
    suggestion = _suggest("Typo in the candidate invite", "", {"interview_starts_at": starts}, organization)
    assert suggestion.severity == "S3"
    assert suggestion.reason.startswith("Your interview starts in 2 d, before an S4 answer would arrive")


def test_feature_requests_and_s1_are_never_raised_or_lowered(organization):
    starts = TUESDAY_10AM_PT + timedelta(hours=1)
    request = _suggest(
        "Please add Teams support",
        "",
        {"reason": "We use Teams", "interview_starts_at": starts},
        organization,
    )
    assert request.severity == "S5"
    outage = _suggest(
        "Nobody can log in",
        "",
        {"impact_scope": W, "occurrence": NOW, "interview_starts_at": starts},
        organization,
    )
    assert outage.severity == "S1"


def test_an_interview_in_the_past_changes_nothing_and_naive_times_are_the_organizations(organization):
    past = TUESDAY_10AM_PT - timedelta(hours=3)
    assert (
        _suggest(
            "Interviewer missing", "", {"impact_scope": J, "interview_starts_at": past}, organization
        ).severity
        == "S3"
    )
    # 11:30 without an offset is 11:30 in Los Angeles: 90 minutes after 10:00 there.
    naive = "2026-12-08T11:30"
    suggestion = _suggest(
        "Interviewer missing", "", {"impact_scope": J, "interview_starts_at": naive}, organization
    )
    assert suggestion.severity == "S2" and "1 h 30 min" in suggestion.reason


def test_any_text_is_read_without_error(organization):
    for text in ["", "日本語", "x" * 50_000, "\x00", "((((((", "🙂" * 1000]:
        assert _suggest(text, text, {"error_message": text}, organization).severity in {
            "S1",
            "S2",
            "S3",
            "S4",
            "S5",
        }
