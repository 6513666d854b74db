"""The rule-file schema: the default rules load, broken rule files are refused clearly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.common import Priority
from service.rules.conditions import KEYS, _Lexicons
from service.rules.matcher import LexiconMatcher
from service.rules.model import (
    Condition,
    Range,
    RulesError,
    RuleSet,
    default_rules_text,
    load_default_rules,
    load_rules,
    parse_rules,
)
from service.rules.text import normalize


def minimal(**overrides: Any) -> dict[str, Any]:
    """A small valid rule set as a dict; tests break one thing at a time."""
    data: dict[str, Any] = {
        "version": "test-1",
        "priorities": [
            {"priority": "P1", "min_severity": 75},
            {"priority": "P2", "min_severity": 50},
            {"priority": "P3", "min_severity": 25},
            {"priority": "P4", "min_severity": 0},
        ],
        "lexicons": {"anger": {"en": ["angry"]}, "refund": {"en": ["refund*"]}},
        "rules": [
            {"id": "text.anger", "when": {"text": ["anger"]}, "weight": 30},
            {"id": "text.refund", "when": {"text": ["refund"]}, "weight": 20},
        ],
    }
    data.update(overrides)
    return data


def dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def refused(data: Any) -> str:
    with pytest.raises(RulesError) as info:
        parse_rules(dump(data), "rules.yaml")
    message = str(info.value)
    assert message.startswith("rules.yaml: ")
    assert "\n" not in message  # one line (service/startup_errors.py)
    return message


# --- the shipped default -------------------------------------------------------------------


def test_default_rules_load() -> None:
    rules = load_default_rules()
    assert isinstance(rules, RuleSet)
    assert rules.version
    assert len(rules.rules) >= 20
    assert load_rules(None) == rules


def test_default_rules_set_no_sla_targets() -> None:
    # the SLA policy decides the targets (test_sla_policy: the shipped ones keep the spec's)
    assert load_default_rules().sla_seconds is None
    assert "\nsla_seconds:" not in default_rules_text()


def test_default_rules_cover_the_five_languages_in_every_lexicon() -> None:
    rules = load_default_rules()
    for name, by_lang in rules.lexicons.items():
        if set(by_lang) == {"any"}:  # emoji and emoticons belong to no language
            continue
        if name == "stopwords":  # only Latin-script text needs them to guess its language
            continue
        assert {"en", "el", "zh", "ru", "fi"} <= by_lang.keys(), name
        for lang, terms in by_lang.items():
            assert terms, f"{name}/{lang} is empty"


def test_default_lexicon_terms_are_unique_after_normalisation() -> None:
    rules = load_default_rules()
    for name, by_lang in rules.lexicons.items():
        for lang, terms in by_lang.items():
            normalised = [normalize(t) for t in terms]
            dupes = {t for t in normalised if normalised.count(t) > 1}
            assert not dupes, f"{name}/{lang} repeats {sorted(dupes)}"


def test_default_rule_ids_are_unique_and_fired_refs_point_back() -> None:
    rules = load_default_rules()
    ids = [r.id for r in rules.rules]
    assert len(ids) == len(set(ids))
    for i, rule in enumerate(rules.rules):
        assert rule.when.fired_refs() <= set(ids[:i]), rule.id


def test_default_categories_are_in_the_precedence_list() -> None:
    rules = load_default_rules()
    for rule in rules.rules:
        if rule.category:
            assert rule.category in rules.category_precedence, rule.id


def test_default_rules_build_a_matcher() -> None:
    matcher = LexiconMatcher(load_default_rules().lexicons)
    assert matcher.match(normalize("I want a REFUND")) == {"refund": ["refund"]}


def test_default_rules_text_is_the_packaged_file() -> None:
    text = default_rules_text()
    assert "lexicons:" in text
    assert parse_rules(text) == load_default_rules()


def test_load_rules_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(dump(minimal()), encoding="utf-8")
    rules = load_rules(path)
    assert rules.version == "test-1"
    assert [r.id for r in rules.rules] == ["text.anger", "text.refund"]
    assert load_rules(str(path)) == rules


def test_load_rules_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(RulesError, match=r"nope\.yaml: cannot read"):
        load_rules(path)


def test_rule_set_is_frozen() -> None:
    rules = parse_rules(dump(minimal()))
    with pytest.raises(ValueError, match="frozen"):
        rules.version = "other"  # type: ignore[misc]


# --- refused rule files: the message names the culprit ------------------------------------


def test_unknown_lexicon_names_the_rule() -> None:
    data = minimal()
    data["rules"].append({"id": "text.sadness", "when": {"text": ["sadness"]}, "weight": 5})
    message = refused(data)
    assert '"text.sadness"' in message
    assert "unknown lexicon" in message
    assert "sadness" in message


def test_unknown_lexicon_in_a_nested_condition_is_found() -> None:
    data = minimal()
    data["rules"].append(
        {"id": "nested", "when": {"any": [{"nps": {"max": 3}}, {"not": {"text": ["nope"]}}]}}
    )
    message = refused(data)
    assert '"nested"' in message
    assert "nope" in message


def test_duplicate_rule_id_is_named() -> None:
    data = minimal()
    data["rules"].append({"id": "text.anger", "when": {"shouting": True}, "weight": 5})
    message = refused(data)
    assert '"text.anger"' in message
    assert "duplicate" in message


def test_fired_must_name_an_earlier_rule() -> None:
    data = minimal()
    data["rules"].insert(0, {"id": "early", "when": {"fired": ["text.refund"]}, "weight": 5})
    message = refused(data)
    assert '"early"' in message
    assert "text.refund" in message
    assert "earlier" in message


def test_fired_naming_itself_is_refused() -> None:
    data = minimal()
    data["rules"].append({"id": "self.ref", "when": {"fired": ["self.ref"]}})
    assert '"self.ref"' in refused(data)


def test_fired_naming_an_earlier_rule_is_fine() -> None:
    data = minimal()
    data["rules"].append({"id": "late", "when": {"fired": ["text.anger", "text.refund"]}})
    assert parse_rules(dump(data)).rules[-1].when.fired_refs() == {"text.anger", "text.refund"}


@pytest.mark.parametrize("field", ["min_priority", "max_priority"])
def test_bad_priority_is_named(field: str) -> None:
    data = minimal()
    data["rules"][1][field] = "P7"
    message = refused(data)
    assert '"text.refund"' in message
    assert field in message


def test_min_priority_more_urgent_than_max_priority_is_refused() -> None:
    data = minimal()
    data["rules"][0].update(min_priority="P1", max_priority="P3")
    message = refused(data)
    assert '"text.anger"' in message
    assert "min_priority" in message


def test_min_priority_less_urgent_than_max_priority_is_fine() -> None:
    data = minimal()
    data["rules"][0].update(min_priority="P3", max_priority="P1")
    rule = parse_rules(dump(data)).rules[0]
    assert rule.min_priority is Priority.P3
    assert rule.max_priority is Priority.P1


@pytest.mark.parametrize("weight", [101, -101, 1000])
def test_weight_out_of_range_is_named(weight: int) -> None:
    data = minimal()
    data["rules"][1]["weight"] = weight
    message = refused(data)
    assert '"text.refund"' in message
    assert "weight" in message


@pytest.mark.parametrize("weight", [100, -100, 0])
def test_weight_at_the_limits_is_fine(weight: int) -> None:
    data = minimal()
    data["rules"][1]["weight"] = weight
    assert parse_rules(dump(data)).rules[1].weight == weight


@pytest.mark.parametrize(
    "sla",
    [
        {"P1": 600, "P2": 3600, "P3": 28800, "P4": 172800},
        {"P1": 600, "P2": 3600, "P3": 28800},  # incomplete: ignored all the same
        {"P1": 0},
    ],
)
def test_deprecated_sla_seconds_are_accepted_and_ignored(sla: dict[str, int]) -> None:
    rules = parse_rules(dump(minimal(sla_seconds=sla)))
    assert rules.sla_seconds == {Priority(p): s for p, s in sla.items()}
    assert parse_rules(dump(minimal())).sla_seconds is None


def test_priorities_need_a_band_starting_at_zero() -> None:
    message = refused(minimal(priorities=[{"priority": "P1", "min_severity": 50}]))
    assert "min_severity 0" in message


def test_unknown_key_in_a_condition_is_named() -> None:
    data = minimal()
    data["rules"][0]["when"] = {"text": ["anger"], "mood": "bad"}
    message = refused(data)
    assert '"text.anger"' in message
    assert "mood" in message


def test_unknown_key_in_a_rule_is_named() -> None:
    data = minimal()
    data["rules"][1]["priority"] = "P1"
    message = refused(data)
    assert '"text.refund"' in message
    assert "priority" in message


def test_empty_condition_is_refused() -> None:
    data = minimal()
    data["rules"][1]["when"] = {}
    message = refused(data)
    assert '"text.refund"' in message
    assert "at least one key" in message


def test_bad_rule_id_is_refused() -> None:
    data = minimal()
    data["rules"][1]["id"] = "Bad Id!"
    assert "'Bad Id!'" in refused(data)


def test_rule_without_id_is_reported() -> None:
    data = minimal()
    del data["rules"][1]["id"]
    message = refused(data)
    assert "rules[1]" in message
    assert "id" in message


@pytest.mark.parametrize("term", ["", "  ", "*", "**"])
def test_empty_or_bare_wildcard_lexicon_term_is_refused(term: str) -> None:
    message = refused(minimal(lexicons={"anger": {"en": ["angry", term]}, "refund": {}}))
    assert '"anger"' in message


def test_not_yaml_is_refused() -> None:
    with pytest.raises(RulesError, match=r"^rules\.yaml: line 2, column 5: not valid YAML"):
        parse_rules("rules: [unclosed\n  - {id: x", "rules.yaml")


@pytest.mark.parametrize("text", ["- just\n- a list\n", "42\n", "just a string\n", ""])
def test_not_a_mapping_is_refused(text: str) -> None:
    with pytest.raises(RulesError, match="expected a mapping at the top level"):
        parse_rules(text, "rules.yaml")


def test_rules_error_is_a_value_error() -> None:
    assert issubclass(RulesError, ValueError)


def test_rules_error_lists_every_bad_rule() -> None:
    data = minimal()
    data["rules"][0]["weight"] = 500
    data["rules"][1]["min_priority"] = "urgent"
    message = refused(data)
    assert '"text.anger"' in message
    assert '"text.refund"' in message


# --- condition helpers -----------------------------------------------------------------


def test_range_contains_and_describe() -> None:
    r = Range(min=0, max=6)
    assert r.contains(0)
    assert r.contains(6)
    assert not r.contains(7)
    assert not r.contains(-1)
    assert r.describe() == "[0.0..6.0]"
    assert Range(max=3).contains(-100)
    assert Range(max=3).describe() == "[..3.0]"
    assert Range(min=9).describe() == "[9.0..]"


def test_condition_collects_lexicons_and_fired_refs_recursively() -> None:
    cond = Condition.model_validate(
        {
            "text": ["a"],
            "fired": ["r1"],
            "any": [{"text": ["b"]}, {"all": [{"fired": ["r2"]}, {"text": ["c"]}]}],
            "not": {"text": ["d"], "fired": ["r3"]},
        }
    )
    assert cond.lexicons() == {"a", "b", "c", "d"}
    assert cond.fired_refs() == {"r1", "r2", "r3"}


def test_every_condition_key_has_exactly_one_entry_in_the_table() -> None:
    """``conditions.KEYS`` is the one home of a condition key: one entry per field of
    ``Condition``, in the fields' order, each knowing its own field (a field without an
    entry, or an entry without a field, fails here rather than in some rule set)."""
    assert list(KEYS) == list(Condition.model_fields)
    assert [key.field for key in KEYS.values()] == list(KEYS)
    assert len({id(key) for key in KEYS.values()}) == len(KEYS)


def test_the_fields_naming_lexicons_are_the_lexicon_keys() -> None:
    """``Condition.lexicons`` (what the rule set checks against its lexicons) collects the
    fields typed ``LexiconNames``: exactly the keys that match lexicons."""
    lexicon_keys = {name for name, key in KEYS.items() if isinstance(key, _Lexicons)}
    assert lexicon_keys == {"text", "stated", "hedged", "intensified"}
    cond = Condition.model_validate({name: [name] for name in sorted(lexicon_keys)})
    assert cond.lexicons() == lexicon_keys
