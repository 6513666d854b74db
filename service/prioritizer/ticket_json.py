"""A ticket's JSON and headers, written straight from the event and its assessment.

(Its CloudEvents headers come from ``cloudevents.ticket_headers``.) The ``Ticket`` model
(``schemas/ticket.py``) is the contract and ``Ticket.model_dump_json()`` its reference
serialisation. On the hot path the prioritizer writes the same bytes without
constructing the model: here the SLA policy decides the ticket's target and due time,
and the compiled writer (``_ticket.pyx``, whose docstring states its escaping rules)
writes the fields in the model's order into one buffer. Building and serialising the
model cost about a fifth of a whole event's time; a dict of it for orjson, about a
tenth. ``tests/unit/test_ticket_json.py`` holds the bytes equal to the model's on every
labelled event and on generated fields.
"""

from __future__ import annotations

from schemas.common import rfc3339
from schemas.feedback import FeedbackEvent
from service.prioritizer._ticket import ticket_bytes
from service.rules.engine import Assessment, facts_of
from service.sla.policy import SlaPolicy


def ticket_json(
    event: FeedbackEvent,
    assessment: Assessment,
    ticket_id: str,
    created_at: str,
    rules_version: str,
    policy: SlaPolicy,
) -> bytes:
    """The ticket of ``event`` as ``Ticket.model_dump_json()`` writes it (``created_at``:
    already formatted with ``rfc3339``, once per batch; the SLA from ``policy``, as
    ``build_ticket`` does)."""
    occurred = event.occurred_at
    # (a file without ``policies`` is one policy: no facts to build, per event)
    chosen = policy.select(facts_of(event, assessment)) if policy.policies else policy
    target, due = chosen.first_response_due(assessment.priority, occurred)
    return ticket_bytes(
        event,
        assessment,
        ticket_id,
        created_at,
        rules_version,
        target,
        rfc3339(due),
        chosen.version,
        rfc3339(occurred),
    )
