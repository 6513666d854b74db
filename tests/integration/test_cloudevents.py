"""CloudEvents against a real broker: binary and structured input, ce_* headers on output."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from schemas.dead_letter import DeadLetter
from schemas.ticket import Ticket
from service.rules.engine import ticket_id_for
from tests.integration.kafka_helpers import (
    feedback,
    produce,
    read_topic,
    running_app,
    unique_settings,
)

pytestmark = pytest.mark.integration


async def test_binary_and_structured_cloudevents_become_tickets_with_ce_headers(
    bootstrap: str,
) -> None:
    s = unique_settings(bootstrap)
    now = datetime.now(UTC).isoformat()
    binary = feedback("ce-binary", "I want a refund, this is broken!!!", occurred_at=now)
    structured = feedback("ce-structured", "Great app, thanks", occurred_at=now)
    envelope = {
        "specversion": "1.0",
        "id": "mail-77",
        "source": "/mail-gateway",
        "type": "com.example.mail.received.v1",
        "datacontenttype": "application/json",
        "data": structured,
    }
    async with running_app(s):
        await produce(
            bootstrap,
            s.topic_feedback,
            [(b"cust-ce-binary", orjson.dumps(binary))],
            headers=[
                ("ce_specversion", b"1.0"),
                ("ce_id", b"survey-1"),
                ("ce_source", b"/survey-tool"),
                ("ce_type", b"com.example.survey.response.v1"),
                ("ce_time", now.encode()),
                ("content-type", b"application/json"),
            ],
        )
        await produce(
            bootstrap,
            s.topic_feedback,
            [(b"cust-ce-structured", orjson.dumps(envelope))],
            headers=[("content-type", b"application/cloudevents+json; charset=UTF-8")],
        )
        await produce(  # claims binary mode but misses ce_id/ce_source/ce_type
            bootstrap,
            s.topic_feedback,
            [(b"cust-bad", orjson.dumps(feedback("ce-bad", occurred_at=now)))],
            headers=[("ce_specversion", b"1.0")],
        )
        records = await read_topic(bootstrap, s.topic_tickets, 2, timeout=60)
        letters = await read_topic(bootstrap, s.topic_dlq, 1, timeout=60)
    by_event = {Ticket.model_validate_json(r.value).event_id: r for r in records}
    assert set(by_event) == {"ce-binary", "ce-structured"}
    for event_id, record in by_event.items():
        headers = dict(record.headers)
        assert headers["ce_specversion"] == b"1.0"
        assert headers["ce_id"] == ticket_id_for(event_id).encode() == record.key
        assert headers["ce_type"] == b"com.triage.ticket.created.v1"
        assert headers["ce_source"] == b"/triage/prioritizer"
        assert datetime.fromisoformat(headers["ce_time"].decode()).tzinfo is not None
        assert headers["content-type"] == b"application/json"
    [letter_record] = letters
    letter = DeadLetter.from_record(
        letter_record.key, letter_record.value, list(letter_record.headers)
    )
    assert letter.reason.value == "schema_violation"
    assert "CloudEvents" in letter.detail
    assert letter.headers == [("ce_specversion", b"1.0")]
    dlq_headers = dict(letter_record.headers)
    assert dlq_headers["ce_type"] == b"com.triage.feedback.dead_letter.v1"
    assert dlq_headers["ce_id"] == f"{s.topic_feedback}/{letter.partition}/{letter.offset}".encode()
