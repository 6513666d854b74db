"""The rules that fire are those a plain interpreter of the rule file gives, trying every
rule in file order (``ref_holds``), on events of every language with every kind of score
and customer: a reference independent of both the native program
(``service/rules/_rules.pyx``) and the closures it replaced (``tests/oracle/``)."""

from __future__ import annotations

import itertools
from typing import Any

from schemas.feedback import FeedbackEvent
from service.rules import RuleEngine, load_default_rules
from service.rules.facts import SHOUTING_THRESHOLD, Facts
from service.rules.model import Condition, Range
from tests.data.labelled_source import DEEP, HELDOUT, OTHER
from tests.oracle.text_py import word_count


def _in(rng: Range, value: float | None) -> bool:
    if value is None:
        return False
    lo = rng.min if rng.min is not None else float("-inf")
    hi = rng.max if rng.max is not None else float("inf")
    return lo <= value <= hi


def ref_holds(cond: Condition, f: Facts, fired: set[str]) -> bool:
    """Every key of ``cond`` holds, read straight from the rule-file model (``fired``: the
    rules fired so far)."""
    sig = f.signals
    for key in cond.model_fields_set:
        value = getattr(cond, key)
        if key in ("nps", "rating"):
            ok = _in(value, f.nps if key == "nps" else f.rating)
        elif key == "negativity":
            ok = _in(value, f.negativity)
        elif key == "words":
            ok = _in(value, word_count(sig.spaced))
        elif key in ("channel", "tier", "language"):
            ok = getattr(f, key) in value
        elif key == "lifecycle_stage":
            ok = f.stage in value
        elif key == "text":
            ok = any(sig.hits.get(name) for name in value)
        elif key == "stated":
            ok = any(name in sig.stated for name in value)
        elif key == "hedged":
            ok = any(name in sig.hedged and name not in sig.stated for name in value)
        elif key == "intensified":
            ok = any(sig.intensified.get(name) for name in value)
        elif key == "text_empty":
            ok = f.text_empty == value
        elif key == "has_score":
            ok = (f.nps is not None or f.rating is not None) == value
        elif key == "shouting":
            ok = (f.shouting >= SHOUTING_THRESHOLD) == value
        elif key == "angry_punctuation":
            ok = bool(f.punctuation) == value
        elif key == "repeat_contact":
            ok = bool(f.related) == value
        elif key == "fired":
            ok = all(ref in fired for ref in value)
        elif key == "any":
            ok = any(ref_holds(c, f, fired) for c in value)
        elif key == "all":
            ok = all(ref_holds(c, f, fired) for c in value)
        elif key == "not_":
            ok = not ref_holds(value, f, fired)
        else:  # pragma: no cover
            raise AssertionError(key)
        if not ok:
            return False
    return True


def events() -> list[tuple[FeedbackEvent, list[str]]]:
    texts = [
        row[0] for rows in [*DEEP.values(), *OTHER.values(), *HELDOUT.values()] for row in rows
    ]
    scores: list[dict[str, Any]] = [
        *({"nps_score": n} for n in (2, 8, 10)),
        {},
        *({"rating": n} for n in (1, 3, 5)),
    ]
    customers = [
        {"tier": "enterprise", "lifecycle_stage": "renewal"},
        {"tier": "premium", "lifecycle_stage": "trial"},
        {"tier": "standard"},
    ]
    channels = ["email", "review", "app_store"]
    out = []
    combos = itertools.cycle(itertools.product(scores, customers, channels, [[], ["t-1"]]))
    for i, (text, (score, customer, channel, related)) in enumerate(
        zip([*texts, *[""] * 7, *(t.upper() for t in texts[::7])], combos, strict=False)
    ):
        data: dict[str, Any] = {
            "event_id": f"e-{i}",
            "occurred_at": "2026-03-02T09:15:00+02:00",
            "channel": channel,
            "customer": {"id": "c-1", **customer},
            "text": text,
            **score,
        }
        out.append((FeedbackEvent.model_validate(data), related))
    return out


def test_fired_rules_are_those_every_rule_tried_in_order_gives() -> None:
    engine = RuleEngine(load_default_rules())
    rules = engine.rules.rules
    seen: set[str] = set()
    for event, related in events():
        fired = [r["rule_id"] for r in engine.assess(event, related).reason_fields]
        facts = engine.facts(event, related)
        expected: list[str] = []
        for rule in rules:
            if ref_holds(rule.when, facts, set(expected)):
                expected.append(rule.id)
        assert fired == expected, event.text
        seen.update(fired)
    assert len(seen) > len(rules) // 2  # most rules fired somewhere


def test_scores_keep_their_own_evidence() -> None:
    """Every NPS and rating decides as the ranges say and the evidence names each
    event's own score."""
    engine = RuleEngine(load_default_rules())
    base = events()[0][0]
    for n in range(11):
        got = engine.assess(base.model_copy(update={"nps_score": n, "rating": None}))
        evidence = [e for r in got.reasons for e in r.evidence if e.startswith("nps_score=")]
        assert set(evidence) <= {f"nps_score={n}"}
        assert evidence, n  # the shipped NPS ranges cover 0–10
