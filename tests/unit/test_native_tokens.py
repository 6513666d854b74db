"""The compiled explanation (``service/sentiment/_tokens.pyx``) against the Python one it
replaced, which asked fastText for each token's rows (``tests/oracle/tokens_py.py``):
the same weight, rows and shown word for every token, and the same explanation of every
text, on public texts, generated Unicode and the edges the module's docstring names."""

from __future__ import annotations

import hashlib
import math
from array import array
from itertools import islice
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.rules.engine import RuleEngine
from service.rules.model import load_default_rules
from service.rules.text import normalize
from service.sentiment import _tokens
from service.sentiment._tokens import TokenWeights
from service.sentiment.corpus import default_data_dir, read_split
from service.sentiment.model import _contributions, default_model, prepare
from tests.oracle.tokens_py import ExplainPy

MODEL = default_model()
FASTTEXT = MODEL._model
LABELS = [label.removeprefix("__label__") for label in FASTTEXT.labels]
ORACLE = ExplainPy(FASTTEXT, _contributions(FASTTEXT, LABELS))
NATIVE = MODEL._tokens
MATCHER = RuleEngine(load_default_rules()).matcher


def prepared(text: str) -> str:
    """The model's input for ``text``, as the facts make it."""
    normalized = normalize(text)
    return prepare(MATCHER.scan(normalized).spaced, normalized)


def assert_same_weight(token: str) -> None:
    weight, rows, shown = NATIVE.weight(token)
    expected_weight, expected_rows, expected_shown = ORACLE.weight(token)
    assert (rows, shown) == (expected_rows, expected_shown), token
    # Python 3.12's sum() compensates its rounding; 3.11's adds in order, as here
    assert math.isclose(weight, expected_weight, rel_tol=1e-12, abs_tol=1e-15), token


def assert_same_explanation(text: str) -> None:
    got, expected = NATIVE.explain(text), ORACLE.explain(text)
    assert [word for word, _ in got] == [word for word, _ in expected], text[:80]
    for (_, share), (_, expected_share) in zip(got, expected, strict=True):
        assert math.isclose(share, expected_share, rel_tol=1e-12), text[:80]


def test_the_explanations_agree_on_public_texts() -> None:
    data = default_data_dir()
    if data is None:
        pytest.skip("no public data folder (TRIAGE_DATA_DIR or ../shared/data)")
    texts = [prepared(line.text) for line in islice(read_split(data, "dev"), 0, None, 23)]
    assert len(texts) > 500
    for text in texts:
        assert_same_explanation(text)
        assert_same_explanation(text)  # nothing is left over from the text before
    for token in {token for text in texts[:300] for token in text.split()}:
        assert_same_weight(token)


@pytest.mark.parametrize(
    "token",
    [
        "terrible",  # in the vocabulary: its row and its n-grams
        "zzqqxx",  # not in it: n-grams only
        "a",  # a lone ASCII character: counted, not shown
        "é",
        "ü",  # one character of two bytes
        "42",
        ":(",  # not alphanumeric: counted, not shown
        "😡",
        "</s>",  # the end-of-line token: its row only
        "__label__neg",  # a label's entry names a hashed row, as fastText finds it
        "质量太差了非常失望",  # a long CJK run: its strongest n-gram
        "太差了",  # a short one: the token
        "カスタマーサポート",
        "x" * 300,
    ],
)
def test_the_weights_agree_on_the_edges(token: str) -> None:
    assert_same_weight(token)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        st.characters(codec="utf-8", blacklist_categories=["Zs", "Zl", "Zp", "Cc"]),
        min_size=1,
        max_size=12,
    )
)
def test_the_weights_agree_on_any_unicode_token(token: str) -> None:
    if token.split() != [token]:
        return  # Python splits on a few more characters than these categories
    assert_same_weight(token)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "bad",
                "awful",
                "great",
                "non",
                "ne",
                "pas",
                "质量太差了",
                "差",
                "!!",
                "a",
                "😡",
                "über",
            ]
        ),
        max_size=30,
    )
)
def test_the_explanations_agree_on_generated_texts(words: list[str]) -> None:
    assert_same_explanation(" ".join(words))


def test_an_empty_text_explains_nothing() -> None:
    assert NATIVE.explain("") == NATIVE.explain("   ") == []


@pytest.mark.parametrize(
    ("words", "labels", "rows", "bucket", "message"),
    [
        (["a", "a"], [], 12, 10, "repeats a word"),
        (["a"], ["a"], 11, 10, "repeats a word"),
        (["a"], [], 12, 10, "one contribution per word"),
        (["a"], [], 1, 0, "one contribution per word"),
    ],
)
def test_a_dictionary_that_does_not_fit_its_rows_is_refused(
    words: list[str], labels: list[str], rows: int, bucket: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TokenWeights(words, labels, array("f", [0.0] * rows), 3, 3, bucket)


def test_the_compiled_explanation_is_built_from_the_source_in_this_checkout() -> None:
    source = Path(_tokens.__file__).with_name("_tokens.pyx")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    assert digest == _tokens.SOURCE_DIGEST, "stale native build: run `make` (or pip install -e .)"
