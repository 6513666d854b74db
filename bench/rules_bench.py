"""Rule evaluation speed: median µs per event (one ``RuleEngine.assess`` call).

Two mixes, both in every supported language (en, el, zh, ru, fi, es, de, fr, pt), built
from the hand-written messages of the labelled set (``tests/data/labelled_source.py``):

- ``short``: 20–300-character texts, as they come (the everyday mix);
- ``500``:   texts of exactly 500 characters (messages joined until long enough).

Not a timed test: run it, read it. ``python bench/rules_bench.py [--rounds N]``.
The last line is ``median_us=<short-mix median>``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas.feedback import FeedbackEvent  # noqa: E402
from service.rules import RuleEngine, load_default_rules  # noqa: E402
from tests.data.labelled_source import DEEP, HELDOUT, OTHER  # noqa: E402

CHANNELS = ["email", "chat", "social_media", "review", "in_app", "app_store"]


def texts() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for lang, rows in [*DEEP.items(), *OTHER.items(), *HELDOUT.items()]:
        out.setdefault(lang, []).extend(row[0] for row in rows)
    return out


def events(mix: str) -> list[FeedbackEvent]:
    out: list[FeedbackEvent] = []
    for lang, msgs in texts().items():
        for i, text in enumerate(msgs):
            if mix == "500":
                joined = text
                k = i + 1
                while len(joined) < 500:
                    joined += " " + msgs[k % len(msgs)]
                    k += 1
                text = joined[:500]
            elif not 20 <= len(text) <= 300:
                continue
            data: dict[str, Any] = {
                "event_id": f"b-{lang}-{i}",
                "occurred_at": "2026-03-02T09:15:00+02:00",
                "channel": CHANNELS[i % len(CHANNELS)],
                "customer": {"id": f"c-{i}", "tier": "standard"},
                "text": text,
            }
            if i % 4 == 0:
                data["nps_score"] = i % 11
            out.append(FeedbackEvent.model_validate(data))
    return out


def median_us(engine: RuleEngine, evs: list[FeedbackEvent], rounds: int) -> float:
    for ev in evs:  # warm up (and load the language model once)
        engine.assess(ev)
    samples: list[float] = []
    clock = time.perf_counter
    for _ in range(rounds):
        for ev in evs:
            t0 = clock()
            engine.assess(ev)
            samples.append(clock() - t0)
    return statistics.median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    engine = RuleEngine(load_default_rules())
    short = events("short")
    long = events("500")
    lengths = sorted(len(e.text) for e in short)
    m_short = median_us(engine, short, args.rounds)
    m_long = median_us(engine, long, args.rounds)
    print(
        f"short mix: {len(short)} events, {lengths[0]}–{lengths[-1]} chars "
        f"(median {lengths[len(lengths) // 2]}): median {m_short:.1f} µs/event"
    )
    print(f"500-char texts: {len(long)} events: median {m_long:.1f} µs/event")
    print(f"median_us={m_short:.1f}")


if __name__ == "__main__":
    main()
