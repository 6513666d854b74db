"""The processes the throughput benchmarks measure, each run as its own process.

``python bench/candidates.py NAME --bootstrap B --input T --output T --group G``
consumes ``--input`` from the earliest offset in consumer group ``--group`` and writes
one record to ``--output`` per input record, until SIGTERM or SIGINT. It prints
``ready`` on stdout once the group has given it partitions. The names:

- ``send``: the aiokafka passthrough, one ``producer.send()`` per record, every
  acknowledgement awaited, then the offsets committed (what a careful hand-written
  consumer does);
- ``batch``: the same with aiokafka's batch API (``create_batch`` / ``send_batch``, one
  record batch per partition), the ceiling of the stack;
- ``triage``: ``triage run --role prioritizer`` with its production defaults (rules,
  repeat contacts with their changelog, dead letters, CloudEvents headers, metrics);
- ``triage-norules``: the same pipeline with the rule engine replaced by a fixed
  assessment — what the framework (decode, validation, ticket, publish, commit) costs.

The peers (Quix Streams, FastStream) live in ``bench/peers/`` with the same interface.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiokafka import (  # noqa: E402
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    TopicPartition,
)

NAMES = ("send", "batch", "triage", "triage-norules")


class _Ready(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.announced = False

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        if assigned and not self.announced:
            self.announced = True
            print("ready", flush=True)


async def passthrough(args: argparse.Namespace, stop: asyncio.Event, *, batch_api: bool) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=args.bootstrap, acks="all", linger_ms=5, max_batch_size=1_048_576
    )
    await producer.start()
    await consumer.start()
    consumer.subscribe([args.input], listener=_Ready())
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            if not batches:
                continue
            futures: list[Any] = []
            for tp, messages in batches.items():
                if batch_api:
                    futures.extend(await _send_batches(producer, args.output, tp, messages))
                else:
                    for m in messages:
                        futures.append(
                            await producer.send(args.output, m.value, key=m.key, headers=m.headers)
                        )
            await asyncio.gather(*futures)
            await consumer.commit({tp: ms[-1].offset + 1 for tp, ms in batches.items() if ms})
    finally:
        await consumer.stop()
        await producer.stop()


async def _send_batches(
    producer: AIOKafkaProducer, topic: str, tp: TopicPartition, messages: Sequence[Any]
) -> list[Any]:
    futures = []
    builder = producer.create_batch()
    for m in messages:
        headers = list(m.headers)  # the record batch builder takes a list
        if builder.append(key=m.key, value=m.value, timestamp=None, headers=headers) is None:
            builder.close()
            futures.append(await producer.send_batch(builder, topic, partition=tp.partition))
            builder = producer.create_batch()
            builder.append(key=m.key, value=m.value, timestamp=None, headers=headers)
    builder.close()  # complete: no lingering
    futures.append(await producer.send_batch(builder, topic, partition=tp.partition))
    return futures


def _without_rules() -> None:
    """Replace rule evaluation by a fixed assessment (P3, no reasons)."""
    from schemas.common import Priority
    from service.rules.engine import Assessment, RuleEngine

    def assess(self: RuleEngine, event: Any, related: Sequence[str] = (), **_: Any) -> Assessment:
        return Assessment(
            severity=30,
            priority=Priority.P3,
            category="feedback",
            reason_fields=[],
            actions=["personal_reply"],
            management_attention=False,
            language=event.language or "und",
            related_ticket_ids=list(related),
        )

    RuleEngine.assess = assess  # type: ignore[method-assign]


async def triage(args: argparse.Namespace, stop: asyncio.Event, *, rules: bool) -> None:
    from service import gc_tuning
    from service.app import TriageApp
    from service.config import Settings
    from service.observability.logging import configure_logging

    configure_logging("INFO", "json")  # the production default (the bench discards stderr)
    if not rules:
        _without_rules()
    tag = args.group
    settings = Settings(
        kafka_bootstrap_servers=args.bootstrap,
        topic_feedback=args.input,
        topic_tickets=args.output,
        topic_dlq=f"{args.output}.dlq",
        topic_customer_changelog=f"{tag}.customers",
        group_id=tag,
        topic_partitions=args.partitions,
        http_host="127.0.0.1",
        http_port=0,
    )
    app = TriageApp(settings, role="prioritizer")
    await app.start()
    gc_tuning.tune(settings.gc_gen0_threshold)  # as ``triage run`` does once started
    try:
        # ready: in the group with at least one partition (as the passthroughs announce)
        while not stop.is_set() and not (app.ready and _owns_partitions(app)):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)
        print("ready", flush=True)
        await stop.wait()
    finally:
        await app.stop()


def _owns_partitions(app: Any) -> bool:
    consumer = app.prioritizer.loop.consumer if app.prioritizer else None
    return consumer is not None and bool(consumer.assignment())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=NAMES)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.name in ("send", "batch"):
        await passthrough(args, stop, batch_api=args.name == "batch")
    else:
        await triage(args, stop, rules=args.name == "triage")


if __name__ == "__main__":
    asyncio.run(main())
