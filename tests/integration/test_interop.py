"""Publishers and readers on another Kafka client (librdkafka via confluent-kafka).

What a team outside ours sees: it publishes feedback and ticket activity with its own
client and reads tickets, dead letters and escalations with it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from schemas.dead_letter import DeadLetter
from schemas.ticket import Ticket
from service.rules.engine import ticket_id_for
from tests.integration.kafka_helpers import feedback, running_app, unique_settings, wait_for

confluent_kafka = pytest.importorskip("confluent_kafka")
pytestmark = pytest.mark.integration


def _produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    # murmur2_random is the Java client's partitioner; activity must land on the same
    # partition number as its ticket, so publishers of activity use it too.
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "acks": "all"}
    )
    for key, value in records:
        producer.produce(topic, value=value, key=key)
    assert producer.flush(30) == 0


def _consume(bootstrap: str, topic: str, count: int, timeout: float) -> list[Any]:
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{topic}-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    # Read every partition from the start without joining a group (no rebalance wait).
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign(
        [
            confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
            for p in partitions
        ]
    )
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < count and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                out.append(message)
    finally:
        consumer.close()
    return out


async def test_another_client_sees_one_ticket_per_event_and_one_dead_letter_per_bad_one(
    bootstrap: str,
) -> None:
    s = unique_settings(bootstrap)
    now = datetime.now(UTC)
    events = [
        feedback(f"rd-{i}", "Refund me now!!", occurred_at=now.isoformat(), channel="chat")
        for i in range(20)
    ]
    bad = [b"\xff\xfe binary", b'{"event_id": 1}']
    async with running_app(s) as app:
        await asyncio.to_thread(
            _produce,
            bootstrap,
            s.topic_feedback,
            [(e["customer"]["id"].encode(), orjson.dumps(e)) for e in events]
            + [(b"bad", raw) for raw in bad],
        )
        tickets = await asyncio.to_thread(_consume, bootstrap, s.topic_tickets, 20, 60)
        letters = await asyncio.to_thread(_consume, bootstrap, s.topic_dlq, 2, 30)
        # Answer ten tickets with the other client: each reply must reach the SLA state of
        # its ticket (same partition number), which stops that ticket's clock.
        answered = [ticket_id_for(f"rd-{i}") for i in range(10)]
        replies = [
            {"ticket_id": t, "kind": "first_response", "occurred_at": now.isoformat()}
            for t in answered
        ]
        await asyncio.to_thread(
            _produce,
            bootstrap,
            s.topic_activity,
            [(r["ticket_id"].encode(), orjson.dumps(r)) for r in replies],
        )

        def stopped() -> bool:
            assert app.sla is not None
            clocks = [engine.get(t) for engine in app.sla.monitor.state.states() for t in answered]
            return sum(1 for c in clocks if c is not None and not c.reply.running) == len(answered)

        await wait_for(stopped, 30, "the replies to stop their tickets' clocks")
    parsed = [Ticket.model_validate_json(m.value()) for m in tickets]
    assert sorted(t.event_id for t in parsed) == sorted(e["event_id"] for e in events)
    assert all(m.key() == t.ticket_id.encode() for m, t in zip(tickets, parsed, strict=True))
    assert {t.priority.value for t in parsed} == {"P2"}
    dead = [DeadLetter.from_record(m.key(), m.value(), list(m.headers() or [])) for m in letters]
    assert sorted(d.value for d in dead) == sorted(bad)
    assert {d.reason.value for d in dead} == {"invalid_utf8", "schema_violation"}
