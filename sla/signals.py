"""What the SLA engine tells the layers above it. The engine sits below the ticket domain and imports
none of it; the domain listens here (tickets/subscribers.py) and records what happened on its event spine.
"""

from django.dispatch import Signal

#: Sent with `escalation=` (an `sla.models.Escalation`) each time a delivery of it starts: the S1 page,
#: an at-risk warning or a breach. It may be sent more than once for one escalation (retries, two
#: workers); receivers must be idempotent.
escalation_fired = Signal()
