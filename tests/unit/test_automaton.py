"""The compiled lexicon automaton (``service/rules/_scan.pyx``, ``Automaton``) reports
what pyahocorasick's ``Automaton.iter``, which it replaced, reports: every hit as
``(end, value)``, in order of ``end``, and for hits that end together the longest key
first. Held on hand-made keys (keys inside keys, shared prefixes and suffixes, nodes with
many edges, characters beyond the basic plane), on the shipped lexicons' three automata
over labelled, random and generated text, and on generated keys and texts."""

from __future__ import annotations

import random
from typing import Any

import ahocorasick
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.rules import RuleEngine, load_default_rules
from service.rules._scan import Automaton
from service.rules.text import normalize, spaced
from tests.unit.test_text_fast_paths import _labelled_texts, _modifier_heavy_texts, random_texts


def _oracle(keyed: dict[str, Any]) -> Any:
    auto = ahocorasick.Automaton()
    for key, value in keyed.items():
        auto.add_word(key, value)
    auto.make_automaton()
    return auto


def _same(keyed: dict[str, Any], texts: list[str]) -> int:
    """Both automata over every text; returns how many hits were compared."""
    native, oracle = Automaton(keyed), _oracle(keyed)
    hits = 0
    for text in texts:
        expected = list(oracle.iter(text))
        assert native.iter(text) == expected, repr(text)
        hits += len(expected)
    return hits


def test_keys_inside_keys_are_reported_longest_first() -> None:
    keyed = {"he": 1, "she": 2, "his": 3, "hers": 4}
    assert Automaton(keyed).iter("ushers") == [(3, 2), (3, 1), (5, 4)]
    assert _same(keyed, ["ahishers", "she hers", "", "h", "hhhhe", "xyz"]) == 9


def test_nodes_with_many_edges_and_characters_beyond_the_basic_plane() -> None:
    """The root and a word's space have more edges than a node scans one by one (they
    look them up in a row); emoji are above U+FFFF."""
    letters = "abcdefghijklmnopqrstuvwxyzäöσжЖ中"
    keyed: dict[str, Any] = {
        f" {a}{b}": i for i, (a, b) in enumerate(zip(letters, letters[3:], strict=False))
    }
    keyed.update({"😡": "anger", ":(": "sad", "😡😡": "rage", f"{chr(0x10FFFF)}": "last"})
    keyed.update({ch: ch for ch in letters})
    rng = random.Random(3)
    alphabet = letters + " 😡:(\U0010ffff\U0001f600x"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(60))) for _ in range(2000)]
    assert _same(keyed, texts) > 10_000


def test_the_shipped_lexicons_automata() -> None:
    matcher = RuleEngine(load_default_rules()).matcher
    rng = random.Random(7)
    labelled = _labelled_texts()
    texts = [
        *labelled,
        *(" ".join(rng.sample(labelled, 3)) for _ in range(300)),
        *_modifier_heavy_texts(400, 9),
        *random_texts(3_000, 11),
    ]
    spaced_texts = [spaced(normalize(t)) for t in texts]
    for auto, inputs in (
        (matcher._words, spaced_texts),
        (matcher._word_terms, spaced_texts),
        (matcher._symbols, [normalize(t) for t in texts]),
    ):
        assert auto is not None
        # the shipped keys, each its own value: both automata built afresh from them
        keys = auto.keys()  # (an automaton is not a mapping: its keys are a list)
        assert _same({key: key for key in keys}, inputs) > 1_000


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text("ab c😡中", min_size=1, max_size=6), min_size=1, max_size=30, unique=True),
    st.lists(st.text("ab c😡中x", max_size=40), max_size=10),
)
def test_generated_keys_and_texts(keys: list[str], texts: list[str]) -> None:
    _same({key: i for i, key in enumerate(keys)}, texts)


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="never empty"):
        Automaton({"": 1})
