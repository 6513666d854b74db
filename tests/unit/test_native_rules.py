"""The compiled rule program (``service/rules/_rules.pyx``) decides exactly what the
Python closures it replaced decided (``tests/oracle/engine_py.py``, with its plans): the
same rules fire with the same evidence, and the same severity, priority, category,
actions and management attention follow — with the shipped rules and with a rule set
that uses every key of a condition, on the labelled events, on events of every language
with every kind of score and customer, on hypothesis-generated events and on the public
data's test lines (where present); and, on generated rule sets that nest any / all / not
over the negativity, that reading the negativity on demand decides as reading it first."""

from __future__ import annotations

import random
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.feedback import FeedbackEvent
from service.rules import RuleEngine, load_default_rules
from service.rules.model import RuleSet, default_rules_text, parse_rules
from service.sentiment.corpus import default_data_dir, read_split
from tests.oracle.engine_py import RuleEngine as OracleEngine
from tests.unit.test_rules_negativity import FakeModel
from tests.unit.test_rules_reference import events as varied_events

LABELLED = Path(__file__).resolve().parents[1] / "data" / "labelled_events.jsonl"

#: Rules that use every key of a condition, nested, with every kind of outcome, appended
#: to the shipped set (so that they can name its rules in ``fired``).
EVERY_KEY: list[dict[str, Any]] = [
    {
        "id": "x.stage",
        "when": {"lifecycle_stage": ["renewal", "trial"], "rating": {"min": 2, "max": 4}},
        "weight": 7,
        "max_priority": "P3",
        "category": "passive",
        "actions": ["ask_for_review"],
    },
    {
        "id": "x.shouting",
        "when": {"shouting": True, "intensified": ["anger", "disappointed"]},
        "weight": 12,
        "min_priority": "P1",
        "category": "frustrated",
    },
    {
        "id": "x.calm",
        "when": {
            "shouting": False,
            "angry_punctuation": False,
            "text_empty": False,
            "has_score": True,
        },
        "weight": -3,
    },
    {
        "id": "x.repeat",
        "when": {
            "repeat_contact": True,
            "any": [
                {"language": ["en", "de"]},
                {"channel": ["email"]},
                {"negativity": {"min": 0.5}},
            ],
        },
        "weight": 9,
        "management_attention": True,
    },
    {
        "id": "x.nested",
        "when": {
            "all": [
                {"any": [{"stated": ["churn"]}, {"hedged": ["disappointed"]}]},
                {"not": {"any": [{"tier": ["free"]}, {"fired": ["text.anger"]}]}},
            ]
        },
        "weight": 4,
        "min_priority": "P2",
        "actions": ["retention_offer", "manager_callback"],
    },
    {
        "id": "x.after",
        "when": {"repeat_contact": False, "fired": ["x.calm", "x.nested"]},
        "weight": 2,
        "category": "churn_threat",
    },
    {"id": "x.refund_detractor", "when": {"text": ["refund"], "nps": {"max": 6}}, "weight": 5},
    {"id": "x.unscored", "when": {"has_score": False, "negativity": {"max": 0.2}}, "weight": -6},
    {"id": "x.quiet", "when": {"text_empty": True}, "weight": 1, "max_priority": "P4"},
    {
        "id": "x.any_rule",
        "when": {"any": [{"fired": ["x.quiet"]}, {"fired": ["x.after"]}, {"fired": ["angry"]}]},
        "weight": 3,
    },
]


def _every_key_rules() -> RuleSet:
    data = yaml.safe_load(default_rules_text())
    data["rules"] = [*data["rules"], *EVERY_KEY]
    return parse_rules(yaml.safe_dump(data, allow_unicode=True), "every-key")


RULE_SETS = {"shipped": load_default_rules(), "every_key": _every_key_rules()}
ENGINES = {
    name: (RuleEngine(rules), OracleEngine(rules, RuleEngine(rules).text_model))
    for name, rules in RULE_SETS.items()
}


def _same(
    engine: RuleEngine, oracle: OracleEngine, event: FeedbackEvent, related: list[str]
) -> str:
    got = engine.assess(event, related, debug=True)
    expected = oracle.assess(event, related, debug=True)
    assert got.reason_fields == expected.reason_fields, event.event_id
    for name in (
        "severity",
        "priority",
        "category",
        "actions",
        "management_attention",
        "language",
        "related_ticket_ids",
    ):
        assert getattr(got, name) == getattr(expected, name), (event.event_id, name)
    return got.priority.value


def _labelled() -> list[FeedbackEvent]:
    with LABELLED.open(encoding="utf-8") as lines:
        return [FeedbackEvent.model_validate(yaml.safe_load(line)["event"]) for line in lines]


def test_every_key_of_a_condition_is_in_the_every_key_rules() -> None:
    used = {key for rule in EVERY_KEY for key in _keys(rule["when"])}
    assert used >= set(_CONDITION_KEYS)


_CONDITION_KEYS = [
    "nps",
    "rating",
    "channel",
    "tier",
    "lifecycle_stage",
    "language",
    "text",
    "text_empty",
    "has_score",
    "shouting",
    "angry_punctuation",
    "fired",
    "stated",
    "hedged",
    "intensified",
    "repeat_contact",
    "negativity",
    "any",
    "all",
    "not",
]


def _keys(cond: dict[str, Any]) -> set[str]:
    found = set(cond)
    for key in ("any", "all"):
        for sub in cond.get(key, ()):
            found |= _keys(sub)
    if "not" in cond:
        found |= _keys(cond["not"])
    return found


@pytest.mark.parametrize("rules", sorted(ENGINES))
def test_native_rules_agree_on_labelled_and_varied_events(rules: str) -> None:
    engine, oracle = ENGINES[rules]
    priorities = [_same(engine, oracle, event, []) for event in _labelled()]
    priorities += [_same(engine, oracle, event, related) for event, related in varied_events()]
    assert {"P1", "P2", "P3", "P4"} <= set(priorities)  # every outcome was compared


@pytest.mark.parametrize("rules", sorted(ENGINES))
def test_the_every_key_rules_fire(rules: str) -> None:
    """The comparison above saw the added rules fire (it would pass vacuously otherwise)."""
    engine, _ = ENGINES[rules]
    fired = {
        r["rule_id"]
        for event, related in varied_events()
        for r in engine.assess(event, related).reason_fields
    }
    added = {rule["id"] for rule in EVERY_KEY}
    if rules == "every_key":
        assert added <= fired, sorted(added - fired)
    else:
        assert not fired & added


_WORDS = [
    "cancel my subscription",
    "maybe I'll cancel",
    "refund",
    "terrible",
    "very disappointed",
    "not disappointed",
    "a bit slow",
    "great",
    "thanks",
    "lawyer",
    "outage",
    "down again",
    "waiting for support",
    "switching to a competitor",
    "!!!",
    "?!",
    ":(",
    ":)",
    "😡",
    "очень разочарован",
    "отменить подписку",
    "πολύ απογοητευμένος",
    "太差了",
    "投诉",
    "todella pettynyt",
    "sehr enttäuscht",
    "muy decepcionado",
    "très déçu",
    "reembolso",
]


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.sampled_from(_WORDS), max_size=6),
    shout=st.booleans(),
    nps=st.one_of(st.none(), st.integers(0, 10)),
    rating=st.one_of(st.none(), st.integers(1, 5)),
    channel=st.sampled_from(["email", "review", "social_media", "chat", "phone", "x"]),
    tier=st.sampled_from([None, "free", "standard", "premium", "enterprise"]),
    stage=st.sampled_from([None, "trial", "active", "renewal", "churned"]),
    language=st.sampled_from([None, "en", "de", "ru", "zh", "fi", "pt-BR"]),
    related=st.lists(st.sampled_from(["t-1", "t-2", "t-3"]), max_size=3, unique=True),
)
def test_native_rules_agree_on_generated_events(
    words: list[str],
    shout: bool,
    nps: int | None,
    rating: int | None,
    channel: str,
    tier: str | None,
    stage: str | None,
    language: str | None,
    related: list[str],
) -> None:
    text = " ".join(words)
    customer: dict[str, Any] = {"id": "c-1"}
    if tier:
        customer["tier"] = tier
    if stage:
        customer["lifecycle_stage"] = stage
    data: dict[str, Any] = {
        "event_id": "gen",
        "occurred_at": "2026-03-02T09:15:00+02:00",
        "channel": channel,
        "customer": customer,
        "text": text.upper() if shout else text,
        "nps_score": nps,
        "rating": rating,
        "language": language,
    }
    event = FeedbackEvent.model_validate(data)
    for engine, oracle in ENGINES.values():
        _same(engine, oracle, event, related)


def test_native_rules_agree_on_public_test_lines() -> None:
    data = default_data_dir()
    if data is None:
        pytest.skip("no public data folder (TRIAGE_DATA_DIR or ../shared/data)")
    rng = random.Random(5)
    engine, oracle = ENGINES["every_key"]
    n = 0
    for n, line in enumerate(islice(read_split(data, "test"), 0, None, 7), 1):
        event = FeedbackEvent.model_validate(
            {
                "event_id": f"public-{n}",
                "occurred_at": "2026-03-02T09:15:00+02:00",
                "channel": rng.choice(["email", "review", "social_media"]),
                "customer": {"id": "c-1", "tier": rng.choice(["free", "enterprise"])},
                "text": line.text,
                "nps_score": rng.choice([None, None, 2, 9]),
            }
        )
        _same(engine, oracle, event, rng.choice([[], ["t-1"]]))
    assert n > 500


#: Conditions at the edges of the rule-file syntax: empty lists, an ``any``
#: inside a ``not`` inside an ``any``, every kind of key twice in one ``all``.
EDGES: list[dict[str, Any]] = [
    {"id": "e.empty_text", "when": {"text": []}, "weight": 50},
    {"id": "e.no_refs", "when": {"fired": [], "tier": ["enterprise"]}, "weight": 1},
    {"id": "e.empty_any", "when": {"any": []}, "weight": 50},
    {"id": "e.empty_all", "when": {"all": [], "channel": ["email"]}, "weight": 2},
    {
        "id": "e.deep",
        "when": {
            "any": [
                {"not": {"any": [{"tier": ["free", "standard"]}, {"nps": {"min": 7}}]}},
                {"all": [{"text": ["anger"]}, {"text": ["outage"]}]},
            ]
        },
        "weight": 3,
        "max_priority": "P2",
    },
    {
        "id": "e.twice",
        "when": {
            "all": [
                {"nps": {"max": 6}, "tier": ["enterprise", "premium"]},
                {"nps": {"min": 0}, "fired": ["e.deep"]},
            ]
        },
        "weight": 4,
        "category": "detractor",
    },
]


def test_native_rules_agree_at_the_edges_of_the_syntax() -> None:
    """(A null key is refused when the file is read: ``test_startup_errors.py``.)"""
    data = yaml.safe_load(default_rules_text())
    data["rules"] = [*data["rules"], *EDGES]
    rules = parse_rules(yaml.safe_dump(data, allow_unicode=True), "edges")
    engine = RuleEngine(rules, ENGINES["shipped"][0].text_model)
    oracle = OracleEngine(rules, engine.text_model)
    fired: set[str] = set()
    for event, related in varied_events():
        _same(engine, oracle, event, related)
        fired |= {r["rule_id"] for r in engine.assess(event, related).reason_fields}
    assert {"e.no_refs", "e.empty_all", "e.deep", "e.twice"} <= fired
    # no lexicon and no alternative can never hold
    assert not {"e.empty_text", "e.empty_any"} & fired


_LEAVES = st.sampled_from(
    [
        {"negativity": {"min": 0.5}},
        {"negativity": {"max": 0.3}},
        {"words": {"max": 1}},
        {"words": {"min": 2}},
        {"text": ["refund"]},
        {"text": ["thanks"]},
        {"shouting": True},
    ]
)
_CONDITIONS = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
        inner.map(lambda x: {"not": x}),
        st.tuples(inner, inner).map(lambda xy: {**xy[1], "not": xy[0]}),
    ),
    max_leaves=4,
)


@settings(max_examples=400, deadline=None)
@given(
    conditions=st.lists(_CONDITIONS, min_size=1, max_size=3),
    after_first=st.booleans(),
    score=st.sampled_from([0.05, 0.25, 0.5, 0.9]),
    words=st.lists(st.sampled_from(["refund", "thanks", "hello"]), min_size=1, max_size=2),
    shout=st.booleans(),
    nps=st.one_of(st.none(), st.integers(0, 10)),
)
def test_the_negativity_read_on_demand_decides_as_if_read_first(
    conditions: list[dict[str, Any]],
    after_first: bool,
    score: float,
    words: list[str],
    shout: bool,
    nps: int | None,
) -> None:
    """Nested any / all / not over the negativity, the count of words and other facts:
    the program, which reads the negativity and the words only when a rule's outcome or
    evidence depends on them (rule 1 of ``_rules.pyx``), fires the same rules with the
    same evidence as the closures, which read them first; and it asks the model at most
    once."""
    rules = [
        {"id": f"r{i}", "when": dict(cond), "weight": 10 * (i + 1)}
        for i, cond in enumerate(conditions)
    ]
    if after_first and len(rules) > 1:
        rules[-1]["when"] = {"any": [{"fired": ["r0"]}, rules[-1]["when"]]}
    text = yaml.safe_dump(
        {
            "version": "gen",
            "priorities": [
                {"priority": "P1", "min_severity": 90},
                {"priority": "P2", "min_severity": 50},
                {"priority": "P4", "min_severity": 0},
            ],
            "lexicons": {"refund": {"en": ["refund"]}, "thanks": {"en": ["thanks"]}},
            "rules": rules,
        }
    )
    rule_set = parse_rules(text, "generated")
    model = FakeModel({}, default=score)
    engine = RuleEngine(rule_set, text_model=model)
    oracle = OracleEngine(rule_set, FakeModel({}, default=score))
    phrase = " ".join(words)
    event = FeedbackEvent.model_validate(
        {
            "event_id": "gen",
            "occurred_at": "2026-03-02T09:15:00+02:00",
            "channel": "email",
            "customer": {"id": "c-1"},
            "text": phrase.upper() if shout else phrase,
            "nps_score": nps,
            "language": "en",
        }
    )
    _same(engine, oracle, event, [])
    assert len(model.calls) <= 1
