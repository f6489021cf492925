from tickets.models import Status
from tickets.services import ticket_create


def test_create(requester):
    t = ticket_create(
        requester=requester, subject="x", description="y", candidates=[{"name": "A", "email": "a@x.com"}]
    )
    assert t.status == Status.NEW and t.candidates.count() == 1 and t.events.count() == 1
