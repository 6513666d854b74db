"""Rule evaluation speed: µs per event (one ``RuleEngine.assess`` call).

Two mixes, both in every supported language (en, el, zh, ru, fi, es, de, fr, pt), built
from the hand-written messages of the labelled set (``tests/data/labelled_source.py``):

- ``short``: texts of 20–300 characters (the everyday mix). Each event aims at a length
  spread evenly over 20–300; whole messages of its language are joined (as a customer
  writes several sentences) until the aim is reached, never cutting a word and never
  passing 300 characters;
- ``500``:   texts of exactly 500 characters (messages joined until long enough).

Every event is timed alone (``--rounds`` times); the median and p90 of those per-event
times are printed per mix. (The engine keeps nothing from one event to the next: every
call runs all the rules, natively, and explains those that fire.)

Not a timed test: run it, read it (on a quiet machine).
``python bench/rules_bench.py [--rounds N]``. The last line is
``median_us=<short-mix median>``.
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
SHORT_MIN, SHORT_MAX = 20, 300
LONG = 500
LONG_MIX = "500"


def texts() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for lang, rows in [*DEEP.items(), *OTHER.items(), *HELDOUT.items()]:
        out.setdefault(lang, []).extend(row[0] for row in rows if row[0].strip())
    return out


def compose(msgs: list[str], i: int, aim: int, sep: str = " ") -> str:
    """Messages ``i, i+1, …`` joined until ``aim`` characters are reached, at most
    ``SHORT_MAX`` (a message that would pass it is cut at a word boundary)."""
    text = msgs[i % len(msgs)]
    k = i + 1
    while len(text) < aim and k < i + len(msgs):
        nxt = msgs[k % len(msgs)]
        k += 1
        joined = f"{text}{sep}{nxt}"
        if len(joined) > SHORT_MAX:
            if not sep:  # Chinese: cut after a full stop
                cut = joined[:SHORT_MAX]
                cut = cut[: max(cut.rfind("。"), cut.rfind("！"), cut.rfind("？")) + 1]
            else:
                cut = joined[: SHORT_MAX + 1].rsplit(" ", 1)[0]
            if len(cut) > len(text):
                text = cut.rstrip(" ,;:")
            break
        text = joined
    return text[:SHORT_MAX]


def events(mix: str) -> list[FeedbackEvent]:
    out: list[FeedbackEvent] = []
    for lang, msgs in texts().items():
        for i, msg in enumerate(msgs):
            if mix == LONG_MIX:
                joined = msg
                k = i + 1
                while len(joined) < LONG:
                    joined += " " + msgs[k % len(msgs)]
                    k += 1
                text = joined[:LONG]
            else:
                # aims spread evenly over 20–300 (a stride coprime with the span)
                aim = SHORT_MIN + (i * 97) % (SHORT_MAX - SHORT_MIN + 1)
                text = compose(msgs, i, aim, "" if lang == "zh" else " ")
                if not SHORT_MIN <= len(text) <= SHORT_MAX:
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


def timings_us(engine: RuleEngine, evs: list[FeedbackEvent], rounds: int) -> list[float]:
    """Per-event times."""
    for ev in evs:  # warm up (and load the language model once)
        engine.assess(ev)
    samples: list[float] = []
    clock = time.perf_counter
    assess = engine.assess
    for _ in range(rounds):
        for ev in evs:
            t0 = clock()
            assess(ev)
            samples.append(clock() - t0)
    return [s * 1e6 for s in samples]


def summary(name: str, evs: list[FeedbackEvent], samples: list[float]) -> tuple[float, str]:
    lengths = sorted(len(e.text) for e in evs)
    median = statistics.median(samples)
    p90 = statistics.quantiles(samples, n=10)[-1]
    line = (
        f"{name}: {len(evs)} events, {lengths[0]}–{lengths[-1]} chars "
        f"(median {lengths[len(lengths) // 2]}): median {median:.1f} µs/event, p90 {p90:.1f} µs"
    )
    return median, line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    engine = RuleEngine(load_default_rules())
    mixes = [("short mix", events("short")), ("500-char texts", events(LONG_MIX))]
    last = 0.0
    for name, evs in mixes:
        median, line = summary(name, evs, timings_us(engine, evs, args.rounds))
        print(line)
        if name == "short mix":
            last = median
    print(f"median_us={last:.1f}")


if __name__ == "__main__":
    main()
