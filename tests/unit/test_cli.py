"""The command line without a broker: explain, rules check, schemas export."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from service.cli import main
from service.rules.model import default_rules_text

EVENT = {
    "event_id": "cli-1",
    "occurred_at": "2026-11-22T10:00:00+02:00",
    "channel": "social_media",
    "customer": {"id": "c-9", "tier": "enterprise"},
    "text": "Θα ακυρώσω τη συνδρομή μου!!!",
}


def test_explain_prints_every_rule_with_its_evidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(EVENT, ensure_ascii=False), encoding="utf-8")
    assert main(["explain", str(path)]) == 0
    out = capsys.readouterr().out
    assert "priority P1" in out
    assert "text.churn_intent" in out
    assert "churn: θα ακυρωσω" in out or "churn: ακυρωσω" in out
    assert "key_account.at_risk" in out
    assert "due 2026-11-22T08:10:00.000Z" in out


def test_explain_reads_stdin_and_prints_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(json.dumps(EVENT).encode())))
    assert main(["explain", "--json"]) == 0
    ticket = json.loads(capsys.readouterr().out)
    assert ticket["priority"] == "P1"
    assert ticket["management_attention"] is True


def test_explain_names_the_dead_letter_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**EVENT, "nps_score": 11}))
    assert main(["explain", str(path)]) == 1
    assert "out_of_range" in capsys.readouterr().err


def test_rules_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "rules.yaml"
    good.write_text(default_rules_text(), encoding="utf-8")
    assert main(["rules", "check", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(default_rules_text().replace("text: [legal]", "text: [lawyers]"), "utf-8")
    assert main(["rules", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "text.legal_threat" in err
    assert "lawyers" in err


def test_explain_takes_the_target_from_the_policy_and_warns_on_sla_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: fast-2\ntarget_seconds: {P1: 90}\n", encoding="utf-8")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(EVENT), encoding="utf-8")
    old_rules = tmp_path / "rules.yaml"
    old_rules.write_text(
        default_rules_text() + "\nsla_seconds: {P1: 600, P2: 3600, P3: 28800, P4: 172800}\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("TRIAGE_SLA_POLICY_PATH", raising=False)
    args = ["explain", str(event), "--json", "--policy", str(policy), "--rules", str(old_rules)]
    assert main(args) == 0
    out = capsys.readouterr()
    ticket = json.loads(out.out)
    assert ticket["priority"] == "P1"
    assert ticket["sla"]["target_seconds"] == 90
    assert ticket["sla"]["policy_id"] == "fast-2"
    assert "sla_seconds is deprecated and ignored" in out.err
    assert "P1 600 s -> 90 s" in out.err
    assert main(["rules", "check", str(old_rules)]) == 0
    assert "sla_seconds is deprecated and ignored" in capsys.readouterr().err


def test_schemas_export_writes_every_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schemas", "export", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "dead-letter.schema.json",
        "escalation.schema.json",
        "feedback-event.schema.json",
        "ticket-activity.schema.json",
        "ticket.schema.json",
    ]
    feedback = json.loads((tmp_path / "feedback-event.schema.json").read_text())
    assert set(feedback["required"]) >= {"event_id", "occurred_at", "channel", "customer", "text"}
