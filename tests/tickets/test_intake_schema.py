"""One intake schema (tickets/intake.py): every face lists the same intake fields as the schema, and the
schema's fields are exactly the Ticket model's intake fields."""

import pytest
from django.contrib import admin
from django.test import RequestFactory

from portal.forms import NewTicketForm
from tickets import intake, services
from tickets.admin.forms import TicketAdminForm
from tickets.api import serializers as s
from tickets.forms import LinesField
from tickets.models import Ticket

SCHEMA = set(intake.FIELD_NAMES)

#: The ticket's own fields: everything on the model that is not the intake. A new model field belongs
#: either here or in the intake schema.
TICKET_OWN_FIELDS = {
    "id",
    "subject",
    "description",
    "severity",
    "status",
    "channel",
    "organization",
    "requester",
    "assignee",
    "created_at",
    "updated_at",
    "resolved_at",
    "closed_at",
    "sla_due_at",
    "sla_policy",
    "sla_calendar",
    # What the severity suggestion said at creation (tickets/severity_suggestion.py).
    "suggested_severity",
    "suggested_severity_reason",
    # What search reads (kept by triggers), not intake.
    "search_public",
    "search_all",
}


def _flatten(fields) -> list[str]:
    names = []
    for item in fields:
        names.extend(_flatten(item) if isinstance(item, list | tuple) else [item])
    return names


def _intake_accepted_by(serializer_class) -> list[str]:
    """The Ticket model fields a write serializer accepts as intake, through the API's names."""
    fields = serializer_class().fields
    top_level = [name for name in fields if name in SCHEMA]
    interview = [s.INTERVIEW_FIELDS[name] for name in fields["interview"].fields if name != "candidates"]
    unmapped = set(fields["interview"].fields) - set(s.INTERVIEW_FIELDS) - {"candidates"}
    assert unmapped == set()
    return top_level + interview


def test_the_schema_is_exactly_the_models_intake_fields():
    model_fields = {field.name for field in Ticket._meta.concrete_fields}
    assert model_fields >= SCHEMA
    assert model_fields - TICKET_OWN_FIELDS == SCHEMA
    assert len(intake.FIELD_NAMES) == len(SCHEMA)  # no field listed twice


def test_the_groups_are_the_faqs():
    assert [group.title for group in intake.GROUPS] == [
        "Who",
        "What & where",
        "When",
        "Why",
        "Interview context",
    ]
    for group in intake.GROUPS:
        assert sorted(_flatten(group.layout)) == sorted(group.names)


def test_services_allow_exactly_the_schema():
    assert set(services.INTAKE_FIELDS) == SCHEMA
    assert set(services.EDITABLE_FIELDS) == {"subject", "description"} | SCHEMA


@pytest.mark.parametrize("serializer_class", [s.TicketCreateSerializer, s.TicketUpdateSerializer])
def test_api_create_and_update_take_exactly_the_schema(serializer_class):
    assert issubclass(serializer_class, s.IntakeSerializer)
    accepted = _intake_accepted_by(serializer_class)
    assert sorted(accepted) == sorted(SCHEMA)


def test_api_create_and_update_share_the_same_intake_fields():
    create, update = s.TicketCreateSerializer().fields, s.TicketUpdateSerializer().fields
    for name in [*s.INTAKE_API_FIELDS, "interview"]:
        assert repr(create[name]) == repr(update[name]), name


def test_api_ticket_reads_exactly_the_schema():
    ticket_fields = s.TicketSerializer().fields
    top_level = {name for name in ticket_fields if name in SCHEMA}
    assert top_level == set(s.INTAKE_API_FIELDS)
    assert top_level | set(s.INTERVIEW_FIELDS.values()) == SCHEMA


@pytest.mark.django_db
def test_api_ticket_interview_has_every_interview_field():
    from tests.factories import TicketFactory

    interview = s.TicketSerializer(TicketFactory()).data["interview"]
    assert set(interview) == {"candidates", *s.INTERVIEW_FIELDS}


def test_console_fieldsets_are_the_schemas_groups():
    ticket_admin = admin.site._registry[Ticket]
    request = RequestFactory().get("/")
    for obj in (None, Ticket(pk=1)):
        fieldsets = ticket_admin.get_fieldsets(request, obj)
        groups = {title: _flatten(options["fields"]) for title, options in fieldsets if title}
        for group in intake.GROUPS:
            assert groups[group.title] == _flatten(group.layout)
        shown = {name for _title, options in fieldsets for name in _flatten(options["fields"])}
        assert shown & (SCHEMA | {"interview"}) == SCHEMA


def test_console_form_edits_exactly_the_schema():
    form_fields = set(TicketAdminForm.base_fields)
    assert form_fields - {"requester", "subject", "description", "severity", "status", "assignee"} == SCHEMA
    # A list (interviewers) is edited one per line, in the console's own form too.
    assert isinstance(TicketAdminForm.base_fields["interview_interviewers"], LinesField)


def test_portal_form_asks_exactly_the_schema():
    form = NewTicketForm()
    assert set(form.fields) - {"severity", "subject", "description", "attachments"} == SCHEMA
    for entry in intake.FIELDS:
        assert form.fields[entry.name].label == entry.label
        assert form.fields[entry.name].help_text == entry.help_text
    laid_out = set()
    for fieldset in form.helper.layout.fields:
        laid_out.update(_layout_names(fieldset))
    assert laid_out >= SCHEMA


def _layout_names(item) -> list[str]:
    if isinstance(item, str):
        return [item]
    return [name for child in getattr(item, "fields", []) for name in _layout_names(child)]


def test_a_schema_group_needs_its_rows_to_cover_its_fields():
    broken = intake.IntakeGroup(
        key="broken",
        title="Broken",
        fields=(intake.IntakeField("reason", "Why?"),),
        rows=(("feature",),),
    )
    with pytest.raises(ValueError, match="lay out each of its fields"):
        intake._check((broken,))
