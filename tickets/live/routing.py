"""The WebSocket routes, below `/ws/` (helpdesk/asgi.py mounts them there, so a proxy upgrades one prefix)."""

from django.urls import path

from tickets.live import consumers, inbox

websocket_urlpatterns = [
    path("tickets/<int:ticket_id>/", consumers.TicketConsumer.as_asgi()),
    path("tickets/", consumers.TicketListConsumer.as_asgi()),
    path("notifications/", inbox.InboxConsumer.as_asgi()),
]
