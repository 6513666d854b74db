"""The batch publisher: grouping by partition, order, offsets, retries, single sends.

A fake producer stands in for aiokafka's (the integration tests publish to a real
broker); it records every record batch and single send, and acknowledges or fails them
as each test says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from service.kafka._partition import partition_for
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
