"""The chat panel's template tag: the severities with the policy's written definitions, for the panel's
"How bad is it?" question (rendered with the portal's severity badge, `portal/_severity.html`)."""

from __future__ import annotations

from django import template

from tickets.models import SEVERITY_DEFINITIONS, Severity

register = template.Library()


@register.simple_tag
def chat_severities() -> list[dict]:
    return [{"code": s.value, "label": s.label, "definition": SEVERITY_DEFINITIONS[s]} for s in Severity]
