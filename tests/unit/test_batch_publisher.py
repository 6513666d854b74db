"""The batch publisher: grouping by partition, order, offsets, retries, single sends.

A fake producer stands in for aiokafka's (the integration tests publish to a real
broker); it records every record batch and single send, and acknowledges or fails them
as each test says.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from service.kafka._partition import (
    by_phase,
    group_outputs,
    keyed_topics,
    partition_for,
    record_size,
)
from service.kafka.publish import BatchPublisher
from service.records import OutRecord

PARTITIONS = [0, 1, 2, 3]


@dataclass
class FakeBatch:
    limit: int
    records: list[tuple[bytes | None, bytes]] = field(default_factory=list)
    closed: bool = False

    def append(
        self, *, key: bytes | None, value: bytes, timestamp: None, headers: list[Any]
    ) -> object | None:
        assert isinstance(headers, list)
        if self.closed or (self.records and len(self.records) >= self.limit):
            return None
        self.records.append((key, value))
        return object()

    def close(self) -> None:
        self.closed = True


@dataclass
class Meta:
    offset: int


class FakeProducer:
    def __init__(self, batch_limit: int = 1000, fail_first: int = 0) -> None:
        self.batch_limit = batch_limit
        self.fail_first = fail_first  # this many batch sends fail
        self.sent: list[tuple[str, int, FakeBatch]] = []
        self.singles: list[OutRecord] = []
        self.next_offset: dict[tuple[str, int], int] = {}

    async def partitions_for(self, topic: str) -> set[int]:
        return set(PARTITIONS)

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.batch_limit)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        assert batch.closed, "a batch is closed before it is sent (no lingering)"
        future: asyncio.Future[Meta] = asyncio.get_running_loop().create_future()
        if self.fail_first > 0:
            self.fail_first -= 1
            future.set_exception(ConnectionError("broker away"))
        else:
            base = self.next_offset.get((topic, partition), 0)
            self.next_offset[(topic, partition)] = base + len(batch.records)
            self.sent.append((topic, partition, batch))
            future.set_result(Meta(base))
        return future

    async def send(
        self, topic: str, value: bytes, *, key: bytes | None, headers: Any, partition: int | None
    ) -> Any:
        future: asyncio.Future[Meta] = asyncio.get_running_loop().create_future()
        future.set_result(Meta(0))
        self.singles.append(OutRecord(topic, key, value, partition=partition))
        return future


def publisher(producer: FakeProducer) -> BatchPublisher:
    return BatchPublisher(
        producer,
        name="test",
        stopping=asyncio.Event(),
        max_batch_bytes=1_048_576,
    )


async def test_keyed_records_land_on_their_partition_in_order() -> None:
    producer = FakeProducer()
    outs = [OutRecord("tickets", f"t-{i}".encode(), b"v%d" % i) for i in range(40)]
    assert await publisher(producer).publish(outs)
    for topic, partition, batch in producer.sent:
        assert topic == "tickets"
        keys = [k for k, _ in batch.records]
        assert all(k is not None and partition_for(k, PARTITIONS) == partition for k in keys)
        expected = [o.key for o in outs if partition_for(o.key or b"", PARTITIONS) == partition]
        assert keys == expected  # input order kept within the partition
    assert sum(len(b.records) for _, _, b in producer.sent) == 40
    assert producer.singles == []


async def test_on_ack_gets_each_records_own_offset_across_full_batches() -> None:
    producer = FakeProducer(batch_limit=3)
    acked: list[tuple[int, int]] = []

    def record(i: int) -> Callable[[int], None]:
        return lambda offset: acked.append((i, offset))

    outs = [OutRecord("log", b"k", b"v", partition=2, on_ack=record(i)) for i in range(7)]
    assert await publisher(producer).publish(outs)
    assert [len(b.records) for _, _, b in producer.sent] == [3, 3, 1]
    assert sorted(acked) == [(i, i) for i in range(7)]


async def test_a_failed_batch_is_sent_again_whole() -> None:
    producer = FakeProducer(fail_first=1)
    outs = [OutRecord("log", b"k", b"v%d" % i, partition=0) for i in range(5)]
    assert await publisher(producer).publish(outs)
    [(_, _, batch)] = producer.sent
    assert [v for _, v in batch.records] == [b"v%d" % i for i in range(5)]


async def test_stopping_while_failing_reports_not_delivered() -> None:
    producer = FakeProducer(fail_first=10**6)
    pub = publisher(producer)
    pub._stopping.set()
    assert not await pub.publish([OutRecord("log", b"k", b"v", partition=0)])


async def test_records_that_may_be_too_large_and_unkeyed_ones_go_one_by_one() -> None:
    producer = FakeProducer()
    fallback = OutRecord("dlq", b"k", b"")
    dead = OutRecord("dlq", b"k", b"x", oversize_fallback=fallback)
    unkeyed = OutRecord("tickets", None, b"y")
    huge = OutRecord("tickets", b"h", b"z" * 2_000_000)
    assert await publisher(producer).publish([dead, unkeyed, huge])
    assert [o.value[:1] for o in producer.singles] == [b"x", b"y", b"z"]
    assert producer.sent == []


async def test_phases_go_out_one_after_the_other() -> None:
    producer = FakeProducer()
    outs = [
        OutRecord("state", b"s", b"later", partition=0, phase=1),
        OutRecord("tickets", b"t", b"first", partition=0, phase=0),
    ]
    assert await publisher(producer).publish(outs)
    assert [b.records[0][1] for _, _, b in producer.sent] == [b"first", b"later"]


# --- the compiled grouping against the Python it replaced -------------------------------


def _python_size(out: OutRecord) -> int:
    """The publisher's size estimate as it was written in Python."""
    size = len(out.value) + (len(out.key) if out.key else 0) + 64
    for name, value in out.headers:
        size += len(name) + len(value) + 8
    return size


def _python_groups(
    outputs: list[OutRecord], limit: int, partitions: dict[str, list[int]]
) -> tuple[list[tuple[str, int, list[OutRecord]]], list[OutRecord]]:
    """The publisher's grouping as it was written in Python."""
    groups: dict[tuple[str, int], list[OutRecord]] = {}
    singles: list[OutRecord] = []
    for out in outputs:
        if out.oversize_fallback is not None or _python_size(out) > limit:
            singles.append(out)
            continue
        partition = out.partition
        if partition is None:
            if out.key is None:
                singles.append(out)
                continue
            partition = partition_for(out.key, partitions[out.topic])
        groups.setdefault((out.topic, partition), []).append(out)
    return [(t, p, records) for (t, p), records in groups.items()], singles


def _random_outputs(rnd: random.Random, n: int) -> list[OutRecord]:
    outs = []
    for i in range(n):
        key = None if rnd.random() < 0.1 else rnd.randbytes(rnd.randrange(0, 40))
        headers = [(f"h{j}", rnd.randbytes(rnd.randrange(0, 30))) for j in range(rnd.randrange(4))]
        fallback = OutRecord("dlq", b"k", b"") if rnd.random() < 0.05 else None
        outs.append(
            OutRecord(
                rnd.choice(["tickets", "changelog", "dlq"]),
                key,
                rnd.randbytes(rnd.randrange(0, 300)),
                headers,
                partition=rnd.choice([None, None, 0, 3]),
                phase=rnd.choice([0, 0, 1]),
                oversize_fallback=fallback,
                label=str(i),
            )
        )
    return outs


def test_group_outputs_is_the_python_grouping() -> None:
    rnd = random.Random(14)
    partitions = {"tickets": [0, 1, 2, 3], "changelog": [0, 1, 2, 3, 4, 5], "dlq": [0]}
    for _ in range(200):
        outs = _random_outputs(rnd, rnd.randrange(0, 60))
        limit = rnd.choice([10**6, 300, 150])
        assert [record_size(o) for o in outs] == [_python_size(o) for o in outs]
        assert group_outputs(outs, limit, partitions) == _python_groups(outs, limit, partitions)
        assert keyed_topics(outs) == list(
            dict.fromkeys(o.topic for o in outs if o.partition is None and o.key is not None)
        )


def test_group_outputs_keeps_the_records_themselves() -> None:
    outs = _random_outputs(random.Random(1), 50)
    groups, singles = group_outputs(
        outs, 10**6, {t: [0, 1] for t in ("tickets", "changelog", "dlq")}
    )
    placed = [o for _, _, records in groups for o in records] + singles
    assert sorted(map(id, placed)) == sorted(map(id, outs))  # each once, not a copy


def test_by_phase_splits_in_phase_order_keeping_input_order() -> None:
    rnd = random.Random(7)
    for _ in range(100):
        outs = _random_outputs(rnd, rnd.randrange(0, 30))
        parts = by_phase(outs)
        assert parts == [[o for o in outs if o.phase == p] for p in sorted({o.phase for o in outs})]
    same = [OutRecord("t", b"k", b"v", phase=2) for _ in range(3)]
    assert by_phase(same)[0] is same  # one phase: the list itself
    assert by_phase([]) == []
