"""The language guess as it was in Python (``service/rules/language.py`` before its steps
were compiled into ``guess_language`` in ``service/rules/_scan.pyx``): the reference of
``tests/unit/test_native_facts.py``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from service.rules.language import LATIN_LANGUAGES, SCRIPT_CHARS, model_language, script_language

_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


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
