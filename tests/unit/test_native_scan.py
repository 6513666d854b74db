"""The compiled reading of a text (``service/rules/_scan.pyx``) gives exactly what the
pure-Python code it replaced gives (``tests/oracle/``): the matcher's hits, stated,
negated, hedged and intensified phrases, votes and spaced text, and the tone (share of
capitals, angry punctuation), on the labelled events, on modifier-heavy text of every
language, on random text of every script, on hypothesis-generated text, and on the public
data's test lines (where present)."""

from __future__ import annotations

import dataclasses
import random
from itertools import islice

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.rules import RuleEngine, load_default_rules
from service.rules.facts import SHOUTING_THRESHOLD
from service.rules.matcher import LexiconMatcher
from service.rules.text import angry_punctuation, normalize, shouting_ratio
from service.sentiment.corpus import default_data_dir, read_split
from tests.oracle import text_py as oracle_text
from tests.oracle.matcher_py import LexiconMatcher as OracleMatcher
from tests.unit.test_text_fast_paths import (
    ALPHABET,
    _labelled_texts,
    _modifier_heavy_texts,
    random_texts,
)


def _matchers() -> tuple[LexiconMatcher, OracleMatcher]:
    rules = load_default_rules()
    ta = rules.text_analysis
    oracle = OracleMatcher(
        rules.lexicons,
        negatable=ta.negatable,
        negation_window=ta.negation_window,
        hedge_window=ta.hedge_window,
        intensifier_window=ta.intensifier_window,
    )
    return RuleEngine(rules).matcher, oracle


NATIVE, ORACLE = _matchers()


def _same(text: str) -> bool:
    _same_tone(text)
    norm = normalize(text)
    got = NATIVE.scan(norm).as_dict()
    expected = dataclasses.asdict(ORACLE.scan(norm))
    assert got == expected, repr(text)
    for limit in (300, 7):  # the first 7 characters may end inside a word
        expected_votes = ORACLE.stopword_votes(expected["spaced"], limit)
        assert NATIVE.stopword_votes(got["spaced"], limit) == expected_votes, repr(text)
    return bool(expected["negated"] or expected["hedged"] or expected["intensified"])


def _same_tone(text: str) -> None:
    """The tone as the oracle gives it; with ``at_least`` (what the engine asks), a share
    below it is 0 (the oracle did so only for text beyond Latin-1, where it stopped
    counting early: the rules read the share only from the threshold on)."""
    assert angry_punctuation(text) == oracle_text.angry_punctuation(text), repr(text)
    assert shouting_ratio(text) == oracle_text.shouting_ratio(text), repr(text)
    old = oracle_text.shouting_ratio(text, at_least=SHOUTING_THRESHOLD)
    expected = old if old >= SHOUTING_THRESHOLD else 0.0
    assert shouting_ratio(text, at_least=SHOUTING_THRESHOLD) == expected, repr(text)


@settings(max_examples=500, deadline=None)
@given(st.text("!?！？.aAZÉΣДж ", max_size=40), st.integers(0, 30))
def test_native_tone_agrees_on_punctuation_and_capitals(text: str, repeat: int) -> None:
    _same_tone(text)
    _same_tone(text * repeat)


@pytest.mark.parametrize("seed", range(2))
def test_native_scan_agrees_on_labelled_and_modifier_heavy_text(seed: int) -> None:
    texts = [*_labelled_texts(), *_modifier_heavy_texts(3_000, seed + 100)]
    modified = sum(_same(t) for t in texts)
    assert modified > 500  # the modifier paths, not only plain hits, were compared


def test_native_scan_agrees_on_random_text_of_every_script() -> None:
    words = _modifier_heavy_texts(200, 7)
    rng = random.Random(3)
    noisy = [f"{rng.choice(words)} {t} {rng.choice(words)}" for t in random_texts(3_000, 5)]
    for text in [*random_texts(3_000, 4), *noisy]:
        _same(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_modifier_heavy_texts(400, 9)), max_size=4), st.text(ALPHABET))
def test_native_scan_agrees_on_generated_text(parts: list[str], noise: str) -> None:
    _same(f" {noise} ".join(parts) or noise)


def test_native_scan_agrees_on_public_test_lines() -> None:
    data = default_data_dir()
    if data is None:
        pytest.skip("no public data folder (TRIAGE_DATA_DIR or ../shared/data)")
    lines = list(islice(read_split(data, "test"), 0, None, 5))
    assert len(lines) > 2_000
    for line in lines:
        _same(line.text)
