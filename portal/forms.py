"""The portal's forms: the FAQ-guided new-ticket form, candidates, replies, the password-reset request."""

from __future__ import annotations

import unicodedata

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Fieldset, Layout
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.db import models
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from tickets import intake
from tickets.forms import LinesField, MultipleFileField
from tickets.models import SEVERITY_DEFINITIONS, Severity, Ticket

PRODUCT_AREAS = [
    "Scheduling",
    "Availability",
    "Calendar sync",
    "ATS integration",
    "Candidate self-scheduling",
    "Interviewer load balancing",
    "Reporting",
    "Settings",
]

_LOCAL_DATETIME = {"type": "datetime-local"}
_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def _local_datetime_field(label: str, help_text: str = "") -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        help_text=help_text,
        input_formats=[_LOCAL_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs=_LOCAL_DATETIME, format=_LOCAL_FORMAT),
    )


def attachments_help() -> str:
    """What may be attached, with the configured limits."""
    return (
        "PNG, JPEG, GIF, WebP, PDF, text, CSV, log or .eml files, up to "
        f"{filesizeformat(settings.ATTACHMENT_MAX_BYTES)} each and "
        f"{settings.ATTACHMENTS_PER_REQUEST} at a time."
    )


def _intake_question(entry: intake.IntakeField) -> forms.Field:
    """The portal's input for an intake field: its wording from the schema, its kind from the model field
    (choices as radio buttons, a date and time in the browser's picker, a list one item per line)."""
    model_field = Ticket._meta.get_field(entry.name)
    if isinstance(model_field, models.DateTimeField):
        return _local_datetime_field(entry.label, entry.help_text)
    options = {"label": entry.label, "help_text": entry.help_text, "required": False}
    attrs = _WIDGET_ATTRS.get(entry.name, {})
    if model_field.choices:
        return forms.ChoiceField(choices=model_field.choices, widget=forms.RadioSelect, **options)
    if isinstance(model_field, models.JSONField):
        return LinesField(**options)
    if isinstance(model_field, models.TextField):
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3, **attrs}), **options)
    return forms.CharField(max_length=model_field.max_length, widget=forms.TextInput(attrs=attrs), **options)


#: How some questions look on the portal (a list to pick the product section from, shorter text boxes).
_WIDGET_ATTRS = {
    "product_area": {"list": "product-areas"},
    "error_message": {"rows": 2},
    "interview_template_changes": {"rows": 2},
}

#: What a group's fieldset shows before its questions.
_GROUP_LEAD = {
    "what": ("description",),
    "interview": (
        HTML('<p class="form-text">Is the problem about specific interviews? Tell us about them.</p>'),
        HTML("{% include 'portal/_candidates.html' %}"),
    ),
}


_INCLUDE = "{%% include 'portal/%s.html' %%}"


def _rows(layout: tuple[tuple[str, ...], ...]) -> list:
    """A schema group's rows: a field alone, or fields side by side in Bootstrap columns."""
    return [
        row[0]
        if len(row) == 1
        else Div(*(Div(name, css_class=f"col-md-{12 // len(row)}") for name in row), css_class="row")
        for row in layout
    ]


#: The intake questions as the schema asks them (a base class, so that they are the form's own fields).
IntakeQuestions = type(
    "IntakeQuestions", (forms.Form,), {entry.name: _intake_question(entry) for entry in intake.FIELDS}
)


class NewTicketForm(IntakeQuestions):
    """The questions the support FAQ asks, grouped the same way: severity, who, what & where, when, why,
    the interview context (from the intake schema), and files."""

    field_order = ("severity", "subject", "description")

    severity = forms.ChoiceField(
        choices=[(s.value, f"{s.label} — {SEVERITY_DEFINITIONS[s]}") for s in Severity],
        initial=Severity.S3,
        widget=forms.RadioSelect,
        help_text="S1 pages our on-call engineer immediately, day or night. Choose it only when the service "
        "is unusable for critical functions or data is corrupted.",
    )
    subject = forms.CharField(max_length=200, help_text="One line: what is wrong, or what you would like.")
    description = forms.CharField(
        label="What is happening, and where?",
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Describe the problem and the steps that lead to it.",
    )
    attachments = MultipleFileField(
        label="Screenshots and files",
        required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = attachments_help()
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            # The severity suggested from the answers so far, and the help-center articles matching the
            # subject and description: both filled in by portal/static/portal/self_service.js.
            Fieldset(
                "How severe is it?", "severity", HTML("{% include 'portal/_severity_suggestion.html' %}")
            ),
            Fieldset(
                "What is it about?", "subject", HTML("{% include 'portal/_article_suggestions.html' %}")
            ),
            *[
                Fieldset(group.customer_title, *_GROUP_LEAD.get(group.key, ()), *_rows(group.layout))
                for group in intake.GROUPS
            ],
            Fieldset("Screenshots and files", "attachments"),
        )

    def clean_started_at(self):
        started_at = self.cleaned_data.get("started_at")
        if started_at and started_at > timezone.now():
            raise forms.ValidationError("This is in the future; when did it start?")
        return started_at

    def clean(self):
        data = super().clean()
        if data.get("severity") == Severity.S5 and not (data.get("reason") or "").strip():
            self.add_error(
                "reason", "For a feature request, tell us why you would like it and how it would help."
            )
        starts, ends = data.get("interview_starts_at"), data.get("interview_ends_at")
        if starts and ends and ends < starts:
            self.add_error("interview_ends_at", "The end of the interview range is before its start.")
        return data


class CandidateForm(forms.Form):
    name = forms.CharField(label="Candidate name", max_length=200, required=False)
    email = forms.EmailField(label="Candidate email", required=False)


CandidateFormSet = forms.formset_factory(CandidateForm, extra=1, max_num=50, validate_max=True)


class ReplyForm(forms.Form):
    body = forms.CharField(label="Your reply", widget=forms.Textarea(attrs={"rows": 4}))
    attachments = MultipleFileField(label="Attach files", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = attachments_help()


class ChatLineForm(forms.Form):
    """A line in the chat panel: on one of the customer's open tickets (`ticket`, its reference), or the
    first line of a new conversation, which says what it is about and how bad it is."""

    body = forms.CharField(max_length=5000, error_messages={"required": "Write a message."})
    ticket = forms.CharField(max_length=24, required=False)
    subject = forms.CharField(max_length=200, required=False)
    severity = forms.ChoiceField(choices=Severity.choices, required=False)

    def clean(self):
        data = super().clean()
        if not data.get("ticket"):
            if not (data.get("subject") or "").strip() and "subject" not in self.errors:
                self.add_error("subject", "Say in one line what it is about.")
            if not data.get("severity") and "severity" not in self.errors:
                self.add_error("severity", "Choose how bad it is: S1 to S5.")
        return data


#: The reset mail (the view names them to Django's; the worker sends with them: portal/password_reset.py).
EMAIL_TEMPLATE = "portal/email/password_reset.txt"
SUBJECT_TEMPLATE = "portal/email/password_reset_subject.txt"


class PasswordResetRequestForm(PasswordResetForm):
    """Django's form, reaching active users whether or not they have a usable password yet."""

    def get_users(self, email: str):
        # Django skips users with an unusable password (meant for accounts that sign in elsewhere); here
        # that is a customer made by email intake or the API who has not chosen a password yet.
        email_field = get_user_model().get_email_field_name()
        users = get_user_model()._default_manager.filter(
            **{f"{email_field}__iexact": email, "is_active": True}
        )
        return (user for user in users if _folded(email) == _folded(getattr(user, email_field)))


def _folded(text: str) -> str:
    # As Django's own form compares: the database's case-insensitive match may be looser than Unicode's.
    return unicodedata.normalize("NFKC", text).casefold()
