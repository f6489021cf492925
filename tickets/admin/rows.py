"""The queue's table, its cells written once per page's worth of columns rather than looked up per cell.

The admin renders each cell through `items_for_result`: for every cell of every row it looks the column up
again (`lookup_field`), formats it through `format_html`, renders the action checkbox through the form
widget templates, and for each link cell reverses the change address and then *resolves* it again to add
the list's filters to it (`add_preserved_filters`). At 50 rows of 10 columns that was the largest part of
the queue's CPU time. Here each column is looked up once per page, the change address is reversed and
given its filters once (the rows differ only by the ticket's id), and a cell is a concatenation of
escaped strings. The HTML is the admin's: tests/tickets/test_console_rows.py renders pages both ways and
compares them cell for cell. A column this module does not know (a callable in list_display, the id, a
model property) or list_editable gets the admin's own rendering; a key other than an integer is reversed
row by row.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import escape as html_escape

from django.contrib.admin import ModelAdmin
from django.contrib.admin.templatetags.admin_list import result_headers, result_hidden_fields, results
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import display_for_field, display_for_value, quote
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

#: Stands for the id while the change address is reversed once per page (never a real ticket's id in a
#: path: the digits are replaced by each row's own).
_ID_MARK = 918273645546372819


@dataclass(frozen=True)
class Row:
    """One ticket's row: its page's address (data-row-link), its id (data-ticket), its cells."""

    link: str
    ticket_id: object
    cells: list[str]  # each cell's HTML (the admin's ResultList where the admin rendered them)

    @property
    def cells_html(self) -> SafeString:
        """The cells, joined: one value for the template to write, not ten."""
        return mark_safe("".join(self.cells))  # noqa: S308 - each cell escaped as it was made


@dataclass(frozen=True)
class _Column:
    """A column as found once: its cell's tags, whether it links to the ticket, how to read a row."""

    open_tag: str  # '<td class="field-status">' (<th …> for the first link)
    close_tag: str
    link: bool
    read: Callable[[object], tuple[object, bool]]  # a row's content and whether it is a date (or time)


def table_context(changelist) -> dict:
    """What the queue's table template needs: the admin's headers and hidden fields, and the rows."""
    headers = list(result_headers(changelist))
    return {
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "result_hidden_fields": list(result_hidden_fields(changelist)),
        "rows": list(rows(changelist)),
    }


def rows(changelist) -> Iterator[Row]:
    links = _Links(changelist)
    columns = _columns(changelist) if links.fast and not changelist.formset else None
    if columns is None:  # the admin's own rendering, row by row
        for result, cells in zip(changelist.result_list, results(changelist), strict=True):
            yield Row(links.plain(result.pk), result.pk, cells)  # a ResultList: its form too
        return
    for result in changelist.result_list:
        pk = result.pk
        cells = []
        for column in columns:
            content, is_date = column.read(result)
            if column.link:
                content = links.anchor(result, pk, content)
            open_tag = column.open_tag.replace('">', ' nowrap">', 1) if is_date else column.open_tag
            cells.append(f"{open_tag}{_html(content)}{column.close_tag}")
        yield Row(links.plain(pk), pk, cells)


def _html(content) -> str:
    """`conditional_escape` without its per-call checks for lazy strings (its output, byte for byte): a
    page makes some 500 cells."""
    if isinstance(content, Promise):
        content = str(content)
    return content.__html__() if hasattr(content, "__html__") else html_escape(str(content))


class _Links:
    """The change page's address for each row, reversed (and given the list's filters) once per page."""

    def __init__(self, changelist):
        self.changelist = changelist
        opts = changelist.opts
        self.name = f"admin:{opts.app_label}_{opts.model_name}_change"
        self.site = changelist.model_admin.admin_site.name
        self.popup = changelist.is_popup
        self.popup_field = str(changelist.to_field) if changelist.to_field else changelist.pk_attname
        try:
            plain = reverse(self.name, args=(_ID_MARK,), current_app=self.site)
        except NoReverseMatch:
            self.fast = False
            return
        filtered = add_preserved_filters(
            {"preserved_filters": changelist.preserved_filters, "opts": opts}, plain
        )
        mark = str(_ID_MARK)
        self.fast = plain.count(mark) == 1 and filtered.startswith(plain)
        self.plain_parts = plain.partition(mark)[::2]
        before, _, after = filtered.partition(mark)
        self.filtered_parts = (escape(before), escape(after))

    def plain(self, pk) -> str:
        if self.fast and type(pk) is int:
            return f"{self.plain_parts[0]}{pk}{self.plain_parts[1]}"
        return reverse(self.name, args=(quote(pk),), current_app=self.site)

    def anchor(self, result, pk, content) -> SafeString:
        """The admin's link: `<a href="…/change/?_changelist_filters=…">…</a>`."""
        if type(pk) is int:
            href = f"{self.filtered_parts[0]}{pk}{self.filtered_parts[1]}"
        else:
            changelist = self.changelist
            context = {"preserved_filters": changelist.preserved_filters, "opts": changelist.opts}
            href = escape(add_preserved_filters(context, changelist.url_for_result(result)))
        opener = ""
        if self.popup:
            opener = f' data-popup-opener="{conditional_escape(result.serializable_value(self.popup_field))}"'
        return mark_safe(f'<a href="{href}"{opener}>{_html(content)}</a>')  # noqa: S308 - escaped


def _columns(changelist) -> list[_Column] | None:
    """Each column of the list as the admin's `items_for_result` finds it, or None where this module
    would not render one of them the same way."""
    model_admin = changelist.model_admin
    empty = model_admin.get_empty_value_display()
    columns = []
    first = True
    for name in changelist.list_display:
        if not isinstance(name, str):
            return None
        link = _is_link(changelist, name, first)
        found = _reader(model_admin, changelist.lookup_opts, name, empty, link)
        if found is None:
            return None
        classes, read = found
        tag = "td"
        if link:
            tag, first = ("th" if first else "td"), False
        columns.append(_Column(f'<{tag} class="{" ".join(classes)}">', f"</{tag}>", link, read))
    return columns


def _is_link(changelist, name: str, first: bool) -> bool:
    if changelist.list_display_links is None:
        return False
    if first and not changelist.list_display_links:
        return True
    return name in changelist.list_display_links


def _reader(model_admin, opts, name: str, empty, link: bool):
    """(the cell's classes, a function from a row to its content), as `lookup_field` and
    `items_for_result` find them; None for a column read another way."""
    try:
        field = opts.get_field(name)
    except FieldDoesNotExist:
        field = None
    if field is not None:
        return _field_reader(field, name, empty, link)
    if name == "__str__" or not hasattr(model_admin, name):
        return None  # a model attribute or property: the admin's way
    if name == "action_checkbox":
        if getattr(type(model_admin), "action_checkbox", None) is not ModelAdmin.action_checkbox:
            return None
        label = gettext("Select this object for an action - {}")
        return ["action-checkbox"], lambda result: (_checkbox(result, label), False)
    method = getattr(model_admin, name)
    method_empty = getattr(method, "empty_value_display", empty)
    boolean = getattr(method, "boolean", False)

    def computed(result):
        try:
            value = method(result)
        except ObjectDoesNotExist:
            return empty, False
        if isinstance(value, str) and value.strip() == "":
            value = ""
        shown = display_for_value(value, method_empty, boolean)
        return shown, isinstance(value, (datetime.date, datetime.time))

    return [f"field-{name}"], computed


def _field_reader(field, name: str, empty, link: bool):
    classes = [f"field-{name}"]
    if field.auto_created or (field.is_relation and (field.related_model is None or not field.many_to_one)):
        return None  # the id, reverse relations, generic and many-to-many relations: the admin's way
    if field.attname == name != field.name:
        return None  # organization_id: read as an attribute by the admin
    if isinstance(field, (models.DateField, models.TimeField, models.ForeignKey)):
        classes.append("nowrap")
    if field.many_to_one:

        def related(result):
            try:
                value = getattr(result, field.name)
            except ObjectDoesNotExist:
                return empty, False
            return (empty if value is None else value), False

        return classes, related

    def plain(result):
        try:
            value = getattr(result, field.name)
        except ObjectDoesNotExist:
            return empty, False
        if isinstance(value, str) and value.strip() == "":
            value = ""
        return display_for_field(value, field, empty, avoid_link=link), False

    return classes, plain


def _checkbox(result, label: str) -> SafeString:
    """The admin's action checkbox (ModelAdmin.action_checkbox, rendered by the CheckboxInput templates)."""
    return mark_safe(  # noqa: S308 - the id and the ticket escaped, the label is the admin's text
        f'<input type="checkbox" name="_selected_action" value="{escape(result.pk)}" class="action-select" '
        f'aria-label="{label.format(escape(str(result)))}">'
    )
