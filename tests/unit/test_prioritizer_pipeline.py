"""The prioritizer pipeline without Kafka: one output per input, in order; no text in logs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from structlog.testing import capture_logs

from schemas.dead_letter import DeadLetter
from schemas.ticket import Ticket
from service.clock import FakeClock
from service.observability.logging import configure_logging
from service.prioritizer.decode import DecodeLimits
from service.prioritizer.pipeline import Prioritizer, Topics
from service.records import InRecord
from service.rules.engine import RuleEngine, ticket_id_for
from service.rules.model import load_default_rules

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SECRET = "Maria Papadopoulou, maria@example.com, +30 691 234 5678: cancel my subscription!!!"


def event(event_id: str, text: str = SECRET) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "occurred_at": "2026-11-22T09:59:00Z",
            "channel": "email",
            "customer": {"id": "cust-1", "name": "Maria Papadopoulou"},
            "text": text,
        }
    )


def pipeline() -> Prioritizer:
    return Prioritizer(
        RuleEngine(load_default_rules()), Topics("tickets", "dlq"), DecodeLimits(), FakeClock(NOW)
    )


def records(*values: bytes) -> list[InRecord]:
    return [InRecord("feedback", 0, i, b"cust-1", v) for i, v in enumerate(values)]


def test_one_output_per_input_in_input_order() -> None:
    out = pipeline().process(records(event("a"), b"nope", event("b")))
    assert [o.topic for o in out] == ["tickets", "dlq", "tickets"]
    first = Ticket.model_validate_json(out[0].value)
    assert first.ticket_id == ticket_id_for("a")
    assert out[0].key == first.ticket_id.encode()
    assert first.created_at == NOW
    letter = DeadLetter.from_record(out[1].key, out[1].value, out[1].headers)
    assert letter.value == b"nope"
    assert letter.offset == 1


def test_redelivery_yields_the_same_ticket_id() -> None:
    p = pipeline()
    again = [Ticket.model_validate_json(p.process(records(event("x")))[0].value) for _ in range(2)]
    assert again[0].ticket_id == again[1].ticket_id


@pytest.fixture
def debug_logs() -> Iterator[None]:
    configure_logging("DEBUG", "json")
    yield
    configure_logging("WARNING", "console")


@pytest.mark.usefixtures("debug_logs")
def test_logs_carry_ids_but_never_the_customers_words() -> None:
    with capture_logs() as logs:
        pipeline().process(
            records(event("p1"), b'{"event_id": "bad", "text": "' + b"x" * 10 + b'"}')
        )
    created = [e for e in logs if e["event"] == "ticket_created"]
    assert created
    assert created[0]["event_id"] == "p1"
    assert created[0]["ticket_id"] == ticket_id_for("p1")
    assert created[0]["priority"] == "P1"
    dumped = repr(logs)
    for fragment in ("Maria", "maria@example.com", "691 234", "cancel my"):
        assert fragment not in dumped
    assert any(e["event"] == "dead_letter" and e["event_id"] == "bad" for e in logs)


def test_a_rule_failure_becomes_a_processing_error_dead_letter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = pipeline()

    def boom(event: object) -> None:
        raise RuntimeError("rule bug")

    monkeypatch.setattr(p.engine, "assess", boom)
    out = p.process(records(event("z")))
    assert out[0].topic == "dlq"
    assert out[0].label == "processing_error"
    assert out[0].value == event("z")


def test_nothing_is_logged_per_ticket_at_info() -> None:
    configure_logging("INFO", "json")
    try:
        with capture_logs() as logs:
            pipeline().process(records(*(event(f"quiet-{i}") for i in range(20))))
    finally:
        configure_logging("WARNING", "console")
    assert [e for e in logs if e["event"] == "ticket_created"] == []
