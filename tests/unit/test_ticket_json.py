"""The prioritizer's ticket JSON is exactly what the ``Ticket`` model writes.

``service.prioritizer.ticket_json`` skips building the model on the hot path; this test
holds it to byte equality with ``build_ticket(...).model_dump_json()`` on every event of
the labelled set and every demo sample (all channels, tiers, stages, scores, subjects,
repeat contacts, languages), plus the odd fields (names, ratings, no text).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.common import Priority, rfc3339
from schemas.feedback import FeedbackEvent
from service import cloudevents
from service.cloudevents import ticket_headers
from service.demo.runner import load_samples, sample_to_event
from service.prioritizer.ticket_json import ticket_json
from service.rules import RuleEngine, load_default_rules
from service.rules.engine import build_ticket, ticket_id_for
from service.rules.evaluate import load_labelled
from service.sla.policy import SlaPolicy, load_demo_policy, load_policy

DATA = Path(__file__).parents[1] / "data"
NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def events() -> list[tuple[dict[str, Any], list[str]]]:
    out = [
        (obj["event"], [str(r) for r in obj.get("related_ticket_ids", [])])
        for obj in load_labelled(DATA / "labelled_events.jsonl")
    ]
    out += [(sample_to_event(sample, NOW), []) for sample in load_samples()]
    out.append(
        (
            {
                "event_id": "odd-1",
                "occurred_at": "2026-02-28T23:59:59.999999-11:00",
                "channel": "phone",
                "customer": {"id": "c-ø", "name": 'Zoë "Z" O\'Neil', "tier": "premium"},
                "rating": 2,
                "subject": "Re: \u2028line\tbreak",
                "text": "",
            },
            ["t-1", "t-2"],
        )
    )
    return out


CASES = events()
#: the shipped policy, the demo's, and one with an odd id and a target of one second
POLICIES = [
    load_policy(),
    load_demo_policy(),
    SlaPolicy(version='ü "1"', target_seconds={p: 1 for p in Priority}),
]


@pytest.mark.parametrize(("data", "related"), CASES, ids=[c[0]["event_id"] for c in CASES])
def test_ticket_json_is_byte_identical_to_the_model(
    data: dict[str, Any], related: list[str]
) -> None:
    engine = _engine()
    event = FeedbackEvent.model_validate(data)
    assessment = engine.assess(event, related)
    for policy in POLICIES:
        reference = build_ticket(event, assessment, NOW, engine.rules.version, policy)
        fast = ticket_json(
            event,
            assessment,
            ticket_id_for(event.event_id),
            rfc3339(NOW),
            engine.rules.version,
            policy,
        )
        assert fast == reference.model_dump_json().encode()


def test_ticket_headers_match_the_cloudevents_writer() -> None:
    created = datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    reference = cloudevents.output_headers(
        id="t-1",
        type=cloudevents.TYPE_TICKET_CREATED,
        source=cloudevents.SOURCE_PRIORITIZER,
        time=created,
        subject="t-1",
        dataschema=cloudevents.schema_url("ticket"),
    )
    assert ticket_headers("t-1", created) == reference
    assert ticket_headers("t-1", rfc3339(created)) == reference


_ENGINE: list[RuleEngine] = []


def _engine() -> RuleEngine:
    if not _ENGINE:
        _ENGINE.append(RuleEngine(load_default_rules()))
    return _ENGINE[0]


@pytest.mark.parametrize("event_id", ["", "e-1", "ευχαριστώ", "x" * 300, "客服-42", "a\u2028b"])
def test_ticket_id_is_the_uuid5_of_the_event_id(event_id: str) -> None:
    from service.rules.engine import TICKET_NAMESPACE

    assert ticket_id_for(event_id) == str(uuid.uuid5(TICKET_NAMESPACE, event_id))


@settings(max_examples=500)
@given(st.text())
def test_ticket_id_is_the_uuid5_of_any_event_id(event_id: str) -> None:
    # 500 ids: every value of the hex digit that carries the variant bits, many times over
    from service.rules.engine import TICKET_NAMESPACE

    assert ticket_id_for(event_id) == str(uuid.uuid5(TICKET_NAMESPACE, event_id))
