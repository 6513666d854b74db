"""The text model at run time: how negative a text reads, and which words made it so.

A model is a folder of two files, written by ``triage model train``
(``service/sentiment/train.py``):

- ``sentiment.bin``: a fastText supervised classifier (labels ``neg``, ``neu``, ``pos``)
  over words, word pairs and character n-grams;
- ``model.json``: what it was trained on and how, and its figures on the dev splits.

Decisions:

1. **The model reads the text the rules read.** Its input is the normalised, spaced
   text the lexicon matcher already made (``TextSignals.spaced``: NFKC, case folded,
   accents removed, one space between words), cut to ``MODEL_CHARS`` characters, then
   the emoji and emoticons that spacing drops (``symbols``: each emoji itself, smiles as
   ``:)`` and frowns as ``:(``, Russian bracket runs ``)))``/``(((`` too; at most eight).
   Posts and tweets carry much of their tone there: adding them lifted the Russian tweets
   from 0.703 to 0.780 on test. The training code prepares every line with the same
   ``prepare``. Nothing is normalised twice per event.
2. **Negativity is P(neg) against P(pos)**: ``P(neg) / (P(neg) + P(pos) + NEU_WEIGHT ·
   P(neu))``. Mildly negative reviews often put much of their mass on ``neu``; counting
   only a quarter of it lifts them above positive lines (dev balanced accuracy +0.008 on
   average, fi +0.02), while text the model reads as plainly neutral (P(neu) near 1)
   still scores low. It is one prediction of all three labels. Thresholds live in the
   rule file, per language where the dev splits said it helps; nothing here decides.
3. **Explanations are exact for the words they name.** A fastText text vector is the
   mean of its features' rows (a word, a hashed character n-gram or word pair), and the
   ``neg`` margin ``neg − (neu + pos) / 2`` of the output layer is linear in it; so at
   load every input row gets its contribution (row · margin), and a word's share of a
   text's margin is the sum of its rows' contributions over the number of features.
   ``explain`` ranks the words (for a run of Chinese or Japanese characters, its
   character n-grams) by that share and names those that pushed towards ``neg``; word
   pairs are left out of the ranking.
4. **Loaded once, offline, run compiled.** The shipped model lies inside the package
   (``service/sentiment/model/``); ``TRIAGE_MODEL_PATH`` points at another folder.
   fastText loads it and trains it; per event, ``_tokens.pyx`` finds the symbols it
   reads and runs it (the prediction and the explanation, both linear in the rows: each
   row's contributions are worked out at load), finding a text's rows as fastText's
   dictionary does. A quantized model or a loss but softmax is refused at load.
"""

from __future__ import annotations

import json
from array import array
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import fasttext
import numpy as np

from service.sentiment._tokens import CompiledTextModel
from service.sentiment._tokens import symbols as _symbols
from service.startup_errors import ConfigError, json_problem

#: Characters of the spaced text the model reads (training prepares lines the same way).
MODEL_CHARS = 1000
MODEL_FILE = "sentiment.bin"
CARD_FILE = "model.json"
#: Weight of P(neu) in ``negativity`` (decision 2; chosen on the dev splits).
NEU_WEIGHT = 0.25
#: Runs of CJK characters longer than this are explained by their character n-grams.
_LABEL_PREFIX = "__label__"


class ModelError(ConfigError):
    """A model folder could not be loaded; the message (one line) names the folder or the
    file in it, and what is wrong (``service.startup_errors``)."""


@dataclass(frozen=True, slots=True)
class Scores:
    """The classifier's probabilities (they sum to 1)."""

    neg: float
    neu: float
    pos: float


class NegativityModel(Protocol):
    """What the rules need of a text model (``TextModel``; tests pass small fakes)."""

    def negativity(self, prepared: str) -> float: ...

    def explain(self, prepared: str, limit: int = 3) -> list[tuple[str, float]]: ...


#: At most this many symbol tokens per text.
_MAX_SYMBOLS = 8


def symbols(normalized: str) -> list[str]:
    """The emoji and emoticons of a normalised text in order, as the model reads them
    (decision 1: each emoji itself, smiles as ``:)``, frowns as ``:(``; the rules are step
    5 of ``_tokens.pyx``); at most ``_MAX_SYMBOLS``, in its first ``MODEL_CHARS``."""
    return _symbols(normalized, MODEL_CHARS, _MAX_SYMBOLS)


def prepare(spaced: str, normalized: str = "") -> str:
    """The model's input (decision 1): the matcher's spaced text, then the emoji and
    emoticons of the normalised text (``symbols``), which spacing drops."""
    text = spaced[:MODEL_CHARS].strip()
    found = symbols(normalized) if normalized else []
    return f"{text} {' '.join(found)}" if found else text


def shipped_model_dir() -> Path:
    return Path(__file__).resolve().parent / "model"


def check_model_folder(directory: str | Path) -> Path:
    """``directory`` if it looks like a model folder (both files there); ``ModelError``
    naming what is missing otherwise. Cheap: nothing is loaded."""
    folder = Path(directory)
    what = f"a model is a folder of {MODEL_FILE} and {CARD_FILE}: `triage model train --out`"
    if not folder.exists():
        raise ModelError(str(folder), f"no such folder ({what})")
    if not folder.is_dir():
        raise ModelError(str(folder), f"not a folder ({what})")
    for name in (MODEL_FILE, CARD_FILE):
        if not (folder / name).is_file():
            raise ModelError(str(folder), f"no {name} (train one with `triage model train`)")
    return folder


class TextModel:
    """A trained negativity classifier (see the module docstring)."""

    def __init__(self, directory: str | Path) -> None:
        folder = check_model_folder(directory)
        self.directory = folder
        card_path, model_path = folder / CARD_FILE, folder / MODEL_FILE
        try:
            self.card: dict[str, Any] = json.loads(card_path.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise ModelError(str(card_path), json_problem(exc)) from exc
        except (OSError, ValueError) as exc:
            raise ModelError(str(card_path), f"cannot read: {exc}") from exc
        if not isinstance(self.card, dict):
            raise ModelError(str(card_path), "expected a JSON object (the model card)")
        fasttext.FastText.eprint = lambda *args, **kwargs: None  # its load warning
        try:
            self._model = fasttext.load_model(str(model_path))
        except ValueError as exc:
            raise ModelError(
                str(model_path), "not a fastText model (train one with `triage model train`)"
            ) from exc
        labels = [label.removeprefix(_LABEL_PREFIX) for label in self._model.labels]
        if sorted(labels) != ["neg", "neu", "pos"]:
            raise ModelError(str(model_path), f"labels {labels}, expected neg, neu, pos")
        self.version = str(self.card.get("version", "unknown"))
        self._compiled = compiled_model(self._model, labels, str(model_path))
        self._neg, self._neu, self._pos = (labels.index(name) for name in ("neg", "neu", "pos"))

    @property
    def name(self) -> str:
        return f"{self.directory.name}@{self.version}"

    def scores(self, prepared: str) -> Scores:
        """Probabilities of ``neg``, ``neu`` and ``pos`` for a prepared text, as
        fastText's ``predict`` gives them (compiled: ``service/sentiment/_tokens.pyx``)."""
        p = self._compiled.probabilities(prepared)
        return Scores(p[self._neg], p[self._neu], p[self._pos])

    def negativity(self, prepared: str) -> float:
        """How negative a prepared text (``prepare``) reads, 0 to 1 (decision 2); 0 for
        an empty one."""
        if not prepared:
            return 0.0
        p = self._compiled.probabilities(prepared)
        neg = p[self._neg]
        return neg / (neg + p[self._pos] + NEU_WEIGHT * p[self._neu])

    def explain(self, prepared: str, limit: int = 3) -> list[tuple[str, float]]:
        """The words (or character n-grams) that pushed this text towards ``neg`` most,
        with their share of the text's ``neg`` margin, strongest first (decision 3;
        compiled: ``service/sentiment/_tokens.pyx``)."""
        return self._compiled.explain(prepared, limit)


def compiled_model(model: Any, labels: list[str], where: str) -> CompiledTextModel:
    """A loaded fastText model as ``CompiledTextModel`` runs it: its dictionary, each
    input row's margin contribution (``_contributions``) and logit contributions, both
    from ``_matrices``. Refused: a quantized model (pruned rows, a table of hashes: its rows
    are not where the compiled model looks for them) and any loss but softmax (whose
    probabilities are what it computes)."""
    if model.f.isQuant():
        raise ModelError(where, "a quantized model cannot be run here")
    args = model.f.getArgs()
    if args.loss.name != "softmax":
        raise ModelError(where, f"loss {args.loss.name}: only softmax models can be run here")
    inputs, output = _matrices(model)
    return CompiledTextModel(
        model.get_words(on_unicode_error="strict"),
        model.get_labels(on_unicode_error="strict"),
        _contributions(inputs, output, labels),
        np.ascontiguousarray(inputs @ output.T, dtype=np.float32),  # the logits' rows
        args.minn,
        args.maxn,
        args.bucket,
        args.wordNgrams,
        args.label,
    )


def _matrices(model: Any) -> tuple[Any, Any]:
    """A fastText model's input and output matrices in double precision (each row's
    contributions are products of the two: to each label's logit, ``inputs @
    output.T``, and to the ``neg`` margin, ``_contributions``)."""
    return (
        np.asarray(model.get_input_matrix(), dtype=np.float64),
        np.asarray(model.get_output_matrix(), dtype=np.float64),
    )


def _contributions(inputs: Any, output: Any, labels: list[str]) -> array[float]:
    """Every input row's push towards ``neg`` (decision 3), as a compact float array
    (``inputs`` and ``output``: ``_matrices``)."""
    margin = (
        output[labels.index("neg")]
        - (output[labels.index("neu")] + output[labels.index("pos")]) / 2
    )
    rows = inputs @ margin
    weights = array("f")
    weights.frombytes(rows.astype("=f4").tobytes())
    return weights


@lru_cache(maxsize=1)
def default_model() -> TextModel:
    """The shipped model (loaded once per process)."""
    return TextModel(shipped_model_dir())


def load_model(path: str | Path | None) -> TextModel:
    """The model in ``path``; the shipped one for None, ``""`` or ``"shipped"``."""
    if path is None or str(path) in ("", "shipped"):
        return default_model()
    return TextModel(path)
