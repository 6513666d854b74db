"""The prioritizer against a real broker: tickets, dead letters, commits, readiness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas.dead_letter import DeadLetter
from schemas.ticket import Ticket
from service.app import TriageApp
from service.rules.engine import ticket_id_for
from tests.integration.kafka_helpers import (
    committed_offsets,
    feedback,
    http_get,
    produce,
    read_topic,
    running_app,
    unique_settings,
    wait_for,
)

pytestmark = pytest.mark.integration

TEXTS = [
    ("en", "I will cancel my subscription if this is not fixed today!!!"),
    ("el", "Η εφαρμογή δεν λειτουργεί και χάθηκαν όλα τα δεδομένα μου"),
    ("zh", "我要退款，你们的服务太差了"),
    ("ru", "Спасибо, всё отлично работает!"),
    ("fi", "Sovellus kaatuu koko ajan, olen todella pettynyt."),
]


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def test_valid_events_become_one_ticket_each_with_deterministic_ids(bootstrap: str) -> None:
    s = unique_settings(bootstrap)
    events = [
        feedback(f"evt-{i}", TEXTS[i % len(TEXTS)][1], occurred_at=_now(), nps_score=i % 11)
        for i in range(60)
    ]
    async with running_app(s):
        await produce(
            bootstrap,
            s.topic_feedback,
            [(e["customer"]["id"].encode(), orjson.dumps(e)) for e in events],
        )
        records = await read_topic(bootstrap, s.topic_tickets, len(events), timeout=60)
    tickets = [Ticket.model_validate_json(r.value) for r in records]
    assert len(tickets) == len(events)
    by_event = {t.event_id: t for t in tickets}
    assert set(by_event) == {e["event_id"] for e in events}
    for r, t in zip(records, tickets, strict=True):
        assert t.ticket_id == ticket_id_for(t.event_id)
        assert r.key == t.ticket_id.encode()
        assert t.sla.first_response_due_at == t.occurred_at + timedelta(
            seconds=t.sla.target_seconds
        )
        assert dict(r.headers)["content-type"] == b"application/json"
    assert {t.language for t in tickets} == {"en", "el", "zh", "ru", "fi"}
    assert by_event["evt-0"].priority.value == "P1"  # churn threat
    assert by_event["evt-0"].sla.target_seconds == 600


BAD_INPUTS: list[tuple[str, bytes]] = [
    ("invalid_utf8", b'{"event_id": "\xff\xfe"}'),
    ("invalid_json", b"{not json"),
    ("not_an_object", b"[1, 2, 3]"),
    ("missing_field", orjson.dumps({"event_id": "x", "channel": "email", "text": ""})),
    ("out_of_range", orjson.dumps(feedback("bad-nps", nps_score=11))),
    (
        "timestamp_without_offset",
        orjson.dumps(feedback("naive", occurred_at="2026-11-22T10:00:00")),
    ),
    (
        "too_deep",
        orjson.dumps(
            feedback("deep", metadata={})
            | {"x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
        ),
    ),
    ("too_large", orjson.dumps(feedback("big", "a" * 600_000))),
    ("schema_violation", orjson.dumps(feedback("wrong-type", customer="not-an-object"))),
    ("empty", b""),
]


async def test_bad_inputs_become_dead_letters_with_original_bytes(bootstrap: str) -> None:
    s = unique_settings(bootstrap)
    headers = [("trace-id", b"abc-123")]
    async with running_app(s) as app:
        await produce(
            bootstrap,
            s.topic_feedback,
            [(f"k{i}".encode(), raw) for i, (_, raw) in enumerate(BAD_INPUTS)],
            headers=headers,
        )
        letters_raw = await read_topic(bootstrap, s.topic_dlq, len(BAD_INPUTS), timeout=60)
        # The service is still healthy and still produces tickets after the bad input.
        good = feedback("after-bad", "thanks, all good", occurred_at=_now())
        await produce(bootstrap, s.topic_feedback, [(b"c", orjson.dumps(good))])
        tickets = await read_topic(bootstrap, s.topic_tickets, 1, timeout=30)
        assert app.http is not None
        status, _ = await http_get(app.http.port, "/readyz")
        assert status == 200
    assert [Ticket.model_validate_json(t.value).event_id for t in tickets] == ["after-bad"]
    letters = [DeadLetter.from_record(r.key, r.value, list(r.headers)) for r in letters_raw]
    assert len(letters) == len(BAD_INPUTS)
    by_key = {lt.key: lt for lt in letters}
    for i, (reason, raw) in enumerate(BAD_INPUTS):
        letter = by_key[f"k{i}".encode()]
        assert letter.reason.value == reason, (reason, letter.detail)
        assert letter.value == raw  # original bytes, unchanged
        assert letter.headers == headers  # original headers kept
        assert letter.topic == s.topic_feedback
        assert letter.offset >= 0
        assert letter.detail


async def test_restart_rereads_nothing_already_committed(bootstrap: str) -> None:
    s = unique_settings(bootstrap)
    first = [feedback(f"a-{i}", "where is my invoice?", occurred_at=_now()) for i in range(30)]
    second = [feedback(f"b-{i}", "great support", occurred_at=_now()) for i in range(20)]
    async with running_app(s):
        await produce(bootstrap, s.topic_feedback, [(None, orjson.dumps(e)) for e in first])
        await read_topic(bootstrap, s.topic_tickets, len(first), timeout=60)
    offsets = await committed_offsets(bootstrap, s.group_id, s.topic_feedback)
    assert sum(o or 0 for o in offsets.values()) == len(first)
    async with running_app(s):
        await produce(bootstrap, s.topic_feedback, [(None, orjson.dumps(e)) for e in second])
        records = await read_topic(bootstrap, s.topic_tickets, len(first) + len(second), 60)
        # Nothing more arrives: the first batch was not processed again.
        extra = await read_topic(bootstrap, s.topic_tickets, len(first) + len(second) + 1, 3)
    ids = [Ticket.model_validate_json(r.value).event_id for r in records]
    assert sorted(ids) == sorted(e["event_id"] for e in first + second)
    assert len(extra) == len(first) + len(second)


async def test_readiness_and_metrics(bootstrap: str) -> None:
    # Broker unreachable: the process is up, /healthz 200, /readyz 503.
    dead = unique_settings("127.0.0.1:1")
    app = TriageApp(dead)
    import asyncio

    start = asyncio.create_task(app.start())
    try:
        await wait_for(lambda: app.http is not None and app.http._server is not None, 10, "http")
        assert app.http is not None
        assert (await http_get(app.http.port, "/healthz"))[0] == 200
        status, body = await http_get(app.http.port, "/readyz")
        assert status == 503
        assert "not ready" in body
    finally:
        await app.stop()
        start.cancel()
    s = unique_settings(bootstrap)
    async with running_app(s) as app:
        assert app.http is not None
        status, _ = await http_get(app.http.port, "/readyz")
        assert status == 200
        await produce(
            bootstrap,
            s.topic_feedback,
            [(None, orjson.dumps(feedback("m1", "terrible!!!", channel="review"))), (None, b"x")],
        )
        await read_topic(bootstrap, s.topic_tickets, 1, 30)
        await read_topic(bootstrap, s.topic_dlq, 1, 30)
        await wait_for(lambda: app.loops[0].processed >= 2, 10, "metrics")
        status, text = await http_get(app.http.port, "/metrics")
        assert (await http_get(app.http.port, "/nope"))[0] == 404
    assert status == 200
    assert 'triage_events_consumed_total{outcome="ticket"} 1.0' in text
    assert 'triage_events_consumed_total{outcome="dead_letter"} 1.0' in text
    assert 'triage_tickets_total{channel="review",priority="P1"} 1.0' in text
    assert 'triage_dead_letters_total{reason="invalid_json"} 1.0' in text
    assert "triage_processing_latency_seconds_bucket" in text
    assert "triage_consumer_lag_records{" in text


async def test_works_with_existing_topics_of_any_partition_count(bootstrap: str) -> None:
    s = unique_settings(bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(s.topic_feedback, 1, 1), NewTopic(s.topic_tickets, 5, 1)]
        )
    finally:
        await admin.close()
    events = [feedback(f"p-{i}", "how do I export?", occurred_at=_now()) for i in range(12)]
    async with running_app(s):
        await produce(bootstrap, s.topic_feedback, [(None, orjson.dumps(e)) for e in events])
        records = await read_topic(bootstrap, s.topic_tickets, len(events), 60)
    assert len(records) == len(events)
    assert {r.partition for r in records} <= set(range(5))


async def test_refuses_activity_topic_not_co_partitioned_with_tickets(bootstrap: str) -> None:
    s = unique_settings(bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(s.topic_tickets, 3, 1), NewTopic(s.topic_activity, 2, 1)]
        )
    finally:
        await admin.close()
    app = TriageApp(s)
    with pytest.raises(SystemExit, match="co-partitioned"):
        await app.start()
    await app.stop()
