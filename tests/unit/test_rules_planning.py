"""Planning takes shortcuts: a rule's condition runs only when its guards are met (see
``conditions.guards``), and common condition shapes compile to specialised closures. This
checks the rules that fire against a plain interpreter of the rule file that tries every
rule, in file order, on events of every language with every kind of score and customer."""

from __future__ import annotations

import itertools
from typing import Any

from schemas.feedback import FeedbackEvent
from service.rules import RuleEngine, load_default_rules
from service.rules.conditions import _score_classes
from service.rules.facts import SHOUTING_THRESHOLD, Facts
from service.rules.model import Condition, Range
from tests.data.labelled_source import DEEP, HELDOUT, OTHER


def _in(rng: Range, value: float | None) -> bool:
    if value is None:
        return False
    lo = rng.min if rng.min is not None else float("-inf")
    hi = rng.max if rng.max is not None else float("inf")
    return lo <= value <= hi


def ref_holds(cond: Condition, f: Facts) -> bool:
    """Every key of ``cond`` holds, read straight from the rule-file model."""
    sig = f.signals
    for key in cond.model_fields_set:
        value = getattr(cond, key)
        if key in ("nps", "rating"):
            ok = _in(value, f.nps if key == "nps" else f.rating)
        elif key == "negativity":
            ok = _in(value, f.negativity)
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
            ok = all(ref in f.fired for ref in value)
        elif key == "any":
            ok = any(ref_holds(c, f) for c in value)
        elif key == "all":
            ok = all(ref_holds(c, f) for c in value)
        elif key == "not_":
            ok = not ref_holds(value, f)
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


def test_planned_rules_are_those_every_rule_tried_in_order_gives() -> None:
    engine = RuleEngine(load_default_rules())
    rules = engine.rules.rules
    for event, related in events():
        engine._plans.clear()
        fired = [r.rule_id for r in engine.assess(event, related).reasons]
        facts = engine.facts(event, related)
        expected = []
        for rule in rules:
            if ref_holds(rule.when, facts):
                expected.append(rule.id)
                facts.fired.add(rule.id)
        assert fired == expected, event.text


def test_a_reused_plan_decides_as_a_fresh_one() -> None:
    """Plans are keyed by a signature coarsened to what the rule set names (a channel,
    tier, stage or language no condition names counts as none): an engine that reuses
    its plans across channels, tiers and languages decides every event exactly as one
    that plans each event afresh."""
    reusing = RuleEngine(load_default_rules())
    fresh = RuleEngine(load_default_rules())
    channels = ["email", "chat", "phone", "review", "social_media", "in_app", "app_store"]
    languages = [None, "en", "el", "fi", "zh", "pt-BR"]
    for i, (event, related) in enumerate(events()):
        variant = event.model_copy(
            update={"channel": channels[i % len(channels)], "language": languages[i % 6]}
        )
        fresh._plans.clear()
        got, want = reusing.assess(variant, related), fresh.assess(variant, related)
        assert got == want, variant.text


def test_channels_and_languages_no_rule_names_share_a_plan() -> None:
    engine = RuleEngine(load_default_rules())
    named = {c for rule in engine.rules.rules for c in _named_channels(rule.when)}
    unnamed = [c for c in ("email", "chat", "phone", "sms", "in_app", "forum") if c not in named]
    assert len(unnamed) >= 3
    # the shipped rules name the languages of the text model's thresholds, not these
    base = events()[0][0].model_copy(update={"text": "Where do I change my invoice address?"})
    for channel in unnamed:
        for language in ("ja", "ko", "it", "nl"):
            engine.assess(base.model_copy(update={"channel": channel, "language": language}))
    assert len(engine._plans) == 1


def _named_channels(cond: Condition) -> set[str]:
    found = set(cond.channel or ())
    for sub in [*(cond.any or ()), *(cond.all or ()), *([cond.not_] if cond.not_ else [])]:
        found |= _named_channels(sub)
    return found


def test_scores_of_one_class_share_a_plan_and_keep_their_own_evidence() -> None:
    """The signature holds a score's class (which of the rule set's ranges contain it),
    not the score: every NPS and rating, reusing plans, decides and explains exactly as
    planning afresh, and the evidence names each event's own score."""
    reusing = RuleEngine(load_default_rules())
    fresh = RuleEngine(load_default_rules())
    variants: list[dict[str, Any]] = [
        *({"nps_score": n, "rating": None} for n in range(11)),
        *({"nps_score": None, "rating": n} for n in range(1, 6)),
    ]
    for event, related in events()[::5]:
        for update in variants:
            variant = event.model_copy(update=update)
            fresh._plans.clear()
            got, want = reusing.assess(variant, related), fresh.assess(variant, related)
            assert got == want, (variant.text, update)
    score = {"nps_score": 2}
    two = reusing.assess(events()[0][0].model_copy(update=score))
    evidence = [e for r in two.reasons for e in r.evidence if e.startswith("nps_score=")]
    assert evidence
    assert set(evidence) == {"nps_score=2"}


def test_a_survey_mailing_reuses_one_plan_per_score_class() -> None:
    """Eleven NPS answers with the same comment: the shipped rules compare NPS with
    0–3, 0–6, 7–8 and 9–10, so the answers fall into four classes and need four plans."""
    engine = RuleEngine(load_default_rules())
    base = events()[0][0]
    for n in range(11):
        engine.assess(base.model_copy(update={"nps_score": n, "rating": None}))
    assert len(engine._plans) == 4


def test_a_score_class_is_the_ranges_that_contain_the_score() -> None:
    """``_score_classes``: one bit per distinct range, set when ``Range.contains`` the
    score (bounds included, an open end unbounded), remembered or not."""
    ranges = [Range(min=0, max=3), Range(max=6), Range(min=0.5), Range(min=7, max=8)]
    ranges.append(Range(min=0, max=3))  # repeated: one bit
    values = [-1.0, 0.0, 0.25, 0.5, 2.999, 3.0, 3.001, 6.0, 6.5, 7.0, 8.0, 8.5, 10.0]
    for cache in (True, False):
        classify = _score_classes(ranges, cache=cache)
        for value in values:
            want = sum(1 << i for i, r in enumerate(ranges[:4]) if r.contains(value))
            assert classify(value) == want, (value, cache)
