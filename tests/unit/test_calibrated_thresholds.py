"""tools/calibrated_thresholds.py writes the model's dev thresholds into a rule file and
leaves a line calibrated through the rules (a comment after it) as it is."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> ModuleType:
    path = ROOT / "tools" / "calibrated_thresholds.py"
    spec = importlib.util.spec_from_file_location("calibrated_thresholds", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_thresholds_written_and_rule_calibrated_lines_kept(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    dev = {lang: {"best_threshold": 0.45} for lang in ("de", "el", "fi")}
    (model / "model.json").write_text(json.dumps({"dev": dev}), "utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "      any:\n"
        "        - {language: [de], negativity: {min: 0.55}}\n"
        "        - {language: [el], negativity: {min: 0.65}}  # through the rules\n",
        "utf-8",
    )
    assert _tool().main([str(model), str(rules)]) == 0
    assert rules.read_text("utf-8") == (
        "      any:\n"
        "        - {language: [de], negativity: {min: 0.45}}\n"
        "        - {language: [el], negativity: {min: 0.65}}  # through the rules\n"
    )


def test_the_shipped_rule_file_is_what_the_tool_leaves(tmp_path: Path) -> None:
    """The shipped thresholds are the shipped model's (or calibrated through the rules)."""
    shipped = ROOT / "service" / "rules" / "default_rules.yaml"
    copy = tmp_path / "rules.yaml"
    copy.write_text(shipped.read_text("utf-8"), "utf-8")
    _tool().main([str(ROOT / "service" / "sentiment" / "model"), str(copy)])
    assert copy.read_text("utf-8") == shipped.read_text("utf-8")
