"""Garbage-collector pauses in the prioritizer, Python's defaults against ``triage run``'s.

Usage:  .venv/bin/python bench/gc_pauses.py [--events N] [--batch B] [--runs R]
                                          [--gen0 T ...] 2>/dev/null

Feeds N events (default 200,000) of the throughput mix (``bench/throughput.py``, 50,000
customers, so the customer histories grow as in production) through the pure pipeline
(``Prioritizer.process``, no Kafka) in batches of B (default 200: a batch at 2,000
events/s with the default 100 ms fetch wait), partitioned by key as Kafka would. Each
configuration runs in a child process of its own (collector settings are per process),
alternating, R times (default 1):

- ``python``: Python's collector defaults (thresholds 700, 10, 10; what
  ``TRIAGE_GC_GEN0_THRESHOLD=0`` keeps);
- ``tuned``: what ``triage run`` does once started (``service/gc_tuning.py``: start-up
  frozen, young threshold ``TRIAGE_GC_GEN0_THRESHOLD``, its default). ``--gen0 T ...``
  runs one tuned configuration per threshold instead (``tuned@T``), to compare them.

Prints, per configuration (median over the runs): µs per event, the collections of each
generation with their total and longest time, and the p50 / p99 / longest batch — a
collection pause lands inside a batch, and every event of that batch waits it out. The
last line is ``batch_p99_ms=<tuned>`` (the first threshold's).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import PARTITIONS, prioritizer  # noqa: E402  (sibling scripts)
from throughput import make_events  # noqa: E402

from service import gc_tuning  # noqa: E402
from service.config import Settings  # noqa: E402
from service.observability.logging import configure_logging  # noqa: E402
from service.records import InRecord  # noqa: E402

PYTHON = "python"
CHUNK = 4_000  # events made at a time (the input is never all in memory at once)


def measure(config: str, n: int, batch: int) -> dict[str, Any]:
    """One run in this process: the figures of ``config`` (``python``, or ``tuned@T``)."""
    p = prioritizer()
    p.process([InRecord("feedback", 0, 0, k, v) for k, v in make_events(200, seed=999)])
    if config != PYTHON:
        gc_tuning.tune(int(config.partition("@")[2]))
    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    began = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append((time.perf_counter() - began[0]) * 1000)

    batches: list[float] = []
    offset, busy = 0, 0.0
    gc.callbacks.append(on_gc)
    try:
        for seed in range((n + CHUNK - 1) // CHUNK):
            size = min(CHUNK, n - offset)
            records = [
                InRecord("feedback", zlib.crc32(key) % PARTITIONS, offset + i, key, value)
                for i, (key, value) in enumerate(make_events(size, seed=seed))
            ]
            offset += size
            for i in range(0, len(records), batch):
                started = time.perf_counter()
                p.process(records[i : i + batch])
                took = time.perf_counter() - started
                busy += took
                batches.append(took * 1000)
    finally:
        gc.callbacks.remove(on_gc)
    batches.sort()
    return {
        "us_per_event": busy / offset * 1e6,
        "collections": {str(g): len(v) for g, v in pauses.items()},
        "gc_ms": {str(g): sum(v) for g, v in pauses.items()},
        "gc_max_ms": {str(g): max(v, default=0.0) for g, v in pauses.items()},
        "batch_p50_ms": batches[len(batches) // 2],
        "batch_p99_ms": batches[min(len(batches) - 1, int(len(batches) * 0.99))],
        "batch_max_ms": batches[-1],
    }


def child(config: str, n: int, batch: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", config, "--events", str(n), "--batch", str(batch)],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def show(config: str, runs: list[dict[str, Any]]) -> dict[str, float]:
    def med(key: str, gen: str | None = None) -> float:
        return float(statistics.median(r[key] if gen is None else r[key][gen] for r in runs))

    gens = "  ".join(
        f"gen{g} {med('collections', g):.0f}× {med('gc_ms', g):,.0f} ms (longest {med('gc_max_ms', g):.0f})"
        for g in ("0", "1", "2")
    )
    total = sum(med("gc_ms", g) for g in ("0", "1", "2"))
    print(
        f"{config:12s} {med('us_per_event'):6.1f} µs/event  collector {total:,.0f} ms: {gens}\n"
        f"        batch p50 {med('batch_p50_ms'):.1f}  p99 {med('batch_p99_ms'):.1f}  "
        f"longest {med('batch_max_ms'):.1f} ms"
    )
    return {"gc_ms": total, "p99": med("batch_p99_ms"), "us": med("us_per_event")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--gen0",
        type=int,
        nargs="+",
        default=[Settings.model_fields["gc_gen0_threshold"].default],
        help="young thresholds to compare (default: triage run's)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    configs = [PYTHON, *(f"tuned@{t}" for t in args.gen0)]
    configure_logging("INFO", "json")  # log lines go to stderr
    if args.child:
        print(json.dumps(measure(args.child, args.events, args.batch)))
        return
    print(f"{args.events:,} events, batches of {args.batch}, {args.runs} run(s) of each")
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in configs}
    for _ in range(args.runs):
        for config in configs:
            results[config].append(child(config, args.events, args.batch))
    figures = {config: show(config, runs) for config, runs in results.items()}
    py, tuned = figures[PYTHON], figures[configs[1]]
    print(
        f"tuned / python: collector time {tuned['gc_ms'] / max(py['gc_ms'], 1e-9):.2f}, "
        f"batch p99 {tuned['p99'] / max(py['p99'], 1e-9):.2f}, µs/event {tuned['us'] / py['us']:.2f}"
    )
    print(f"batch_p99_ms={tuned['p99']:.1f}")


if __name__ == "__main__":
    main()
