"""The polling fallback of the live updates, under `/live/` (the sockets are under `/ws/`)."""

from django.urls import path

from tickets.live import polling

app_name = "live"

urlpatterns = [
    path("tickets/<int:ticket_id>/", polling.ticket_updates, name="ticket_updates"),
    path("tickets/", polling.list_updates, name="list_updates"),
]
