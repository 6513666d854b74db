"""Drain a large backlog with bounded memory.

Usage:  .venv/bin/python bench/backlog.py [--events N] [--rss-ceiling-mb MB]

Queues N feedback events (default 1,000,000) before the service starts, then runs
``triage run --role prioritizer`` as a child process and samples its resident memory
(VmRSS) until every event has its ticket. Memory stays bounded because nothing is
queued in memory beyond one fetch buffer and two batches: the one being processed and
the one before it, being published (its acknowledgements are awaited, and its commit
started, before the next batch is handed over; ``service/kafka/loop.py``).
What does grow is state kept by design, not the backlog: the customer history of repeat
contacts (on by default) remembers each customer's last tickets within its window (at
most 20 per customer), about 0.13 KiB each (packed, 2026-12-08). So the ceiling checked is
``--rss-ceiling-mb`` (default 300 MiB: the process, its rules and language model, the
fetch buffer and the batches) plus ``--per-ticket-kb`` (default 0.5 KiB) for each ticket
the history remembers (per customer of the input, its ticket count up to 20), unless
``TRIAGE_REPEAT_CONTACTS=false``. Exits 1 if the peak RSS passes it. The last line is
``peak_rss_mb=…``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from aiokafka import AIOKafkaProducer
from throughput import make_events  # a sibling script

from service.kafka.admin import ensure_topics
from service.kafka.embedded import EmbeddedBroker, free_port
from service.observability.logging import configure_logging
from service.prioritizer.history import DEFAULT_MAX_PER_CUSTOMER

#: The documented ceiling for the default run (see docs/operations.md, "Reliability").
DEFAULT_CEILING_MB = 300
#: The allowance per ticket the customer history remembers (docs/operations.md,
#: "Reliability").
DEFAULT_PER_TICKET_KB = 0.5


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def consumed(port: int) -> float:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return -1
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        body = (await asyncio.wait_for(reader.read(), 5)).decode()
    except (OSError, TimeoutError):
        return -1
    finally:
        writer.close()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith("triage_events_consumed_total{")
    )


async def preload(bootstrap: str, topic: str, n: int) -> Counter[bytes]:
    """Queue ``n`` events; how many each customer (key) has."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    customers: Counter[bytes] = Counter()
    try:
        chunk = 20_000
        for start in range(0, n, chunk):
            events = make_events(min(chunk, n - start), seed=start)
            customers.update(k for k, _ in events)
            futures = [await producer.send(topic, v, key=k) for k, v in events]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return customers


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rss-ceiling-mb", type=float, default=DEFAULT_CEILING_MB)
    parser.add_argument("--per-ticket-kb", type=float, default=DEFAULT_PER_TICKET_KB)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    configure_logging("ERROR", "console")
    broker: EmbeddedBroker | None = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        broker = EmbeddedBroker()
        await broker.start()
        bootstrap = broker.bootstrap
    tag = uuid.uuid4().hex[:8]
    topics = {
        "TRIAGE_TOPIC_FEEDBACK": f"backlog.in.{tag}",
        "TRIAGE_TOPIC_TICKETS": f"backlog.out.{tag}",
        "TRIAGE_TOPIC_DLQ": f"backlog.dlq.{tag}",
        "TRIAGE_TOPIC_ACTIVITY": f"backlog.act.{tag}",
        "TRIAGE_TOPIC_ESCALATIONS": f"backlog.esc.{tag}",
        "TRIAGE_TOPIC_CUSTOMER_CHANGELOG": f"backlog.customers.{tag}",
    }
    proc: subprocess.Popen[bytes] | None = None
    try:
        conn = {"bootstrap_servers": bootstrap}
        await ensure_topics(conn, dict.fromkeys(topics.values(), args.partitions))
        started = time.perf_counter()
        customers = await preload(bootstrap, topics["TRIAGE_TOPIC_FEEDBACK"], args.events)
        print(
            f"queued {args.events:,} events of {len(customers):,} customers "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        remembered = os.environ.get("TRIAGE_REPEAT_CONTACTS", "true").lower() != "false"
        ceiling = args.rss_ceiling_mb
        tickets = sum(min(n, DEFAULT_MAX_PER_CUSTOMER) for n in customers.values())
        if remembered:
            ceiling += tickets * args.per_ticket_kb / 1024
        port = free_port()
        env = {
            **os.environ,
            **topics,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "TRIAGE_GROUP_ID": f"backlog-{tag}",
            "TRIAGE_HTTP_HOST": "127.0.0.1",
            "TRIAGE_HTTP_PORT": str(port),
            "TRIAGE_LOG_LEVEL": "WARNING",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "run", "--role", "prioritizer"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        peak = 0.0
        first: float | None = None
        deadline = time.monotonic() + args.timeout
        done = 0.0
        while done < args.events and time.monotonic() < deadline:
            peak = max(peak, rss_mb(proc.pid))
            done = await consumed(port)
            if done > 0 and first is None:
                first = time.perf_counter()
            await asyncio.sleep(0.25)
        drained = time.perf_counter()
        if done < args.events:
            print(f"only {done:,.0f}/{args.events:,} drained within {args.timeout} s")
            return 1
        rate = args.events / (drained - (first or drained)) if first else 0.0
        print(f"drained {args.events:,} events at {rate:,.0f} events/s")
        allowance = (
            f"{args.rss_ceiling_mb:.0f} + {tickets:,} remembered tickets × {args.per_ticket_kb:g} KiB"
            if remembered
            else "repeat contacts off"
        )
        print(f"peak RSS {peak:.0f} MiB (ceiling {ceiling:.0f} MiB: {allowance})")
        print(f"peak_rss_mb={peak:.0f}")
        return 0 if peak <= ceiling else 1
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
