"""The structured intake, described once: the groups the support FAQ asks about (Who, What & where, When,
Why, Interview context), each with its fields in order.

Every face takes its field list from here: the services (what a ticket is created with and agents may
edit), the API (one serializer base shared by create and update, and the ticket as read), the console's
fieldsets and the portal's new-ticket form. Adding an intake field is one entry here plus its `Ticket`
model field and migration; each face derives the kind of input from the model field (choices, text,
date and time, or a JSON list of lines), and the customer's wording from the entry.

The interview context's candidates are rows of `Candidate`, not ticket fields: each face handles them
beside the group (the console's inline, the portal's formset, the API's `interview.candidates`).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The longest line of a list field (one interviewer, for instance) the API accepts.
LINE_MAX_LENGTH = 200


@dataclass(frozen=True)
class IntakeField:
    """One intake question. `name` is the Ticket model field; `label` and `help_text` are the question as
    the customer sees it (agents see the model field's verbose name); `api_name` is its name inside the
    group's API object (at the top level of a ticket, the API says `name`)."""

    name: str
    label: str
    help_text: str = ""
    api_name: str = ""

    def __post_init__(self) -> None:
        if not self.api_name:
            object.__setattr__(self, "api_name", self.name)


@dataclass(frozen=True)
class IntakeGroup:
    """A group of intake questions. `title` heads it in the console, `customer_title` (by default the
    same) on the portal; `rows` lays it out on pages (fields side by side in a row; by default one per
    row); `api_object` names the nested object its fields travel in, if any."""

    key: str
    title: str
    fields: tuple[IntakeField, ...]
    rows: tuple[tuple[str, ...], ...] = ()
    api_object: str = ""
    customer_title: str = ""

    def __post_init__(self) -> None:
        if not self.customer_title:
            object.__setattr__(self, "customer_title", self.title)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields)

    @property
    def layout(self) -> tuple[tuple[str, ...], ...]:
        return self.rows or tuple((name,) for name in self.names)


WHO = IntakeGroup(
    key="who",
    title="Who",
    fields=(
        IntakeField("affected_role", "Who is affected?"),
        IntakeField("impact_scope", "How widely?"),
    ),
    rows=(("affected_role", "impact_scope"),),
)
WHAT = IntakeGroup(
    key="what",
    title="What & where",
    customer_title="What and where",
    fields=(
        IntakeField("product_area", "Which section of the product?"),
        IntakeField("feature", "Which feature?"),
        IntakeField("error_message", "Error message", "Copy it exactly, if you saw one."),
    ),
    rows=(("product_area", "feature"), ("error_message",)),
)
WHEN = IntakeGroup(
    key="when",
    title="When",
    fields=(
        IntakeField("occurrence", "When?"),
        IntakeField("started_at", "Since when?", "In your organization's time zone."),
    ),
    rows=(("occurrence", "started_at"),),
)
WHY = IntakeGroup(
    key="why",
    title="Why",
    fields=(
        IntakeField(
            "reason",
            "Why would this help you?",
            "For feature questions and requests: why you would like it, and how it would help.",
        ),
    ),
)
INTERVIEW = IntakeGroup(
    key="interview",
    title="Interview context",
    fields=(
        IntakeField("interview_interviewers", "Interviewers", "One per line.", api_name="interviewers"),
        IntakeField("interview_position", "Position", api_name="position"),
        IntakeField("interview_template_name", "Interview template name", api_name="template_name"),
        IntakeField(
            "interview_template_changes",
            "Changes you made to the template",
            "Modifications to the panel events or interviewers, if any.",
            api_name="template_changes",
        ),
        IntakeField("interview_starts_at", "Interviews from", api_name="starts_at"),
        IntakeField("interview_ends_at", "Interviews until", api_name="ends_at"),
    ),
    rows=(
        ("interview_position", "interview_template_name"),
        ("interview_template_changes",),
        ("interview_interviewers",),
        ("interview_starts_at", "interview_ends_at"),
    ),
    api_object="interview",
)

#: The groups in the order the FAQ asks them.
GROUPS: tuple[IntakeGroup, ...] = (WHO, WHAT, WHEN, WHY, INTERVIEW)
#: Every intake field, group by group.
FIELDS: tuple[IntakeField, ...] = tuple(field for group in GROUPS for field in group.fields)
#: The Ticket model fields of the intake (subject and description are the ticket's own).
FIELD_NAMES: tuple[str, ...] = tuple(field.name for field in FIELDS)


def api_fields(api_object: str = "") -> tuple[IntakeField, ...]:
    """The fields the API carries at the top level of a ticket (`api_object=""`) or inside that object."""
    return tuple(field for group in GROUPS if group.api_object == api_object for field in group.fields)


def field(name: str) -> IntakeField:
    """The entry of the intake field `name`."""
    for entry in FIELDS:
        if entry.name == name:
            return entry
    raise KeyError(name)


def _check(groups: tuple[IntakeGroup, ...]) -> None:
    names = [entry.name for group in groups for entry in group.fields]
    if len(names) != len(set(names)):
        raise ValueError("An intake field is listed twice.")
    for group in groups:
        if not group.api_object and any(entry.api_name != entry.name for entry in group.fields):
            raise ValueError(f"The API names the fields of intake group {group.key!r} as the model does.")
        laid_out = [name for row in group.layout for name in row]
        if sorted(laid_out) != sorted(group.names):
            raise ValueError(
                f"The rows of the intake group {group.key!r} must lay out each of its fields once."
            )


_check(GROUPS)
