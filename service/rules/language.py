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

# step 1, a pass over the code points, is compiled (``_scan.pyx``)
from service.rules._scan import script_language as script_language

#: Latin-script languages the model may answer (the ones the lexicons cover).
LATIN_LANGUAGES = ("en", "fi", "es", "de", "fr", "pt")
MODEL_CHARS = 300
SCRIPT_CHARS = 600

_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


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
    stopword_votes: Callable[[str], Mapping[str, int]] | None = None,
    spaced_text: str = "",
) -> str:
    """Language of ``sample`` (raw text) given the matcher's lexicon votes and, for
    Latin-script text, its stopword votes: ``stopword_votes(spaced_text)``, called only
    when needed (``LexiconMatcher.stopword_votes`` of the text as ``spaced`` gives it)."""
    script = script_language(sample[:SCRIPT_CHARS])
    if script is not None:
        return script
    if not _LATIN.search(sample[:SCRIPT_CHARS]):
        return "und"
    merged = dict(votes)
    if stopword_votes is not None:
        for lang, n in stopword_votes(spaced_text).items():
            merged[lang] = merged.get(lang, 0) + n
    latin_votes = [(n, lang) for lang, n in merged.items() if lang in LATIN_LANGUAGES]
    if latin_votes:
        latin_votes.sort(reverse=True)
        best_n, best = latin_votes[0]
        second = latin_votes[1][0] if len(latin_votes) > 1 else 0
        if best_n >= 2 and best_n - second >= 2:
            return best
    return model_language(sample)
