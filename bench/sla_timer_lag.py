"""SLA timer lag: how late warnings and breaches leave the service, and reach a reader.

Usage:  .venv/bin/python bench/sla_timer_lag.py [--rate R] [--seconds S]
            [--target-seconds T] [--partitions P] [--grace G] [--in-process]

Starts the embedded broker on loopback (or uses ``KAFKA_BOOTSTRAP_SERVERS``, with fresh
topic names) and a ``TriageApp`` (role ``all``) whose SLA policy gives every priority the
same short target T (default 10 s) with one warning at 50 % and one breach at 100 % (the
prioritizer publishes the same target, from the same policy). By
default the service runs in a child process (spawned), so that the benchmark's own
producer and reader do not share an event loop, or a core, with the timers it measures;
``--in-process`` runs it in this process's event loop instead.

It then publishes R feedback events per second (default 1,000) for S seconds (default
30), paced on a monotonic schedule, each with ``occurred_at`` = the moment it was sent,
so every ticket must yield exactly one ``sla_warning`` at T/2 and one ``sla_breach`` at T.
A reader on ``tickets.escalations`` measures, for each warning and breach (first copy of
each ``escalation_id``):

* timer lag   = ``emitted_at`` − ``due_at`` (both stamped by the service);
* arrival lag = wall-clock time the reader got it − ``due_at`` (timer lag + publish and
  fetch: what a pager would see). The reader fetches with ``fetch_max_wait_ms`` 10
  (``--reader-fetch-wait-ms``): the embedded broker holds a fetch for that long even when
  data arrives, so with the client default (500 ms) the reader's own polling would
  dominate the figure.

The message timestamps have millisecond precision, so lags are quantised to 1 ms. The
run ends when every expected escalation arrived (and 1 s more to catch duplicates) or
``G`` seconds (default 30) after the last breach was due. Prints counts, percentiles in
ms and the achieved publish rate; the last line is ``arrival_p99_ms=…``. Exits 1 when
a warning or breach is missing or the service failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing
import multiprocessing.synchronize
import os
import random
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from throughput import CHANNELS, TEXTS, TIERS  # a sibling script: one text mix for every bench

from schemas.common import Priority, rfc3339
from service.app import TriageApp
from service.config import Settings
from service.kafka.embedded import EmbeddedBroker, free_port
from service.observability.logging import configure_logging
from service.rules.model import load_default_rules
from service.sla.policy import SlaPolicy

WARNING, BREACH = "sla_warning", "sla_breach"
READY_TIMEOUT = 90.0
TICKETS_TOTAL, DEAD_TOTAL = "triage_tickets_total", "triage_dead_letters_total"


# --- the service under test ---------------------------------------------------------------


def bench_policy(target: int) -> SlaPolicy:
    """Every priority: target ``target`` s, one warning at 50 %, one breach at 100 %."""
    return SlaPolicy.model_validate(
        {
            "version": f"bench-{target}s",
            "warning_fractions": [0.5],
            "breach_multipliers": [1.0],
            "target_seconds": {p.value: target for p in Priority},
        }
    )


async def run_service(
    values: dict[str, Any],
    target: int,
    on_ready: Callable[[], None],
    stopping: Callable[[], bool],
) -> None:
    """Start a TriageApp, call ``on_ready`` once it is ready, run until ``stopping()``."""
    policy = bench_policy(target)
    app = TriageApp(Settings(**values), role="all", rules=load_default_rules(), sla_policy=policy)
    await app.start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not app.ready:
            reason = app.readiness()[1]
            if stopping() or reason == "shutting down" or time.monotonic() > deadline:
                raise RuntimeError(f"the service did not become ready: {reason}")
            await asyncio.sleep(0.05)
        on_ready()
        while not stopping():
            if app.readiness()[1] == "shutting down":  # a loop crashed
                raise RuntimeError("the service stopped by itself")
            await asyncio.sleep(0.1)
    finally:
        await app.stop()


def _service_process(
    values: dict[str, Any],
    target: int,
    ready: multiprocessing.synchronize.Event,
    stop: multiprocessing.synchronize.Event,
) -> None:
    configure_logging("ERROR", "console")
    parent = multiprocessing.parent_process()

    def stopping() -> bool:  # asked to, or the benchmark died without asking
        return stop.is_set() or (parent is not None and not parent.is_alive())

    asyncio.run(run_service(values, target, ready.set, stopping))


class Service:
    """The TriageApp, in a spawned child process or as a task of this event loop."""

    def __init__(self, values: dict[str, Any], target: int, in_process: bool) -> None:
        self.values = values
        self.target = target
        self.in_process = in_process
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        ctx = multiprocessing.get_context("spawn")
        self._mp_ready = ctx.Event()
        self._mp_stop = ctx.Event()
        self._proc = ctx.Process(
            target=_service_process,
            args=(values, target, self._mp_ready, self._mp_stop),
            name="triage-bench-service",
            daemon=True,
        )

    @property
    def where(self) -> str:
        if self.in_process:
            return "in this process (shared event loop)"
        return f"child process pid {self._proc.pid}"

    def alive(self) -> bool:
        if self.in_process:
            return self._task is not None and not self._task.done()
        return self._proc.is_alive()

    async def start(self) -> None:
        if self.in_process:
            self._task = asyncio.create_task(
                run_service(self.values, self.target, self._ready.set, self._stop.is_set)
            )
        else:
            self._proc.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not (self._ready.is_set() or self._mp_ready.is_set()):
            if not self.alive():
                if self._task is not None:
                    await self._task  # raises the service's error
                raise RuntimeError(f"the service exited (code {self._proc.exitcode})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service was not ready after {READY_TIMEOUT} s")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        budget = float(self.values.get("shutdown_timeout_seconds", 10.0)) + 5.0
        if self.in_process:
            self._stop.set()
            if self._task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._task, budget)
            return
        if self._proc.pid is None:
            return
        self._mp_stop.set()
        await asyncio.get_running_loop().run_in_executor(None, self._proc.join, budget)
        if self._proc.is_alive():
            self._proc.terminate()
            await asyncio.get_running_loop().run_in_executor(None, self._proc.join, 5.0)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5.0)


# --- load ---------------------------------------------------------------------------------


@dataclass
class Published:
    events: int = 0
    first_sent: float = 0.0
    last_sent: float = 0.0
    acked: float = 0.0
    max_behind: float = 0.0  # how far the sender fell behind its schedule (s)

    @property
    def rate(self) -> float:
        span = self.last_sent - self.first_sent
        return (self.events - 1) / span if span > 0 else float("nan")


def make_event(tag: str, i: int, rnd: random.Random) -> tuple[bytes, bytes]:
    cid = f"cust-{rnd.randrange(50_000)}"
    event: dict[str, object] = {
        "event_id": f"lag-{tag}-{i}",
        "occurred_at": rfc3339(datetime.now(UTC)),
        "channel": rnd.choice(CHANNELS),
        "customer": {"id": cid, "tier": rnd.choice(TIERS)},
        "text": rnd.choice(TEXTS),
    }
    if i % 3 == 0:
        event["nps_score"] = rnd.randrange(11)
    return cid.encode(), orjson.dumps(event)


async def publish(producer: Any, topic: str, tag: str, n: int, rate: float, out: Published) -> None:
    """Send ``n`` events at ``rate``/s: event i is due at t0 + i / rate (no sleep drift)."""
    rnd = random.Random(11)
    futures = []
    t0 = time.monotonic()
    out.first_sent = t0
    sent = 0
    while sent < n:
        now = time.monotonic()
        due = min(n, max(sent + 1, math.floor((now - t0) * rate) + 1))
        out.max_behind = max(out.max_behind, now - (t0 + sent / rate))
        while sent < due:
            key, value = make_event(tag, sent, rnd)
            futures.append(await producer.send(topic, value, key=key))
            sent += 1
        out.events = sent
        out.last_sent = time.monotonic()
        if sent < n:
            await asyncio.sleep(max(0.0, t0 + sent / rate - time.monotonic()))
    await asyncio.gather(*futures)
    out.acked = time.monotonic()


# --- observation --------------------------------------------------------------------------


@dataclass
class Observed:
    ids: Counter[str] = field(default_factory=Counter)
    timer_ms: dict[str, list[float]] = field(default_factory=lambda: {WARNING: [], BREACH: []})
    arrival_ms: dict[str, list[float]] = field(default_factory=lambda: {WARNING: [], BREACH: []})
    other_kinds: Counter[str] = field(default_factory=Counter)
    last_arrival: float = 0.0  # monotonic

    @property
    def distinct(self) -> int:
        return sum(len(v) for v in self.timer_ms.values())

    @property
    def duplicates(self) -> int:
        return sum(c - 1 for c in self.ids.values())

    def add(self, value: bytes, received: float) -> None:
        esc = orjson.loads(value)
        esc_id = esc["escalation_id"]
        self.ids[esc_id] += 1
        if self.ids[esc_id] > 1:
            return
        kind = esc["kind"]
        if kind not in self.timer_ms:
            self.other_kinds[kind] += 1
            return
        due = datetime.fromisoformat(esc["due_at"]).timestamp()
        emitted = datetime.fromisoformat(esc["emitted_at"]).timestamp()
        self.timer_ms[kind].append((emitted - due) * 1000)
        self.arrival_ms[kind].append((received - due) * 1000)
        self.last_arrival = time.monotonic()


async def partitions_of(consumer: Any, topic: str) -> list[TopicPartition]:
    for _ in range(100):
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return [TopicPartition(topic, p) for p in sorted(parts)]
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.1)
    raise RuntimeError(f"topic {topic} has no partitions")


async def observe(consumer: Any, out: Observed) -> None:
    while True:
        batch = await consumer.getmany(timeout_ms=100, max_records=10_000)
        received = time.time()
        for messages in batch.values():
            for m in messages:
                out.add(m.value, received)


async def metric_totals(port: int, names: tuple[str, ...]) -> dict[str, float]:
    """Sum of every sample of each counter in ``names`` on the service's ``/metrics``.

    (The tickets topic's end offsets would do, but the embedded broker answers
    ListOffsets(latest) with the last batch's base offset + 1, not the true end.)
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    totals = dict.fromkeys(names, 0.0)
    for line in raw.decode().splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in totals:
            totals[name] += float(line.rsplit(" ", 1)[1])
    return totals


# --- report -------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted ``values`` (p in 0..100)."""
    if not values:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(values)))
    return values[rank - 1]


def lag_rows(name: str, by_kind: dict[str, list[float]]) -> list[str]:
    rows = []
    groups = [("all", by_kind[WARNING] + by_kind[BREACH])]
    groups += [("warning", by_kind[WARNING]), ("breach", by_kind[BREACH])]
    for label, values in groups:
        values = sorted(values)
        figures = (
            " ".join(f"{percentile(values, p):8.1f}" for p in (50, 90, 99))
            + f" {values[-1] if values else float('nan'):8.1f}"
        )
        rows.append(f"{name:12s}{label:8s} {len(values):8d} {figures}")
        name = ""
    return rows


# --- main ---------------------------------------------------------------------------------


def settings_values(bootstrap: str, partitions: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    return {
        "kafka_bootstrap_servers": bootstrap,
        "topic_feedback": f"bench.lag.in.{tag}",
        "topic_tickets": f"bench.lag.tickets.{tag}",
        "topic_activity": f"bench.lag.activity.{tag}",
        "topic_escalations": f"bench.lag.escalations.{tag}",
        "topic_dlq": f"bench.lag.dlq.{tag}",
        "topic_sla_changelog": f"bench.lag.changelog.{tag}",
        "topic_customer_changelog": f"bench.lag.customers.{tag}",
        "group_id": f"bench-lag-{tag}",
        "sla_group_id": f"bench-lag-sla-{tag}",
        "topic_partitions": partitions,
        "http_host": "127.0.0.1",
        "http_port": free_port(),  # known, to read the ticket count from /metrics
        "fetch_timeout_ms": 100,
        "health_probe_interval_seconds": 1.0,
        "session_timeout_ms": 10_000,
        "shutdown_timeout_seconds": 5.0,
        "log_level": "ERROR",
        "log_format": "console",
    }


async def run(args: argparse.Namespace, bootstrap: str, broker_desc: str) -> int:
    values = settings_values(bootstrap, args.partitions)
    tag = values["group_id"].rsplit("-", 1)[1]
    n = max(1, round(args.rate * args.seconds))
    service = Service(values, args.target_seconds, args.in_process)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=args.reader_fetch_wait_ms,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    observed, published = Observed(), Published()
    reader: asyncio.Task[None] | None = None
    failed = ""
    try:
        await service.start()
        await consumer.start()
        await producer.start()
        tps = await partitions_of(consumer, values["topic_escalations"])
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        reader = asyncio.create_task(observe(consumer, observed))
        print(
            f"broker       {broker_desc}; service {service.where}; "
            f"reader fetch_max_wait_ms={args.reader_fetch_wait_ms}",
            flush=True,
        )
        print(
            f"policy       target {args.target_seconds} s for P1..P4, warning at 50 %, breach at "
            f"100 %; {args.partitions} partitions; publishing {n:,} events at {args.rate:,.0f}/s",
            flush=True,
        )
        await publish(producer, values["topic_feedback"], tag, n, args.rate, published)
        last_breach_due = published.last_sent + args.target_seconds
        deadline = last_breach_due + args.grace
        while time.monotonic() < deadline:
            if not service.alive():
                failed = "the service exited during the run"
                break
            if reader.done():
                await reader  # raises the reader's error
            if observed.distinct >= 2 * n and time.monotonic() - observed.last_arrival >= 1.0:
                break
            await asyncio.sleep(0.1)
        finished = time.monotonic()
        try:
            totals = await metric_totals(values["http_port"], (TICKETS_TOTAL, DEAD_TOTAL))
        except OSError as exc:
            failed = failed or f"cannot read the service's /metrics: {exc}"
            totals = dict.fromkeys((TICKETS_TOTAL, DEAD_TOTAL), 0.0)
        tickets, dead = round(totals[TICKETS_TOTAL]), round(totals[DEAD_TOTAL])
    finally:
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        await producer.stop()
        await consumer.stop()
        await service.stop()

    warnings, breaches = len(observed.timer_ms[WARNING]), len(observed.timer_ms[BREACH])
    expected = 2 * tickets
    missing_w, missing_b = max(0, tickets - warnings), max(0, tickets - breaches)
    arrival_all = sorted(observed.arrival_ms[WARNING] + observed.arrival_ms[BREACH])
    send_span = published.last_sent - published.first_sent
    print(
        f"published    {published.events:,} events in {send_span:.2f} s: "
        f"{published.rate:,.0f} events/s achieved (asked {args.rate:,.0f}); "
        f"sender at most {published.max_behind * 1000:.1f} ms behind schedule; "
        f"all acked {(published.acked - published.last_sent) * 1000:.0f} ms after the last send"
    )
    print(f"tickets      {tickets:,} (dead letters {dead:,})")
    other = ", ".join(f"{k} {v:,}" for k, v in sorted(observed.other_kinds.items())) or "none"
    print(
        f"escalations  expected {expected:,} ({tickets:,} warnings + {tickets:,} breaches); "
        f"received {warnings + breaches:,} distinct ({warnings:,} warnings, {breaches:,} breaches); "
        f"missing {missing_w:,} warnings, {missing_b:,} breaches; "
        f"duplicates {observed.duplicates:,} (by escalation_id); other kinds: {other}"
    )
    print(
        f"run          ended {finished - last_breach_due:+.1f} s after the last breach was due"
        + (f" (timeout: grace {args.grace:.0f} s)" if observed.distinct < 2 * n else "")
    )
    print(f"{'lag (ms)':20s} {'count':>8s} {'p50':>8s} {'p90':>8s} {'p99':>8s} {'max':>8s}")
    for row in lag_rows("timer", observed.timer_ms) + lag_rows("arrival", observed.arrival_ms):
        print(row)
    if failed:
        print(f"FAILED: {failed}")
    print(f"arrival_p99_ms={percentile(arrival_all, 99):.1f}")
    return 1 if failed or missing_w or missing_b or tickets < n else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to publish")
    parser.add_argument(
        "--target-seconds", type=int, default=10, help="SLA target of every priority"
    )
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--grace",
        type=float,
        default=30.0,
        help="wait at most this long after the last breach was due",
    )
    parser.add_argument(
        "--reader-fetch-wait-ms",
        type=int,
        default=10,
        help="fetch_max_wait_ms of the escalation reader (the embedded broker does not answer "
        "a waiting fetch early when data arrives, so this bounds what the reader adds)",
    )
    parser.add_argument(
        "--in-process", action="store_true", help="run the service in this event loop"
    )
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.target_seconds < 2 or args.partitions < 1:
        parser.error("--rate and --seconds must be > 0, --target-seconds >= 2, --partitions >= 1")
    return args


async def main() -> int:
    args = parse_args()
    configure_logging("ERROR", "console")
    task = asyncio.current_task()
    if task is not None:  # SIGTERM: unwind (stop the service and the broker), then exit
        with contextlib.suppress(NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    broker: EmbeddedBroker | None = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    desc = f"external {bootstrap}"
    if not bootstrap:
        broker = EmbeddedBroker(host="127.0.0.1")
        await broker.start()
        bootstrap = broker.bootstrap
        desc = f"embedded {bootstrap}"
    try:
        return await run(args, bootstrap, desc)
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except asyncio.CancelledError:  # SIGTERM, after the service and the broker were stopped
        print("interrupted", file=sys.stderr)
        sys.exit(143)
