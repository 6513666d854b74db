"""The compiled text model (``service/sentiment/_tokens.pyx``) against its oracles:
fastText's own ``predict`` for the probabilities (within 1e-5: fastText sums in single
precision), and for the explanation the Python loop it replaced, which asked fastText
for each token's rows (``tests/oracle/tokens_py.py``): the same weight, rows and shown
word for every token, and the same explanation of every text. On public texts,
generated Unicode and the edges the module's docstring names."""

from __future__ import annotations

import math
from array import array
from itertools import islice

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.rules.engine import RuleEngine
from service.rules.model import load_default_rules
from service.rules.text import normalize
from service.sentiment._tokens import CompiledTextModel
from service.sentiment.corpus import default_data_dir, read_split
from service.sentiment.model import (
    NEU_WEIGHT,
    Scores,
    _contributions,
    _matrices,
    default_model,
    prepare,
)
from tests.oracle.tokens_py import ExplainPy

MODEL = default_model()
FASTTEXT = MODEL._model
LABELS = [label.removeprefix("__label__") for label in FASTTEXT.labels]
ORACLE = ExplainPy(FASTTEXT, _contributions(*_matrices(FASTTEXT), LABELS))
NATIVE = MODEL._compiled
#: fastText's probabilities are single precision; these are double
CLOSE = 1e-5
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


def assert_same_prediction(text: str) -> None:
    expected = dict((label, p) for p, label in FASTTEXT.f.predict(text + "\n", -1, 0.0, "strict"))
    got = NATIVE.probabilities(text)
    for label, p in zip(FASTTEXT.labels, got, strict=True):
        assert abs(p - expected[label]) < CLOSE, (text[:80], label, p, expected[label])


def assert_same_explanation(text: str, limit: int = 3) -> None:
    got, expected = NATIVE.explain(text, limit), ORACLE.explain(text, limit)
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
        assert_same_prediction(text)
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


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["bad", "awful", "质量太差了非常失望", "über", "a", "!!", "zzqq", "😡"]
            ),
            st.sampled_from([" ", "\t", "\n", "\u00a0", "\u3000", "\x85", "\x1c", "  "]),
        ),
        max_size=30,
    )
)
def test_the_explanations_split_where_python_splits(parts: list[tuple[str, str]]) -> None:
    """The compiled walk finds the tokens ``str.split`` finds, at any of its spaces."""
    assert_same_explanation("".join(word + space for word, space in parts))


@pytest.mark.parametrize("limit", [-5, -1, 0, 1, 2, 10])
def test_the_explanations_are_cut_as_a_slice_cuts(limit: int) -> None:
    text = "awful terrible bad rude slow awful 质量太差了非常失望"
    assert_same_explanation(text, limit)


@pytest.mark.parametrize(
    "text",
    [
        "",  # the end of the line alone
        "terrible",
        "zzqqxx qqzz",  # words out of the vocabulary: n-grams and the pair's row
        "the parcel never arrived\nand nobody answers",  # the first line break ends it
        "before </s> after",  # so does a literal end-of-line token
        "__label__neg terrible __label__whatever",  # labels are skipped
        "a\tb\x0bc\x0cd\re\x00f",  # fastText's other spaces
        "a\u00a0b a\u2003b a\x85b",  # not spaces to fastText: one token each
        "  leading and trailing  ",
        "质量太差了 非常失望 😡",
        "great " * 400,
    ],
)
def test_the_predictions_agree_on_the_edges(text: str) -> None:
    assert_same_prediction(text)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=60))
def test_the_predictions_agree_on_any_unicode(text: str) -> None:
    assert_same_prediction(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["bad", "awful", "great", "non", "ne", "pas", "质量太差了", "😡", "über", "zz"]
        ),
        max_size=40,
    )
)
def test_the_predictions_agree_on_generated_texts(words: list[str]) -> None:
    assert_same_prediction(" ".join(words))


def test_negativity_is_read_from_the_compiled_probabilities() -> None:
    text = prepared("The app deleted my invoices and support never answered")
    p = dict(zip(FASTTEXT.labels, NATIVE.probabilities(text), strict=True))
    neg, neu, pos = p["__label__neg"], p["__label__neu"], p["__label__pos"]
    assert MODEL.negativity(text) == neg / (neg + pos + NEU_WEIGHT * neu)
    assert MODEL.scores(text) == Scores(neg, neu, pos)
    assert MODEL.negativity(text) > 0.5


def test_an_empty_text_explains_nothing() -> None:
    assert NATIVE.explain("") == NATIVE.explain("   ") == []


@pytest.mark.parametrize(
    ("words", "labels", "rows", "bucket", "message"),
    [
        (["</s>", "a", "a"], ["x", "y"], 13, 10, "repeats a word"),
        (["</s>", "a"], ["a", "y"], 12, 10, "repeats a word"),
        (["</s>", "a"], ["x", "y"], 13, 10, "one contribution per word"),
        (["</s>", "a"], ["x", "y"], 2, 0, "one contribution per word"),
    ],
)
def test_a_dictionary_that_does_not_fit_its_rows_is_refused(
    words: list[str], labels: list[str], rows: int, bucket: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CompiledTextModel(
            words, labels, array("f", [0.0] * rows), logits(rows, 2), 3, 3, bucket, 2, "__label__"
        )


def logits(rows: int, labels: int) -> np.ndarray:
    return np.zeros((rows, labels), dtype=np.float32)


@pytest.mark.parametrize(
    ("table", "word_ngrams", "words", "message"),
    [
        (logits(12, 3), 2, ["</s>", "a"], "one logit contribution per input row and label"),
        (logits(11, 2), 2, ["</s>", "a"], "one logit contribution per input row and label"),
        (logits(12, 2), 0, ["</s>", "a"], "word n-grams below 1"),
        (logits(12, 2), 2, ["b", "a"], "no </s>"),
    ],
)
def test_tables_that_do_not_fit_the_prediction_are_refused(
    table: np.ndarray, word_ngrams: int, words: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CompiledTextModel(
            words, ["x", "y"], array("f", [0.0] * 12), table, 3, 3, 10, word_ngrams, "__label__"
        )


def test_every_tenth_word_of_the_vocabulary_is_found_in_its_bytes() -> None:
    """The compiled dictionary (UTF-8 in one buffer, an open-addressing table by hash)
    finds the words fastText's finds: their own row is among their rows."""
    words = FASTTEXT.get_words(on_unicode_error="strict")[::10]
    assert len(words) > 10_000
    for word in words:
        assert_same_weight(word)
