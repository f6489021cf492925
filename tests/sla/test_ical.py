"""Days off as iCalendar: /support/holidays.ics (public, the default calendar's working-day holidays) and
the console's import of an .ics file into a calendar (all-day events, recurrences, refusals)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import icalendar
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from sla import ical
from sla.calendars import default_calendar
from sla.models import BusinessCalendar, Holiday
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def ics(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{event.strip()}\r\nEND:VEVENT\r\n" for event in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n{body}END:VCALENDAR\r\n".encode()


def test_the_feed_lists_the_default_calendar_s_days_off_on_working_days(client):
    response = client.get("/support/holidays.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "max-age" in response["Cache-Control"]
    feed = icalendar.Calendar.from_ical(response.content)
    events = {event["dtstart"].dt: str(event["summary"]) for event in feed.walk("VEVENT")}
    year = timezone.localdate().year
    assert min(events).year == year - 1 and max(events).year == year + 2
    assert all(day.weekday() < 5 for day in events)  # a Saturday holiday closes nothing
    thanksgiving = next(
        day for day, name in events.items() if day.year == year and "Thanksgiving Day" in name
    )
    assert events[date(year, thanksgiving.month, thanksgiving.day + 1)] == "Day after Thanksgiving"
    uids = [str(event["uid"]) for event in feed.walk("VEVENT")]
    assert len(uids) == len(set(uids))
    for event in feed.walk("VEVENT"):
        assert (event["dtend"].dt - event["dtstart"].dt).days == 1


def test_a_day_marked_worked_leaves_the_feed(client):
    calendar = BusinessCalendar.objects.get(is_default=True)
    year = timezone.localdate().year
    columbus = next(
        day for day, name, *_ in ical.HolidayRule.of(calendar).days_off(year) if name == "Columbus Day"
    )
    Holiday.objects.create(calendar=calendar, date=columbus, name="Worked", kind=Holiday.Kind.WORKING_DAY)
    feed = icalendar.Calendar.from_ical(client.get("/support/holidays.ics").content)
    assert columbus not in {event["dtstart"].dt for event in feed.walk("VEVENT")}


def test_import_adds_all_day_events_expands_recurrences_and_keeps_hand_made_rows():
    calendar = BusinessCalendar.objects.get(is_default=True)
    Holiday.objects.create(calendar=calendar, date=date(2031, 3, 3), name="Already here")
    data = ics(
        "UID:1\r\nDTSTART;VALUE=DATE:20310303\r\nDTEND;VALUE=DATE:20310305\r\nSUMMARY:Offsite",
        "UID:2\r\nDTSTART;VALUE=DATE:20300617\r\nSUMMARY:Founders' day\r\nRRULE:FREQ=YEARLY;COUNT=3",
        "UID:3\r\nDTSTART:20310410T090000Z\r\nDTEND:20310410T100000Z\r\nSUMMARY:Town hall",
        "UID:4\r\nDTSTART;VALUE=DATE:20320101\r\nSUMMARY:<script>alert(1)</script>",
    )
    result = ical.import_days_off(calendar=calendar, data=data)
    assert result.added == [
        (date(2030, 6, 17), "Founders' day"),
        (date(2031, 3, 4), "Offsite"),
        (date(2031, 6, 17), "Founders' day"),
        (date(2032, 1, 1), "<script>alert(1)</script>"),
        (date(2032, 6, 17), "Founders' day"),
    ]
    assert (result.already, result.skipped_timed) == (1, 1)
    assert result.summary() == "5 days off added, 1 already set, 1 event with a time of day skipped."
    assert Holiday.objects.get(calendar=calendar, date=date(2031, 3, 3)).name == "Already here"
    # The cached calendar counts them at once.
    assert not default_calendar().is_open(datetime(2031, 3, 4, 18, tzinfo=UTC))


@pytest.mark.parametrize(
    "data",
    [b"not a calendar", b"BEGIN:VEVENT\r\nEND:VEVENT\r\n", b"\xff\xfe\x00garbage", b""],
)
def test_import_refuses_what_is_not_a_calendar(data):
    with pytest.raises(ical.InvalidCalendarFile):
        ical.import_days_off(calendar=BusinessCalendar.objects.get(is_default=True), data=data)


def test_the_console_imports_a_file_and_shows_the_days_off(client):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    client.force_login(admin)
    calendar = BusinessCalendar.objects.get(is_default=True)
    page = client.get(reverse("admin:sla_businesscalendar_change", args=[calendar.pk]))
    assert page.status_code == 200
    assert "Day after Thanksgiving" in page.content.decode()
    url = reverse("admin:sla_businesscalendar_import_ics", args=[calendar.pk])
    bad = client.post(url, {"file": SimpleUploadedFile("x.ics", b"nonsense")})
    assert bad.status_code == 200 and "not an iCalendar" in bad.content.decode()
    good = client.post(
        url,
        {"file": SimpleUploadedFile("x.ics", ics("UID:1\r\nDTSTART;VALUE=DATE:20330808\r\nSUMMARY:Picnic"))},
    )
    assert good.status_code == 302
    assert Holiday.objects.filter(calendar=calendar, date=date(2033, 8, 8), name="Picnic").exists()


def test_an_agent_without_the_change_permission_cannot_import(client, agent):
    client.force_login(agent)
    calendar = BusinessCalendar.objects.get(is_default=True)
    url = reverse("admin:sla_businesscalendar_import_ics", args=[calendar.pk])
    response = client.post(
        url, {"file": SimpleUploadedFile("x.ics", ics("UID:1\r\nDTSTART;VALUE=DATE:20330808\r\nSUMMARY:X"))}
    )
    assert response.status_code == 403
    assert not Holiday.objects.filter(date=date(2033, 8, 8)).exists()
    assert client.get(reverse("admin:sla_businesscalendar_import_ics", args=[987654])).status_code in (
        403,
        404,
    )


def test_the_console_form_refuses_an_unknown_country(client):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    client.force_login(admin)
    response = client.post(
        reverse("admin:sla_businesscalendar_add"),
        {
            "name": "Support X",
            "timezone": "Europe/Berlin",
            "holiday_country": "XX",
            "hours-TOTAL_FORMS": "0",
            "hours-INITIAL_FORMS": "0",
            "holidays-TOTAL_FORMS": "0",
            "holidays-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "is not a supported country code" in response.content.decode()
    assert not BusinessCalendar.objects.filter(name="Support X").exists()
