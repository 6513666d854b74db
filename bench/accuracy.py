"""How well the shipped rules separate negative from positive feedback in public data.

Usage:  .venv/bin/python bench/accuracy.py [--data-dir DIR] [--limit N] [--model PATH]
                                          [--split dev]

Reads the **test** split of every corpus file (``service.sentiment.corpus``; the data
folder is ``--data-dir``, else ``TRIAGE_DATA_DIR`` or ``../shared/data``), turns each line
into a text-only feedback event (no language, rating or score: only the words count;
the channel follows the set's domain) and scores it with the default rules
(``service.rules.evaluate``, as ``triage rules test`` does for sentiment lines). Prints
one table: per language and source the neg/neu/pos counts, the balanced accuracy
(mean of neg → P1/P2 and pos → P3/P4) and the share of neu lines kept P3/P4, then a row
per language. The last line is
``worst_language_balanced_accuracy=<language>:<value>``. ``--limit N``: the first N
test lines of each source only. ``--model PATH``: the text model the rules' negativity
conditions read (default: the shipped one, when the rules have such conditions).
``--split dev``: the dev split instead, for tuning rules and thresholds (test is only
ever read to report). Exits 2 when there is no data or the model does not load.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.rules import load_default_rules  # noqa: E402
from service.rules.engine import RuleEngine  # noqa: E402
from service.rules.evaluate import engines_for, evaluate, format_sentiment  # noqa: E402
from service.sentiment.corpus import (  # noqa: E402
    Example,
    ReservedDataError,
    Split,
    default_data_dir,
    read_split,
)
from service.sentiment.model import ModelError, TextModel  # noqa: E402

#: Every event's time: fixed, so a run scores the same whatever the day.
OCCURRED_AT = "2025-01-15T12:00:00+00:00"
CHANNELS = {
    "tweets": "social_media",
    "customer_feedback_social_media": "social_media",
    "reviews": "review",
}


def channel_for(domain: str) -> str:
    """The feedback channel a corpus domain stands for (email when none fits)."""
    return CHANNELS.get(domain, "email")


def to_line(example: Example, n: int) -> dict[str, Any]:
    """A sentiment line (``service.rules.evaluate``) with a text-only event."""
    event = {
        "event_id": f"acc-{example.source}-{n}",
        "occurred_at": OCCURRED_AT,
        "channel": channel_for(example.domain),
        "customer": {"id": f"acc-{n}"},
        "text": example.text,
    }
    return {
        "event": event,
        "sentiment": example.label,
        "lang": example.language,
        "source": example.source,
    }


def labelled_lines(examples: Sequence[Example], limit: int | None) -> list[dict[str, Any]]:
    """The examples as sentiment lines, at most ``limit`` per source (in file order)."""
    seen: Counter[str] = Counter()
    lines: list[dict[str, Any]] = []
    for n, example in enumerate(examples):
        if limit is not None and seen[example.source] >= limit:
            continue
        seen[example.source] += 1
        lines.append(to_line(example, n))
    return lines


def _model_name(engine: RuleEngine) -> str:
    """The text model the engine's rules read, by name."""
    model = engine.text_model
    if model is None:
        return "none (the rules read no text model)"
    return model.name if isinstance(model, TextModel) else type(model).__name__


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--data-dir", help="corpus folder (default: TRIAGE_DATA_DIR or ../shared/data)")
    p.add_argument("--limit", type=int, default=None, help="first N test lines per source")
    p.add_argument("--model", help="text model folder, or 'shipped' (default: as the rules say)")
    p.add_argument(
        "--split", choices=["test", "dev"], default="test", help="dev: for tuning, never quote"
    )
    return p.parse_args(argv)


def corpus_split(data_dir: str | None, split: Split = "test") -> list[Example]:
    """The split (test unless told) of every corpus file; empty without a data folder."""
    folder = Path(data_dir) if data_dir else default_data_dir()
    if folder is None or not folder.is_dir():
        return []
    return read_split(folder, split)


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    try:
        examples = corpus_split(args.data_dir, args.split)
        [(_, engine)] = engines_for(load_default_rules(), [args.model] if args.model else [])
    except (ReservedDataError, ModelError, ValueError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 2
    if not examples:
        print(
            "no corpus test lines: set --data-dir or TRIAGE_DATA_DIR to a folder of "
            "<language>/*.jsonl files (see service/sentiment/corpus.py)",
            file=sys.stderr,
        )
        return 2
    report = evaluate(engine, labelled_lines(examples, args.limit)).sentiment
    model = _model_name(engine)
    print(f"rule set {engine.rules.version}, text model {model}: {report.total} test lines")
    print(format_sentiment([("", report)]))
    worst = report.worst_language()
    if worst is None:
        print("no neg or pos line in the test split", file=sys.stderr)
        return 2
    print(f"worst_language_balanced_accuracy={worst[0]}:{worst[1]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
