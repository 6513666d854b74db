"""The ``negativity`` condition: the text model's P(neg) as a fact the rules read."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.common import Priority
from schemas.feedback import FeedbackEvent
from service.rules import RuleEngine, load_default_rules
from service.rules.model import RuleSet, parse_rules


class FakeModel:
    """Negativity by a fixed table of prepared texts (what the engine hands the model),
    ``default`` for any other text; ``calls``: the texts it was asked about, and
    ``explained``: the texts it was asked to explain."""

    def __init__(self, scores: dict[str, float], default: float = 0.0) -> None:
        self.scores = scores
        self.default = default
        self.calls: list[str] = []
        self.explained: list[str] = []

    def negativity(self, prepared: str) -> float:
        self.calls.append(prepared)
        return self.scores.get(prepared, self.default)

    def explain(self, prepared: str, limit: int = 3) -> list[tuple[str, float]]:
        self.explained.append(prepared)
        return [(word, 0.1) for word in prepared.split()[:limit]]


RULES = """
version: t
priorities: [{priority: P2, min_severity: 50}, {priority: P4, min_severity: 0}]
sla_seconds: {P1: 600, P2: 3600, P3: 28800, P4: 172800}
rules:
  - id: negative
    when: {negativity: {min: 0.8}}
    weight: 50
  - id: de.only
    when: {language: [de], negativity: {min: 0.5, max: 0.79}}
    weight: 50
"""


def _event(text: str, **extra: Any) -> FeedbackEvent:
    data = {
        "event_id": f"e-{abs(hash(text))}",
        "occurred_at": "2026-12-01T10:00:00Z",
        "channel": "email",
        "customer": {"id": "c1"},
        "text": text,
        **extra,
    }
    return FeedbackEvent.model_validate(data)


def test_negativity_fires_at_its_threshold_and_explains_the_words() -> None:
    model = FakeModel({"bad bad": 0.9, "meh": 0.5})
    engine = RuleEngine(parse_rules(RULES), text_model=model)
    a = engine.assess(_event("bad bad", language="en"))
    assert a.priority is Priority.P2
    assert [r.rule_id for r in a.reasons] == ["negative"]
    assert a.reasons[0].evidence == ["negativity 0.90 (bad 0.10, bad 0.10)"]
    assert engine.assess(_event("meh", language="en")).priority is Priority.P4
    # a language-scoped threshold: the same score fires for German only
    assert engine.assess(_event("meh", language="de")).priority is Priority.P2


def test_scores_that_fire_the_same_rules_keep_their_own_evidence() -> None:
    model = FakeModel({"one": 0.91, "two": 0.97})
    engine = RuleEngine(parse_rules(RULES), text_model=model)
    first = engine.assess(_event("one", language="en"))
    second = engine.assess(_event("two", language="en"))
    assert first.reasons[0].evidence == ["negativity 0.91 (one 0.10)"]
    assert second.reasons[0].evidence == ["negativity 0.97 (two 0.10)"]


def test_rules_that_fire_on_the_negativity_share_one_explanation() -> None:
    """``Facts.negativity_words``: the model explains a text once, however many of the
    rules that fired show its words."""
    rules = RULES + "  - {id: strong, when: {fired: [negative], negativity: {min: 0.85}}}\n"
    model = FakeModel({"bad bad": 0.9})
    engine = RuleEngine(parse_rules(rules), text_model=model)
    a = engine.assess(_event("bad bad", language="en"))
    assert [r.rule_id for r in a.reasons] == ["negative", "strong"]
    evidence = "negativity 0.90 (bad 0.10, bad 0.10)"
    assert a.reasons[0].evidence == [evidence]
    assert a.reasons[1].evidence == ["after negative", evidence]
    assert model.explained == ["bad bad"]
    engine.assess(_event("bad bad", language="en"))
    assert model.explained == ["bad bad"] * 2  # kept per event, not across events


def test_no_text_no_negativity_and_no_call() -> None:
    model = FakeModel({})
    engine = RuleEngine(parse_rules(RULES), text_model=model)
    assert engine.assess(_event("", nps_score=5)).reasons == []
    assert model.calls == []


def test_rules_without_negativity_load_no_model() -> None:
    rules = parse_rules(RULES.split("  - id: negative")[0] + "  - {id: x, when: {nps: {max: 3}}}\n")
    assert RuleEngine(rules).text_model is None
    assert RuleEngine(load_default_rules()).text_model is not None


#: Rules whose outcome depends on the negativity only for some events (rule 1 of
#: ``service/rules/_rules.pyx``): the model runs only for those. ``_lazy_rules`` joins
#: the head and the rules named.
_HEAD = """
version: t
priorities: [{priority: P2, min_severity: 50}, {priority: P4, min_severity: 0}]
lexicons:
  refund: {en: [refund]}
  thanks: {en: [thanks]}
rules:
"""
_RULES = {
    # a lexicon rule, and a model rule that it decides (its ``not``)
    "refund": "  - {id: refund, when: {text: [refund]}, weight: 50}\n",
    "model.negative": (
        "  - id: model.negative\n"
        "    when: {negativity: {min: 0.8}, not: {fired: [refund]}}\n"
        "    weight: 50\n"
    ),
    # an ``any`` whose first alternative waits on the model
    "first.reason": (
        "  - id: first.reason\n"
        "    when: {any: [{negativity: {min: 0.5}}, {text: [thanks]}]}\n"
        "    weight: 0\n"
    ),
    # the model's reading of a short text: the words are the cheaper fact, read first
    "short.negative": (
        "  - id: short.negative\n"
        "    when: {negativity: {min: 0.5}, words: {max: 2}}\n"
        "    weight: 50\n"
    ),
    # a rule on the words that its lexicon decides first for most texts
    "thanks.short": "  - {id: thanks.short, when: {text: [thanks], words: {max: 2}}}\n",
    # an ``any`` true after an unknown alternative, but under a ``not``
    "either": (
        "  - id: either\n"
        "    when:\n"
        "      any:\n"
        "        - not: {any: [{negativity: {max: 0.1}}, {text: [refund]}]}\n"
        "        - {text: [thanks]}\n"
        "    weight: 0\n"
    ),
}


def _lazy_rules(*names: str) -> RuleSet:
    return parse_rules(_HEAD + "".join(_RULES[name] for name in names))


def test_the_model_runs_only_when_a_rule_depends_on_it() -> None:
    model = FakeModel({"refund now": 0.9, "bad bad": 0.9})
    engine = RuleEngine(_lazy_rules("refund", "model.negative"), text_model=model)
    # the refund rule decides: model.negative is false whatever the model would say
    decided = engine.assess(_event("refund now", language="en"))
    assert [r.rule_id for r in decided.reasons] == ["refund"]
    assert model.calls == []
    # nothing else decides: the model is asked once
    heard = engine.assess(_event("bad bad", language="en"))
    assert [r.rule_id for r in heard.reasons] == ["model.negative"]
    assert model.calls == ["bad bad"]


@pytest.mark.parametrize(
    ("score", "evidence"), [(0.9, ["negativity 0.90 (thanks 0.10)"]), (0.1, ["thanks: thanks"])]
)
def test_an_any_that_waits_on_the_model_explains_its_first_alternative(
    score: float, evidence: list[str]
) -> None:
    """``thanks`` alone would make the ``any`` true, but its first alternative is the
    negativity: the program reads it, so the evidence is the first that held (the rule
    alone: no other rule has read the negativity before it)."""
    model = FakeModel({"thanks": score})
    engine = RuleEngine(_lazy_rules("first.reason"), text_model=model)
    [reason] = engine.assess(_event("thanks", language="en")).reasons
    assert (reason.rule_id, reason.evidence) == ("first.reason", evidence)
    assert model.calls == ["thanks"]


def test_a_choice_under_a_not_does_not_run_the_model() -> None:
    """A ``not`` explains nothing: an ``any`` under it that is true after an unknown
    alternative leaves no choice to make exact."""
    model = FakeModel({})
    engine = RuleEngine(_lazy_rules("either"), text_model=model)
    [reason] = engine.assess(_event("refund thanks", language="en")).reasons
    assert (reason.rule_id, reason.evidence) == ("either", ["thanks: thanks"])
    assert model.calls == []


def test_an_error_of_the_model_is_raised_not_read_as_no_score() -> None:
    class Broken(FakeModel):
        def negativity(self, prepared: str) -> float:
            raise RuntimeError("model failed")

    engine = RuleEngine(_lazy_rules("refund", "model.negative"), text_model=Broken({}))
    with pytest.raises(RuntimeError, match="model failed"):
        engine.assess(_event("bad bad", language="en"))
    # an event the other rules decide never asks it
    assert [r.rule_id for r in engine.assess(_event("refund", language="en")).reasons] == ["refund"]


SHIPPED = RuleEngine(load_default_rules())


@pytest.mark.parametrize(
    ("text", "channel", "expected", "rule"),
    [
        # data loss: the rubric's P1 (safety), an explicit lexicon trigger with its words
        (
            "Your app deleted all my customer records after the update. I've lost a week of data!",
            "email",
            Priority.P1,
            "text.safety",
        ),
        # an angry tweet at a company: angry in public is the rubric's P1
        (
            "@united is 4:30am and I am in the customer service line trying not to "
            "scream. #epicfailunited",
            "social_media",
            Priority.P1,
            "channel.public.angry_detractor",
        ),
        # a complaint no lexicon lists: the model hears it, a bad review in words (P2)
        (
            "The food was cold and the courier was rude to me",
            "email",
            Priority.P2,
            "model.negative",
        ),
        # a bank customer who cannot withdraw money abroad and swears: angry, private: P2
        (
            "Третий день не могу снять деньги за границей, карта заблокирована, "
            "какого хрена вы творите?",
            "email",
            Priority.P2,
            None,
        ),
    ],
)
def test_real_complaints_reach_the_rubric_priority(
    text: str, channel: str, expected: Priority, rule: str | None
) -> None:
    a = SHIPPED.assess(_event(text, channel=channel))
    assert a.priority is expected, a.reasons
    if rule is not None:
        assert rule in [r.rule_id for r in a.reasons]


_SHORT_QUESTION = "Could you tell me how the new plan works for a team of our size?"
_LONG_REVIEW = (
    "We stayed four nights in the room at the end of the corridor and the view over the "
    "old town was the one thing we liked, the rest of the stay was another story, and can "
    "you tell me why the breakfast should end at nine?"
)


@pytest.mark.parametrize(
    ("text", "fires"),
    [(_SHORT_QUESTION, False), (_LONG_REVIEW, True)],
)
def test_the_model_speaks_to_a_long_review_that_asks_in_passing(text: str, fires: bool) -> None:
    """A question of under 30 words needs the model all but sure (above 0.9); a review of
    30 words or more that asks something in passing is read as any review is."""
    words = len(text.split())
    assert (words >= 30) is fires
    engine = RuleEngine(load_default_rules(), text_model=FakeModel({}, default=0.8))
    a = engine.assess(_event(text))
    fired = [r.rule_id for r in a.reasons]
    assert "text.question" in fired
    assert ("model.negative" in fired) is fires, fired
    assert (a.priority is Priority.P2) is fires, a.priority


def test_the_words_are_counted_first_and_only_for_a_rule_that_needs_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rule 1 of ``_rules.pyx``: the count of words is read on demand, before the model,
    so a long text decides ``short.negative`` without the model; a rule that its other
    test decides (``thanks.short`` on a text without thanks) does not count them."""
    from service.rules import _rules
    from service.rules._scan import word_count

    counted: list[str] = []

    def counting(spaced: str) -> int:
        counted.append(spaced)
        return word_count(spaced)

    monkeypatch.setattr(_rules, "_word_count", counting)
    model = FakeModel({"bad bad": 0.9, "this is bad bad": 0.9})
    engine = RuleEngine(_lazy_rules("refund", "short.negative"), text_model=model)
    assert [r.rule_id for r in engine.assess(_event("bad bad", language="en")).reasons] == [
        "short.negative"
    ]
    # counted by the program, and again by the fired rule's evidence (``Facts.words``)
    assert (len(counted), model.calls) == (2, ["bad bad"])
    long = engine.assess(_event("this is bad bad", language="en"))
    assert long.reasons == []
    assert (len(counted), model.calls) == (3, ["bad bad"])  # the words decided: no model
    engine = RuleEngine(_lazy_rules("refund", "thanks.short"), text_model=model)
    assert [r.rule_id for r in engine.assess(_event("refund", language="en")).reasons] == ["refund"]
    assert len(counted) == 3  # no thanks: the words were not needed
