"""The prioritizer's ticket JSON is exactly what the ``Ticket`` model writes.

``service.prioritizer.ticket_json`` skips building the model on the hot path (its bytes
come from the compiled writer, ``_ticket.pyx``); this test holds it to byte equality
with ``build_ticket(...).model_dump_json()`` on every event of the labelled set and every
demo sample (all channels, tiers, stages, scores, subjects, repeat contacts, languages),
plus the odd fields (names, ratings, no text), on generated fields and reasons, and
checks the writer's numbered rules where they refuse a value.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.common import LifecycleStage, Priority, Tier, rfc3339
from schemas.feedback import FeedbackEvent
from service import cloudevents
from service.cloudevents import ticket_headers
from service.demo.runner import load_samples, sample_to_event
from service.prioritizer.ticket_json import ticket_json
from service.rules import RuleEngine, load_default_rules
from service.rules.engine import Assessment, build_ticket, ticket_id_for
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


def test_an_event_id_without_utf8_has_no_ticket_id() -> None:
    # a lone surrogate (which no decoded event holds) fails as ``uuid.uuid5`` fails
    from service.rules.engine import TICKET_NAMESPACE

    with pytest.raises(UnicodeEncodeError):
        uuid.uuid5(TICKET_NAMESPACE, "e-\ud800")
    with pytest.raises(UnicodeEncodeError):
        ticket_id_for("e-\ud800")


# --- the compiled writer's rules (``service/prioritizer/_ticket.pyx``), on generated
# fields: every string a decoded event may hold (any code point but a lone surrogate,
# control characters, quotes, backslashes, long runs past the first buffer), every
# absent field, reasons of any evidence and weight

_texts = st.text(max_size=60) | st.text(
    alphabet=st.sampled_from('a"\\\n\x00\x1f\x7fé€😀 /'), min_size=2040, max_size=2100
)
_maybe_text = st.none() | st.text(max_size=30)
_priorities = st.sampled_from(list(Priority))


@st.composite
def _events(draw: st.DrawFn) -> FeedbackEvent:
    customer: dict[str, Any] = {"id": draw(st.text(min_size=1, max_size=20).filter(str.strip))}
    for key, values in (("tier", Tier), ("lifecycle_stage", LifecycleStage)):
        value = draw(st.none() | st.sampled_from([v.value for v in values]))
        if value is not None:
            customer[key] = value
    name = draw(_maybe_text)
    if name is not None:
        customer["name"] = name
    data: dict[str, Any] = {
        "event_id": draw(st.text(min_size=1, max_size=20).filter(str.strip)),
        "occurred_at": "2026-02-28T23:59:59.999999-11:00",
        "channel": draw(st.sampled_from(["email", "chat", "review", "app_store", "phone"])),
        "customer": customer,
        "text": draw(_texts),
        "nps_score": draw(st.none() | st.integers(0, 10)),
        "rating": draw(st.none() | st.integers(1, 5)),
        "subject": draw(_maybe_text),
        "brand": draw(st.none() | st.text(min_size=1, max_size=20)),
    }
    return FeedbackEvent.model_validate(data)


@st.composite
def _assessments(draw: st.DrawFn) -> Assessment:
    # each reason's fields in ``Reason``'s order, as the engine builds them
    reasons = [
        {"rule_id": rule_id, "weight": weight, "evidence": evidence, "min_priority": floor}
        for rule_id, weight, evidence, floor in draw(
            st.lists(
                st.tuples(
                    st.text(max_size=20),
                    st.integers(-(2**63), 2**63 - 1),
                    st.lists(_texts, max_size=3),
                    st.none() | _priorities,
                ),
                max_size=4,
            )
        )
    ]
    return Assessment(
        draw(st.integers(0, 100)),
        draw(_priorities),
        draw(st.text(max_size=20)),
        reasons,
        draw(st.lists(st.text(max_size=20), max_size=3)),
        draw(st.booleans()),
        draw(st.text(max_size=5)),
        draw(st.lists(st.text(max_size=36), max_size=3)),
    )


@settings(max_examples=300, deadline=None)
@given(_events(), _assessments(), st.text(max_size=40), st.sampled_from(POLICIES))
def test_ticket_json_is_the_models_for_generated_fields(
    event: FeedbackEvent, assessment: Assessment, rules_version: str, policy: SlaPolicy
) -> None:
    reference = build_ticket(event, assessment, NOW, rules_version, policy)
    fast = ticket_json(
        event, assessment, ticket_id_for(event.event_id), rfc3339(NOW), rules_version, policy
    )
    assert fast == reference.model_dump_json().encode()


def _write(event: FeedbackEvent, assessment: Assessment) -> bytes:
    return ticket_json(
        event, assessment, ticket_id_for(event.event_id), rfc3339(NOW), "v", POLICIES[0]
    )


def _assessment(**fields: Any) -> Assessment:
    values: dict[str, Any] = {
        "severity": 50,
        "priority": Priority.P2,
        "category": "other",
        "reason_fields": [],
        "actions": [],
        "management_attention": False,
        "language": "en",
        "related_ticket_ids": [],
    }
    values.update(fields)
    return Assessment(**values)


_EVENT = FeedbackEvent.model_validate(
    {
        "event_id": "e-1",
        "occurred_at": "2026-02-28T23:59:59Z",
        "channel": "email",
        "customer": {"id": "c-1"},
        "text": "",
    }
)


@pytest.mark.parametrize(
    ("reason", "error"),
    [
        ({"rule_id": "r", "weight": 1.5}, TypeError),  # rule 4: no ticket field is a float
        ({"rule_id": "r", "weight": 2**64}, OverflowError),  # rule 4: within 64 bits
        ({"rule_id": "r", "evidence": ["\ud800"]}, UnicodeEncodeError),  # rule 2
    ],
)
def test_the_writer_refuses_what_a_ticket_cannot_hold(
    reason: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        _write(_EVENT, _assessment(reason_fields=[reason]))


@pytest.mark.parametrize("weight", [0, -1, 7, -(2**63), 2**63 - 1])
def test_the_writer_writes_integers_as_the_model_does(weight: int) -> None:
    reason = {"rule_id": "r", "weight": weight, "evidence": [], "min_priority": None}
    fast = _write(_EVENT, _assessment(reason_fields=[reason]))
    assert f'"weight":{weight},'.encode() in fast


def test_a_ticket_larger_than_the_first_buffer_is_written_whole() -> None:
    # rule 2 across the buffer's growth: a text of 100,000 characters, every one escaped
    event = _EVENT.model_copy(update={"text": '"\\\n\x01' * 25_000})
    reference = build_ticket(event, _assessment(), NOW, "v", POLICIES[0])
    assert _write(event, _assessment()) == reference.model_dump_json().encode()


def test_a_reasons_keys_are_written_alike_whatever_objects_they_are() -> None:
    """The engine's keys (interned literals) are written from the writer's literals; an
    equal key that is another object, and any other key, by rule 2: the same bytes."""
    literal = {"rule_id": "r", "weight": 3, "evidence": ["x"], "min_priority": None}
    copied = {"".join(key): value for key, value in literal.items()}
    assert all(a is not b for a, b in zip(literal, copied, strict=True))
    other = {'"odd\\key\n': 1, "rule_id": "r"}
    fast = [_write(_EVENT, _assessment(reason_fields=[r])) for r in (literal, copied)]
    assert fast[0] == fast[1]
    assert b'"reasons":[{"rule_id":"r","weight":3,"evidence":["x"],"min_priority":null}]' in fast[0]
    assert b'{"\\"odd\\\\key\\n":1,"rule_id":"r"}' in _write(
        _EVENT, _assessment(reason_fields=[other])
    )
