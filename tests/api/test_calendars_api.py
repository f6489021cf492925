"""Calendars' holidays by rule through the API: the rule set's fields and their refusals, and
`/api/v1/holidays/?calendar=ID&year=YYYY`, the effective days off of any year (rule, days added by hand,
rule days marked worked)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from sla.models import BusinessCalendar, Holiday
from tests.factories import PASSWORD
from tickets.models.integrations import ApiToken

HOURS = [{"weekday": day, "start": "09:00", "end": "17:30"} for day in range(5)]


@pytest.fixture(autouse=True)
def _generous_throttles(monkeypatch):
    for scope in ("token", "anon", "auth"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")


def client_for(user) -> APIClient:
    client = APIClient()
    _, key = ApiToken.objects.issue(user=user, name="test")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def staff(db):
    return client_for(get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD))


def days_off(client, calendar_id: int, year: int) -> dict[str, tuple[str, str]]:
    response = client.get(f"/api/v1/holidays/?calendar={calendar_id}&year={year}&page_size=100")
    assert response.status_code == 200, response.content
    return {row["date"]: (row["name"], row["source"]) for row in response.json()["results"]}


def test_the_default_calendar_lists_its_days_off_of_any_year(staff, requester):
    default = BusinessCalendar.objects.get(is_default=True)
    body = client_for(requester).get(f"/api/v1/calendars/{default.pk}/").json()
    assert (body["holiday_country"], body["holiday_subdivision"], body["holiday_extras"]) == (
        "US",
        "",
        ["day_after_thanksgiving"],
    )
    days = days_off(client_for(requester), default.pk, 2029)
    assert days["2029-01-01"] == ("New Year's Day", "rule")
    assert days["2029-11-22"][1] == "rule" and days["2029-11-23"] == ("Day after Thanksgiving", "rule")
    assert days["2029-11-12"] == ("Veterans Day (observed)", "rule")  # 11 November 2029 is a Sunday
    assert "2029-03-30" not in days  # Good Friday is no US federal holiday
    assert list(days) == sorted(days)
    assert "2040-12-25" in days_off(staff, default.pk, 2040)


def test_days_set_by_hand_add_to_and_remove_from_the_rule(staff):
    default = BusinessCalendar.objects.get(is_default=True)
    added = staff.post(
        "/api/v1/holidays/", {"calendar": default.pk, "date": "2031-08-01", "name": "Company picnic"}
    )
    assert added.status_code == 201, added.content
    worked = staff.post(
        "/api/v1/holidays/",
        {"calendar": default.pk, "date": "2031-10-13", "name": "Columbus Day", "kind": "working_day"},
    )
    assert worked.status_code == 201 and worked.json()["kind"] == "working_day"
    days = days_off(staff, default.pk, 2031)
    assert days["2031-08-01"] == ("Company picnic", "manual")
    assert "2031-10-13" not in days  # Columbus Day 2031 is worked
    rows = staff.get(f"/api/v1/holidays/?calendar={default.pk}&year=2031&page_size=100").json()["results"]
    picnic = next(row for row in rows if row["date"] == "2031-08-01")
    assert picnic["id"] == added.json()["id"] and picnic["kind"] == "day_off"
    assert all(row["id"] is None for row in rows if row["source"] == "rule")


def test_a_calendar_on_another_country_and_subdivision(staff, requester):
    created = staff.post(
        "/api/v1/calendars/",
        {
            "name": "Support UK",
            "timezone": "Europe/London",
            "hours": HOURS,
            "holiday_country": "gb",
            "holiday_subdivision": "GB-ENG",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["holiday_country"], body["holiday_subdivision"], body["holiday_extras"]) == ("GB", "ENG", [])
    days = days_off(client_for(requester), body["id"], 2030)
    assert days["2030-08-26"][0] == "Late Summer Bank Holiday"
    assert "2030-01-02" not in days  # Scotland's, not England's
    assert "2030-11-28" not in days  # no Thanksgiving in England
    cleared = staff.patch(
        f"/api/v1/calendars/{body['id']}/", {"holiday_country": "", "holiday_subdivision": ""}
    )
    assert cleared.status_code == 200
    assert days_off(staff, body["id"], 2030) == {}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"holiday_country": "XX"}, "holiday_country"),
        ({"holiday_country": "US", "holiday_subdivision": "ZZ"}, "holiday_subdivision"),
        ({"holiday_subdivision": "CA"}, "holiday_subdivision"),  # a subdivision needs a country
        ({"holiday_extras": ["boxing_day_in_july"]}, "holiday_extras"),
        ({"holiday_extras": "day_after_thanksgiving"}, "holiday_extras"),
    ],
)
def test_rule_set_refusals_name_the_field(staff, payload, field):
    data = {"name": "Support EMEA", "timezone": "Europe/Berlin", "hours": HOURS, **payload}
    response = staff.post("/api/v1/calendars/", data)
    assert response.status_code == 400, response.content
    assert field in response.json()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("year=2029", "calendar"),
        ("calendar={calendar}&year=29", "year"),
        ("calendar={calendar}&year=２０２９", "year"),  # full-width digits
        ("calendar={calendar}&year=0000", "year"),
        ("calendar={calendar}&year=9999", "year"),
        ("calendar=987654321&year=2029", "calendar"),
        ("calendar=abc&year=2029", "calendar"),
    ],
)
def test_year_listing_refusals_name_the_parameter(staff, query, field):
    calendar = BusinessCalendar.objects.get(is_default=True)
    response = staff.get("/api/v1/holidays/?" + query.format(calendar=calendar.pk))
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_changing_the_rule_changes_the_next_ticket_s_due_time(staff, requester):
    """The cached calendar follows an edit made through the API."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from sla.calendars import default_calendar

    default = BusinessCalendar.objects.get(is_default=True)
    la = ZoneInfo("America/Los_Angeles")
    assert not default_calendar().is_open(datetime(2030, 11, 29, 10, tzinfo=la))  # day after Thanksgiving
    assert staff.patch(f"/api/v1/calendars/{default.pk}/", {"holiday_extras": []}).status_code == 200
    assert default_calendar().is_open(datetime(2030, 11, 29, 10, tzinfo=la))
    Holiday.objects.create(calendar=default, date="2030-11-29", name="Bridge day")
    assert not default_calendar().is_open(datetime(2030, 11, 29, 10, tzinfo=la))
