"""The text model's cost per event: what the rules' ``negativity`` fact adds.

Usage:  .venv/bin/python bench/text_model.py [--events N] [--runs R]

Takes N texts of the throughput mix (``bench/throughput.py``), prepared once as the engine
prepares them (normalised, spaced: the matcher's work, not the model's), and times over
batches of 2,000, side by side in one run:

- ``passthrough``: a Python call per event that does no work (the loop's own floor);
- ``negativity``: ``TextModel.negativity`` (one fastText prediction per event);
- ``explain``: ``TextModel.explain`` (only for tickets whose model rule fired).

Prints µs per event for each (median of R runs) and ``negativity``'s ratio to the
passthrough; the last line is ``negativity_us_per_event=<median>``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from throughput import text_mix  # noqa: E402  (sibling script)

from service.rules.text import normalize, spaced  # noqa: E402
from service.sentiment.model import default_model, prepare  # noqa: E402

BATCH = 2000


def _nothing(prepared: str) -> float:
    return 0.0


def per_event(fn: Callable[[str], object], texts: Sequence[str]) -> float:
    """µs per event of ``fn`` over ``texts``, batch by batch (the median batch)."""
    batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
    costs = []
    for batch in batches:
        started = time.perf_counter()
        for text in batch:
            fn(text)
        costs.append((time.perf_counter() - started) / len(batch) * 1e6)
    return statistics.median(costs)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)
    mix = [prepare(spaced(n), n) for n in map(normalize, text_mix())]
    texts = [mix[i % len(mix)] for i in range(args.events)]
    model = default_model()
    candidates: dict[str, Callable[[str], object]] = {
        "passthrough": _nothing,
        "negativity": model.negativity,
        "explain": model.explain,
    }
    results: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(args.runs):
        for name, fn in candidates.items():
            results[name].append(per_event(fn, texts))
    medians = {name: statistics.median(v) for name, v in results.items()}
    print(f"model {model.name}: {args.events} events of the bench mix, median of {args.runs}")
    for name, value in medians.items():
        print(f"{name:<12} {value:8.2f} µs/event   runs {[round(v, 2) for v in results[name]]}")
    print(f"negativity / passthrough: {medians['negativity'] / medians['passthrough']:.1f}x")
    print(f"negativity_us_per_event={medians['negativity']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
