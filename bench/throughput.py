"""Throughput of the prioritizer against a no-work passthrough, in the same run.

Usage:  .venv/bin/python bench/throughput.py [--events N] [--runs R] [--partitions P]

Each run preloads N realistic multilingual feedback events into a fresh topic, then
starts a consumer-group member and measures the rate at which outputs arrive (from the
first output to the last, so start-up and the group join are excluded). The
passthrough uses the same Kafka loop with a handler that copies each record to the
output topic; the ratio prioritizer / passthrough says what the rules and the
validation cost. Prints the median of R runs; the last line is ``ratio=…``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from service.app import TriageApp
from service.config import Settings
from service.kafka.admin import ensure_topics
from service.kafka.embedded import EmbeddedBroker
from service.kafka.loop import ConsumeLoop
from service.observability.logging import configure_logging
from service.observability.metrics import Metrics
from service.records import InRecord, OutRecord

TEXTS = [
    "I have been waiting three days for an answer. If nobody calls me today I will cancel my subscription.",
    "Great app, the new dashboard saves me an hour every week. Thank you!",
    "The export to CSV fails with error 500 since this morning, our whole team is blocked.",
    "Η παραγγελία μου άργησε δύο εβδομάδες και κανείς δεν απαντά. Θέλω επιστροφή χρημάτων.",
    "Πολύ καλή εξυπηρέτηση, ευχαριστώ για τη γρήγορη βοήθεια!",
    "你们的客服太差了，我已经等了三天，再不解决我就要投诉到消协。",
    "非常好用，界面清晰，推荐给朋友了。",
    "Приложение постоянно вылетает, я потерял все данные. Верните деньги!",
    "Спасибо, всё работает отлично, очень доволен.",
    "Sovellus kaatuu joka kerta kun yritän maksaa. Olen todella pettynyt.",
    "Kiitos nopeasta avusta, palvelu oli erinomaista!",
    "How do I add a second user to my account?",
]
CHANNELS = ["nps_survey", "review", "email", "chat", "social_media", "in_app", "app_store"]
TIERS = ["free", "standard", "premium", "enterprise"]


def make_events(n: int, seed: int = 7) -> list[tuple[bytes, bytes]]:
    rnd = random.Random(seed)
    now = datetime.now(UTC).isoformat()
    out = []
    for i in range(n):
        cid = f"cust-{rnd.randrange(50_000)}"
        event: dict[str, object] = {
            "event_id": f"bench-{uuid.uuid4().hex}",
            "occurred_at": now,
            "channel": rnd.choice(CHANNELS),
            "customer": {"id": cid, "tier": rnd.choice(TIERS)},
            "text": rnd.choice(TEXTS),
        }
        if i % 3 == 0:
            event["nps_score"] = rnd.randrange(11)
        out.append((cid.encode(), orjson.dumps(event)))
    return out


class Passthrough:
    def __init__(self, topic: str) -> None:
        self.topic = topic

    def process(self, batch: Sequence[InRecord]) -> list[OutRecord]:
        return [
            OutRecord(self.topic, r.key, r.value or b"", kind="ticket", label="P4") for r in batch
        ]


async def preload(bootstrap: str, topic: str, events: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, v, key=k) for k, v in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def rate_of_arrivals(bootstrap: str, topic: str, n: int, timeout: float) -> float:
    """Events/s between the first and the last of ``n`` records arriving on ``topic``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        seen, first, last = 0, 0.0, 0.0
        deadline = time.monotonic() + timeout
        while seen < n and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            got = sum(len(v) for v in batch.values())
            if got:
                now = time.perf_counter()
                if seen == 0:
                    first = now
                seen += got
                last = now
        if seen < n:
            raise RuntimeError(f"only {seen}/{n} outputs arrived within {timeout} s")
        return (n - 1) / (last - first) if last > first else float("inf")
    finally:
        await consumer.stop()


async def one_run(bootstrap: str, n: int, partitions: int, passthrough: bool) -> float:
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap_servers=bootstrap,
        topic_feedback=f"bench.in.{tag}",
        topic_tickets=f"bench.out.{tag}",
        topic_dlq=f"bench.dlq.{tag}",
        topic_activity=f"bench.act.{tag}",
        topic_escalations=f"bench.esc.{tag}",
        topic_customer_changelog=f"bench.customers.{tag}",
        group_id=f"bench-{tag}",
        topic_partitions=partitions,
        http_host="127.0.0.1",
        http_port=0,
    )
    conn = {"bootstrap_servers": bootstrap}
    await ensure_topics(
        conn, dict.fromkeys([settings.topic_feedback, settings.topic_tickets], partitions)
    )
    await preload(bootstrap, settings.topic_feedback, make_events(n))
    watcher = asyncio.create_task(rate_of_arrivals(bootstrap, settings.topic_tickets, n, 300))
    if passthrough:
        loop = ConsumeLoop(
            name="passthrough",
            conn=conn,
            topics=[settings.topic_feedback],
            group_id=settings.group_id,
            handler=Passthrough(settings.topic_tickets),
            metrics=Metrics(),
        )
        await loop.start()
        runner = asyncio.create_task(loop.run())
        try:
            return await watcher
        finally:
            loop.request_stop()
            await runner
            await loop.stop()
    app = TriageApp(settings, role="prioritizer")
    await app.start()
    try:
        return await watcher
    finally:
        await app.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    configure_logging("ERROR", "console")
    broker: EmbeddedBroker | None = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        broker = EmbeddedBroker()
        await broker.start()
        bootstrap = broker.bootstrap
    try:
        results: dict[str, list[float]] = {"passthrough": [], "prioritizer": []}
        for run in range(args.runs):
            for name in ("passthrough", "prioritizer"):
                rate = await one_run(bootstrap, args.events, args.partitions, name == "passthrough")
                results[name].append(rate)
                print(f"run {run + 1} {name:12s} {rate:10,.0f} events/s", flush=True)
        med = {k: statistics.median(v) for k, v in results.items()}
        print(f"median passthrough  {med['passthrough']:10,.0f} events/s")
        print(f"median prioritizer  {med['prioritizer']:10,.0f} events/s")
        print(f"ratio={med['prioritizer'] / med['passthrough']:.2f}")
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    asyncio.run(main())
