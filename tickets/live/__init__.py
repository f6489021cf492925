"""Live updates, the face: WebSocket consumers under `/ws/` (Django Channels), the streams they serve and
how each viewer sees an event, the embedded channel layer, and the HTTP polling fallback.

- `routing.py`: the WebSocket routes, mounted under `/ws/` by `helpdesk/asgi.py`.
- `consumers.py`: one consumer per open page: session sign-in, limits, replay, then live events.
- `inbox.py`: an agent's notification centre (`/ws/notifications/`, their own `user.<id>` group).
- `streams.py`: what a socket may follow (a ticket, the ticket lists), checked again at every event.
- `delivery.py`: an announced event for the process's sockets: their viewers checked with two queries
  for all, the event read once, each payload rendered once per audience (agents; one organization's
  customers).
- `rendering.py`: an event as one viewer may see it (never a note's body on a customer's socket).
- `watch.py`: each web process checks that Redis still holds its sockets' subscriptions; if not, they
  subscribe again and catch up from the database.
- `layers.py`: the embedded channel layer, which reads new `Event` rows once per web process.
- `polling.py`: the same events over HTTP for pages whose socket cannot connect, at a minimum interval.

The domain's side (which groups hear of an event, the spine subscriber) is `tickets/live_updates.py`.
"""
