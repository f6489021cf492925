"""Forms of the agent console's ticket page: the ticket itself, candidates, and the reply box."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.text import capfirst

from tickets import intake, workflow
from tickets.forms import LinesField, MultipleFileField
from tickets.models import Candidate, Macro, Status, Ticket


def intake_lines_field(db_field) -> LinesField | None:
    """An intake list (interviewers, say) is edited one item per line; None for any other field."""
    if not (isinstance(db_field, models.JSONField) and db_field.name in intake.FIELD_NAMES):
        return None
    return LinesField(
        label=capfirst(db_field.verbose_name), required=False, help_text=intake.field(db_field.name).help_text
    )


def _formfield(db_field, **kwargs):
    return intake_lines_field(db_field) or db_field.formfield(**kwargs)


class TicketAdminForm(forms.ModelForm):
    class Meta:
        model = Ticket
        fields = (
            "requester",
            "subject",
            "description",
            "severity",
            "status",
            "assignee",
            *intake.FIELD_NAMES,
        )
        formfield_callback = _formfield  # the console passes its own: see TicketAdmin

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "requester" in self.fields:
            self.fields["requester"].queryset = (
                get_user_model().objects.filter(is_active=True, membership__isnull=False).order_by("username")
            )
            self.fields["requester"].help_text = "The customer this ticket is for."
        if "status" in self.fields and self.instance.pk:
            current = self.instance.status
            allowed = workflow.allowed_statuses(current, by_agent=True) | {current}
            self.fields["status"].choices = [
                (value, label) for value, label in Status.choices if value in allowed
            ]

    def clean_status(self):
        status = self.cleaned_data["status"]
        if self.instance.pk and "status" in self.changed_data:
            try:
                workflow.check_transition(self.initial["status"], status, by_agent=True)
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["status"]) from exc
        return status


class CandidateInlineForm(forms.ModelForm):
    class Meta:
        model = Candidate
        fields = ("name", "email")
        # The inline's table names its columns, not its inputs: each says what it is to screen readers.
        widgets = {
            "name": forms.TextInput(attrs={"aria-label": "Candidate's name"}),
            "email": forms.EmailInput(attrs={"aria-label": "Candidate's email"}),
        }

    def clean(self):
        data = super().clean()
        if not data.get("DELETE") and not data.get("name") and not data.get("email"):
            raise ValidationError("Give the candidate's name or email.")
        return data


class ReplyForm(forms.Form):
    """The reply box under the conversation: a public reply or an internal note."""

    KIND_REPLY = "reply"
    KIND_NOTE = "note"

    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), label="Message")
    kind = forms.ChoiceField(
        choices=[(KIND_REPLY, "Public reply"), (KIND_NOTE, "Internal note")], initial=KIND_REPLY
    )
    then_status = forms.ChoiceField(
        required=False,
        label="Then set status",
        choices=[("", "— leave as is —")] + [(s.value, s.label) for s in Status if s != Status.NEW],
    )
    attachments = MultipleFileField(required=False)
    macro = forms.ModelChoiceField(
        queryset=Macro.objects.filter(active=True),
        required=False,
        label="Canned reply",
        help_text="Fills the message; what you send (edited or not) goes out with the macro's status.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].required = False

    def clean(self):
        data = super().clean()
        if not (data.get("body") or "").strip() and not data.get("macro"):
            self.add_error("body", "Write a message or pick a canned reply.")
        return data
