"""Reading a changelog partition back: from the base named by its last record, to the end."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer

from service.kafka.admin import ensure_topics
from service.kafka.changelog import BASE_HEADER, changelog_bases, read_changelog

pytestmark = pytest.mark.integration


async def _write(bootstrap: str, topic: str, records: list[tuple[bytes, bytes, int]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    try:
        futures = [
            await producer.send(
                topic, value, key=key, partition=0, headers=[(BASE_HEADER, str(base).encode())]
            )
            for key, value, base in records
        ]
        await asyncio.gather(*futures)  # batched: many records per broker batch
    finally:
        await producer.stop()


async def test_reads_everything_from_the_last_base_to_the_true_end(bootstrap: str) -> None:
    conn = {"bootstrap_servers": bootstrap}
    topic = f"changelog-test-{id(conn)}"
    await ensure_topics(conn, {topic: 2})
    assert await read_changelog(conn, topic, 0) == (0, [])
    await _write(bootstrap, topic, [(b"k%d" % i, b"old%d" % i, 0) for i in range(120)])
    base, records = await read_changelog(conn, topic, 0)
    assert base == 0
    assert len(records) == 120  # all of them, though the records came in large batches
    # A snapshot written from offset 120 on: later records name it as their base.
    await _write(bootstrap, topic, [(b"k%d" % i, b"snap%d" % i, 0) for i in range(40)])
    await _write(bootstrap, topic, [(b"k%d" % i, b"new%d" % i, 120) for i in range(5)])
    base, records = await read_changelog(conn, topic, 0)
    assert base == 120
    assert [v for _, v in records] == [b"snap%d" % i for i in range(40)] + [
        b"new%d" % i for i in range(5)
    ]
    assert await read_changelog(conn, topic, 1) == (0, [])

    # every partition's base at once (where the standby clocks start reading)
    assert await changelog_bases(conn, topic, [0, 1]) == {0: 120, 1: 0}
