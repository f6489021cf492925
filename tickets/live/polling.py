"""The live updates over plain HTTP, for pages whose socket cannot connect (a proxy that does not upgrade
`/ws/`): `GET /live/tickets/<id>/?after=N` and `GET /live/tickets/?after=N` answer the events after id N
that the signed-in viewer may see, exactly as the sockets send them (`streams.py`).

A page polls no faster than LIVE_POLL_MIN_SECONDS: a faster poll is answered 429 with Retry-After, per
viewer and address, counted in the shared cache (Redis in production), so many tabs or a misbehaving
script cannot turn the fallback into load.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tickets.live.streams import Stream, TicketListStream, TicketStream


@never_cache
@require_GET
def ticket_updates(request, ticket_id: int):
    """The events of one ticket's page."""
    return _updates(request, TicketStream(ticket_id), not_allowed=404)


@never_cache
@require_GET
def list_updates(request):
    """The events of the ticket lists (My tickets; the agents' queues)."""
    return _updates(request, TicketListStream(), not_allowed=403)


def _updates(request, stream: Stream, *, not_allowed: int) -> JsonResponse:
    viewer = request.user
    if not viewer.is_authenticated or not viewer.is_active:
        return JsonResponse({"detail": "Sign in to follow updates."}, status=401)
    if not stream.allows(viewer):
        return JsonResponse({"detail": "Not found."}, status=not_allowed)
    after = _event_id(request.GET.get("after"))
    if after is None:
        return JsonResponse({"after": "The last event id the page shows, a whole number."}, status=400)
    interval = settings.LIVE_POLL_MIN_SECONDS
    if interval > 0 and not cache.add(f"live-poll:{viewer.pk}:{request.path}", True, timeout=interval):
        response = JsonResponse(
            {"detail": f"Poll at most every {interval} s.", "poll_seconds": interval}, status=429
        )
        response["Retry-After"] = str(interval)
        return response
    payloads = stream.payloads_after(viewer, after, limit=settings.LIVE_REPLAY_LIMIT)
    return JsonResponse({"events": payloads or [], "reload": payloads is None, "poll_seconds": interval})


def _event_id(value: str | None) -> int | None:
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)
