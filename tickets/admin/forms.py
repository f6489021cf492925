"""Forms of the agent console's ticket page: the ticket itself, candidates, and the reply box."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.text import capfirst

from tickets import intake, workflow
from tickets.forms import LinesField, MultipleFileField
from tickets.models import Candidate, Macro, Severity, Status, Ticket


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
        choices=[(KIND_REPLY, "Public reply"), (KIND_NOTE, "Internal note")],
        initial=KIND_REPLY,
        widget=forms.RadioSelect,
        label="Send as",
    )
    then_status = forms.ChoiceField(
        required=False,
        label="Then set status",
        choices=[("", "— leave as is —")] + [(s.value, s.label) for s in Status if s != Status.NEW],
    )
    attachments = MultipleFileField(required=False)
    macro = forms.ModelChoiceField(
        queryset=Macro.objects.none(),
        required=False,
        label="Canned reply",
        help_text="Fills the message; what you send (edited or not) goes out with the macro's status.",
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, macros=None, **kwargs):
        """`macros`: the canned replies this agent is offered (`selectors.active_macros(agent)`)."""
        super().__init__(*args, **kwargs)
        self.fields["body"].required = False
        if macros is not None:
            ids = [macro.pk for macro in macros] if isinstance(macros, list) else macros.values("pk")
            self.fields["macro"].queryset = Macro.objects.filter(pk__in=ids)

    def clean(self):
        data = super().clean()
        if not (data.get("body") or "").strip() and not data.get("macro"):
            self.add_error("body", "Write a message or pick a canned reply.")
        return data


# --- the ticket page's small forms: one per thing an agent changes, each through one service call ---------


class ZonedDateTimeField(forms.DateTimeField):
    """A date and time typed in `zone` (the customer's, for the intake: the customer wrote "since 09:40"
    in their own time) whatever zone the console is shown in; stored as an aware instant."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def __init__(self, *, zone, **kwargs):
        self.zone = zone
        super().__init__(input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"], **kwargs)

    def prepare_value(self, value):
        if hasattr(value, "astimezone") and value.tzinfo is not None:
            return value.astimezone(self.zone).replace(tzinfo=None)
        return value

    def to_python(self, value):
        if value in self.empty_values:
            return None
        naive = forms.DateTimeField.to_python(self, value)
        if naive is None:
            return None
        return naive.replace(tzinfo=None).replace(tzinfo=self.zone)


class SeverityForm(forms.Form):
    severity = forms.ChoiceField(choices=Severity.choices, label="Severity")

    def __init__(self, *args, ticket: Ticket, **kwargs):
        kwargs.setdefault("initial", {"severity": ticket.severity})
        super().__init__(*args, **kwargs)


class StatusForm(forms.Form):
    """The statuses an agent may move the ticket to from where it is (tickets.workflow)."""

    status = forms.ChoiceField(label="Status")

    def __init__(self, *args, ticket: Ticket, **kwargs):
        kwargs.setdefault("initial", {"status": ticket.status})
        super().__init__(*args, **kwargs)
        allowed = workflow.allowed_statuses(ticket.status, by_agent=True) | {ticket.status}
        self.fields["status"].choices = [
            (value, label) for value, label in Status.choices if value in allowed
        ]


class AssigneeForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, label="Assignee", empty_label="— nobody —"
    )

    def __init__(self, *args, ticket: Ticket, agents, **kwargs):
        kwargs.setdefault("initial", {"assignee": ticket.assignee_id})
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = agents
        self.fields["assignee"].label_from_instance = lambda user: user.get_full_name() or user.get_username()


class DetailsForm(forms.ModelForm):
    """The subject and the description, as the customer wrote them, corrected."""

    class Meta:
        model = Ticket
        fields = ("subject", "description")
        widgets = {"description": forms.Textarea(attrs={"rows": 6})}


def intake_group_form(group: intake.IntakeGroup, *, zone) -> type[forms.ModelForm]:
    """A form for one intake group's fields; its dates and times are typed in the customer's `zone`."""

    def formfield(db_field, **kwargs):
        if isinstance(db_field, models.DateTimeField):
            label = f"{capfirst(db_field.verbose_name)} ({zone.key.replace('_', ' ')} time)"
            return ZonedDateTimeField(zone=zone, label=label, required=False)
        return _formfield(db_field, **kwargs)

    class Meta:
        model = Ticket
        fields = group.names
        formfield_callback = formfield

    return type(f"{group.key.title()}IntakeForm", (forms.ModelForm,), {"Meta": Meta})


CandidateFormSet = forms.formset_factory(
    forms.modelform_factory(Candidate, form=CandidateInlineForm, fields=("name", "email")),
    extra=1,
    can_delete=True,
)
