"""The default rules agree with a support lead's judgement on the labelled set.

``tests/data/labelled_events.jsonl`` (built by ``tests/data/build_labelled.py`` from
hand-written messages labelled by ``tests/data/RUBRIC.md``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from service.rules import RuleEngine, load_default_rules
from service.rules.evaluate import Report, evaluate, format_report, load_labelled

DATA = Path(__file__).parents[1] / "data" / "labelled_events.jsonl"
DEEP = ("en", "el", "zh", "ru", "fi")


@pytest.fixture(scope="module")
def report() -> Report:
    return evaluate(RuleEngine(load_default_rules()), load_labelled(DATA))


def test_the_labelled_set_is_large_and_varied() -> None:
    lines = load_labelled(DATA)
    assert len(lines) >= 400
    langs = [line["lang"] for line in lines]
    for lang in DEEP:
        assert langs.count(lang) >= 50, lang
    for lang in ("es", "de", "fr", "pt"):
        assert langs.count(lang) >= 5, lang
    events = [line["event"] for line in lines]
    assert {e["channel"] for e in events} >= {
        "nps_survey", "review", "email", "chat", "phone", "social_media", "in_app", "app_store", "forum",
    }  # fmt: skip
    assert {e["customer"].get("tier") for e in events} >= {
        "free",
        "standard",
        "premium",
        "enterprise",
    }
    assert {e["customer"].get("lifecycle_stage") for e in events} >= {
        "trial", "onboarding", "active", "renewal", "churned",
    }  # fmt: skip
    assert sum(1 for e in events if not e["text"]) >= 30  # bare scores
    assert {line["expected"] for line in lines} == {"P1", "P2", "P3", "P4"}


def test_agreement_overall(report: Report) -> None:
    assert report.agreement >= 0.95, format_report(report)


@pytest.mark.parametrize("lang", DEEP)
def test_agreement_per_deep_language(report: Report, lang: str) -> None:
    assert report.language_agreement(lang) >= 0.85, format_report(report)


def test_no_severe_confusions(report: Report) -> None:
    assert report.severe_confusions() == 0, format_report(report)


def test_cli_rules_test(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from service.cli import main

    assert main(["rules", "test", str(DATA), "--max-disagreements", "2"]) == 0
    out = capsys.readouterr().out
    assert "agreement" in out
    assert "expected \\ got" in out
    assert main(["rules", "test", str(DATA), "--min-agreement", "1.01"]) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event": {}, "expected": "P9"}\n', encoding="utf-8")
    assert main(["rules", "test", str(bad)]) == 2
    assert "expected must be one of" in capsys.readouterr().err
