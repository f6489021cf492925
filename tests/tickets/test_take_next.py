"""Take next under concurrency: two agents pressing it at the same moment get two different tickets."""

import threading

import pytest
from django.db import connection, transaction

from tests.factories import AgentFactory
from tickets.models import Ticket
from tickets.services import ticket_create, ticket_take_next


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shipped_defaults")
def test_two_agents_at_once_get_different_tickets(requester):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (set DATABASE_URL)")
    first = ticket_create(requester=requester, subject="Down", description="x", severity="S1")
    second = ticket_create(requester=requester, subject="Slow", description="x", severity="S2")
    alice, bob = AgentFactory(), AgentFactory()
    alice_holds_lock, bob_done = threading.Event(), threading.Event()
    taken, errors = {}, []

    def alice_takes():
        try:
            with transaction.atomic():  # keep the lock until Bob has taken his
                taken["alice"] = ticket_take_next(agent=alice)
                alice_holds_lock.set()
                assert bob_done.wait(timeout=20), "Bob was blocked by Alice's lock"
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            alice_holds_lock.set()
        finally:
            connection.close()

    def bob_takes():
        try:
            assert alice_holds_lock.wait(timeout=20)
            taken["bob"] = ticket_take_next(agent=bob)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            bob_done.set()
            connection.close()

    threads = [threading.Thread(target=alice_takes), threading.Thread(target=bob_takes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert taken["alice"].pk == first.pk  # the S1 first
    assert taken["bob"].pk == second.pk  # skipped the locked row instead of waiting
    assert dict(Ticket.objects.values_list("pk", "assignee")) == {first.pk: alice.pk, second.pk: bob.pk}
