"""SLA engine memory and CPU per open ticket: N tickets in one SlaEngine (no broker).

Usage:  .venv/bin/python bench/sla_memory.py [--tickets N] [--seed S] [--no-tracemalloc]
            [--trace-tickets M]

Feeds N (default 1,000,000) synthetic open tickets, shaped as the prioritizer builds them
(``Ticket.model_construct``, mixed priorities P1 10 % / P2 30 % / P3 40 % / P4 20 % with
the shipped SLA policy's targets, ``occurred_at`` spread uniformly over the last hour), to
one ``SlaEngine`` with the shipped default policy, all at one processing time ``now``.
The input tickets are built lazily by a generator, one at a time, so they are not part of
what is measured; only what the engine keeps (its clocks, the ids and datetimes they
share with the input, the timing wheel and tables) is. Like the Kafka layer, ``changed()`` and
``outcomes()`` are drained after every 2,000 tickets.

Two passes over the same (seeded) tickets:

1. timing, without tracemalloc: µs per ``on_ticket``, RSS (``VmRSS``) before and after,
   ``fire_due`` at a time when ~1 % of the tickets have a step due, ``next_due()``,
   ``expire()`` (the monitor's once-a-minute scan), ``risk()`` (the SLA gauges' scan at
   scrape time), a full garbage collection (``gc``:
   what a generation-2 pause costs with that many clocks) and ``snapshot()``;
2. memory, with tracemalloc: the traced growth of a fresh engine fed the same tickets
   (or the first M of them, ``--trace-tickets``; skipped with ``--no-tracemalloc``, then
   bytes per ticket come from RSS). Tracing makes this pass several times slower.

The last line is ``bytes_per_ticket=…``.
"""

from __future__ import annotations

import argparse
import gc
import io
import math
import random
import statistics
import sys
import time
import tracemalloc
from array import array
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from schemas.common import Priority
from schemas.ticket import Reason, SlaInfo, Ticket
from service.rules.engine import ticket_id_for
from service.rules.model import load_default_rules
from service.sla.engine import SlaEngine
from service.sla.policy import SlaPolicy, load_policy
from service.sla.state import encode_record

_R = TypeVar("_R")

BATCH = 2_000  # the Kafka layer drains changed() after every batch (max_batch_records)
SAMPLE_EVERY = 64  # keep every 64th on_ticket duration for percentiles
SPREAD_SECONDS = 3_600.0  # occurred_at: uniformly over the last hour
MIX = [(Priority.P1, 0.10), (Priority.P2, 0.30), (Priority.P3, 0.40), (Priority.P4, 0.20)]

# What the shipped rules would say for a typical ticket of each priority.
PROFILE: dict[Priority, tuple[str, list[Reason], list[str], str, str]] = {
    Priority.P1: (
        "churn_threat",
        [
            Reason(
                rule_id="text.churn_intent",
                weight=35,
                evidence=["cancel"],
                min_priority=Priority.P1,
            ),
            Reason(rule_id="tone.punctuation", weight=10, evidence=["!!!"]),
        ],
        ["personal_reply", "retention_offer", "manager_callback"],
        "social_media",
        "This is the third outage this month. I am cancelling my subscription!!!",
    ),
    Priority.P2: (
        "detractor",
        [
            Reason(
                rule_id="nps.detractor", weight=30, evidence=["nps=3"], min_priority=Priority.P2
            ),
            Reason(rule_id="nps.detractor.strong", weight=10, evidence=["nps=3"]),
        ],
        ["personal_reply"],
        "nps_survey",
        "Support took two days to answer and the answer did not help.",
    ),
    Priority.P3: (
        "question",
        [Reason(rule_id="text.question", weight=5, evidence=["how do i"])],
        ["auto_acknowledge"],
        "email",
        "How do I add a second user to my account?",
    ),
    Priority.P4: (
        "praise",
        [Reason(rule_id="nps.promoter", weight=-20, evidence=["nps=10"])],
        ["ask_for_review"],
        "in_app",
        "Great app, the new dashboard saves me an hour every week. Thank you!",
    ),
}
TIERS = ["free", "standard", "premium", "enterprise"]


def synthetic_tickets(n: int, now: datetime, seed: int) -> Iterator[Ticket]:
    """``n`` tickets, built one at a time (never all in memory at once)."""
    rnd = random.Random(seed)
    policy = load_policy()
    priorities = [p for p, _ in MIX]
    weights = [w for _, w in MIX]
    rules_version = load_default_rules().version
    for i in range(n):
        prio = rnd.choices(priorities, weights)[0]
        category, reasons, actions, channel, text = PROFILE[prio]
        occurred = now - timedelta(seconds=rnd.uniform(0.0, SPREAD_SECONDS))
        event_id = f"evt-{seed}-{i:09d}"
        target, due = policy.first_response_due(prio, occurred)
        yield Ticket.model_construct(
            ticket_id=ticket_id_for(event_id),
            event_id=event_id,
            customer_id=f"cust-{rnd.randrange(250_000):06d}",
            priority=prio,
            severity={Priority.P1: 85, Priority.P2: 60, Priority.P3: 30, Priority.P4: 5}[prio],
            category=category,
            reasons=reasons,
            language="en",
            sla=SlaInfo.model_construct(
                target_seconds=target, first_response_due_at=due, policy_id=policy.version
            ),
            actions=actions,
            management_attention=prio is Priority.P1 and rnd.random() < 0.2,
            occurred_at=occurred,
            created_at=occurred + timedelta(milliseconds=rnd.uniform(5, 200)),
            channel=channel,
            customer_tier=rnd.choice(TIERS),
            customer_lifecycle_stage="active",
            customer_name=None,
            nps_score=None,
            rating=None,
            subject=None,
            text=text,
            rules_version=rules_version,
            schema_version="1.0",
        )


def rss_bytes() -> int:
    """Resident set size from /proc/self/status (0 where there is no /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def next_step_after(
    ticket: Ticket, policy: SlaPolicy, fractions: list[float], now: datetime
) -> float:
    """Epoch seconds of the ticket's first ladder step after ``now`` (inf: none left)."""
    target, _ = policy.first_response_due(ticket.priority, ticket.occurred_at)
    start = ticket.occurred_at.timestamp()
    now_s = now.timestamp()
    for f in fractions:
        t = start + f * target
        if t > now_s:
            return t
    return math.inf


def pct(values: list[int] | array[int], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return float(ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1])


def timed(fn: Callable[[datetime], _R], at: datetime) -> tuple[_R, float]:
    """``fn(at)`` and the seconds it took."""
    started = time.perf_counter()
    result = fn(at)
    return result, time.perf_counter() - started


def mb(n: float) -> str:
    return f"{n / 1_048_576:,.1f} MiB"


def timing_pass(n: int, seed: int, now: datetime, policy: SlaPolicy) -> int:
    """Pass 1; returns the engine's RSS growth in bytes."""
    fractions = [s.fraction for s in policy.steps()]
    nexts = array("d", bytes(8 * n))  # preallocated: not part of the RSS growth
    samples = array("q", bytes(8 * (n // SAMPLE_EVERY + 1)))
    source = synthetic_tickets(n, now, seed)
    gc.collect()
    rss_before = rss_bytes()
    engine = SlaEngine(policy)
    total_ns = max_ns = emitted = 0
    feed_started = time.perf_counter()
    for i, ticket in enumerate(source):
        t_ns = time.perf_counter_ns()
        emitted += len(engine.on_ticket(ticket, now))
        d = time.perf_counter_ns() - t_ns
        total_ns += d
        max_ns = max(max_ns, d)
        if i % SAMPLE_EVERY == 0:
            samples[i // SAMPLE_EVERY] = d
        nexts[i] = next_step_after(ticket, policy, fractions, now)
        if (i + 1) % BATCH == 0:
            engine.changed()
            engine.outcomes()
    engine.changed()
    engine.outcomes()
    feed_wall = time.perf_counter() - feed_started
    gc.collect()
    rss_after = rss_bytes()
    growth = rss_after - rss_before
    kept = samples[: (n - 1) // SAMPLE_EVERY + 1]
    print(f"tickets        {n:,} open in one SlaEngine (default policy), fed at one 'now'")
    print(
        f"on_ticket      {total_ns / n / 1000:.2f} µs mean, p50 {pct(kept, 50) / 1000:.2f}, "
        f"p99 {pct(kept, 99) / 1000:.2f}, max {max_ns / 1000:,.0f} µs; "
        f"{emitted:,} escalations at once (late steps, management attention); "
        f"whole feed incl. building the input {feed_wall:.1f} s"
    )
    print(
        f"RSS            {mb(rss_before)} before, {mb(rss_after)} after: "
        f"+{mb(growth)} = {growth / n:,.0f} bytes/ticket"
    )

    # fire_due at the time by which ~1 % of the tickets have a step due.
    ordered = sorted(nexts)
    del nexts
    k = max(1, math.ceil(n / 100))
    at = datetime.fromtimestamp(ordered[k - 1], UTC) if math.isfinite(ordered[k - 1]) else now
    expected = sum(1 for x in ordered[:k] if math.isfinite(x))
    del ordered
    heap_before = engine.stats().schedule_entries
    t = time.perf_counter()
    fired = engine.fire_due(at)
    fire_s = time.perf_counter() - t
    t = time.perf_counter()
    changes = len(engine.changed())
    changed_s = time.perf_counter() - t
    print(
        f"fire_due       {fire_s * 1000:,.1f} ms for {len(fired):,} escalations "
        f"({len(fired) / n:.2%} of the tickets, ~{expected:,} expected; "
        f"{fire_s / max(1, len(fired)) * 1e6:.1f} µs each) at now+{(at - now).total_seconds():.0f} s; "
        f"timing wheel {heap_before:,} entries; draining changed() ({changes:,}) {changed_s * 1000:.1f} ms"
    )
    del fired

    calls = 100_000
    t_ns = time.perf_counter_ns()
    for _ in range(calls):
        engine.next_due()
    next_ns = (time.perf_counter_ns() - t_ns) / calls
    idle, idle_s = timed(engine.fire_due, at)
    print(
        f"next_due       {next_ns:,.0f} ns per call; fire_due with nothing due "
        f"{idle_s * 1e6:,.1f} µs ({len(idle)} escalations)"
    )

    gone, expire_s = timed(engine.expire, at)
    engine.changed()
    print(
        f"expire         {expire_s * 1000:,.0f} ms for one scan of {len(engine):,} clocks "
        f"({len(gone):,} forgotten); the monitor runs it once a minute on its timer task"
    )

    risk, risk_s = timed(engine.risk, at)
    print(
        f"risk           {risk_s * 1000:,.0f} ms for one scan of {len(engine):,} clocks "
        f"({sum(risk.at_risk_by_priority.values()):,} at risk, "
        f"{sum(risk.overdue_by_priority.values()):,} overdue); the gauges' scrape-time scan"
    )

    collections = []
    for _ in range(3):
        t = time.perf_counter()
        gc.collect()
        collections.append(time.perf_counter() - t)
    print(
        f"gc             full collection {statistics.median(collections) * 1000:,.0f} ms "
        f"(median of 3) with {len(engine):,} open clocks; {len(gc.get_objects()):,} objects "
        "tracked by the collector"
    )

    t = time.perf_counter()
    snap = engine.snapshot()
    snap_s = time.perf_counter() - t
    sample = snap[: min(len(snap), 10_000)]
    t = time.perf_counter()
    encoded = sum(len(encode_record(r)) for r in sample)
    encode_s = time.perf_counter() - t
    per_record = encoded / max(1, len(sample))
    print(
        f"snapshot       {snap_s * 1000:,.1f} ms for {len(snap):,} records (list only); "
        f"encoded ~{per_record:,.0f} bytes/record → ~{mb(per_record * len(snap))} for the "
        f"whole changelog snapshot, ~{encode_s / max(1, len(sample)) * len(snap):,.1f} s to "
        f"encode it (from {len(sample):,} records)"
    )
    del snap, sample, engine
    gc.collect()
    return growth


def tracemalloc_pass(n: int, seed: int, now: datetime, policy: SlaPolicy) -> tuple[int, int]:
    """Pass 2: traced memory growth of a fresh engine fed the same tickets (current, peak)."""
    source = synthetic_tickets(n, now, seed)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        engine = SlaEngine(policy)
        started = time.perf_counter()
        for i, ticket in enumerate(source):
            engine.on_ticket(ticket, now)
            if (i + 1) % BATCH == 0:
                engine.changed()
                engine.outcomes()
        engine.changed()
        engine.outcomes()
        del ticket
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        took = time.perf_counter() - started
    finally:
        tracemalloc.stop()
    growth = current - base
    print(
        f"tracemalloc    engine growth {mb(growth)} = {growth / n:,.0f} bytes/ticket "
        f"(peak {mb(peak - base)}; input tickets built lazily, not counted; {took:.1f} s traced)"
    )
    del engine
    return growth, peak - base


def main() -> int:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-tracemalloc", action="store_true", help="skip pass 2; bytes per ticket from RSS"
    )
    parser.add_argument(
        "--trace-tickets",
        type=int,
        default=None,
        help="pass 2 feeds only the first M of the tickets (tracemalloc makes building them "
        "~6x slower: ~6 min for 1,000,000 on a laptop-class core); default: all",
    )
    args = parser.parse_args()
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # figures appear as they come
    if args.tickets < 100:
        parser.error("--tickets must be at least 100")
    policy = load_policy()
    now = datetime.now(UTC)
    rss_growth = timing_pass(args.tickets, args.seed, now, policy)
    if args.no_tracemalloc:
        print("method         bytes per ticket from RSS growth (tracemalloc skipped)")
        per_ticket = rss_growth / args.tickets
    else:
        traced = min(args.tickets, args.trace_tickets or args.tickets)
        growth, _ = tracemalloc_pass(traced, args.seed, now, policy)
        print(
            "method         bytes per ticket from tracemalloc: the engine's growth only, over "
            f"{traced:,} tickets"
        )
        per_ticket = growth / traced
    print(f"bytes_per_ticket={per_ticket:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
