"""Types of the compiled module ``_scan.pyx`` (mypy reads this; the code is there)."""

import re
from collections.abc import Callable, Mapping
from typing import Any

SOURCE_DIGEST: str
LEX: int
NEG: int
PSEUDO: int
HEDGE: int
INTENS: int
STOP: int
MAX_ANALYSED_CHARS: int
CLAUSE: str
CLAUSE_CHARS: str
CJK_NEGATORS: frozenset[str]
CJK_NEGATION_CHARS: int
AMBIGUOUS_NEGATORS: frozenset[str]

class TextSignals:
    hits: dict[str, list[str]]
    negated: dict[str, list[str]]
    stated: set[str]
    hedged: dict[str, list[str]]
    intensified: dict[str, list[str]]
    votes: dict[str, int]
    spaced: str
    normalized: str
    def __init__(
        self,
        hits: dict[str, list[str]] | None = None,
        negated: dict[str, list[str]] | None = None,
        stated: set[str] | None = None,
        hedged: dict[str, list[str]] | None = None,
        intensified: dict[str, list[str]] | None = None,
        votes: dict[str, int] | None = None,
        spaced: str = "",
        normalized: str = "",
    ) -> None: ...
    def as_dict(self) -> dict[str, Any]: ...

class Term:
    kind: int
    name: str
    lang: str
    verify: re.Pattern[str] | None
    cjk: bool
    negatable: bool
    key_len: int
    phrase: str | None
    def __init__(
        self,
        kind: int,
        name: str,
        lang: str,
        verify: re.Pattern[str] | None,
        cjk: bool,
        negatable: bool,
        key_len: int,
        phrase: str | None,
    ) -> None: ...

def spaced(normalized: str) -> str: ...
def window_end(text: str, n_end: int, window: int) -> int: ...
def word_count(spaced_text: str) -> int: ...
def may_have_cjk(text: str) -> bool: ...
def shouting_ratio(text: str, min_letters: int = 12, at_least: float = 0.0) -> float: ...
def angry_punctuation(text: str) -> list[str]: ...
def script_language(sample: str) -> str | None: ...

class SymbolHeads:
    def __init__(self, heads: Any) -> None: ...
    def found_in(self, text: str) -> bool: ...

class StopwordTable:
    languages: tuple[str, ...]
    def __init__(
        self, stopword_langs: dict[str, tuple[str, ...]], languages: tuple[str, ...]
    ) -> None: ...
    def votes(self, text: str, limit: int = 300) -> dict[str, int]: ...

class Folding:
    def __init__(self, forms: dict[int, str]) -> None: ...
    def fold(self, text: str) -> str | None: ...

class Automaton:
    def __init__(self, keyed: dict[str, Any]) -> None: ...
    def iter(self, text: str) -> list[tuple[int, Any]]: ...
    def keys(self) -> list[str]: ...

class Scanner:
    def __init__(
        self,
        *,
        words: Automaton | None,
        word_terms: Automaton | None,
        symbols: Automaton | None,
        heads: SymbolHeads,
        latin1_heads: SymbolHeads,
        stopword_langs: dict[str, tuple[str, ...]],
        languages: tuple[str, ...],
        negation_window: int,
        hedge_window: int,
        intensifier_window: int,
        every_hit: bool = False,
    ) -> None: ...
    def scan(self, normalized: str) -> TextSignals: ...
    def stopword_votes(self, spaced_text: str, limit: int = 300) -> dict[str, int]: ...

LATIN_LANGUAGES: tuple[str, ...]
SCRIPT_CHARS: int

def guess_language(
    sample: str,
    votes: Mapping[str, int],
    stopword_votes: Callable[[str], Mapping[str, int]] | None,
    spaced_text: str,
    model_language: Callable[[str], str],
) -> str: ...
