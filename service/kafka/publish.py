"""Publishing the outputs of one input batch: every record acknowledged, or none counted.

The consume loop hands over the records a batch produced; this module returns only when
the broker has acknowledged every one of them (``acks=all``), or when the service is
stopping (then the caller must not commit). How it gets them there:

1. **Phases.** Outputs go out phase by phase (``OutRecord.phase``): every phase-0 record
   is acknowledged before any phase-1 record is sent, so a changelog never says an
   escalation was sent before the escalation itself is safe.
2. **Record batches per partition.** Within a phase, records are grouped by
   (topic, partition) — the partition is the record's own, or the one the Kafka default
   partitioner (murmur2 of the key, compiled: ``service/kafka/_partition.pyx``) gives, so
   keyed records land exactly where ``producer.send`` would have put them. Each group is
   appended, in order, to producer record batches (``create_batch`` / ``send_batch``):
   one batch per partition per request instead of one accumulator call per record, which
   is most of what a per-record ``send`` costs. Sizes, partitions and groups are worked
   out in one compiled pass (``_partition.group_outputs``).
3. **Single sends** remain for records that may be too large (those with an
   ``oversize_fallback`` — dead letters — and any record above the batch size): the
   producer checks their size, and a refused one is replaced by its fallback.
4. **Retries.** A batch that fails is retried whole (outputs have deterministic ids, so
   a repeat is harmless), with backoff, until it succeeds or the service stops.
5. ``on_ack`` callbacks receive each record's own offset: the batch's base offset plus
   the record's position in it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from service.kafka._partition import acknowledge, by_phase, group_outputs, keyed_topics
from service.observability.logging import get_logger
from service.records import OutRecord

log = get_logger(__name__)


class BatchPublisher:
    """Publishes outputs through one producer (see the module docstring for the steps)."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        *,
        name: str,
        stopping: asyncio.Event,
        max_batch_bytes: int,
    ) -> None:
        self._producer = producer
        self._name = name
        self._stopping = stopping
        self._max_batch_bytes = max_batch_bytes

    async def publish(self, outputs: list[OutRecord]) -> bool:
        """Publish phase by phase; False when stopping before all were acknowledged."""
        for batch in by_phase(outputs):
            if not await self._publish_phase(batch):
                return False
        return True

    async def _publish_phase(self, outputs: list[OutRecord]) -> bool:
        pending = outputs
        delay = 0.2
        while pending:
            failed, errors = await self._attempt(pending)
            if not failed:
                return True
            log.warning("publish_failed", loop=self._name, failed=len(failed), errors=errors)
            if self._stopping.is_set():
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, 5.0)
            pending = failed
        return True

    async def _attempt(self, outputs: list[OutRecord]) -> tuple[list[OutRecord], list[str]]:
        """Send every record once and await every acknowledgement; the records to retry
        and the kinds of error that made them fail."""
        partitions = {
            topic: sorted(await self._producer.partitions_for(topic))
            for topic in keyed_topics(outputs)
        }
        groups, singles = group_outputs(outputs, self._max_batch_bytes, partitions)
        waits: list[tuple[asyncio.Future[Any], list[OutRecord]]] = []
        for topic, partition, records in groups:
            waits.extend(await self._send_batches(topic, partition, records))
        for out in singles:
            waits.append((await self._send_single(out), [out]))
        results = await asyncio.gather(*(w for w, _ in waits), return_exceptions=True)
        failed: list[OutRecord] = []
        errors: set[str] = set()
        for (_, members), result in zip(waits, results, strict=True):
            if isinstance(result, BaseException):
                errors.add(type(result).__name__)
                for out in members:
                    if isinstance(result, MessageSizeTooLargeError) and out.oversize_fallback:
                        # the broker refused it: publish the fallback instead
                        log.error("output_too_large", loop=self._name, topic=out.topic)
                        failed.append(out.oversize_fallback)
                    else:
                        failed.append(out)
                continue
            acknowledge(members, result.offset)
        return failed, sorted(errors)

    async def _send_batches(
        self, topic: str, partition: int, records: list[OutRecord]
    ) -> list[tuple[asyncio.Future[Any], list[OutRecord]]]:
        """Append ``records`` in order to record batches for one partition and send them."""
        producer = self._producer
        sent: list[tuple[asyncio.Future[Any], list[OutRecord]]] = []
        builder = producer.create_batch()
        members: list[OutRecord] = []
        for out in records:
            headers = out.headers
            if type(headers) is not list:  # the record batch builder takes only a list
                headers = list(headers)
            if (
                builder.append(key=out.key, value=out.value, timestamp=None, headers=headers)
                is not None
            ):
                members.append(out)
                continue
            # full: send it and start the next (a record always fits an empty batch)
            builder.close()
            sent.append((await producer.send_batch(builder, topic, partition=partition), members))
            builder = producer.create_batch()
            builder.append(key=out.key, value=out.value, timestamp=None, headers=headers)
            members = [out]
        if members:
            # a closed batch goes out at once: lingering (``producer_linger_ms``) is for
            # collecting single sends, and this batch is already complete
            builder.close()
            sent.append((await producer.send_batch(builder, topic, partition=partition), members))
        return sent

    async def _send_single(self, out: OutRecord) -> asyncio.Future[Any]:
        """``producer.send`` for one record; a record it refuses as too large is replaced
        by its fallback (a dead letter without its value, its size and sha256 in the
        headers) rather than stopping the stream on every restart."""
        try:
            return await self._send(out)
        except MessageSizeTooLargeError:
            fallback = out.oversize_fallback
            if fallback is None:
                raise
            log.error("output_too_large", loop=self._name, topic=out.topic, kind=out.kind)
            return await self._send(fallback)

    async def _send(self, out: OutRecord) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await self._producer.send(
            out.topic, out.value, key=out.key, headers=out.headers, partition=out.partition
        )
        return future
