"""CloudEvents over Kafka: parsing binary and structured input, headers on every output."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from schemas.dead_letter import DeadLetter
from schemas.escalation import EscalationKind
from schemas.ticket import Ticket
from service import cloudevents as ce
from service.clock import FakeClock
from service.prioritizer.decode import DecodeFailure, DecodeLimits, decode_feedback
from service.prioritizer.pipeline import Prioritizer, Topics
from service.records import InRecord
from service.rules.engine import RuleEngine
from service.rules.model import load_default_rules
from service.sla.monitor import SlaMonitor, SlaTopics
from service.sla.policy import SlaPolicy
from tests.unit.test_sla_monitor import T0, ticket

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
EVENT = {
    "event_id": "e-1",
    "occurred_at": "2026-11-22T09:59:00Z",
    "channel": "email",
    "customer": {"id": "c-1"},
    "text": "I will cancel my subscription!!!",
}
BINARY = [
    ("ce_specversion", b"1.0"),
    ("ce_id", b"survey-123"),
    ("ce_source", b"/survey-tool"),
    ("ce_type", b"com.example.survey.response.v1"),
    ("ce_time", b"2026-11-22T09:59:00Z"),
    ("ce_tenant", b"acme"),
    ("content-type", b"application/json"),
]


def structured(data: object, **attrs: object) -> bytes:
    envelope: dict[str, object] = {
        "specversion": "1.0",
        "id": "survey-123",
        "source": "/survey-tool",
        "type": "com.example.survey.response.v1",
        "datacontenttype": "application/json",
        "data": data,
    }
    envelope.update(attrs)
    return orjson.dumps(envelope)


STRUCTURED_HEADERS = [("content-type", b"application/cloudevents+json; charset=UTF-8")]


# --- pure helpers ---------------------------------------------------------------------------


def test_parse_binary_reads_attributes_and_extensions() -> None:
    event = ce.parse_binary(BINARY)
    assert event is not None
    assert (event.id, event.source, event.type) == (
        "survey-123",
        "/survey-tool",
        "com.example.survey.response.v1",
    )
    assert event.time == "2026-11-22T09:59:00Z"
    assert event.datacontenttype == "application/json"
    assert event.extensions == {"tenant": "acme"}
    assert event.mode == "binary"


def test_plain_records_are_not_cloudevents() -> None:
    assert ce.parse_binary([]) is None
    assert ce.parse_binary([("content-type", b"application/json"), ("x-trace", b"1")]) is None
    assert not ce.is_structured([("content-type", b"application/json")])
    assert ce.is_structured([("Content-Type", b"application/cloudevents+json; charset=utf-8")])


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            [("ce_specversion", b"0.3"), ("ce_id", b"1"), ("ce_source", b"/s"), ("ce_type", b"t")],
            "specversion",
        ),
        ([("ce_specversion", b"1.0"), ("ce_source", b"/s"), ("ce_type", b"t")], "id"),
        ([("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_type", b"t")], "source"),
        (
            [("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"/s"), ("ce_type", b"")],
            "type",
        ),
        (
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"\xff"),
                ("ce_source", b"/s"),
                ("ce_type", b"t"),
            ],
            "UTF-8",
        ),
    ],
)
def test_invalid_binary_cloudevents_are_rejected(
    headers: list[tuple[str, bytes]], message: str
) -> None:
    with pytest.raises(ce.CloudEventError, match=message):
        ce.parse_binary(headers)


def test_last_header_wins() -> None:
    event = ce.parse_binary([*BINARY, ("ce_type", b"com.example.other.v1")])
    assert event is not None
    assert event.type == "com.example.other.v1"


def test_parse_structured_splits_attributes_and_data() -> None:
    event, data = ce.parse_structured(orjson.loads(structured(EVENT)))
    assert event.mode == "structured"
    assert event.id == "survey-123"
    assert data == EVENT
    raw = base64.b64encode(orjson.dumps(EVENT)).decode()
    envelope = orjson.loads(structured(None))
    del envelope["data"]
    envelope["data_base64"] = raw
    _, data = ce.parse_structured(envelope)
    assert data == orjson.dumps(EVENT)


def test_output_headers_are_binary_mode_with_rfc3339_time() -> None:
    headers = dict(
        ce.output_headers(
            id="t-1",
            type=ce.TYPE_TICKET_CREATED,
            source=ce.SOURCE_PRIORITIZER,
            time=datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=UTC),
            subject="t-1",
        )
    )
    assert headers == {
        "ce_specversion": b"1.0",
        "ce_id": b"t-1",
        "ce_type": b"com.triage.ticket.created.v1",
        "ce_source": b"/triage/prioritizer",
        "ce_time": b"2026-11-22T12:00:00.123Z",
        "ce_subject": b"t-1",
        "content-type": b"application/json",
    }
    parsed = ce.parse_binary(list(headers.items()))
    assert parsed is not None
    assert parsed.id == "t-1"


# --- decode ------------------------------------------------------------------------------------


def test_binary_mode_feedback_decodes_like_plain_json() -> None:
    plain = decode_feedback(orjson.dumps(EVENT), DecodeLimits(), NOW)
    binary = decode_feedback(orjson.dumps(EVENT), DecodeLimits(), NOW, BINARY)
    assert binary == plain
    assert binary.event_id == "e-1"  # the payload's event_id stays the idempotency key


def test_structured_mode_feedback_is_unwrapped() -> None:
    event = decode_feedback(structured(EVENT), DecodeLimits(), NOW, STRUCTURED_HEADERS)
    assert event.event_id == "e-1"
    encoded = orjson.loads(structured(None))
    del encoded["data"]
    encoded["data_base64"] = base64.b64encode(orjson.dumps(EVENT)).decode()
    event = decode_feedback(orjson.dumps(encoded), DecodeLimits(), NOW, STRUCTURED_HEADERS)
    assert event.event_id == "e-1"


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (orjson.dumps(EVENT), [("ce_specversion", b"1.0")], "schema_violation"),
        (structured(EVENT, specversion="2.0"), STRUCTURED_HEADERS, "schema_violation"),
        (structured([1, 2]), STRUCTURED_HEADERS, "not_an_object"),
        (b"[1]", STRUCTURED_HEADERS, "not_an_object"),
        (structured({"event_id": "x"}), STRUCTURED_HEADERS, "missing_field"),
    ],
)
def test_bad_cloudevents_are_dead_lettered_with_a_reason(
    value: bytes, headers: list[tuple[str, bytes]], reason: str
) -> None:
    with pytest.raises(DecodeFailure) as info:
        decode_feedback(value, DecodeLimits(), NOW, headers)
    assert info.value.reason.value == reason


# --- outputs -----------------------------------------------------------------------------------


def prioritizer() -> Prioritizer:
    return Prioritizer(
        RuleEngine(load_default_rules()), Topics("tickets", "dlq"), DecodeLimits(), FakeClock(NOW)
    )


def test_tickets_carry_cloudevents_headers_with_the_ticket_id() -> None:
    record = InRecord("feedback", 0, 7, b"c-1", orjson.dumps(EVENT), tuple(BINARY))
    [out] = prioritizer().process([record])
    t = Ticket.model_validate_json(out.value)
    headers = dict(out.headers)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == t.ticket_id.encode()
    assert headers["ce_type"] == b"com.triage.ticket.created.v1"
    assert headers["ce_source"] == b"/triage/prioritizer"
    assert headers["ce_time"] == b"2026-11-22T10:00:00.000Z"
    assert headers["ce_dataschema"] == b"https://triage.example/schemas/ticket.schema.json"
    assert headers["content-type"] == b"application/json"


def test_dead_letters_keep_original_headers_then_dlq_then_cloudevents() -> None:
    record = InRecord("feedback", 2, 41, b"c-1", b"{broken", tuple(BINARY))
    [out] = prioritizer().process([record])
    names = [n for n, _ in out.headers]
    assert names[: len(BINARY)] == [n for n, _ in BINARY]  # the originals, first, unchanged
    first_dlq = names.index("triage.dlq.reason")
    assert first_dlq == len(BINARY)
    assert names[-5:] == ["ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time"]
    event = ce.parse_binary(out.headers)  # the last occurrence wins: the dead letter's own
    assert event is not None
    assert event.id == "feedback/2/41"
    assert event.type == "com.triage.feedback.dead_letter.v1"
    assert event.source == "/triage/prioritizer"
    assert event.datacontenttype == "application/json"  # the original's, describing the bytes
    letter = DeadLetter.from_record(out.key, out.value, out.headers)
    assert letter.headers == BINARY  # what a replay re-produces
    assert letter.value == b"{broken"


def test_escalations_carry_cloudevents_headers_with_the_escalation_id() -> None:
    clock = FakeClock(T0 + timedelta(seconds=11 * 60))  # late: breached on arrival
    mon = SlaMonitor(SlaPolicy(), SlaTopics("tickets", "activity", "esc", "cl", "dlq"), clock)
    mon.state.restore(0, [])
    out = mon.process([InRecord("tickets", 0, 0, b"t-1", ticket("t-1"))])
    [esc] = [o for o in out if o.topic == "esc"]
    headers = dict(esc.headers)
    assert headers["ce_id"] == b"t-1:first_response:breach1"
    assert headers["ce_type"] == f"com.triage.escalation.{EscalationKind.SLA_BREACH}.v1".encode()
    assert headers["ce_source"] == b"/triage/sla"
    assert headers["ce_subject"] == b"t-1"
    assert headers["ce_time"] == b"2026-11-22T10:11:00.000Z"
    assert headers["content-type"] == b"application/json"
    changelog = [o for o in out if o.topic == "cl"]
    assert changelog
    assert all(not n.startswith("ce_") for o in changelog for n, _ in o.headers)


def test_sla_dead_letters_name_the_sla_source() -> None:
    mon = SlaMonitor(
        SlaPolicy(), SlaTopics("tickets", "activity", "esc", "cl", "dlq"), FakeClock(T0)
    )
    mon.state.restore(0, [])
    [out] = mon.process([InRecord("activity", 0, 3, b"t-1", b"{}")])
    headers = dict(out.headers)
    assert headers["ce_source"] == b"/triage/sla"
    assert headers["ce_id"] == b"activity/0/3"
