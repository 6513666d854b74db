"""The demo's sample events are valid, varied, and exercise every priority."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.common import Channel, Priority
from schemas.feedback import FeedbackEvent
from service.demo.runner import DEMO_AGE_SCALE, bad_events, load_samples, outgoing, sample_to_event
from service.prioritizer.decode import DecodeFailure, DecodeLimits, decode_feedback
from service.rules.engine import RuleEngine
from service.rules.model import load_default_rules

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LANGUAGES = {"en", "el", "zh", "ru", "fi"}


@pytest.fixture(scope="module")
def samples() -> list[dict[str, Any]]:
    return load_samples()


@pytest.fixture(scope="module")
def events(samples: list[dict[str, Any]]) -> list[FeedbackEvent]:
    return [FeedbackEvent.model_validate(sample_to_event(s, NOW)) for s in samples]


def test_every_sample_is_a_valid_feedback_event(samples: list[dict[str, Any]]) -> None:
    assert 40 <= len(samples) <= 50
    for sample in samples:
        age = sample["age_seconds"]
        assert isinstance(age, int | float)
        assert 0 <= age <= 900
        event = FeedbackEvent.model_validate(sample_to_event(sample, NOW))
        assert "age_seconds" not in event.model_dump()
        assert (NOW - event.occurred_at).total_seconds() == pytest.approx(
            age * DEMO_AGE_SCALE, abs=0.002
        )


def test_event_ids_are_unique(events: list[FeedbackEvent]) -> None:
    ids = [e.event_id for e in events]
    assert len(ids) == len(set(ids))


def test_all_languages_and_channels_are_present(events: list[FeedbackEvent]) -> None:
    engine = RuleEngine(load_default_rules())
    languages = Counter(engine.assess(e).language for e in events)
    for lang in LANGUAGES:
        assert languages[lang] >= 6, languages
    assert {e.channel for e in events} >= {c.value for c in Channel}
    assert {e.customer.tier for e in events if e.customer.tier} >= {
        "free",
        "standard",
        "premium",
        "enterprise",
    }
    stages = {e.customer.lifecycle_stage for e in events}
    assert stages >= {"trial", "onboarding", "active", "renewal"}
    assert any(e.nps_score is not None for e in events)
    assert any(e.rating is not None for e in events)
    assert any(not e.text for e in events), "a bare score without text"


def test_rules_give_every_priority(events: list[FeedbackEvent]) -> None:
    engine = RuleEngine(load_default_rules())
    priorities = Counter(engine.assess(e).priority for e in events)
    for p in Priority:
        assert priorities[p] >= 1, priorities


def test_nearly_due_p1_samples_exist(samples: list[dict[str, Any]]) -> None:
    engine = RuleEngine(load_default_rules())
    near = [
        s
        for s in samples
        if 540 <= s["age_seconds"] < 600
        and engine.assess(FeedbackEvent.model_validate(sample_to_event(s, NOW))).priority
        is Priority.P1
    ]
    assert len(near) >= 2


def test_bad_events_are_dead_lettered_and_all_outgoing_keys_are_customer_ids() -> None:
    limits = DecodeLimits()
    for bad in bad_events(NOW):
        with pytest.raises(DecodeFailure):
            decode_feedback(bad.value(NOW), limits, NOW)
    records = outgoing(NOW)
    good = [r for r in records if r.sample is not None]
    for record in good:
        event = decode_feedback(record.value(NOW), limits, NOW)
        assert record.key == event.customer.id.encode()
    assert len(records) == len(good) + 3
