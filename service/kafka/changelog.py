"""Read one partition of a changelog topic from its base to its end, or of any topic
from a time on (``read_since``); no consumer group."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from service.partition_state import BASE_HEADER as BASE_HEADER


async def read_changelog(
    conn: dict[str, Any], topic: str, partition: int, timeout_s: float = 120.0
) -> tuple[int, list[tuple[bytes | None, bytes | None]]]:
    """(base, records of ``topic[partition]`` from that base to the end).

    The base is named by the partition's last record (see ``service.partition_state``).

    The end is fixed when reading starts; records written later belong to the new owner.
    """
    tp = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(**conn, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        consumer.assign([tp])
        end = await _true_end(consumer, tp, timeout_s)
        if end == 0:
            return 0, []
        base = await _base(consumer, tp, end, timeout_s)
        consumer.seek(tp, base)
        records = await _read_until(consumer, tp, end, timeout_s)
        return base, [(k, v) for k, v, _ in records]
    finally:
        await consumer.stop()


async def changelog_bases(
    conn: dict[str, Any], topic: str, partitions: list[int], timeout_s: float = 120.0
) -> dict[int, int]:
    """Each partition's base now: where a replay that rebuilds its whole state starts
    (the standby clocks' reader begins there instead of at offset 0)."""
    consumer = AIOKafkaConsumer(**conn, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        bases: dict[int, int] = {}
        for tp in tps:
            end = await _true_end(consumer, tp, timeout_s)
            bases[tp.partition] = await _base(consumer, tp, end, timeout_s) if end else 0
        return bases
    finally:
        await consumer.stop()


async def _base(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, timeout_s: float) -> int:
    """The base named by the last record before ``end`` (0 without one)."""
    consumer.seek(tp, end - 1)
    last = await _read_until(consumer, tp, end, timeout_s)
    if not last:
        return 0
    raw = dict(last[-1][2]).get(BASE_HEADER)
    return int(raw) if raw else 0


async def _true_end(consumer: AIOKafkaConsumer, tp: TopicPartition, timeout_s: float) -> int:
    """The partition's end offset now.

    Some Kafka-compatible brokers answer ListOffsets(latest) with the base offset of the
    last record batch + 1, not the true end. Any answer > 0 still points into the last
    batch, so fetch there and take the true end from the fetch's high watermark.
    """
    estimate: int = (await consumer.end_offsets([tp]))[tp]
    if estimate == 0:
        return 0
    consumer.seek(tp, estimate - 1)
    await _read_until(consumer, tp, estimate, timeout_s)
    high: int | None = consumer.highwater(tp)
    return max(estimate, high or estimate)


async def _read_until(
    consumer: AIOKafkaConsumer,
    tp: TopicPartition,
    end: int,
    timeout_s: float,
    since_ms: int | None = None,
) -> list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]:
    out: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while await consumer.position(tp) < end:
        if loop.time() > deadline:
            raise TimeoutError(f"changelog {tp.topic}[{tp.partition}] not read to {end} in time")
        batch = await consumer.getmany(tp, timeout_ms=500, max_records=50_000)
        for m in batch.get(tp, []):
            if m.offset < end and (
                since_ms is None or m.timestamp is None or m.timestamp >= since_ms
            ):
                out.append((m.key, m.value, list(m.headers or ())))
    return out


async def read_since(
    conn: dict[str, Any], topic: str, partition: int, since_ms: int, timeout_s: float = 120.0
) -> list[bytes | None]:
    """The values of ``topic[partition]`` written at ``since_ms`` or later, to its end
    (fixed when reading starts), in order; no consumer group.

    Starts where the broker's offsets-for-times says (Kafka: the first record that new;
    some compatible brokers answer loosely, earlier) and drops older records itself.
    """
    tp = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(**conn, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        consumer.assign([tp])
        end = await _true_end(consumer, tp, timeout_s)
        if end == 0:
            return []
        found = (await consumer.offsets_for_times({tp: since_ms}))[tp]
        if found is None:
            return []  # nothing that new
        consumer.seek(tp, found.offset)
        records = await _read_until(consumer, tp, end, timeout_s, since_ms)
        return [v for _, v, _ in records]
    finally:
        await consumer.stop()
