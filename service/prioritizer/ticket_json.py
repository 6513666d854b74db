"""A ticket's JSON and headers, written straight from the event and its assessment.

(Its CloudEvents headers come from ``cloudevents.ticket_headers``.) The ``Ticket`` model (``schemas/ticket.py``) is the contract and
``Ticket.model_dump_json()`` its reference serialisation. On the hot path the
prioritizer writes the same bytes with orjson from a dict in the model's field order,
without constructing the model: building and serialising the model cost about a fifth of
the time of a whole event. ``tests/unit/test_ticket_json.py`` holds the two to byte
equality on every labelled event.
"""

from __future__ import annotations

import orjson

from schemas.common import SCHEMA_VERSION, rfc3339
from schemas.feedback import FeedbackEvent
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
    customer = event.customer
    occurred = event.occurred_at
    # (a file without ``policies`` is one policy: no facts to build, per event)
    chosen = policy.select(facts_of(event, assessment)) if policy.policies else policy
    target, due = chosen.first_response_due(assessment.priority, occurred)
    return orjson.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "ticket_id": ticket_id,
            "event_id": event.event_id,
            "customer_id": customer.id,
            "priority": assessment.priority,
            "severity": assessment.severity,
            "category": assessment.category,
            # each reason: its fields in the model's order (orjson writes an enum as its value)
            "reasons": assessment.reason_fields,
            "language": assessment.language,
            "sla": {
                "target_seconds": target,
                "first_response_due_at": rfc3339(due),
                "policy_id": chosen.version,
            },
            "actions": assessment.actions,
            "management_attention": assessment.management_attention,
            "occurred_at": rfc3339(occurred),
            "created_at": created_at,
            "channel": event.channel,
            "customer_tier": customer.tier,
            "customer_lifecycle_stage": customer.lifecycle_stage,
            "customer_name": customer.name,
            "nps_score": event.nps_score,
            "rating": event.rating,
            "subject": event.subject,
            "text": event.text,
            "rules_version": rules_version,
            "related_ticket_ids": assessment.related_ticket_ids,
            "brand": event.brand,
        }
    )
