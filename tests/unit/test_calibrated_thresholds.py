"""tools/calibrated_thresholds.py: thresholds chosen through the rules (the highest within
the tolerance of the best) or the model's own, written into a rule file; a line pinned by
hand (a comment after it) is left as it is."""

from __future__ import annotations

import json
from pathlib import Path

from tests.tools import load_tool


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
    assert load_tool("calibrated_thresholds").main(["--model-alone", str(model), str(rules)]) == 0
    assert rules.read_text("utf-8") == (
        "      any:\n"
        "        - {language: [de], negativity: {min: 0.45}}\n"
        "        - {language: [el], negativity: {min: 0.65}}  # through the rules\n"
    )


def test_choose_takes_the_highest_threshold_within_the_tolerance() -> None:
    choose = load_tool("calibrated_thresholds").choose
    assert choose({0.4: 0.823, 0.45: 0.818, 0.5: 0.819}) == 0.4
    assert choose({0.5: 0.877, 0.55: 0.874, 0.6: 0.877, 0.65: 0.870}) == 0.6
    assert choose({0.45: 0.830, 0.5: 0.828, 0.55: 0.825}) == 0.5
    assert choose({0.45: 0.830, 0.5: 0.828, 0.55: 0.825}, tolerance=0.0) == 0.45


def test_through_the_rules_scores_each_threshold_with_the_rule_text(tmp_path: Path) -> None:
    tool = load_tool("calibrated_thresholds")
    text = (
        "        - {language: [de], negativity: {min: 0.55}}\n"
        "        - {language: [el], negativity: {min: 0.65}}  # pinned\n"
    )
    seen: list[tuple[str, float]] = []

    def score(rules_text: str, lang: str) -> float:
        value = float(rules_text.split("min: ")[1].split("}")[0])
        seen.append((lang, value))
        return 0.8 - max(0.0, abs(value - 0.425) - 0.03)  # 0.40 and 0.45 tie: the higher wins

    out = tool.through_the_rules(text, ["de", "el"], score)
    assert out == text.replace("min: 0.55", "min: 0.45")
    assert [lang for lang, _ in seen] == ["de"] * len(tool.THRESHOLDS)  # el is pinned
    assert sorted(v for _, v in seen) == list(tool.THRESHOLDS)
