"""The prioritizer's per-event cost without Kafka: ``Prioritizer.process`` on batches.

Usage:  .venv/bin/python bench/pipeline.py [--events N] [--runs R] [--profile]
                                          [--survey] [--log-level INFO] 2>/dev/null

Feeds N events of the throughput mix (``bench/throughput.py``) through the pure
pipeline in batches of 2,000 — decode and validation, repeat-contact history, rules,
ticket JSON and headers, changelog records — and prints µs per event, with the rules
and with rule evaluation replaced by a constant (what the rest of the pipeline costs).
``--profile`` prints the top of a cProfile of one full pass (the profile that guided the
hot-path work: CHANGELOG.md; current figures: docs/performance.md). Median of R runs; the
last line is ``us_per_event=<with rules>``. ``--survey``: every event carries an NPS
answer, as in the burst after a survey mailing (the default mix has one on every third).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from candidates import _without_rules  # noqa: E402  (sibling scripts)
from throughput import make_events  # noqa: E402

from service.clock import SystemClock  # noqa: E402
from service.observability.logging import configure_logging  # noqa: E402
from service.prioritizer.decode import DecodeLimits  # noqa: E402
from service.prioritizer.pipeline import Prioritizer, Topics  # noqa: E402
from service.records import InRecord  # noqa: E402
from service.rules import RuleEngine, load_default_rules  # noqa: E402

BATCH = 2000
PARTITIONS = 4


def prioritizer() -> Prioritizer:
    p = Prioritizer(
        RuleEngine(load_default_rules()),
        Topics("tickets", "dlq", customer_changelog="customers"),
        DecodeLimits(),
        SystemClock(),
    )
    assert p.state is not None
    for n in range(PARTITIONS):
        p.state.restore(n, [])
    return p


def records(n: int, score_every: int = 3) -> list[InRecord]:
    return [
        InRecord("feedback", i % PARTITIONS, i, key, value)
        for i, (key, value) in enumerate(make_events(n, score_every=score_every))
    ]


def one_pass(p: Prioritizer, recs: Sequence[InRecord]) -> float:
    """Seconds for every record, batch by batch."""
    started = time.perf_counter()
    for i in range(0, len(recs), BATCH):
        p.process(recs[i : i + BATCH])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--survey",
        action="store_true",
        help="every event carries an NPS answer (a survey mailing), not every third",
    )
    parser.add_argument(
        "--log-level", default="INFO", help="as in production (TRIAGE_LOG_LEVEL's default)"
    )
    args = parser.parse_args()
    configure_logging(args.log_level, "json")  # log lines go to stderr
    recs = records(args.events, score_every=1 if args.survey else 3)
    one_pass(prioritizer(), recs[:500])  # warm up: imports, the language model
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(one_pass, prioritizer(), recs)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    # a fresh pipeline per run (so every run records every customer's ticket anew)
    with_rules = [one_pass(prioritizer(), recs) / len(recs) * 1e6 for _ in range(args.runs)]
    _without_rules()
    without = [one_pass(prioritizer(), recs) / len(recs) * 1e6 for _ in range(args.runs)]
    full, bare = statistics.median(with_rules), statistics.median(without)
    print(f"with rules:    {full:7.1f} µs/event ({1e6 / full:,.0f} events/s on one core)")
    print(f"rules off:     {bare:7.1f} µs/event ({1e6 / bare:,.0f} events/s on one core)")
    print(f"us_per_event={full:.1f}")


if __name__ == "__main__":
    main()
