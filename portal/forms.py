"""The portal's forms: the FAQ-guided new-ticket form, candidates, replies."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Fieldset, Layout
from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from tickets.forms import LinesField, MultipleFileField
from tickets.models import SEVERITY_DEFINITIONS, AffectedRole, ImpactScope, Occurrence, Severity

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


def _optional(choices) -> list[tuple[str, str]]:
    return list(choices)


class NewTicketForm(forms.Form):
    """The questions the support FAQ asks, grouped the same way: severity, who, what & where, when, why,
    the interview context, and files."""

    severity = forms.ChoiceField(
        choices=[(s.value, f"{s.label} — {SEVERITY_DEFINITIONS[s]}") for s in Severity],
        initial=Severity.S3,
        widget=forms.RadioSelect,
        help_text="S1 pages our on-call engineer immediately, day or night. Choose it only when the service "
        "is unusable for critical functions or data is corrupted.",
    )
    subject = forms.CharField(max_length=200, help_text="One line: what is wrong, or what you would like.")
    affected_role = forms.ChoiceField(
        label="Who is affected?",
        choices=_optional(AffectedRole.choices),
        required=False,
        widget=forms.RadioSelect,
    )
    impact_scope = forms.ChoiceField(
        label="How widely?", choices=_optional(ImpactScope.choices), required=False, widget=forms.RadioSelect
    )
    description = forms.CharField(
        label="What is happening, and where?",
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Describe the problem and the steps that lead to it.",
    )
    product_area = forms.CharField(
        label="Which section of the product?",
        max_length=120,
        required=False,
        widget=forms.TextInput(attrs={"list": "product-areas"}),
    )
    feature = forms.CharField(label="Which feature?", max_length=200, required=False)
    error_message = forms.CharField(
        label="Error message",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Copy it exactly, if you saw one.",
    )
    occurrence = forms.ChoiceField(
        label="When?", choices=_optional(Occurrence.choices), required=False, widget=forms.RadioSelect
    )
    started_at = _local_datetime_field("Since when?", "In your organization's time zone.")
    reason = forms.CharField(
        label="Why would this help you?",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For feature questions and requests: why you would like it, and how it would help.",
    )
    interview_position = forms.CharField(label="Position", max_length=200, required=False)
    interview_template_name = forms.CharField(label="Interview template name", max_length=200, required=False)
    interview_template_changes = forms.CharField(
        label="Changes you made to the template",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Modifications to the panel events or interviewers, if any.",
    )
    interview_interviewers = LinesField(label="Interviewers", required=False, help_text="One per line.")
    interview_starts_at = _local_datetime_field("Interviews from")
    interview_ends_at = _local_datetime_field("Interviews until")
    attachments = MultipleFileField(
        label="Screenshots and files",
        required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = attachments_help()
        for name in ("affected_role", "impact_scope", "occurrence"):
            self.fields[name].choices = [choice for choice in self.fields[name].choices if choice[0]]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Fieldset("How severe is it?", "severity"),
            Fieldset("What is it about?", "subject"),
            Fieldset(
                "Who",
                Div(
                    Div("affected_role", css_class="col-md-6"),
                    Div("impact_scope", css_class="col-md-6"),
                    css_class="row",
                ),
            ),
            Fieldset(
                "What and where",
                "description",
                Div(
                    Div("product_area", css_class="col-md-6"),
                    Div("feature", css_class="col-md-6"),
                    css_class="row",
                ),
                "error_message",
            ),
            Fieldset(
                "When",
                Div(
                    Div("occurrence", css_class="col-md-6"),
                    Div("started_at", css_class="col-md-6"),
                    css_class="row",
                ),
            ),
            Fieldset("Why", "reason"),
            Fieldset(
                "Interview context",
                HTML(
                    '<p class="form-text">Is the problem about specific interviews? Tell us about them.</p>'
                ),
                HTML("{% include 'portal/_candidates.html' %}"),
                Div(
                    Div("interview_position", css_class="col-md-6"),
                    Div("interview_template_name", css_class="col-md-6"),
                    css_class="row",
                ),
                "interview_template_changes",
                "interview_interviewers",
                Div(
                    Div("interview_starts_at", css_class="col-md-6"),
                    Div("interview_ends_at", css_class="col-md-6"),
                    css_class="row",
                ),
            ),
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


class ChatMessageForm(forms.Form):
    body = forms.CharField(max_length=5000)
