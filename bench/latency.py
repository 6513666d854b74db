"""Latency from a feedback event's produce to its ticket's arrival, at steady rates.

Usage:  .venv/bin/python bench/latency.py [--rate R ...] [--seconds S] [--warmup W]
            [--runs N] [--partitions P] [--drain D] [--candidates batch,triage]

For each rate (default 2,000 and 10,000 events/s), each of N runs (default 1) and each
candidate (default: ``batch``, the no-work passthrough of ``bench/candidates.py``, then
triage), on the broker named by ``KAFKA_BOOTSTRAP_SERVERS`` (else an embedded one on
loopback):

1. fresh topics (P partitions, default 4) and a fresh consumer group;
2. the candidate as a separate process. The passthroughs (``batch``, ``send``) copy each
   event to the output topic and commit, doing no work: their latency is what the broker,
   the clients and this machine cost a consume → produce hop, the floor under any
   service's figure. Triage: ``triage run --role prioritizer`` with its defaults
   (repeat contacts on), configured by ``TRIAGE_*`` variables (``bench/harness.py``); the
   run starts once its ``/readyz`` answers 200, which it only does when its consumer has
   joined the group and holds an assignment. ``TRIAGE_*`` variables set for the benchmark
   reach the service too (e.g. ``TRIAGE_FETCH_MAX_WAIT_MS=10``);
3. a reader assigned to every partition of the tickets topic (no group, nothing to join);
4. a paced producer: W s of warm-up (default 3, excluded from the figures), then S s
   (default 15) at R events/s. Pacing uses absolute deadlines on a 1 ms grid: at each
   tick it sends, as one small burst, every event whose deadline (start + i/R) has
   passed, so a late wake-up is caught up and the offered rate stays exact on average.
   The achieved offered rate (measured events over their send span) is printed too;
5. after the last send, the reader waits until every measured ticket arrived or D s
   (default 120) passed; then the service gets SIGTERM (killed if it does not exit).

Latency of an event = the moment its ticket (or copy) was returned by the reader's fetch
− the moment the event was handed to the producer (``send()``), both
``time.perf_counter()`` in this process. A passthrough's copies are matched to events by
value (each event's bytes are unique). Tickets are matched to events by key: the ticket id is
``uuid5(namespace, event_id)``, computed for every event beforehand, so a map
ticket id → send time needs neither a parse of the ticket nor timestamps carried
through the service (the service does not copy the input record's timestamp onto the
ticket, and Kafka timestamps have millisecond resolution and come from another clock).
The figure therefore includes the producer's batching and acknowledgement, the broker
twice, the service's fetch wait (``TRIAGE_FETCH_MAX_WAIT_MS``, default 100 ms: the
embedded broker holds a fetch that long even when data is there) and the reader's own
fetch wait (10 ms).

The input is the realistic multilingual mix of ``bench/throughput.py`` (``make_events``),
keyed by customer id. An event whose ticket never came counts as infinitely late, so a
p99 of ``inf`` means more than 1 % were missing. When the service cannot keep up with the
offered rate the latencies are mostly queueing: the tickets' arrival rate is printed so
this shows. Prints p50/p90/p99/max per run and, per rate and candidate, the median over
the runs, and triage's p99 over the passthrough's; the last line is ``p99_ms=…``, triage's
at the highest rate.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import statistics
import sys
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from harness import READY_TIMEOUT, Child, broker, start_triage, stop_on_sigterm, tag, ticket_ids
from throughput import command, make_events  # sibling scripts: one mix, one command line

from service.kafka.admin import ensure_topics
from service.observability.logging import configure_logging

TICK = 0.001  # the pacing grid, seconds
READER_FETCH_WAIT_MS = 10
PASSTHROUGHS = ("batch", "send")


@dataclass(frozen=True, slots=True)
class RunResult:
    candidate: str
    rate: float
    offered: float  # achieved offered rate of the measured events, events/s
    ticket_rate: float  # measured tickets' arrival rate (first → last), events/s
    measured: int
    missing: int
    duplicates: int
    p50: float
    p90: float
    p99: float
    max: float  # ms


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0…100)."""
    if not ordered:
        return math.inf
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


class Reader:
    """Records, per event index, when its output first arrived; outputs are matched by
    key (``by_value`` False: tickets, keyed by ticket id) or by value (passthrough copies)."""

    def __init__(
        self, bootstrap: str, topic: str, keys: list[bytes], by_value: bool = False
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.by_value = by_value
        self.index = {k: i for i, k in enumerate(keys)}
        self.arrived = [math.nan] * len(keys)
        self.duplicates = 0
        self.unknown = 0
        self.consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=READER_FETCH_WAIT_MS,
        )
        await consumer.start()
        self.consumer = consumer
        parts = consumer.partitions_for_topic(self.topic)
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(self.topic)
        if not parts:
            raise RuntimeError(f"no partitions for {self.topic}")
        consumer.assign([TopicPartition(self.topic, p) for p in parts])
        await consumer.seek_to_beginning()

    async def run(self, wanted: range, stop_at: list[float]) -> None:
        """Until every index in ``wanted`` arrived or ``stop_at[0]`` (monotonic) passed."""
        assert self.consumer is not None
        arrived, index, by_value = self.arrived, self.index, self.by_value
        outstanding = len(wanted)
        while outstanding and time.perf_counter() < stop_at[0]:
            batch = await self.consumer.getmany(timeout_ms=100, max_records=10_000)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    match = record.value if by_value else record.key
                    i = index.get(match) if match is not None else None
                    if i is None:
                        self.unknown += 1
                    elif arrived[i] == arrived[i]:  # not NaN: seen already
                        self.duplicates += 1
                    else:
                        arrived[i] = now
                        if i in wanted:
                            outstanding -= 1

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()


async def paced_send(
    producer: AIOKafkaProducer, topic: str, events: list[tuple[bytes, bytes]], rate: float
) -> list[float]:
    """Send ``events`` at ``rate``/s on absolute deadlines; each one's send time."""
    sent = [math.nan] * len(events)
    n = len(events)
    i = 0
    clock = time.perf_counter
    start = clock()
    while i < n:
        due = min(n, math.floor((clock() - start) * rate) + 1)
        while i < due:
            key, value = events[i]
            sent[i] = clock()
            await producer.send(topic, value, key=key)
            i += 1
        if i >= n:
            break
        # wake at the next 1 ms tick at or after the next event's deadline
        deadline = start + i / rate
        wake = start + math.ceil((deadline - start) / TICK) * TICK
        delay = wake - clock()
        await asyncio.sleep(delay if delay > 0 else 0)
    await producer.flush()
    return sent


async def start_passthrough(
    name: str, bootstrap: str, topics: dict[str, str], group: str, partitions: int
) -> Child:
    """A passthrough of ``bench/candidates.py`` as a child, once it holds partitions."""
    inp, out = topics["topic_feedback"], topics["topic_tickets"]
    python, *argv = command(name, bootstrap, inp, out, group, partitions)
    child = await Child.start(name, argv, {}, python=python)
    deadline = time.monotonic() + READY_TIMEOUT
    while "ready" not in child.log_tail():
        if not child.running or time.monotonic() > deadline:
            await child.stop()
            raise RuntimeError(f"{name} did not start:\n{child.log_tail()}")
        await asyncio.sleep(0.1)
    return child


async def one_run(
    bootstrap: str,
    candidate: str,
    rate: float,
    seconds: float,
    warmup: float,
    partitions: int,
    drain: float,
    seed: int,
) -> RunResult:
    run = tag()
    topics = {
        "topic_feedback": f"lat.in.{run}",
        "topic_tickets": f"lat.out.{run}",
        "topic_dlq": f"lat.dlq.{run}",
        "topic_activity": f"lat.act.{run}",
        "topic_escalations": f"lat.esc.{run}",
        "topic_customer_changelog": f"lat.customers.{run}",
    }
    inp, out = topics["topic_feedback"], topics["topic_tickets"]
    await ensure_topics({"bootstrap_servers": bootstrap}, dict.fromkeys([inp, out], partitions))
    n_warm = round(warmup * rate)
    n = n_warm + round(seconds * rate)
    events = make_events(n, seed=seed)
    passthrough = candidate in PASSTHROUGHS
    keys = [value for _, value in events] if passthrough else ticket_ids(events)
    measured = range(n_warm, n)

    if passthrough:
        service = await start_passthrough(candidate, bootstrap, topics, f"lat-{run}", partitions)
    else:
        service = await start_triage(bootstrap, topics, f"lat-{run}", partitions)
    reader = Reader(bootstrap, out, keys, by_value=passthrough)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        await reader.start()
        await producer.start()
        stop_at = [math.inf]
        reading = asyncio.create_task(reader.run(measured, stop_at))
        try:
            sent = await paced_send(producer, inp, events, rate)
            stop_at[0] = time.perf_counter() + drain
            await reading
        finally:
            stop_at[0] = 0.0
            if not reading.done():
                reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
        if not service.running:
            raise RuntimeError(f"triage stopped during the run:\n{service.log_tail()}")
    finally:
        await producer.stop()
        await reader.stop()
        code = await service.stop()
    if code != 0:
        print(f"warning: {candidate} exited with code {code} after SIGTERM", file=sys.stderr)

    lat = [(reader.arrived[i] - sent[i]) * 1000 for i in measured]
    got = sorted(x for x in lat if x == x)
    missing = len(lat) - len(got)
    ordered = got + [math.inf] * missing
    span = sent[n - 1] - sent[n_warm]
    arrivals = [reader.arrived[i] for i in measured if reader.arrived[i] == reader.arrived[i]]
    arrival_span = max(arrivals) - min(arrivals) if len(arrivals) > 1 else 0.0
    return RunResult(
        candidate=candidate,
        rate=rate,
        offered=(len(measured) - 1) / span if span > 0 else math.inf,
        ticket_rate=(len(arrivals) - 1) / arrival_span if arrival_span > 0 else math.inf,
        measured=len(measured),
        missing=missing,
        duplicates=reader.duplicates,
        p50=percentile(ordered, 50),
        p90=percentile(ordered, 90),
        p99=percentile(ordered, 99),
        max=ordered[-1] if ordered else math.inf,
    )


def _line(label: str, r: RunResult) -> str:
    return (
        f"{label:>22s}  offered {r.offered:8,.0f}/s  out {r.ticket_rate:8,.0f}/s  "
        f"p50 {r.p50:8.1f}  p90 {r.p90:8.1f}  p99 {r.p99:8.1f}  max {r.max:8.1f} ms  "
        f"({r.measured:,} events, {r.missing} missing, {r.duplicates} duplicates)"
    )


def median_of(results: list[RunResult]) -> RunResult:
    first = results[0]
    return RunResult(
        candidate=first.candidate,
        rate=first.rate,
        offered=statistics.median(r.offered for r in results),
        ticket_rate=statistics.median(r.ticket_rate for r in results),
        measured=round(statistics.median(r.measured for r in results)),
        missing=round(statistics.median(r.missing for r in results)),
        duplicates=round(statistics.median(r.duplicates for r in results)),
        p50=statistics.median(r.p50 for r in results),
        p90=statistics.median(r.p90 for r in results),
        p99=statistics.median(r.p99 for r in results),
        max=statistics.median(r.max for r in results),
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, nargs="+", default=[2000.0, 10_000.0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measured, per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="excluded, per run")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--drain", type=float, default=120.0, help="s to wait for tickets after the last send"
    )
    parser.add_argument(
        "--candidates",
        default="batch,triage",
        help=f"comma-separated, from triage and the passthroughs {', '.join(PASSTHROUGHS)}",
    )
    args = parser.parse_args()
    if min(args.rate) <= 0 or args.seconds <= 0 or args.warmup < 0 or args.runs < 1:
        parser.error("rates and --seconds must be positive, --warmup ≥ 0, --runs ≥ 1")
    candidates = [c for c in args.candidates.split(",") if c]
    if not candidates or any(c not in ("triage", *PASSTHROUGHS) for c in candidates):
        parser.error(f"--candidates: triage, {', '.join(PASSTHROUGHS)}")
    configure_logging("ERROR", "console")
    restore = stop_on_sigterm()
    medians: dict[tuple[float, str], RunResult] = {}
    try:
        async with broker() as bootstrap:
            for rate in args.rate:
                results: dict[str, list[RunResult]] = {c: [] for c in candidates}
                for run in range(args.runs):
                    for candidate in candidates:  # side by side: each run, every candidate
                        r = await one_run(
                            bootstrap,
                            candidate,
                            rate,
                            args.seconds,
                            args.warmup,
                            args.partitions,
                            args.drain,
                            seed=7 + run,
                        )
                        results[candidate].append(r)
                        print(_line(f"{rate:,.0f}/s {candidate} run {run + 1}", r), flush=True)
                for candidate in candidates:
                    medians[(rate, candidate)] = med = median_of(results[candidate])
                    if args.runs > 1:
                        print(_line(f"{rate:,.0f}/s {candidate} median", med), flush=True)
    except asyncio.CancelledError:  # SIGTERM: the children and the broker are stopped
        print("interrupted", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        restore()
    for (rate, candidate), med in medians.items():
        if med.ticket_rate < 0.95 * med.offered:
            print(
                f"note: at {rate:,.0f}/s {candidate} did not keep up "
                f"(out {med.ticket_rate:,.0f}/s < offered {med.offered:,.0f}/s): "
                "its latencies are mostly queueing"
            )
    for rate in args.rate:
        base = [medians[(rate, p)] for p in PASSTHROUGHS if (rate, p) in medians]
        if "triage" in candidates and base:
            ratio = medians[(rate, "triage")].p99 / base[0].p99
            print(f"at {rate:,.0f}/s triage p99 / {base[0].candidate} p99 = {ratio:.2f}")
    top = max(args.rate)
    last = medians.get((top, "triage")) or medians[(top, candidates[-1])]
    print(f"p99_ms={last.p99:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
