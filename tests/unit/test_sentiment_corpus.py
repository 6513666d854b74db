"""The public data's splits: fixed by each line's source and text, never by file order."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from service.sentiment.corpus import (
    ReservedDataError,
    corpus_files,
    read_file,
    read_split,
    split_of,
)


def test_a_line_keeps_its_split_whatever_else_is_read() -> None:
    # pinned: changing SPLIT_SEED or the hashing would move lines between train and test
    assert [split_of("s", f"text {i}") for i in range(12)] == [
        *("train", "train", "train", "train", "test", "train"),
        *("test", "train", "train", "train", "dev", "dev"),
    ]


def test_splits_are_about_80_10_10() -> None:
    counts = Counter(split_of("src", f"line {i}") for i in range(20_000))
    assert 0.78 < counts["train"] / 20_000 < 0.82
    assert 0.09 < counts["dev"] / 20_000 < 0.11
    assert 0.09 < counts["test"] / 20_000 < 0.11


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reading_a_corpus_and_its_split(tmp_path: Path) -> None:
    rows = [f'{{"text": "t{i}", "label": "neg", "source": "s"}}' for i in range(50)]
    _write(tmp_path / "en" / "s.jsonl", rows)
    examples = list(read_file(tmp_path / "en" / "s.jsonl"))
    assert len(examples) == 50
    assert {ex.language for ex in examples} == {"en"}
    test = read_split(tmp_path, "test")
    assert {ex.text for ex in test} == {
        ex.text for ex in examples if split_of("s", ex.text) == "test"
    }


def test_a_reserved_set_is_never_read(tmp_path: Path) -> None:
    _write(tmp_path / "en" / "twitter_airline_sentiment.jsonl", ['{"text": "x", "label": "neg"}'])
    with pytest.raises(ReservedDataError, match="reserved"):
        corpus_files(tmp_path)


def test_a_line_without_a_label_names_its_place(tmp_path: Path) -> None:
    path = _write(tmp_path / "de" / "bad.jsonl", ['{"text": "x", "label": "angry"}'])
    with pytest.raises(ValueError, match=r"bad.jsonl:1"):
        list(read_file(path))
