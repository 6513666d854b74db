"""Calibrate the text model's thresholds in the rule file's ``model.negative``.

Usage:  .venv/bin/python tools/calibrated_thresholds.py [--model-alone] [--data-dir DIR]
                                                        [MODEL_DIR] [RULES_FILE]

Rewrites each ``{language: [xx], negativity: {min: …}}`` line of the rule file (default:
the shipped model and ``service/rules/default_rules.yaml``). The rule file stays the one
place the thresholds live; this only saves finding and copying them by hand.

- **Through the rules** (the default, what the shipped file holds): for each language,
  every threshold of ``THRESHOLDS`` is tried with the whole rule set on that language's
  dev lines (``bench/accuracy.py --split dev``: text-only events, balanced accuracy of
  neg → P1/P2 against pos → P3/P4). The line gets the **highest** threshold whose
  balanced accuracy is within ``TOLERANCE`` of the best: where the rule set cannot tell
  the thresholds apart, the higher one keeps more neutral text calm (``choose``).
- **``--model-alone``**: the best threshold of the model by itself, from its
  ``model.json`` (``triage model train`` measures it on dev).

A line with a comment after the condition is pinned by hand and left as it is. Test
lines are never read.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

#: Thresholds tried through the rules.
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(6, 17))  # 0.30 … 0.80
#: Balanced accuracies closer than this are not told apart (a few dev lines).
TOLERANCE = 0.003


def _line(lang: str) -> str:
    # a line pinned by hand does not match: nothing may follow ``}}``
    return rf"(- \{{language: \[{lang}\], negativity: \{{min: )[0-9.]+(\}}\}})$"


def with_threshold(text: str, lang: str, value: float) -> tuple[str, bool]:
    """The rule file's text with ``lang``'s threshold set to ``value``; whether it had one."""
    new, n = re.subn(_line(lang), rf"\g<1>{value}\g<2>", text, flags=re.M)
    return new, n > 0


def choose(scores: dict[float, float], tolerance: float = TOLERANCE) -> float:
    """The highest threshold whose score is within ``tolerance`` of the best."""
    best = max(scores.values())
    return max(t for t, score in scores.items() if score >= best - tolerance - 1e-12)


def _dev_scorer(data_dir: str | None, model_dir: Path) -> Callable[[str, str], float]:
    """score(rules_text, lang): dev balanced accuracy of ``lang`` through those rules."""
    from accuracy import corpus_split, labelled_lines

    from service.rules.engine import RuleEngine
    from service.rules.evaluate import evaluate
    from service.rules.model import parse_rules
    from service.sentiment.model import load_model

    examples = corpus_split(data_dir, "dev")
    if not examples:
        raise SystemExit("no dev lines: set --data-dir or TRIAGE_DATA_DIR")
    lines = labelled_lines(examples, None)
    model = load_model(model_dir)

    def score(rules_text: str, lang: str) -> float:
        engine = RuleEngine(parse_rules(rules_text), text_model=model)
        mine = [line for line in lines if line["lang"] == lang]
        tally = evaluate(engine, mine).sentiment.by_language[lang]
        return tally.balanced_accuracy or 0.0

    return score


def through_the_rules(
    text: str, languages: Sequence[str], score: Callable[[str, str], float]
) -> str:
    """``text`` with each language's threshold chosen through the rules (``choose``)."""
    for lang in languages:
        scores: dict[float, float] = {}
        for value in THRESHOLDS:
            candidate, found = with_threshold(text, lang, value)
            if not found:
                break
            scores[value] = score(candidate, lang)
        if not scores:
            print(f"{lang}: kept (pinned, or no rule line)")
            continue
        chosen = choose(scores)
        text, _ = with_threshold(text, lang, chosen)
        shown = " ".join(f"{t}:{s:.3f}" for t, s in scores.items())
        print(f"{lang}: {chosen} (dev through the rules: {shown})")
    return text


def model_alone(text: str, dev: dict[str, dict[str, float]]) -> str:
    """``text`` with each language's threshold the model's own best on dev."""
    for lang, figures in dev.items():
        text, found = with_threshold(text, lang, figures["best_threshold"])
        print(
            f"{lang}: {figures['best_threshold']} ({'set' if found else 'kept, or no rule line'})"
        )
    return text


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("model_dir", nargs="?", type=Path, default=None)
    p.add_argument("rules_file", nargs="?", type=Path, default=None)
    p.add_argument("--model-alone", action="store_true", help="the model's own dev thresholds")
    p.add_argument("--data-dir", help="corpus folder (default: TRIAGE_DATA_DIR or ../shared/data)")
    args = p.parse_args(argv)
    model_dir = args.model_dir or ROOT / "service" / "sentiment" / "model"
    rules = args.rules_file or ROOT / "service" / "rules" / "default_rules.yaml"
    dev = json.loads((model_dir / "model.json").read_text("utf-8"))["dev"]
    text = rules.read_text("utf-8")
    if args.model_alone:
        text = model_alone(text, dev)
    else:
        text = through_the_rules(text, sorted(dev), _dev_scorer(args.data_dir, model_dir))
    rules.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
