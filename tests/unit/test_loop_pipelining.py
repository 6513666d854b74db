"""The consume loop's pipelining: batch N+1 is processed while batch N is in flight, but
its outputs leave only after batch N is acknowledged, and each commit follows its own
batch's acknowledgements, in order.

A fake consumer serves scripted batches and a fake publisher acknowledges when the test
says, both writing to one event log; the integration tests run the same loop against a
real broker (delivery, faults, rebalances).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from aiokafka import TopicPartition

from service.kafka.loop import ConsumeLoop
from service.observability.metrics import Metrics
from service.records import InRecord, OutRecord

TP = TopicPartition("feedback", 0)


class Message:
    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.key = b"k"
        self.value = b"v"
        self.headers: list[tuple[str, bytes]] = []
        self.timestamp = None


class FakeConsumer:
    """Serves one scripted batch per ``getmany``, then nothing; logs commits."""

    def __init__(self, log: list[tuple[str, int]], batches: list[list[int]]) -> None:
        self.log = log
        self.script = [{TP: [Message(o) for o in offsets]} for offsets in batches]
        self.drained = asyncio.Event()

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        await asyncio.sleep(0)
        if self.script:
            return self.script.pop(0)
        self.drained.set()
        await asyncio.sleep(0.01)
        return {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await asyncio.sleep(0)
        self.log.append(("commit", offsets[TP]))

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def highwater(self, tp: TopicPartition) -> int | None:
        return None


class FakePublisher:
    """Logs each batch's hand-over; acknowledges batch i when ``acks[i]`` is set."""

    def __init__(self, log: list[tuple[str, int]], fail: set[int] | None = None) -> None:
        self.log = log
        self.acks: dict[int, asyncio.Event] = {}
        self.fail = fail or set()

    def release(self, first_offset: int) -> None:
        self.acks.setdefault(first_offset, asyncio.Event()).set()

    async def publish(self, outputs: list[OutRecord]) -> bool:
        first = int(outputs[0].value)
        self.log.append(("send", first))
        await self.acks.setdefault(first, asyncio.Event()).wait()
        if first in self.fail:
            return False
        self.log.append(("acked", first))
        return True


class Handler:
    def __init__(self, log: list[tuple[str, int]]) -> None:
        self.log = log

    def process(self, batch: Sequence[InRecord]) -> list[OutRecord]:
        self.log.append(("process", batch[0].offset))
        return [OutRecord("tickets", b"k", str(r.offset).encode()) for r in batch]


def make_loop(
    log: list[tuple[str, int]], batches: list[list[int]], publisher: FakePublisher
) -> tuple[ConsumeLoop, FakeConsumer]:
    loop = ConsumeLoop(
        name="test",
        conn={},
        topics=["feedback"],
        group_id="g",
        handler=Handler(log),
        metrics=Metrics(),
    )
    consumer = FakeConsumer(log, batches)
    loop.consumer = consumer
    loop._publisher = publisher  # type: ignore[assignment]
    return loop, consumer


async def _until(predicate: Any) -> None:
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition not reached")


async def test_next_batch_is_processed_in_flight_but_sent_only_after_acks() -> None:
    log: list[tuple[str, int]] = []
    publisher = FakePublisher(log)
    loop, consumer = make_loop(log, [[0, 1], [2, 3], [4]], publisher)
    task = asyncio.create_task(loop.run())
    # batch 0 is handed over, and batch 2 processed, while batch 0 waits for its acks
    await _until(lambda: ("process", 2) in log)
    assert log == [("process", 0), ("send", 0), ("process", 2)]
    publisher.release(0)
    await _until(lambda: ("process", 4) in log)
    publisher.release(2)
    publisher.release(4)
    await consumer.drained.wait()
    await _until(lambda: ("commit", 5) in log)
    loop.request_stop()
    await task
    # every send after the acks of the batch before; every commit after its own acks,
    # in order; no commit skips one
    assert log.index(("send", 2)) > log.index(("acked", 0))
    assert log.index(("send", 4)) > log.index(("acked", 2))
    assert [e for e in log if e[0] == "commit"] == [("commit", 2), ("commit", 4), ("commit", 5)]
    assert log.index(("commit", 2)) > log.index(("acked", 0))
    assert log.index(("commit", 4)) > log.index(("acked", 2))
    assert log.index(("commit", 5)) > log.index(("acked", 4))
    assert loop.processed == 5


async def test_a_batch_that_cannot_be_published_stops_everything_after_it() -> None:
    log: list[tuple[str, int]] = []
    publisher = FakePublisher(log, fail={0})
    loop, _ = make_loop(log, [[0, 1], [2, 3]], publisher)
    task = asyncio.create_task(loop.run())
    await _until(lambda: ("process", 2) in log)
    loop.request_stop()
    publisher.release(0)  # stopping: batch 0 is reported not delivered
    await asyncio.wait_for(task, 5)
    assert ("send", 2) not in log  # the batch after it never left
    assert not [e for e in log if e[0] == "commit"]  # both are redelivered
    assert loop.processed == 0


async def test_idle_loop_commits_what_is_acknowledged() -> None:
    log: list[tuple[str, int]] = []
    publisher = FakePublisher(log)
    publisher.release(0)
    loop, consumer = make_loop(log, [[0, 1, 2]], publisher)
    task = asyncio.create_task(loop.run())
    await consumer.drained.wait()
    # no further batch arrives: the loop settles on its own
    await _until(lambda: ("commit", 3) in log)
    loop.request_stop()
    await task


async def test_revocation_waits_for_batches_in_flight() -> None:
    log: list[tuple[str, int]] = []
    publisher = FakePublisher(log)
    loop, _ = make_loop(log, [[0], [1]], publisher)

    class Partitions:
        async def assigned(self, partitions: list[int]) -> None:
            raise AssertionError("not assigned in this test")

        async def revoked(self, partitions: list[int]) -> None:
            log.append(("revoked", partitions[0]))

    loop._partitions = Partitions()
    task = asyncio.create_task(loop.run())
    await _until(lambda: ("process", 1) in log)
    revoking = asyncio.create_task(loop._on_revoked([TP]))
    await asyncio.sleep(0.01)
    assert ("revoked", 0) not in log  # still waiting for batch 0's acks
    publisher.release(0)
    publisher.release(1)
    await asyncio.wait_for(revoking, 5)
    # both batches acknowledged and committed before the partition moved
    assert log.index(("revoked", 0)) > log.index(("commit", 2))
    loop.request_stop()
    await task


async def test_commit_follows_the_acknowledgements_without_waiting_for_the_next_fetch() -> None:
    log: list[tuple[str, int]] = []
    publisher = FakePublisher(log)
    loop, consumer = make_loop(log, [[0, 1]], publisher)
    parked = asyncio.Event()

    async def long_poll(timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        if consumer.script:
            return consumer.script.pop(0)
        parked.set()
        await asyncio.sleep(60)  # a fetch held by the broker: the loop is not looking
        return {}

    consumer.getmany = long_poll  # type: ignore[method-assign]
    task = asyncio.create_task(loop.run())
    await parked.wait()
    publisher.release(0)
    await _until(lambda: ("commit", 2) in log)  # from the acknowledgement, not the loop
    assert loop.processed == 2  # and the batch's metrics with it
    loop.request_stop()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
