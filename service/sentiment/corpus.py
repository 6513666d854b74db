"""Public human-labelled feedback for training and measuring the text model.

Each line of a corpus file is ``{"text", "label": "neg"|"neu"|"pos", "source", ...}``;
the files live under ``<data dir>/<language>/*.jsonl`` (the project keeps them in
``../shared/data``, described in its ``DATASETS.md``; a company's own data can take the
same shape, see ``docs/model.md``).

Decisions:

1. **One split, fixed for good.** A line's split (train / dev / test, 80 / 10 / 10) is a
   function of its source and text alone: the first four bytes of
   ``sha256(SPLIT_SEED, source, text)``. It does not depend on the order of the file, on
   which other files are present or on the machine, so the test split of a set never
   leaks into training, whoever retrains, and adding a set moves no line of another.
2. **Nothing is tuned on test.** Training reads ``train``; thresholds and
   hyperparameters are chosen on ``dev``; ``test`` is read only to report
   (``bench/accuracy.py``, the accuracy test).
3. **Reserved sets are refused.** Three public sets are kept for independent
   acceptance and must never reach training; a file whose name says it is one of them
   stops the read (``ReservedDataError``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

Split = Literal["train", "dev", "test"]
Label = Literal["neg", "neu", "pos"]
LABELS: tuple[Label, ...] = ("neg", "neu", "pos")
SPLITS: tuple[Split, ...] = ("train", "dev", "test")

#: Never change: it decides which line is in which split.
SPLIT_SEED = "triage-split-v1"
#: Percent of each set in train and dev; the rest is test.
TRAIN_PERCENT = 80
DEV_PERCENT = 10

#: File-name fragments of the sets reserved for independent acceptance.
RESERVED = ("airline", "sentirueval", "waimai")


class ReservedDataError(ValueError):
    """A file of a set reserved for independent acceptance was offered for training."""


@dataclass(frozen=True, slots=True)
class Example:
    """One human-labelled text."""

    text: str
    label: Label
    language: str
    source: str
    domain: str = ""


def split_of(source: str, text: str) -> Split:
    """The split a line belongs to (decision 1)."""
    digest = hashlib.sha256(f"{SPLIT_SEED}\x00{source}\x00{text}".encode()).digest()
    bucket = int.from_bytes(digest[:4], "big") % 100
    if bucket < TRAIN_PERCENT:
        return "train"
    return "dev" if bucket < TRAIN_PERCENT + DEV_PERCENT else "test"


def default_data_dir() -> Path | None:
    """``TRIAGE_DATA_DIR``, else the project's ``../shared/data`` beside the checkout, if
    there is one."""
    env = os.environ.get("TRIAGE_DATA_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "data"
        if (parent / "pyproject.toml").exists() and candidate.is_dir():
            return candidate
    return None


def written_files() -> list[Path]:
    """The project's own labelled lines (``service/sentiment/written/<lang>.jsonl``):
    support requests, questions, denied and toned-down complaints written by the project
    in every language, the kind of message the public sets lack. They train the model;
    no figure quoted as accuracy is measured on them."""
    return sorted((Path(__file__).resolve().parent / "written").glob("*.jsonl"))


def corpus_files(data_dir: Path) -> list[Path]:
    """Every ``<language>/*.jsonl`` under ``data_dir``, in a stable order."""
    files = sorted(p for p in data_dir.glob("*/*.jsonl") if p.is_file())
    for path in files:
        if any(word in path.name.lower() for word in RESERVED):
            raise ReservedDataError(f"{path}: reserved for independent acceptance, never read")
    return files


def read_file(path: Path, language: str | None = None) -> Iterator[Example]:
    """The labelled lines of one file (language: the folder's name unless given)."""
    lang = language or path.parent.name
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            obj = orjson.loads(raw)
            label = obj.get("label")
            text = obj.get("text")
            if label not in LABELS or not isinstance(text, str):
                raise ValueError(f"{path}:{n}: needs a text and a label neg|neu|pos")
            yield Example(
                text=text,
                label=label,
                language=str(obj.get("lang") or lang),
                source=str(obj.get("source") or path.stem),
                domain=str(obj.get("domain") or ""),
            )


def read_split(data_dir: Path, split: Split) -> list[Example]:
    """Every line of every corpus file that falls in ``split``."""
    return [
        ex
        for path in corpus_files(data_dir)
        for ex in read_file(path)
        if split_of(ex.source, ex.text) == split
    ]
