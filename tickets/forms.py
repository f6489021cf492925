"""Form fields shared by the agent console and the portal."""

from __future__ import annotations

from django import forms
from django.conf import settings

from helpdesk.timezones import DEFAULT_TIMEZONE, timezone_choices
from tickets.attachments import ACCEPTED_SUMMARY, ALLOWED_TYPES


class LinesField(forms.CharField):
    """A list of short strings edited as one per line (interviewers, for instance)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list[str]:
        lines = value if isinstance(value, list | tuple) else (super().to_python(value) or "").splitlines()
        return [line.strip() for line in lines if line and line.strip()]

    def has_changed(self, initial, data) -> bool:
        return self.to_python(initial or []) != self.to_python(data or "")


class TimezoneField(forms.ChoiceField):
    """A time zone picked from the list offered now (computed when the form is built, not frozen in the
    model: see helpdesk/timezones.py); Pacific time unless the form says otherwise, as the models do."""

    def __init__(self, **kwargs):
        kwargs.setdefault("initial", DEFAULT_TIMEZONE)
        super().__init__(choices=timezone_choices, **kwargs)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True

    def get_context(self, name, value, attrs):
        # The limits as they are configured now, for the browser to check before sending
        # (tickets/static/tickets/forms.js): a refused file is named before the form leaves the page.
        extensions = sorted({ext for exts in ALLOWED_TYPES.values() for ext in exts if ext})
        attrs = {
            **(attrs or {}),
            "data-max-bytes": settings.ATTACHMENT_MAX_BYTES,
            "data-max-files": settings.ATTACHMENTS_PER_REQUEST,
            "data-accept-extensions": " ".join(extensions),
            "data-accept-summary": ACCEPTED_SUMMARY,
            "data-accept-bare": "true" if any("" in exts for exts in ALLOWED_TYPES.values()) else "",
        }
        return super().get_context(name, value, attrs)


class MultipleFileField(forms.FileField):
    """Several files in one input, at most ATTACHMENTS_PER_REQUEST; the checks of each file (size, type)
    happen in the attachment service."""

    widget = MultipleFileInput

    def clean(self, data, initial=None):
        single = super().clean
        files = [item for item in data if item] if isinstance(data, list | tuple) else [data] if data else []
        if len(files) > settings.ATTACHMENTS_PER_REQUEST:
            raise forms.ValidationError(
                f"Attach at most {settings.ATTACHMENTS_PER_REQUEST} files at a time.", code="too_many_files"
            )
        return [single(item, initial) for item in files]
