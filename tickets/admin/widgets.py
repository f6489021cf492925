"""Form widgets of the console that the admin's own lack something of (accessibility)."""

from __future__ import annotations

from django.contrib.admin import options
from django.contrib.admin.widgets import AdminSplitDateTime
from django.db import models


class LabelledSplitDateTime(AdminSplitDateTime):
    """The admin's date-and-time pair, each input inside its own <label> ("Date:", "Time:"): the admin's
    template writes those words beside inputs no label names, which screen readers announce as unlabelled
    (axe: critical)."""

    template_name = "admin/widgets/split_datetime_labelled.html"


def use_labelled_widgets() -> None:
    """Make every date-time field of the console's forms use `LabelledSplitDateTime`. Called before the
    ModelAdmins are registered (each copies these defaults when it is created)."""
    options.FORMFIELD_FOR_DBFIELD_DEFAULTS[models.DateTimeField]["widget"] = LabelledSplitDateTime
