"""Offline language guess: scripts first, then votes, then a small shipped model.

The publisher's ``language`` wins when present (the engine checks that). The guess
returns a primary BCP 47 subtag, or ``und`` when there is nothing to go on.

1. Non-Latin scripts decide at once: Greek → ``el``, Cyrillic → ``ru``, kana → ``ja``,
   Han → ``zh``, Hangul → ``ko``.
2. Latin-script text: the stopwords and lexicon terms the matcher found in its one pass
   vote; a clear winner (≥ 2 votes, ahead by ≥ 2) decides.
3. Otherwise py3langid (a naive Bayes model shipped inside the package, no download),
   restricted to the supported Latin-script languages, reads the first
   ``MODEL_CHARS`` characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from service.rules.text import latin1

#: Latin-script languages the model may answer (the ones the lexicons cover).
LATIN_LANGUAGES = ("en", "fi", "es", "de", "fr", "pt")
MODEL_CHARS = 300
SCRIPT_CHARS = 600

_NON_LATIN = re.compile(
    r"[\u0370-\u03ff\u1f00-\u1fff\u0400-\u04ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    r"\uf900-\ufaff\uac00-\ud7af]"
)
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
#: Runs of the same classes, to count letters by run lengths (one string per run).
_NON_LATIN_RUN = re.compile(_NON_LATIN.pattern + "+")
_LATIN_RUN = re.compile(_LATIN.pattern + "+")
_SCRIPT_OF = (
    ("el", 0x0370, 0x03FF),
    ("el", 0x1F00, 0x1FFF),
    ("ru", 0x0400, 0x04FF),
    ("ja", 0x3040, 0x30FF),
    ("ko", 0xAC00, 0xD7AF),
)
_KANA = re.compile(r"[\u3040-\u30ff]")


def _script(ch: str) -> str:
    cp = ord(ch)
    for lang, lo, hi in _SCRIPT_OF:
        if lo <= cp <= hi:
            return lang
    return "zh"


def _mostly_latin(sample: str) -> bool:
    """More than three times as many Latin letters as non-Latin ones (the non-Latin ones
    are counted only until the answer is known)."""
    latin = sum(map(len, _LATIN_RUN.findall(sample)))
    non_latin = 0
    for run in _NON_LATIN_RUN.finditer(sample):
        non_latin += run.end() - run.start()
        if non_latin * 3 >= latin:
            return False
    return True


def script_language(sample: str) -> str | None:
    """The language a non-Latin script decides, or None for Latin (or no) letters."""
    if sample.isascii():  # a flag of the string: no non-Latin letter, without a search
        return None
    if latin1(sample) is not None:
        return None  # Latin-1 text: one encoding instead of a search through it
    first = _NON_LATIN.search(sample)
    if first is None:
        return None
    if _LATIN.search(sample) is not None and _mostly_latin(sample):
        return None  # mostly Latin letters with a few foreign ones
    best = _script(first.group())
    if best == "zh" and _KANA.search(sample):
        return "ja"
    return best


@lru_cache(maxsize=1)
def _model() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
    ident.set_languages(list(LATIN_LANGUAGES))
    return ident


def preload() -> None:
    """Load the language model now (about 0.7 s) rather than on the first Latin-script
    text without a language tag, which would stall that event's whole batch."""
    _model()


def model_language(sample: str) -> str:
    lang, _score = _model().classify(sample[:MODEL_CHARS])
    return str(lang)


def decide(
    sample: str,
    votes: Mapping[str, int],
    stopword_votes: Callable[[], Mapping[str, int]] | None = None,
) -> str:
    """Language of ``sample`` (raw text) given the matcher's lexicon votes and, for
    Latin-script text, its stopword votes (computed only when needed)."""
    script = script_language(sample[:SCRIPT_CHARS])
    if script is not None:
        return script
    if not _LATIN.search(sample[:SCRIPT_CHARS]):
        return "und"
    merged = dict(votes)
    if stopword_votes is not None:
        for lang, n in stopword_votes().items():
            merged[lang] = merged.get(lang, 0) + n
    latin_votes = [(n, lang) for lang, n in merged.items() if lang in LATIN_LANGUAGES]
    if latin_votes:
        latin_votes.sort(reverse=True)
        best_n, best = latin_votes[0]
        second = latin_votes[1][0] if len(latin_votes) > 1 else 0
        if best_n >= 2 and best_n - second >= 2:
            return best
    return model_language(sample)
