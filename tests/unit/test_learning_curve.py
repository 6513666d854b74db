"""tools/learning_curve.py: nested training subsets, and how the curve is read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.sentiment.corpus import Example, split_of
from tests.tools import load_tool

tool = load_tool("learning_curve")
LINES = [Example(f"line {i}", "neg", "en", "src") for i in range(4000)]


def test_subsets_are_nested_and_about_their_fraction() -> None:
    train = [ex for ex in LINES if split_of(ex.source, ex.text) == "train"]
    small = {ex.text for ex in train if tool.kept(ex, 0.25)}
    large = {ex.text for ex in train if tool.kept(ex, 0.5)}
    assert small < large
    assert 0.2 < len(small) / len(train) < 0.3
    assert all(tool.kept(ex, 1.0) for ex in LINES)


def test_dev_test_and_support_lines_are_always_kept() -> None:
    others = [ex for ex in LINES if split_of(ex.source, ex.text) != "train"]
    assert others
    assert all(tool.kept(ex, 0.01) for ex in others)
    support = Example("how do I add a user?", "neu", "en", "written", tool.SUPPORT)
    assert tool.kept(support, 0.0)


def test_the_gain_is_per_doubling_of_the_data() -> None:
    assert tool.last_gain([(0.5, 0.80), (1.0, 0.82)]) == pytest.approx(0.02)
    assert tool.last_gain([(0.25, 0.80), (0.5, 0.7), (1.0, 0.74)]) == pytest.approx(0.04)
    assert tool.last_gain([(0.25, 0.80), (1.0, 0.84)]) == pytest.approx(0.02)  # two doublings
    assert tool.last_gain([(1.0, 0.8)]) is None


def test_doublings_to_the_target() -> None:
    assert tool.doublings_to(0.88, 0.84, 0.02) == pytest.approx(2.0)
    assert tool.doublings_to(0.88, 0.90, None) == 0.0
    assert tool.doublings_to(0.88, 0.84, 0.0) is None
    assert tool.doublings_to(0.88, 0.84, -0.01) is None


def test_without_a_corpus_it_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tool, "default_data_dir", lambda: None)
    assert tool.main([]) == 2
    assert "--data-dir" in capsys.readouterr().err


def test_a_small_corpus_gives_a_row_per_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    words = {"neg": "broken awful refund", "pos": "great lovely thanks"}
    lines = [
        {"text": f"{words[label]} {i}", "label": label}
        for i in range(300)
        for label in ("neg", "pos")
    ]
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "tiny.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert tool.main(["--data-dir", str(tmp_path), "--fractions", "0.5", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["lang", "0.5", "1"]
    rows = {line.split()[0]: line.split() for line in out[1:-1]}
    assert set(rows) >= {"en", "de", "zh"}  # the written support lines have every language
    assert float(rows["en"][2]) > 0.9  # the tiny corpus is easy
    assert out[-1].startswith("mean_dev_balanced_accuracy=")
