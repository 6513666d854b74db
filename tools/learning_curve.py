"""How the text model's accuracy grows with its training data, per language.

Usage:  .venv/bin/python tools/learning_curve.py [--data-dir DIR]
                                                 [--fractions 0.125 0.25 0.5 1]

For each fraction, trains the model with the shipped parameters (``TrainParams``) on
that share of every public file's ``train`` lines (the project's written support lines
always whole; dev and test untouched) and prints each language's dev balanced accuracy,
the model alone at its best threshold (what ``triage model train`` measures). The
subsets are nested: a line kept at one fraction is kept at every larger one
(``kept``), so the curve shows the data, not a reshuffle.

The last columns read the curve: the gain of the last doubling, and how many more
doublings at that gain would reach ``--target`` (dev, model alone). Gains shrink as data
grows, so that is the least data the target would need, not a promise. About 15 s of
training per fraction; dev lines only, never test.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.sentiment.corpus import Example, default_data_dir, split_of  # noqa: E402
from service.sentiment.train import SUPPORT, TrainParams, gather, train  # noqa: E402

FRACTIONS = (0.125, 0.25, 0.5, 1.0)
TARGET = 0.88


def kept(example: Example, fraction: float) -> bool:
    """Whether ``example`` is in the training subset of ``fraction``: every line that is
    not a public training line, and a public training line whose stable hash falls under
    the fraction (so the subsets are nested)."""
    if example.domain == SUPPORT or split_of(example.source, example.text) != "train":
        return True
    digest = hashlib.sha256(f"{example.source}\0{example.text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def last_gain(curve: Sequence[tuple[float, float]]) -> float | None:
    """Balanced accuracy gained per doubling of the data over the last two points of
    ``curve`` (``(fraction, accuracy)`` pairs, fractions ascending); None with fewer."""
    if len(curve) < 2:
        return None
    (f0, a0), (f1, a1) = curve[-2], curve[-1]
    return (a1 - a0) / math.log2(f1 / f0)


def doublings_to(target: float, accuracy: float, gain: float | None) -> float | None:
    """Doublings of the data that would reach ``target`` at ``gain`` per doubling: 0 when
    reached, None when the curve does not rise."""
    if accuracy >= target:
        return 0.0
    if gain is None or gain <= 0:
        return None
    return (target - accuracy) / gain


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS))
    parser.add_argument("--target", type=float, default=TARGET)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    data_dir = args.data_dir or default_data_dir()
    if data_dir is None:
        print("no corpus: pass --data-dir or set TRIAGE_DATA_DIR", file=sys.stderr)
        return 2
    examples, _ = gather(data_dir)
    fractions = sorted(args.fractions)
    curves: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fraction in fractions:
            subset = [ex for ex in examples if kept(ex, fraction)]
            report = train(subset, Path(tmp) / f"f{fraction}", TrainParams())
            for lang, figures in sorted(report.dev.items()):
                curves.setdefault(lang, []).append((fraction, float(figures["at_best"])))
            print(f"trained at {fraction:g} ({len(subset)} lines)", file=sys.stderr, flush=True)
    head = " ".join(f"{f:>7g}" for f in fractions)
    print(f"lang {head}  gain/doubling  doublings to {args.target:g}")
    for lang, curve in curves.items():
        gain = last_gain(curve)
        more = doublings_to(args.target, curve[-1][1], gain)
        cells = " ".join(f"{a:7.3f}" for _, a in curve)
        gain_text = "-" if gain is None else f"{gain:+.3f}"
        more_text = "never at this gain" if more is None else f"{more:.1f}"
        print(f"{lang:<4} {cells}  {gain_text:>13}  {more_text}")
    mean = statistics.mean(curve[-1][1] for curve in curves.values())
    print(f"mean_dev_balanced_accuracy={mean:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
