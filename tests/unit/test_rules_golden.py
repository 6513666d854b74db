"""Speed work on the rule engine must not change a single decision.

``tests/data/golden_assessments.jsonl`` holds, for every event of the labelled set and of
the demo samples (plus variants of the labelled texts: upper-cased, two messages joined,
no publisher language, a subject line), what the engine decided: priority, severity,
category, language, the fired rule ids with their evidence, the actions, and the debug
reasons (negated / hedged / intensified words). It was generated from the engine before
the matcher and engine were optimised; the test asserts the engine still decides
byte-identically.

Regenerate (only when a decision is *meant* to change, e.g. a rule-file edit):
``python -m tests.unit.test_rules_golden``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.feedback import FeedbackEvent
from service.demo.runner import load_samples, sample_to_event
from service.rules import RuleEngine, load_default_rules
from service.rules.evaluate import load_labelled
from service.sla.policy import load_policy

DATA = Path(__file__).parents[1] / "data"
POLICY = load_policy()
GOLDEN = DATA / "golden_assessments.jsonl"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def cases() -> Iterator[tuple[str, dict[str, Any], list[str]]]:
    """(case id, event data, related ticket ids), in a fixed order."""
    lines = load_labelled(DATA / "labelled_events.jsonl")
    for obj in lines:
        ev = obj["event"]
        yield ev["event_id"], ev, [str(r) for r in obj.get("related_ticket_ids", [])]
    for sample in load_samples():
        yield sample["event_id"], sample_to_event(sample, NOW), []
    texts = [obj["event"] for obj in lines if obj["event"]["text"]]
    for i, ev in enumerate(texts):
        bare = {k: v for k, v in ev.items() if k != "language"}
        yield ev["event_id"] + "/nolang", bare, []
        yield ev["event_id"] + "/upper", {**bare, "text": ev["text"].upper()}, []
        nxt = texts[(i + 1) % len(texts)]["text"]
        yield ev["event_id"] + "/joined", {**bare, "text": ev["text"] + " " + nxt}, []
        yield (
            ev["event_id"] + "/subject",
            {**bare, "subject": texts[(i + 7) % len(texts)]["text"][:120]},
            [],
        )


def records(engine: RuleEngine) -> list[str]:
    out: list[str] = []
    for case, data, related in cases():
        event = FeedbackEvent.model_validate(data)
        a = engine.assess(event, related)
        d = engine.assess(event, related, debug=True)
        record = {
            "case": case,
            "priority": a.priority.value,
            "severity": a.severity,
            "category": a.category,
            "language": a.language,
            "rules": [r.rule_id for r in a.reasons],
            "evidence": [r.evidence for r in a.reasons],
            "actions": a.actions,
            "management_attention": a.management_attention,
            # the shipped SLA policy's target (no longer the rule set's): unchanged values
            "sla_seconds": POLICY.target_seconds[a.priority],
            "debug": [[r.rule_id, r.evidence] for r in d.reasons[len(a.reasons) :]],
        }
        out.append(json.dumps(record, ensure_ascii=False, sort_keys=True))
    return out


@pytest.fixture(scope="module")
def current() -> list[str]:
    return records(RuleEngine(load_default_rules()))


def test_golden_file_covers_labelled_and_demo_events() -> None:
    golden = GOLDEN.read_text(encoding="utf-8").splitlines()
    ids = {json.loads(line)["case"] for line in golden}
    assert len(ids) == len(golden)
    assert {"lab-en-000", "demo-001"} <= ids
    assert len(golden) >= 411 + 40


def test_decisions_are_identical_to_the_golden_file(current: list[str]) -> None:
    golden = GOLDEN.read_text(encoding="utf-8").splitlines()
    assert len(current) == len(golden)
    diffs = [(g, c) for g, c in zip(golden, current, strict=True) if g != c]
    assert not diffs, "\n".join(f"golden:  {g}\ncurrent: {c}" for g, c in diffs[:5])


if __name__ == "__main__":  # pragma: no cover - regeneration helper
    lines = records(RuleEngine(load_default_rules()))
    GOLDEN.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} records to {GOLDEN}")
