"""Decoder throughput on valid events vs a mix with hostile records (pure, no broker).

Usage:  .venv/bin/python bench/hostile.py [--events N] [--hostile-share 0.1] [--runs R]

The valid stream is N realistic events (~300 bytes). The mixed stream replaces a share of
them (10 % by default) with records of the hostile corpus (tests/data/hostile/, every case,
round-robin — including the 500 KB texts, 80,000-level nesting, 10^400, duplicates among
30,000 keys, 100 KB headers). Prints events/s of both (median of R runs), the slowest
hostile case, and last ``ratio=…`` (mixed / valid). The point: hostile input costs what
its size costs — no case takes more than milliseconds, so throughput does not collapse.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.prioritizer.decode import DecodeFailure, DecodeLimits, decode_feedback
from tests.data.hostile.corpus import Case, load_corpus

TEXTS = [
    "I have been waiting three days for an answer. If nobody calls me today I will cancel.",
    "Great app, the new dashboard saves me an hour every week. Thank you!",
    "The export to CSV fails with error 500 since this morning, our whole team is blocked.",
    "Η εφαρμογή δεν λειτουργεί και χάθηκαν όλα τα δεδομένα μου",
    "我要退款，你们的服务太差了",
    "Спасибо, всё отлично работает!",
    "Sovellus kaatuu koko ajan, olen todella pettynyt.",
]

Record = tuple[bytes, list[tuple[str, bytes]]]


def valid_records(n: int, now: datetime, rng: random.Random) -> list[Record]:
    out: list[Record] = []
    for i in range(n):
        event = {
            "event_id": f"bench-{i}",
            "occurred_at": now.isoformat(),
            "channel": rng.choice(["email", "chat", "review", "nps_survey"]),
            "customer": {"id": f"cust-{i % 500}", "tier": "premium"},
            "text": rng.choice(TEXTS),
            "nps_score": rng.randrange(11),
            "metadata": {"source": "bench"},
        }
        out.append((orjson.dumps(event), []))
    return out


def mixed_records(valid: list[Record], corpus: list[Case], share: float) -> list[Record]:
    every = max(1, round(1 / share))
    out = list(valid)
    for k, i in enumerate(range(0, len(out), every)):
        case = corpus[k % len(corpus)]
        out[i] = (case.value, case.headers)
    return out


def run(records: list[Record], limits: DecodeLimits, now: datetime) -> float:
    started = time.perf_counter()
    for value, headers in records:
        with contextlib.suppress(DecodeFailure):
            decode_feedback(value, limits, now, headers)
    return len(records) / (time.perf_counter() - started)


def slowest(corpus: list[Case], limits: DecodeLimits, now: datetime) -> tuple[str, float]:
    worst = ("", 0.0)
    for case in corpus:
        started = time.perf_counter()
        with contextlib.suppress(DecodeFailure):
            decode_feedback(case.value, limits, now, case.headers)
        elapsed = time.perf_counter() - started
        if elapsed > worst[1]:
            worst = (case.name, elapsed)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--hostile-share", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    now = datetime.now(UTC)
    limits = DecodeLimits()
    corpus = load_corpus(now)
    valid = valid_records(args.events, now, random.Random(7))
    mixed = mixed_records(valid, corpus, args.hostile_share)
    run(valid[:500], limits, now)  # warm up
    valid_rates = [run(valid, limits, now) for _ in range(args.runs)]
    mixed_rates = [run(mixed, limits, now) for _ in range(args.runs)]
    v, m = statistics.median(valid_rates), statistics.median(mixed_rates)
    valid_mb = sum(len(value) for value, _ in valid) / 1e6
    mixed_mb = sum(len(value) for value, _ in mixed) / 1e6
    name, worst = slowest(corpus, limits, now)
    print(f"events={args.events} hostile_share={args.hostile_share} corpus_cases={len(corpus)}")
    print(f"valid_events_per_s={v:,.0f} ({v * valid_mb / len(valid):.1f} MB/s)")
    print(
        f"mixed_events_per_s={m:,.0f} ({m * mixed_mb / len(mixed):.1f} MB/s; the mixed stream "
        f"has {mixed_mb / valid_mb:.0f}x the bytes of the valid one)"
    )
    print(f"slowest_hostile_case={name} {worst * 1000:.1f} ms")
    print(f"ratio={m / v:.2f}")


if __name__ == "__main__":
    main()
