"""Offline language guess from script and common words (no model download).

The publisher's ``language`` wins when present. The guess returns a primary BCP 47
subtag, or ``und`` when there is nothing to go on.
"""

from __future__ import annotations

import re

_SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("el", re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("zh", re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")),
    ("ko", re.compile(r"[\uac00-\ud7af]")),
)
_WORD = re.compile(r"[^\W\d_]+")
_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "the",
            "and",
            "is",
            "it",
            "to",
            "of",
            "my",
            "i",
            "you",
            "this",
            "that",
            "was",
            "not",
            "for",
            "with",
            "have",
            "your",
            "but",
            "are",
            "me",
        ]
    ),
    "fi": frozenset(
        [
            "ja",
            "on",
            "ei",
            "se",
            "että",
            "en",
            "olen",
            "oli",
            "mutta",
            "kun",
            "tämä",
            "te",
            "minä",
            "mitä",
            "myös",
            "jo",
            "vain",
            "ole",
            "ovat",
            "teidän",
        ]
    ),
    "de": frozenset(
        [
            "und",
            "ist",
            "nicht",
            "ich",
            "die",
            "der",
            "das",
            "ein",
            "eine",
            "mit",
            "sie",
            "es",
            "zu",
            "mein",
            "auf",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "la",
            "es",
            "y",
            "no",
            "que",
            "de",
            "mi",
            "con",
            "por",
            "para",
            "una",
            "un",
            "los",
            "muy",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "est",
            "et",
            "je",
            "ne",
            "pas",
            "les",
            "des",
            "une",
            "un",
            "mon",
            "avec",
            "pour",
            "vous",
            "très",
        ]
    ),
    "pt": frozenset(
        [
            "o",
            "a",
            "é",
            "e",
            "não",
            "que",
            "de",
            "meu",
            "com",
            "por",
            "para",
            "uma",
            "um",
            "os",
            "muito",
            "você",
        ]
    ),
}
_FINNISH_LETTERS = re.compile(r"[äöÄÖ]")


def detect_language(text: str) -> str:
    sample = text[:2_000]
    best, best_count = "und", 0
    for lang, pattern in _SCRIPTS:
        count = len(pattern.findall(sample))
        if count > best_count:
            best, best_count = lang, count
    letters = sum(1 for ch in sample if ch.isalpha())
    if best_count and best_count * 3 >= letters:
        return best
    words = [w.casefold() for w in _WORD.findall(sample)]
    if not words:
        return best if best_count else "und"
    scores = {lang: sum(1 for w in words if w in stop) for lang, stop in _STOPWORDS.items()}
    if _FINNISH_LETTERS.search(sample):
        scores["fi"] += 1
    lang, score = max(scores.items(), key=lambda kv: kv[1])
    if score == 0:
        return "en" if all(ch.isascii() for ch in sample) else "und"
    return lang
