"""`triage model train --data`: a company's own labelled tickets make a model the service
and `triage rules test --model` load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli import main
from service.sentiment.model import TextModel
from service.sentiment.train import read_own_file

NEG = ["the invoice is wrong again", "nobody answers my emails", "the app crashed and lost my work"]
POS = ["thank you, great support", "love the new dashboard", "works perfectly, well done"]


def _own_file(path: Path) -> Path:
    lines: list[dict[str, object]] = []
    for i in range(40):
        lines.append({"text": f"{NEG[i % 3]} #{i}", "label": "neg", "lang": "en"})
        lines.append({"text": f"{POS[i % 3]} #{i}", "label": "pos", "lang": "en"})
        event = {"text": f"how do I add a user to team {i}?"}
        lines.append({"event": event, "expected": "P3", "lang": "en"})
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return path


def test_own_tickets_train_a_model_the_service_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _own_file(tmp_path / "mine.jsonl")
    out = tmp_path / "model"
    assert main(["model", "train", "--data", str(data), "--out", str(out)]) == 0
    model = TextModel(out)
    assert model.card["lines"]["train"] > 80
    assert model.card["sources"][0]["file"].endswith("mine.jsonl")
    assert model.negativity("the invoice is wrong again") > model.negativity(
        "love the new dashboard"
    )
    assert main(["model", "show", str(out)]) == 0
    assert "version" in capsys.readouterr().out


def test_priority_labels_become_sentiment(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    rows = [
        {"event": {"text": "sue you"}, "expected": "P1"},
        {"event": {"text": "where is it?"}, "expected": "P3"},
        {"event": {"text": "thanks"}, "expected": "P4"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert [ex.label for ex in read_own_file(path)] == ["neg", "neu", "pos"]


def test_a_line_without_a_label_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "x", "label": "meh"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:1"):
        read_own_file(path)


def test_training_without_data_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "none.jsonl"
    empty.write_text("", encoding="utf-8")
    assert main(["model", "train", "--data", str(empty), "--out", str(tmp_path / "m")]) == 2
    assert "no training lines" in capsys.readouterr().err


def test_explain_with_a_missing_model_says_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "event_id": "e1",
                "occurred_at": "2026-12-01T10:00:00Z",
                "channel": "email",
                "customer": {"id": "c1"},
                "text": "the courier was rude",
            }
        ),
        encoding="utf-8",
    )
    assert main(["explain", str(event), "--model", str(tmp_path / "none")]) == 2
    assert "sentiment.bin" in capsys.readouterr().err
