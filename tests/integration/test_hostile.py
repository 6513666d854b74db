"""The hostile corpus through a real broker and a running service: every hostile record
has its dead letter (original bytes, key and headers, precise reason), the valid ones
their tickets, a valid event after them its ticket, and the service stays ready."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from schemas.dead_letter import DeadLetter
from schemas.ticket import Ticket
from tests.data.hostile.corpus import load_corpus, valid_event
from tests.integration.kafka_helpers import http_get, read_topic, running_app, unique_settings

pytestmark = pytest.mark.integration

#: aiokafka's default max_request_size, which triage's producer uses: a dead letter is the
#: input plus < 1 KB of headers, so an input this close to 1 MiB cannot be re-published.
PRODUCER_MAX_REQUEST = 1024 * 1024
DLQ_OVERHEAD = 1024


def _record_size(value: bytes, headers: list[tuple[str, bytes]]) -> int:
    return len(value) + sum(len(n) + len(v) for n, v in headers)


async def _publish(
    bootstrap: str, topic: str, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]
) -> None:
    """Our own producer: records up to 2 MiB, each with its own headers."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=2 * 1024 * 1024
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, key=key, headers=headers)
            for key, value, headers in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def test_hostile_corpus_end_to_end(bootstrap: str) -> None:
    s = unique_settings(bootstrap)
    now = datetime.now(UTC)
    corpus = [
        c
        for c in load_corpus(now)
        if _record_size(c.value, c.headers) + DLQ_OVERHEAD <= PRODUCER_MAX_REQUEST
    ]
    after = valid_event("after-the-corpus", now, text="thanks, works again")
    expected_letters = [c for c in corpus if not c.is_ticket]
    expected_tickets = {orjson.loads(c.value)["event_id"] for c in corpus if c.is_ticket}
    async with running_app(s) as app:
        await _publish(
            bootstrap,
            s.topic_feedback,
            [(c.name.encode(), c.value, c.headers) for c in corpus]
            + [(b"after", orjson.dumps(after), [])],
        )
        letters_raw = await read_topic(bootstrap, s.topic_dlq, len(expected_letters), 90)
        tickets_raw = await read_topic(bootstrap, s.topic_tickets, len(expected_tickets) + 1, 60)
        assert app.http is not None
        status, _ = await http_get(app.http.port, "/readyz")
        assert status == 200
    letters = {
        lt.key: lt
        for lt in (DeadLetter.from_record(r.key, r.value, list(r.headers)) for r in letters_raw)
    }
    assert len(letters_raw) == len(expected_letters)
    for case in expected_letters:
        letter = letters[case.name.encode()]
        assert letter.reason.value == case.expect, (case.name, letter.detail)
        assert letter.value == case.value, case.name  # the original bytes, unchanged
        assert letter.headers == case.headers, case.name  # the original headers, unchanged
        assert letter.topic == s.topic_feedback
        assert letter.detail
    tickets = [Ticket.model_validate_json(r.value) for r in tickets_raw]
    assert {t.event_id for t in tickets} == expected_tickets | {after["event_id"]}


async def test_a_dead_letter_bigger_than_a_default_request_is_still_published(
    bootstrap: str,
) -> None:
    s = unique_settings(bootstrap)
    now = datetime.now(UTC)
    (case,) = [c for c in load_corpus(now) if c.name == "text_1mb"]
    assert _record_size(case.value, case.headers) + DLQ_OVERHEAD > PRODUCER_MAX_REQUEST
    after = valid_event("after-1mb", now)
    async with running_app(s):
        await _publish(
            bootstrap,
            s.topic_feedback,
            [(b"k", case.value, case.headers), (b"k", orjson.dumps(after), [])],
        )
        letters = await read_topic(bootstrap, s.topic_dlq, 1, 15)
        tickets = await read_topic(bootstrap, s.topic_tickets, 1, 10)
    assert [r.value for r in letters] == [case.value]
    assert len(tickets) == 1


async def test_a_dead_letter_too_large_to_publish_keeps_the_stream_going(bootstrap: str) -> None:
    """Past the publish limit a dead letter goes out without its value (size and hash
    kept), rather than stopping the stream on that record at every restart."""
    s = unique_settings(bootstrap, producer_max_request_bytes=1024 * 1024)
    now = datetime.now(UTC)
    (case,) = [c for c in load_corpus(now) if c.name == "text_1mb"]
    after = valid_event("after-omitted", now)
    async with running_app(s):
        await _publish(
            bootstrap,
            s.topic_feedback,
            [(b"k", case.value, case.headers), (b"k", orjson.dumps(after), [])],
        )
        letters = await read_topic(bootstrap, s.topic_dlq, 1, 15)
        tickets = await read_topic(bootstrap, s.topic_tickets, 1, 10)
    assert len(tickets) == 1
    (letter,) = letters
    headers = dict(letter.headers)
    assert letter.value == b""
    assert headers["triage.dlq.reason"] == b"too_large"
    assert headers["triage.dlq.value_omitted"] == b"too large to re-publish"
    assert int(headers["triage.dlq.value_bytes"]) == len(case.value)
    assert headers["triage.dlq.value_sha256"] == hashlib.sha256(case.value).hexdigest().encode()
