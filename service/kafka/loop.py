"""The consume → process → publish → commit loop, at least once.

Commit order, for every batch (this is the delivery guarantee; keep it):

1. ``getmany`` returns a batch of records from the assigned partitions.
2. Under the processing lock, the handler turns the batch into output records. It is
   pure: nothing has left the process yet.
3. Every output is handed to the producer (``acks=all``), in record batches per
   partition (``service.kafka.publish``), and **all** acknowledgements are awaited.
   A failed send is retried with backoff (outputs have deterministic ids, so a repeat
   is harmless) until it succeeds or the service is stopping. A loop with a delivery
   step outside Kafka (``BatchDelivery``: the notify role's POST to Alertmanager) then
   awaits it too, as part of the same publishing.
4. Only then is each partition's offset committed: the offset after the last record
   of that partition in the batch. Every earlier offset's output is acknowledged.
5. If the process dies anywhere before step 4, the batch is redelivered and produces
   the same ids again; consumers of our topics deduplicate on them.

Pipelining: steps 3 and 4 of batch N run while batch N+1 is fetched and processed, so
the broker's round trips (about two thirds of a batch's time at a steady 2,000
events/s) overlap with work instead of adding to every event's latency. Two rules keep
the guarantee and the order of outputs:

- batch N+1's outputs are handed to the producer only once **every** output of batch N
  is acknowledged (its retries included), so outputs reach each partition in input
  order, exactly as without pipelining;
- commits run one after another, each after its own batch's acknowledgements, so a
  committed offset never passes an unacknowledged output. A commit starts as soon as
  its batch's acknowledgements are in (a callback on the publishing task), even while
  the loop waits on a fetch.

Batch N+1 is processed before batch N is acknowledged; if batch N then cannot be
published (the service is stopping), neither is committed, and both are redelivered.
``_settle`` waits for everything in flight; it runs when the loop is idle, before a
rebalance moves partitions, before timer work publishes, and when the loop stops.

Rebalances: ``on_partitions_revoked`` takes the same lock and settles, so a revocation
waits for the batches in flight to be published and committed before the partitions
move. A commit rejected because the group moved on is counted and logged; the new owner
will redeliver, which is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.protocol.group import LeaveGroupRequest

from service.config import Settings
from service.kafka.publish import BatchPublisher
from service.observability.logging import get_logger
from service.observability.metrics import Metrics
from service.records import InRecord, OutRecord, new_in_record

log = get_logger(__name__)


@dataclass(slots=True)
class _Batch:
    """One processed batch on its way: what its commit and its metrics need."""

    records: list[InRecord]
    outputs: list[OutRecord]
    offsets: dict[TopicPartition, int]  # the offsets to commit once it is acknowledged
    started: float  # perf_counter when processing began
    commit_started: bool = False


class BatchHandler(Protocol):
    """A role's pure work: one batch of input records → its output records, in order."""

    def process(self, batch: Sequence[InRecord]) -> list[OutRecord]: ...


class PartitionListener(Protocol):
    """A role's state across rebalances (``service.kafka.partition_hooks``).

    Both are called under the processing lock with the partition *numbers* (the input
    topics are co-partitioned: number n of each goes to the same member). ``revoked``
    runs after the batches in flight are committed; ``assigned`` runs before any input
    of the new partitions is fetched, so state restored there is in place for it.
    """

    async def assigned(self, partitions: list[int]) -> None: ...

    async def revoked(self, partitions: list[int]) -> None: ...


#: Called with a batch's outputs once they are acknowledged and its offsets committed
#: (the role's own metrics: ``Metrics.count_outputs``).
PublishedSink = Callable[[list[OutRecord]], None]


class BatchDelivery(Protocol):
    """A side effect outside Kafka that a batch must complete before its offsets are
    committed (the notify role's POST to Alertmanager: ``service.notify``).

    ``deliver`` gets the batch's input records once its outputs are acknowledged, in
    batch order and one batch at a time (it is part of the batch's publishing, so the
    batch after it waits as it waits for acknowledgements). True: done, commit; False:
    given up because the service is stopping (the batch is then not committed).
    """

    async def deliver(self, records: Sequence[InRecord]) -> bool: ...


@dataclass(frozen=True, slots=True)
class LoopConfig:
    """How a loop fetches, publishes and stays in its group; ``service.config`` documents
    each setting. Built once from the settings (``from_settings``) and shared by every
    role of the process."""

    max_batch_records: int = 2000
    fetch_timeout_ms: int = 500
    fetch_max_wait_ms: int = 100
    auto_offset_reset: str = "earliest"
    session_timeout_ms: int = 6_000
    heartbeat_interval_ms: int | None = None
    #: Static membership: each loop joins as ``<instance_id>-<loop name>``.
    instance_id: str | None = None
    max_poll_interval_ms: int = 300_000
    producer_linger_ms: int = 5
    producer_max_batch_bytes: int = 1_048_576
    producer_compression: str = "none"
    producer_max_request_bytes: int = 4 * 1024 * 1024

    @classmethod
    def from_settings(cls, s: Settings) -> LoopConfig:
        return cls(
            max_batch_records=s.max_batch_records,
            fetch_timeout_ms=s.fetch_timeout_ms,
            fetch_max_wait_ms=s.fetch_max_wait_ms,
            auto_offset_reset=s.auto_offset_reset,
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=s.heartbeat_interval_ms,
            instance_id=s.instance_id or None,
            max_poll_interval_ms=s.max_poll_interval_ms,
            producer_linger_ms=s.producer_linger_ms,
            producer_max_batch_bytes=s.producer_max_batch_bytes,
            producer_compression=s.producer_compression,
            producer_max_request_bytes=s.producer_max_request_bytes,
        )

    def consumer_options(self, loop_name: str) -> dict[str, Any]:
        heartbeat = self.heartbeat_interval_ms or max(1000, self.session_timeout_ms // 10)
        options: dict[str, Any] = {
            "auto_offset_reset": self.auto_offset_reset,
            "session_timeout_ms": self.session_timeout_ms,
            "max_poll_interval_ms": self.max_poll_interval_ms,
            "heartbeat_interval_ms": min(heartbeat, self.session_timeout_ms // 3),
            "fetch_max_wait_ms": self.fetch_max_wait_ms,
        }
        if self.instance_id:
            options["group_instance_id"] = f"{self.instance_id}-{loop_name}"
        return options

    def producer_options(self) -> dict[str, Any]:
        compression = self.producer_compression
        return {
            "linger_ms": self.producer_linger_ms,
            "max_batch_size": self.producer_max_batch_bytes,
            "compression_type": None if compression == "none" else compression,
            "max_request_size": self.producer_max_request_bytes,
        }


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: ConsumeLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._loop._on_revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._loop._on_assigned(list(assigned))


class ConsumeLoop:
    """One consumer-group member: consumes ``topics``, publishes what the handler returns.

    ``handler`` does the role's work; ``partitions`` (optional) keeps its state across
    rebalances; ``on_published`` receives each committed batch's outputs (the role's
    metrics). ``deliver`` (optional) is a step outside Kafka each batch completes after
    its acknowledgements and before its commit (``BatchDelivery``). ``co_partitioned``
    assigns partition n of every input topic to the same member (range assignor).
    ``producer`` shares one producer between loops (tests).
    """

    def __init__(
        self,
        *,
        name: str,
        conn: dict[str, Any],
        topics: list[str],
        group_id: str,
        handler: BatchHandler,
        metrics: Metrics,
        config: LoopConfig | None = None,
        partitions: PartitionListener | None = None,
        on_published: PublishedSink | None = None,
        deliver: BatchDelivery | None = None,
        producer: AIOKafkaProducer | None = None,
        co_partitioned: bool = False,
    ) -> None:
        config = config or LoopConfig()
        self.name = name
        self._conn = conn
        self._topics = topics
        self._group_id = group_id
        self._handler = handler
        self._metrics = metrics
        self._config = config
        self._consumer_opts = config.consumer_options(name)
        if co_partitioned:
            # Partition n of every input topic goes to the same member (state is per n).
            self._consumer_opts["partition_assignment_strategy"] = (RangePartitionAssignor,)
        self._producer_opts = config.producer_options()
        self._partitions = partitions
        self._on_published = on_published
        self._deliver = deliver
        self._external_producer = producer
        self.producer: AIOKafkaProducer | None = producer
        self.consumer: AIOKafkaConsumer | None = None
        self._publisher: BatchPublisher | None = None
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._committed: dict[TopicPartition, int] = {}
        #: the last batch's publishing (its acknowledgements not yet awaited), with what
        #: its commit needs
        self._publishing: tuple[asyncio.Task[bool], _Batch] | None = None
        #: the last commit (each awaits the one before it, so commits stay in order)
        self._committing: asyncio.Task[None] | None = None
        self.assignments_seen = 0
        self.processed = 0

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, retrying while the broker is unreachable, until connected or stopped."""
        delay = 0.5
        while not self._stopping.is_set():
            consumer = AIOKafkaConsumer(
                **self._conn,
                group_id=self._group_id,
                enable_auto_commit=False,
                isolation_level="read_uncommitted",
                **self._consumer_opts,
            )
            producer = self._external_producer or AIOKafkaProducer(
                **self._conn, acks="all", enable_idempotence=False, **self._producer_opts
            )
            try:
                if self._external_producer is None:
                    await producer.start()
                await consumer.start()
                consumer.subscribe(self._topics, listener=_Listener(self))
            except (KafkaError, OSError) as exc:
                log.warning("broker_unreachable", loop=self.name, error=str(exc), retry_in=delay)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(consumer.stop(), 5)
                if self._external_producer is None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(producer.stop(), 5)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(delay * 2, 10.0)
                continue
            self.consumer, self.producer = consumer, producer
            self._publisher = None  # made for this producer on first use
            log.info("loop_started", loop=self.name, topics=self._topics, group_id=self._group_id)
            return

    def request_stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def wait_stopping(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a stop request; True when one came (a
        delivery step's backoff, cut short by shutdown)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout)
        return self._stopping.is_set()

    async def stop(self, timeout: float = 10.0) -> None:
        """Leave the group and flush, each step bounded so a dead broker cannot hang us."""
        self._stopping.set()
        if self.consumer is not None:
            await _leave_group(self.consumer, self.name, timeout)
            try:
                await asyncio.wait_for(self.consumer.stop(), timeout)
            except (TimeoutError, KafkaError) as exc:
                log.warning("consumer_stop_timeout", loop=self.name, error=str(exc))
            self.consumer = None
        if self.producer is not None and self._external_producer is None:
            try:
                await asyncio.wait_for(self.producer.stop(), timeout)
            except (TimeoutError, KafkaError) as exc:
                log.warning("producer_stop_timeout", loop=self.name, error=str(exc))
            self.producer = None
        log.info("loop_stopped", loop=self.name, processed=self.processed)

    @property
    def joined(self) -> bool:
        """True once the group has given this member an assignment (possibly empty)."""
        return self.consumer is not None and self.assignments_seen > 0

    # --- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume until ``request_stop``; what is in flight is finished and committed."""
        if self.consumer is None:
            return  # stopped before it could connect
        consumer = self.consumer
        try:
            while not self._stopping.is_set():
                try:
                    batches = await consumer.getmany(
                        timeout_ms=self._config.fetch_timeout_ms,
                        max_records=self._config.max_batch_records,
                    )
                except KafkaError as exc:
                    log.warning("fetch_failed", loop=self.name, error=str(exc))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), 1.0)
                    continue
                async with self._lock:
                    if not batches:
                        await self._settle()  # idle: commit what is acknowledged
                    elif not await self._process(batches):
                        break  # stopping before an earlier batch was acknowledged
                self._update_lag()
        finally:
            async with self._lock:
                await self._settle()

    async def _process(self, batches: dict[TopicPartition, list[Any]]) -> bool:
        """Process a batch and start publishing it, once the batch before is acknowledged
        (and its commit started). False when that batch could not be published."""
        started = time.perf_counter()
        records: list[InRecord] = []
        last: dict[TopicPartition, int] = {}
        for tp, messages in batches.items():
            topic, partition = tp.topic, tp.partition
            for m in messages:
                # positional: topic, partition, offset, key, value, headers, timestamp_ms
                records.append(
                    new_in_record(
                        topic,
                        partition,
                        m.offset,
                        m.key,
                        m.value,
                        tuple(m.headers or ()),
                        m.timestamp,
                    )
                )
            if messages:
                last[tp] = messages[-1].offset
        outputs = self._handler.process(records)  # while the batch before is in flight
        if not await self._acknowledged():
            return False
        batch = _Batch(records, outputs, {tp: o + 1 for tp, o in last.items()}, started)
        task = asyncio.create_task(self._publish(outputs, records))
        # the commit starts as soon as the acknowledgements are in, not when the loop
        # next looks (after the next fetch, or a fetch timeout when idle)
        task.add_done_callback(lambda done: self._start_commit(batch, done))
        self._publishing = (task, batch)
        return True

    async def _acknowledged(self) -> bool:
        """Wait for the batch in flight to be acknowledged (its commit then started).
        True when nothing was in flight; False when it could not be published."""
        if self._publishing is None:
            return True
        task, batch = self._publishing
        self._publishing = None
        if not await task:
            return False  # stopping: do not commit it (nor anything after it)
        # A task that was already done when awaited has its callback still queued: chain
        # the commit here so that ``_settle`` sees it (``commit_started`` makes it once).
        self._start_commit(batch, task)
        return True

    def _start_commit(self, batch: _Batch, published: asyncio.Task[bool]) -> None:
        """Chain the commit of a published batch after the commits before it (once)."""
        if batch.commit_started or published.cancelled() or published.exception() is not None:
            return
        if not published.result():
            return
        batch.commit_started = True
        self._committing = asyncio.create_task(
            self._commit_after(self._committing, batch, time.time())
        )

    async def _settle(self) -> None:
        """Wait until every batch in flight is acknowledged and committed (or abandoned
        because the service is stopping). Called under the lock."""
        await self._acknowledged()
        committing, self._committing = self._committing, None
        if committing is not None:
            await committing

    async def _commit_after(
        self, before: asyncio.Task[None] | None, batch: _Batch, acked_at: float
    ) -> None:
        if before is not None:
            await before
        await self._commit(batch.offsets)
        self._observe(batch.records, batch.outputs, acked_at, batch.started)

    async def _publish(
        self, outputs: list[OutRecord], records: list[InRecord] | None = None
    ) -> bool:
        """Publish every output and await every acknowledgement (``service.kafka.publish``),
        then, for a batch of input records, the loop's delivery step (``BatchDelivery``)."""
        if self._publisher is None:
            assert self.producer is not None
            self._publisher = BatchPublisher(
                self.producer,
                name=self.name,
                stopping=self._stopping,
                max_batch_bytes=self._config.producer_max_batch_bytes,
            )
        if not await self._publisher.publish(outputs):
            return False
        if self._deliver is not None and records:
            return await self._deliver.deliver(records)
        return True

    async def publish_exclusive(self, make_outputs: Callable[[], list[OutRecord]]) -> int:
        """Run ``make_outputs`` under the processing lock and publish what it returns.

        For work not driven by input records (timers): it never interleaves with a batch
        or a rebalance. Returns the number of records published.
        """
        async with self._lock:
            if self.producer is None or self._stopping.is_set():
                return 0
            if not await self._acknowledged():  # outputs stay in order
                return 0
            outputs = make_outputs()
            if outputs and not await self._publish(outputs):
                return 0
            return len(outputs)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self.consumer is not None
        assigned = self.consumer.assignment()
        offsets = {tp: o for tp, o in offsets.items() if tp in assigned}
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            self._metrics.commits.labels("failed").inc()
            log.warning("commit_failed", loop=self.name, error=str(exc))
            return
        self._metrics.commits.labels("ok").inc()
        self._committed.update(offsets)

    def _observe(
        self, records: list[InRecord], outputs: list[OutRecord], acked_at: float, started: float
    ) -> None:
        m = self._metrics
        self.processed += len(records)
        m.batch_size.observe(len(records))
        m.batch_duration.observe(time.perf_counter() - started)
        if self._on_published is not None:
            self._on_published(outputs)
        m.processing_latency.observe_many(
            [
                max(0.0, acked_at - r.timestamp_ms / 1000)
                for r in records
                if r.timestamp_ms is not None
            ]
        )

    def _update_lag(self) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            done = self._committed.get(tp)
            if done is None:
                continue
            self._metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, high - done))

    # --- rebalances -----------------------------------------------------------------------

    async def _on_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self._lock:  # wait for the batches in flight to be published and committed
            await self._settle()
            for tp in revoked:
                self._committed.pop(tp, None)
                with contextlib.suppress(KeyError):
                    self._metrics.consumer_lag.remove(tp.topic, str(tp.partition))
            if revoked:
                self._metrics.rebalances.labels("revoked").inc()
                log.info("partitions_revoked", loop=self.name, partitions=_names(revoked))
            if self._partitions is not None and revoked:
                await self._partitions.revoked(_numbers(revoked))

    async def _on_assigned(self, assigned: list[TopicPartition]) -> None:
        async with self._lock:
            if self._partitions is not None and assigned:
                await self._partitions.assigned(_numbers(assigned))
            await self._seed_committed(assigned)
            self.assignments_seen += 1
            self._metrics.rebalances.labels("assigned").inc()
            for topic in self._topics:
                self._metrics.assigned_partitions.labels(topic).set(
                    sum(1 for tp in assigned if tp.topic == topic)
                )
            log.info("partitions_assigned", loop=self.name, partitions=_names(assigned))

    async def _seed_committed(self, assigned: list[TopicPartition]) -> None:
        """Know each new partition's committed offset, so lag is reported before work."""
        if self.consumer is None:
            return
        for tp in assigned:
            try:
                offset = await asyncio.wait_for(self.consumer.committed(tp), 5)
            except (TimeoutError, KafkaError):
                continue
            self._committed[tp] = offset if offset is not None else 0


async def _leave_group(consumer: AIOKafkaConsumer, loop: str, timeout: float) -> None:
    """Leave the group on a graceful stop, so the partitions move at once.

    aiokafka leaves on its own only as a dynamic member, and only once the group's
    generation is above 0 (some brokers number the first generation 0). It never leaves
    as a static member (nor does Kafka's Java consumer by default), so that a restart
    under the same instance id costs no rebalance; but a stop is mostly a deploy, whose
    new pod has another name, and the partitions — and their SLA clocks — would wait out
    the session timeout. A crash (no stop) still gets the static member's quick return.
    Best effort and bounded; aiokafka is then told it has no generation left to leave.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None or not getattr(coordinator, "member_id", ""):
        return
    request = LeaveGroupRequest(coordinator.group_id, coordinator.member_id)
    try:
        await asyncio.wait_for(coordinator._send_req(request), timeout)
    except (TimeoutError, KafkaError) as exc:
        log.warning("leave_group_failed", loop=loop, error=str(exc))
        return
    coordinator.reset_generation()
    log.info("left_group", loop=loop)


def _numbers(tps: list[TopicPartition]) -> list[int]:
    return sorted({tp.partition for tp in tps})


def _names(tps: list[TopicPartition]) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in tps)
