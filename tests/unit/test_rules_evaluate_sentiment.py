"""Sentiment lines in ``triage rules test``: balanced accuracy and neutral share.

The lines go through the real default rules; their two texts have outcomes the
lexicons make certain (a legal threat is P1, plain thanks are P4), so every share
below is known exactly. Labels are paired with both texts on purpose, to make hits
and misses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.rules import RuleEngine, load_default_rules
from service.rules.evaluate import (
    LabelledFileError,
    Report,
    SentimentTally,
    evaluate,
    failures,
    format_report,
    load_labelled,
    passes,
)

THREAT = "I will sue you, my lawyer is ready"  # → P1
THANKS = "Thank you, great service, love it"  # → P4


def line(n: int, text: str, sentiment: str, **extra: Any) -> dict[str, Any]:
    event = {
        "event_id": f"s-{n}",
        "occurred_at": "2025-01-15T12:00:00+00:00",
        "channel": "email",
        "customer": {"id": f"c-{n}"},
        "text": text,
    }
    return {"event": event, "sentiment": sentiment, **extra}


LINES = [
    # en / a: neg 1 of 2 urgent, pos 2 of 3 calm, neu 1 of 2 kept
    line(1, THREAT, "neg", lang="en", source="a"),
    line(2, THANKS, "neg", lang="en", source="a"),
    line(3, THANKS, "pos", lang="en", source="a"),
    line(4, THREAT, "pos", lang="en", source="a"),
    line(5, THANKS, "pos", lang="en", source="a"),
    line(6, THANKS, "neu", lang="en", source="a"),
    line(7, THREAT, "neu", lang="en", source="a"),
    # en / b: one neg, urgent
    line(8, THREAT, "neg", lang="en", source="b"),
    # de / a: one pos, calm; one neu, not kept
    line(9, THANKS, "pos", lang="de", source="a"),
    line(10, THREAT, "neu", lang="de", source="a"),
]


@pytest.fixture(scope="module")
def engine() -> RuleEngine:
    return RuleEngine(load_default_rules())


@pytest.fixture(scope="module")
def report(engine: RuleEngine) -> Report:
    return evaluate(engine, LINES)


def write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(obj) + "\n" for obj in lines), encoding="utf-8")
    return path


def test_the_texts_end_where_the_tests_assume(engine: RuleEngine) -> None:
    from schemas.feedback import FeedbackEvent

    for text, priority in ((THREAT, "P1"), (THANKS, "P4")):
        event = FeedbackEvent.model_validate(line(0, text, "neu")["event"])
        assert engine.assess(event).priority.value == priority


def test_per_source_counts_and_shares(report: Report) -> None:
    a = report.sentiment.by_source[("en", "a")]
    assert (a.neg, a.neg_urgent, a.neu, a.neu_calm, a.pos, a.pos_calm) == (2, 1, 2, 1, 3, 2)
    assert a.balanced_accuracy == pytest.approx((1 / 2 + 2 / 3) / 2, abs=1e-12)
    assert a.neutral_kept == 0.5
    b = report.sentiment.by_source[("en", "b")]
    assert (b.balanced_accuracy, b.neutral_kept) == (1.0, None)  # neg only, no neu
    de = report.sentiment.by_source[("de", "a")]
    assert (de.balanced_accuracy, de.neutral_kept) == (1.0, 0.0)


def test_per_language_shares_and_worst_language(report: Report) -> None:
    en = report.sentiment.by_language["en"]
    assert (en.neg, en.neg_urgent, en.pos, en.pos_calm) == (3, 2, 3, 2)
    assert en.balanced_accuracy == pytest.approx(2 / 3, abs=1e-12)
    assert report.sentiment.by_language["de"].balanced_accuracy == 1.0
    worst = report.sentiment.worst_language()
    assert worst is not None
    assert worst[0] == "en"
    assert worst[1] == pytest.approx(2 / 3, abs=1e-12)
    assert report.sentiment.total == len(LINES)
    assert report.total == 0  # no priority line


def test_balanced_accuracy_bar_uses_the_worst_language(report: Report) -> None:
    assert passes(report, 0.9)  # the priority bar: no priority lines to hold to it
    assert passes(report, 0.9, 0.66)
    assert not passes(report, 0.9, 0.67)
    assert failures(report, 0.9, 0.67) == ["balanced accuracy of en 0.667 is below 0.670"]


def test_empty_tally_has_no_shares() -> None:
    tally = SentimentTally()
    assert (tally.balanced_accuracy, tally.neutral_kept) == (None, None)
    tally.add("neu", "P2")
    assert (tally.balanced_accuracy, tally.neutral_kept) == (None, 0.0)


def test_language_and_source_default_to_detected_and_dash(engine: RuleEngine) -> None:
    report = evaluate(engine, [line(1, THREAT, "neg"), line(2, THANKS, "pos")])
    assert list(report.sentiment.by_source) == [("en", "-")]
    assert report.sentiment.by_language["en"].balanced_accuracy == 1.0


def test_mixed_file_keeps_the_priority_report(engine: RuleEngine) -> None:
    both = {**line(11, THREAT, "neg", lang="en", source="c"), "expected": "P2"}
    priority = {k: v for k, v in line(12, THANKS, "pos").items() if k != "sentiment"}
    report = evaluate(engine, [both, {**priority, "expected": "P4"}])
    assert (report.total, report.agreed) == (2, 1)
    assert report.sentiment.total == 1
    text = format_report(report)
    assert text.startswith("agreement 50.0% (1/2)")
    assert "expected \\ got" in text
    assert "worst language balanced accuracy: en 1.000" in text


def test_sentiment_only_report_has_no_priority_section(report: Report) -> None:
    text = format_report(report)
    assert "expected \\ got" not in text
    assert text.startswith("sentiment lines: 10")
    assert "en        a                                    2     2     3    0.583     0.500" in text
    assert "worst language balanced accuracy: en 0.667" in text


def test_load_labelled_checks_sentiment_lines(tmp_path: Path) -> None:
    good = write(tmp_path / "good.jsonl", LINES[:2])
    assert [obj["_line"] for obj in load_labelled(good)] == [1, 2]
    bad = write(tmp_path / "bad.jsonl", [line(1, THANKS, "happy")])
    with pytest.raises(LabelledFileError, match="sentiment must be one of"):
        load_labelled(bad)
    unlabelled = write(tmp_path / "none.jsonl", [{"event": LINES[0]["event"]}])
    with pytest.raises(LabelledFileError, match="needs"):
        load_labelled(unlabelled)


def test_cli_sentiment_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from service.cli import main

    path = write(tmp_path / "s.jsonl", LINES)
    assert main(["rules", "test", str(path)]) == 0
    assert "bal acc" in capsys.readouterr().out
    assert main(["rules", "test", str(path), "--min-balanced-accuracy", "0.7"]) == 1
    assert "balanced accuracy of en 0.667 is below 0.700" in capsys.readouterr().err


def test_cli_model_that_does_not_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from service.cli import main

    path = write(tmp_path / "s.jsonl", LINES)
    assert main(["rules", "test", "--model", str(tmp_path / "nowhere"), str(path)]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_cli_two_models_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.cli import main
    from service.rules import evaluate as evaluate_module
    from service.sentiment.model import default_model

    loaded: list[str] = []

    def fake_load(value: str) -> Any:
        loaded.append(value)
        return default_model()

    monkeypatch.setattr(evaluate_module, "load_model", fake_load)
    priority = {k: v for k, v in line(12, THANKS, "pos").items() if k != "sentiment"}
    path = write(tmp_path / "s.jsonl", [*LINES, {**priority, "expected": "P4"}])
    argv = ["rules", "test", "--model", "alpha", "--model", "beta", str(path)]
    assert main([*argv, "--min-balanced-accuracy", "0.7"]) == 1
    out, err = capsys.readouterr()
    assert loaded == ["alpha", "beta"]
    header = next(row for row in out.splitlines() if "alpha" in row and "beta" in row)
    assert header.index("alpha") < header.index("beta")
    row = next(row for row in out.splitlines() if row.startswith("en        a "))
    assert row.count("0.583     0.500") == 2  # one block per model, on one row
    assert "severe confusions" in out
    assert "FAIL: alpha: balanced accuracy" in err
    assert "FAIL: beta: balanced accuracy" in err
