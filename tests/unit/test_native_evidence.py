"""The evidence kinds of the compiled rule program (``service/rules/_rules.pyx``), one by
one, on hand-made signals: what each says, in which order, and what it leaves out.
(``test_native_rules.py`` compares whole assessments, evidence included, with the
Python engine they replaced; these pin the edges that real events seldom reach.)"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from service.rules._rules import (
    WORDS_HIT,
    WORDS_INTENSIFIED,
    Called,
    Chosen,
    Evidence,
    Field,
    Fixed,
    HedgedWords,
    Joined,
    StatedWords,
    Words,
    explain_fired,
)
from service.rules.matcher import TextSignals

SIX = ["a", "b", "c", "d", "e", "f"]


def facts(choices: list[int] | None = None, **signals: Any) -> Any:
    return SimpleNamespace(signals=TextSignals(**signals), choices=choices or [])


def test_words_name_each_lexicon_and_at_most_five_of_its_phrases() -> None:
    f = facts(hits={"refund": SIX, "churn": ["cancel"]}, intensified={"refund": ["very"]})
    assert Words(["churn", "refund", "outage"], WORDS_HIT)(f) == [
        "churn: cancel",
        *(f"refund: {w}" for w in SIX[:5]),
    ]
    assert Words(["refund"], WORDS_INTENSIFIED)(f) == ["refund: very"]
    assert Words(["outage"], WORDS_HIT)(f) == []


def test_stated_words_are_the_hits_of_the_stated_lexicons_only() -> None:
    f = facts(hits={"refund": SIX, "churn": ["cancel"]}, stated={"refund"})
    assert StatedWords(["churn", "refund"])(f) == [f"refund: {w}" for w in SIX[:5]]


def test_hedged_words_leave_out_a_lexicon_that_was_also_stated() -> None:
    f = facts(
        hedged={"churn": ["maybe cancel"], "refund": SIX},
        stated={"churn"},
    )
    assert HedgedWords(["churn", "refund"])(f) == [f"refund: {w} (hedged)" for w in SIX[:5]]


@pytest.mark.parametrize("value", ["email", None, 3, 0, "ελληνικά", 12.5])
def test_a_field_is_its_name_and_value_as_an_f_string_writes_them(value: Any) -> None:
    f = SimpleNamespace(tier=value)
    assert Field("tier", "tier")(f) == [f"tier={value}"]
    assert Field("customer_tier", "tier")(f) == [f"customer_tier={value}"]


def test_fixed_words_are_a_fresh_list_each_time() -> None:
    evidence = Fixed(["no text"])
    first = evidence(facts())
    first.append("changed by a reader of the ticket")
    assert evidence(facts()) == ["no text"]


def test_joined_and_chosen_compose_in_order() -> None:
    f = facts(choices=[1, 0], hits={"refund": ["refund"]})
    words = Words(["refund"], WORDS_HIT)
    joined = Joined((Fixed(["after x"]), words, Called(lambda _: ["nps=2"])))
    assert joined(f) == ["after x", "refund: refund", "nps=2"]
    assert Chosen(0, (Fixed(["first"]), joined))(f) == joined(f)
    assert Chosen(1, (Fixed(["first"]), joined))(f) == ["first"]
    assert Joined(())(f) == []


def test_a_choice_that_no_program_made_is_an_error_not_a_crash() -> None:
    chosen = Chosen(1, (Fixed(["first"]), Fixed(["second"])))
    with pytest.raises(ValueError, match="run the program first"):
        chosen(facts(choices=[0]))  # facts no program ran on: too few choices
    with pytest.raises(ValueError, match="did not hold"):
        chosen(facts(choices=[0, -1]))  # the ``any`` held no alternative
    with pytest.raises(ValueError, match="did not hold"):
        chosen(facts(choices=[0, 2]))


def test_a_part_that_is_not_evidence_is_refused_when_composed() -> None:
    with pytest.raises(TypeError):
        Joined((Fixed([]), lambda _: []))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Chosen(0, ("words",))  # type: ignore[arg-type]


def test_explain_fired_copies_each_reason_and_gathers_actions_in_order() -> None:
    reasons = [{"rule_id": f"r{i}", "weight": i, "evidence": None} for i in range(3)]
    evidence: list[Evidence] = [Fixed([f"e{i}"]) for i in range(3)]
    actions: list[tuple[str, ...]] = [("page",), (), ("refund", "reply")]
    out, acts = explain_fired([0, 2], evidence, reasons, actions, facts())
    assert out == [
        {"rule_id": "r0", "weight": 0, "evidence": ["e0"]},
        {"rule_id": "r2", "weight": 2, "evidence": ["e2"]},
    ]
    assert list(out[0]) == ["rule_id", "weight", "evidence"]  # the model's field order
    assert reasons[0]["evidence"] is None  # the rule's own fields are untouched
    assert acts == ["page", "refund", "reply"]


def test_explain_fired_refuses_an_index_that_names_no_rule() -> None:
    reasons = [{"rule_id": "r0", "weight": 0, "evidence": None}]
    evidence: list[Evidence] = [Fixed(["e0"])]
    for index in (1, -1):
        with pytest.raises(IndexError, match="not one of the 1 rules"):
            explain_fired([index], evidence, reasons, [()], facts())
    with pytest.raises(IndexError):  # a list shorter than the others bounds them all
        explain_fired([0], evidence, reasons, [], facts())
