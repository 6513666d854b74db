"""The shipped text model: loads offline, scores, and explains exactly what it names."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.rules.text import normalize, spaced
from service.sentiment.model import (
    _MAX_SYMBOLS,
    MODEL_CHARS,
    MODEL_FILE,
    ModelError,
    TextModel,
    default_model,
    load_model,
    prepare,
    shipped_model_dir,
    symbols,
)
from tests.oracle import symbols_py


def _prep(text: str) -> str:
    normalized = normalize(text)
    return prepare(spaced(normalized), normalized)


def test_the_shipped_model_is_in_the_package_and_small() -> None:
    folder = shipped_model_dir()
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size <= 25 * 1024 * 1024
    assert load_model(None) is default_model()
    assert load_model("shipped") is default_model()


def test_scores_are_probabilities() -> None:
    s = default_model().scores(_prep("The delivery was late and nobody answered my emails."))
    assert math.isclose(s.neg + s.neu + s.pos, 1.0, abs_tol=1e-4)
    assert s.neg > s.pos


@pytest.mark.parametrize(
    ("text", "negative"),
    [
        ("Worst service ever, I want my money back", True),
        ("Thank you so much, the new version is wonderful", False),
        ("Сервис ужасный, деньги не вернули", True),
        ("质量很好，非常满意", False),
    ],
)
def test_clear_texts_read_as_they_are(text: str, negative: bool) -> None:
    assert (default_model().negativity(_prep(text)) > 0.5) is negative


def test_no_text_no_negativity() -> None:
    assert default_model().negativity("") == 0.0
    assert default_model().explain("") == []


def test_the_margin_is_linear_in_the_text_vector() -> None:
    """Decision 3 of model.py: log P(neg) − (log P(neu) + log P(pos)) / 2 is the text
    vector (the mean of its feature rows) times the output margin — what makes a word's
    share exact."""
    model = default_model()
    ft = model._model
    text = _prep("the app deleted my invoices and support never answered")
    s = model.scores(text)
    margin = math.log(s.neg) - (math.log(s.neu) + math.log(s.pos)) / 2
    out = np.asarray(ft.get_output_matrix(), dtype=np.float64)
    labels = [label.removeprefix("__label__") for label in ft.labels]
    direction = out[labels.index("neg")] - (out[labels.index("neu")] + out[labels.index("pos")]) / 2
    vector = np.asarray(ft.get_sentence_vector(text), dtype=np.float64)
    # fastText reports log(p + 1e-5) in float32: equal to about half a percent
    assert math.isclose(margin, float(vector @ direction), rel_tol=1e-2)


def test_explain_names_the_words_that_pushed() -> None:
    words = [w for w, _ in default_model().explain(_prep("great app but the support is terrible"))]
    assert words[0] == "terrible"
    shares = [share for _, share in default_model().explain(_prep("awful, useless, broken"))]
    assert shares == sorted(shares, reverse=True)
    assert all(share > 0 for share in shares)


def test_explain_shows_a_character_ngram_for_chinese() -> None:
    words = [w for w, _ in default_model().explain(_prep("这个产品质量太差了，非常失望"))]
    assert words
    assert all(len(w) < 8 for w in words)


def test_a_folder_without_a_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=MODEL_FILE):
        TextModel(tmp_path)


def test_the_model_reads_emoji_and_emoticons_that_spacing_drops() -> None:
    """Decision 1: in order of appearance, smiles as ``:)``, frowns as ``:(`` (Russian
    bracket runs too); brackets of ordinary text, times and URLs are not emoticons."""
    assert symbols(normalize("Спасибо))) но плохо((( :-( 😡 ❤️ xD <3")) == [
        ":)",
        ":(",
        ":(",
        "😡",
        "❤",
        ":)",
        ":)",
    ]
    assert symbols(normalize("see section 3) and (4), at 10:30 on http://x.com")) == []
    assert _prep("I hate this :(") == "i hate this ǂ :("  # the spaced text, then the symbols
    assert symbols(" ".join([":)"] * 20)) == [":)"] * 8  # at most eight


@given(st.text(alphabet=" \tx8:;=<^()'-]dp3*[/\\|_.,!?a😀☀⭐щ\u3000\x85\x00", max_size=40))
def test_symbols_finds_what_the_regular_expression_finds(text: str) -> None:
    """The compiled search (``_tokens.pyx``, step 5) against the regular expression it
    replaced (``tests/oracle/symbols_py.py``), on the characters its rules name."""
    assert symbols(text) == symbols_py.symbols(text, MODEL_CHARS, _MAX_SYMBOLS)


@given(st.text(st.characters(codec="utf-8"), max_size=60))
def test_symbols_agrees_with_the_regular_expression_on_any_text(text: str) -> None:
    assert symbols(text) == symbols_py.symbols(text, MODEL_CHARS, _MAX_SYMBOLS)


@pytest.mark.parametrize(
    "text",
    [
        ":)",
        " :-) ",
        ":))",  # a face glued to a bracket: only the run of two is a smile
        "a:)",  # not after a space
        ":)a",  # not before an edge
        ":).",
        ":'(",
        ":'x",
        "^_^ ^^ ^_",
        "<3 <3a",
        "((( )))",
        "x" * (MODEL_CHARS - 1) + " :)",  # past the characters the model reads
        " " * (MODEL_CHARS - 2) + ":)",  # ends exactly there: the end is an edge
        "😀" * 20,
    ],
)
def test_symbols_agrees_with_the_regular_expression_on_the_edges(text: str) -> None:
    assert symbols(text) == symbols_py.symbols(text, MODEL_CHARS, _MAX_SYMBOLS)


def _tiny_model(folder: Path, loss: str, quantized: bool = False) -> Path:
    """A fastText model of the three labels trained on a dozen lines, saved as a model
    folder (the card says only its version)."""
    import json

    import fasttext

    lines = folder / "train.txt"
    lines.write_text(
        "".join(
            f"__label__{label} {text}\n"
            for label, text in [
                ("neg", "terrible awful broken"),
                ("neu", "the parcel is here"),
                ("pos", "great lovely thanks"),
            ]
            * 4
        )
    )
    model = fasttext.train_supervised(
        str(lines), loss=loss, dim=4, epoch=1, minn=2, maxn=3, wordNgrams=2, bucket=1000, verbose=0
    )
    if quantized:
        model.quantize(input=str(lines), retrain=False)
    model.save_model(str(folder / MODEL_FILE))
    (folder / "model.json").write_text(json.dumps({"version": "tiny"}))
    return folder


@pytest.mark.parametrize(
    ("loss", "quantized", "message"),
    [("ova", False, "only softmax"), ("softmax", True, "quantized")],
)
def test_a_model_the_compiled_runner_cannot_read_is_refused(
    tmp_path: Path, loss: str, quantized: bool, message: str
) -> None:
    """Decision 4: the compiled runner computes a softmax over unpruned rows."""
    with pytest.raises(ModelError, match=message):
        TextModel(_tiny_model(tmp_path, loss, quantized))


def test_a_small_softmax_model_runs_compiled(tmp_path: Path) -> None:
    model = TextModel(_tiny_model(tmp_path, "softmax"))
    scores = model.scores("terrible awful")
    assert math.isclose(scores.neg + scores.neu + scores.pos, 1.0, abs_tol=1e-4)
    assert 0.0 <= model.negativity("terrible awful") <= 1.0
