"""Write the text model's dev-calibrated thresholds into the rule file's ``model.negative``.

Usage:  .venv/bin/python tools/calibrated_thresholds.py [MODEL_DIR] [RULES_FILE]

Reads each language's best threshold from the model's ``model.json`` (the balanced
accuracy of negative against positive lines on the dev splits, ``triage model train``)
and rewrites the matching ``{language: [xx], negativity: {min: …}}`` lines of the rule
file (default: the shipped model and ``service/rules/default_rules.yaml``). A line with
a comment after the condition (the shipped file's "through the rules": calibrated with
the whole rule set, ``bench/accuracy.py --split dev``) is left as it is. The rule file stays the one
place the thresholds live; this only saves copying them by hand.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    model_dir = Path(argv[0]) if argv else ROOT / "service" / "sentiment" / "model"
    rules = Path(argv[1]) if len(argv) > 1 else ROOT / "service" / "rules" / "default_rules.yaml"
    dev = json.loads((model_dir / "model.json").read_text("utf-8"))["dev"]
    text = rules.read_text("utf-8")
    for lang, figures in dev.items():
        # a line calibrated through the rules does not match: nothing may follow ``}}``
        pattern = rf"(- \{{language: \[{lang}\], negativity: \{{min: )[0-9.]+(\}}\}})$"
        text, n = re.subn(pattern, rf"\g<1>{figures['best_threshold']}\g<2>", text, flags=re.M)
        print(f"{lang}: {figures['best_threshold']} ({'set' if n else 'kept, or no rule line'})")
    rules.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
