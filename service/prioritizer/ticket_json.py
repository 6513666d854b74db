"""A ticket's JSON and headers, written straight from the event and its assessment.

The ``Ticket`` model (``schemas/ticket.py``) is the contract and
``Ticket.model_dump_json()`` its reference serialisation. On the hot path the
prioritizer writes the same bytes with orjson from a dict in the model's field order,
without constructing the model: building and serialising the model cost about a fifth of
the time of a whole event. ``tests/unit/test_ticket_json.py`` holds the two to byte
equality on every labelled event.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson

from schemas.common import SCHEMA_VERSION, rfc3339
from schemas.feedback import FeedbackEvent
from service import cloudevents
from service.rules.engine import Assessment

_TICKET_SCHEMA = cloudevents.schema_url("ticket").encode()


def ticket_json(
    event: FeedbackEvent,
    assessment: Assessment,
    ticket_id: str,
    created_at: str,
    rules_version: str,
) -> bytes:
    """The ticket of ``event`` as ``Ticket.model_dump_json()`` writes it (``created_at``:
    already formatted with ``rfc3339``, once per batch)."""
    customer = event.customer
    tier = customer.tier
    stage = customer.lifecycle_stage
    occurred = event.occurred_at
    return orjson.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "ticket_id": ticket_id,
            "event_id": event.event_id,
            "customer_id": customer.id,
            "priority": assessment.priority.value,
            "severity": assessment.severity,
            "category": assessment.category,
            "reasons": [
                {
                    "rule_id": r.rule_id,
                    "weight": r.weight,
                    "evidence": r.evidence,
                    "min_priority": r.min_priority.value if r.min_priority else None,
                }
                for r in assessment.reasons
            ],
            "language": assessment.language,
            "sla": {
                "target_seconds": assessment.sla_seconds,
                "first_response_due_at": rfc3339(
                    occurred + timedelta(seconds=assessment.sla_seconds)
                ),
            },
            "actions": assessment.actions,
            "management_attention": assessment.management_attention,
            "occurred_at": rfc3339(occurred),
            "created_at": created_at,
            "channel": event.channel,
            "customer_tier": tier.value if tier is not None else None,
            "customer_lifecycle_stage": stage.value if stage is not None else None,
            "customer_name": customer.name,
            "nps_score": event.nps_score,
            "rating": event.rating,
            "subject": event.subject,
            "text": event.text,
            "rules_version": rules_version,
            "related_ticket_ids": assessment.related_ticket_ids,
        }
    )


def ticket_headers(ticket_id: str, created_at: datetime | str) -> list[tuple[str, bytes]]:
    """CloudEvents binary-mode headers of a ticket (``ce_id`` and ``ce_subject``: the
    ticket id), in the order ``cloudevents.output_headers`` writes them."""
    ce_time = created_at if isinstance(created_at, str) else rfc3339(created_at)
    tid = ticket_id.encode()
    return [
        ("ce_specversion", _SPECVERSION),
        ("ce_id", tid),
        ("ce_type", _TYPE),
        ("ce_source", _SOURCE),
        ("ce_time", ce_time.encode()),
        ("ce_subject", tid),
        ("ce_dataschema", _TICKET_SCHEMA),
        (cloudevents.CONTENT_TYPE, _JSON),
    ]


_SPECVERSION = cloudevents.SPECVERSION.encode()
_TYPE = cloudevents.TYPE_TICKET_CREATED.encode()
_SOURCE = cloudevents.SOURCE_PRIORITIZER.encode()
_JSON = cloudevents.JSON.encode()
