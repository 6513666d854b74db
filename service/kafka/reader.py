"""A reader of whole topics outside any consumer group, for ``triage watch`` and the demo.

It commits nothing (``group_id=None``), is assigned every partition of its topics and
reads them from the beginning, or from ``since`` on: where the broker answers
offsets-for-times it starts each partition at the first record that new, and it drops
older records itself in any case — so a broker without offsets-for-times (or one that
answers it loosely: the embedded Tansu gives offset 0 where Kafka says "no record that
new") still shows only what was written since. Records come out as plain ``InRecord``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from service.config import Settings
from service.kafka.clients import connection_kwargs
from service.records import InRecord

#: How long to wait for each topic's partitions to show in the metadata.
METADATA_TIMEOUT_S = 10.0


class TopicReader:
    """A started consumer assigned every partition of its topics; ``read()`` a batch."""

    def __init__(self, consumer: Any, since_ms: int | None) -> None:
        self._consumer = consumer
        self._since_ms = since_ms
        #: Where reading started, in words (for the view's header and logs).
        self.start = "from the beginning"

    async def read(self, timeout_ms: int = 200) -> list[InRecord]:
        """The records fetched within ``timeout_ms`` (possibly none), in partition order."""
        batch = await self._consumer.getmany(timeout_ms=timeout_ms)
        since = self._since_ms
        return [
            InRecord(
                topic=m.topic,
                partition=m.partition,
                offset=m.offset,
                key=m.key,
                value=m.value,
                headers=tuple(m.headers or ()),
                timestamp_ms=m.timestamp,
            )
            for messages in batch.values()
            for m in messages
            if since is None or m.timestamp is None or m.timestamp >= since
        ]

    async def end_offsets(self) -> dict[TopicPartition, int]:
        """Each assigned partition's end now: the offset its next record will get."""
        consumer = self._consumer
        ends = await consumer.end_offsets(list(consumer.assignment()))
        return {tp: int(offset) for tp, offset in ends.items()}

    def partitions(self, topic: str) -> list[int]:
        """The partition numbers of ``topic`` this reader is assigned."""
        return sorted(tp.partition for tp in self._consumer.assignment() if tp.topic == topic)

    def seek(self, topic: str, offsets: dict[int, int]) -> None:
        """Read ``topic``'s partitions from these offsets on (partition → offset)."""
        for partition, offset in offsets.items():
            self._consumer.seek(TopicPartition(topic, partition), offset)

    async def caught_up(self) -> bool:
        """Whether every assigned partition was read to the high watermark its last fetch
        reported (a partition not fetched yet is not caught up)."""
        consumer = self._consumer
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is None or await self.position(tp) < end:
                return False
        return True

    async def position(self, tp: TopicPartition) -> int:
        """The offset of the next record :meth:`read` fetches from ``tp``."""
        return int(await self._consumer.position(tp))

    async def _assign(self, topics: Sequence[str]) -> list[TopicPartition]:
        consumer = self._consumer
        loop = asyncio.get_running_loop()
        tps: list[TopicPartition] = []
        for topic in topics:
            deadline = loop.time() + METADATA_TIMEOUT_S
            while not (parts := consumer.partitions_for_topic(topic)):
                if loop.time() >= deadline:
                    raise RuntimeError(f"topic {topic} has no partitions (does it exist?)")
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.1)
            tps.extend(TopicPartition(topic, p) for p in sorted(parts))
        consumer.assign(tps)
        return tps

    async def _seek(self, tps: list[TopicPartition], since: datetime | None) -> None:
        consumer = self._consumer
        if since is None or self._since_ms is None:
            await consumer.seek_to_beginning(*tps)
            return
        try:
            found = await consumer.offsets_for_times(dict.fromkeys(tps, self._since_ms))
        except (KafkaError, ValueError):  # UnsupportedVersionError among them
            await consumer.seek_to_beginning(*tps)
            self.start = f"since {since:%Y-%m-%d %H:%M:%S} (read from the beginning)"
            return
        at_end: list[TopicPartition] = []
        for tp in tps:
            hit = found.get(tp)
            if hit is None:
                at_end.append(tp)  # nothing that new yet
            elif hit.timestamp is not None and hit.timestamp < self._since_ms:
                await consumer.seek_to_beginning(tp)  # a loose answer: filter ourselves
            else:
                consumer.seek(tp, hit.offset)
        if at_end:
            await consumer.seek_to_end(*at_end)
        self.start = f"since {since:%Y-%m-%d %H:%M:%S}"


@asynccontextmanager
async def reading(
    settings: Settings, topics: Sequence[str], since: datetime | None = None
) -> AsyncIterator[TopicReader]:
    """A started :class:`TopicReader` of every partition of ``topics`` (no group, no
    commits), from the beginning or from ``since`` (aware); stopped on exit."""
    consumer = AIOKafkaConsumer(
        **connection_kwargs(settings),
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
    )
    try:
        await consumer.start()
        since_ms = round(since.timestamp() * 1000) if since is not None else None
        reader = TopicReader(consumer, since_ms)
        tps = await reader._assign(topics)
        await reader._seek(tps, since)
        yield reader
    finally:
        await consumer.stop()
