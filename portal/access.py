"""Who may use the portal: active customers (members of an organization). Agents go to the console."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from tickets.permissions import customer_membership, is_agent


def customer_required(view):
    """Signed-in customers only; agents are sent to the console, other accounts told why they cannot enter."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if is_agent(request.user):
            return redirect("admin:index")
        membership = customer_membership(request.user)
        if membership is None:
            return render(request, "portal/no_organization.html", status=403)
        request.membership = membership
        return view(request, *args, **kwargs)

    return wrapper
