"""Time zones (helpdesk/timezones.py): a validator against the offered list, never a list frozen into the
migrations; the console still offers a drop-down."""

import pytest
import pytz
from django.core.exceptions import ValidationError
from django.db.migrations.loader import MigrationLoader
from django.urls import reverse

from helpdesk.timezones import timezone_choices, validate_timezone
from sla.models import BusinessCalendar
from tests.factories import OrganizationFactory
from tickets.admin.people import OrganizationForm
from tickets.admin.sla import BusinessCalendarForm
from tickets.models import Organization

TIMEZONE_FIELDS = [("tickets", "organization"), ("sla", "businesscalendar")]


@pytest.mark.parametrize(("app", "model"), TIMEZONE_FIELDS)
def test_the_migration_state_holds_no_list_of_zones(app, model):
    state = MigrationLoader(None, ignore_no_migrations=True).project_state()
    _name, _path, _args, kwargs = state.models[app, model].fields["timezone"].deconstruct()
    assert "choices" not in kwargs
    assert kwargs["validators"] == [validate_timezone]
    assert kwargs["default"] == "America/Los_Angeles"


@pytest.mark.parametrize("model", [Organization, BusinessCalendar])
def test_the_model_field_holds_no_list_of_zones(model):
    field = model._meta.get_field("timezone")
    assert not field.choices
    assert "choices" not in field.deconstruct()[3]


def test_validator_accepts_the_offered_zones_only():
    for name in ("America/Los_Angeles", "Europe/Berlin", "UTC", "Asia/Kolkata"):
        validate_timezone(name)
    for name in ("Pacific/Atlantis", "Mars/Olympus", "", "europe/berlin"):
        with pytest.raises(ValidationError):
            validate_timezone(name)


def test_offered_zones_are_pytz_common_timezones_with_readable_labels():
    choices = timezone_choices()
    assert [value for value, _label in choices] == list(pytz.common_timezones)
    assert ("America/New_York", "America/New York") in choices


@pytest.mark.django_db
def test_an_organization_in_an_unknown_zone_does_not_validate():
    organization = OrganizationFactory.build(name="Zoneless", timezone="Pacific/Atlantis")
    with pytest.raises(ValidationError) as caught:
        organization.full_clean()
    assert set(caught.value.message_dict) == {"timezone"}


@pytest.mark.parametrize("form_class", [OrganizationForm, BusinessCalendarForm])
def test_console_forms_offer_a_drop_down(form_class):
    field = form_class().fields["timezone"]
    assert field.widget.input_type == "select"
    assert ("Europe/Berlin", "Europe/Berlin") in field.choices
    assert len(list(field.choices)) == len(pytz.common_timezones)


@pytest.mark.django_db
def test_console_refuses_a_zone_not_offered(admin_client):
    response = admin_client.post(
        reverse("admin:tickets_organization_add"),
        {
            "name": "Zoneless",
            "timezone": "Pacific/Atlantis",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "timezone" in response.context["adminform"].form.errors
    assert not Organization.objects.filter(name="Zoneless").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", [reverse("admin:tickets_organization_add"), reverse("admin:sla_businesscalendar_add")]
)
def test_console_add_pages_show_a_select(admin_client, url):
    content = admin_client.get(url).content.decode()
    assert '<select name="timezone"' in content
    assert '<option value="America/Los_Angeles" selected>America/Los Angeles</option>' in content
