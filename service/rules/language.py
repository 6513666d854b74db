"""Offline language guess: scripts first, then votes, then a small shipped model.

The publisher's ``language`` wins when present (the engine checks that). The guess
returns a primary BCP 47 subtag, or ``und`` when there is nothing to go on.

1. Non-Latin scripts decide at once: Greek → ``el``, Cyrillic → ``ru``, kana → ``ja``,
   Han → ``zh``, Hangul → ``ko``.
2. Latin-script text: the stopwords and lexicon terms the matcher found in its one pass
   vote; a clear winner (≥ 2 votes, ahead by ≥ 2) decides.
3. Otherwise py3langid's model (naive Bayes over byte n-grams, shipped inside the
   package, no download), restricted to the supported Latin-script languages, reads the
   first ``MODEL_CHARS`` characters. The model is the library's; it runs in C
   (``_langid.pyx``, with the library's ``classify`` as its oracle in tests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

# the steps are compiled (``_scan.pyx``: step 1 is a pass over the code points); the
# model of step 3 is called from there
from service.rules._langid import NaiveBayesLanguages
from service.rules._scan import LATIN_LANGUAGES as LATIN_LANGUAGES
from service.rules._scan import SCRIPT_CHARS as SCRIPT_CHARS
from service.rules._scan import guess_language
from service.rules._scan import script_language as script_language

#: How much of a text the model of step 3 reads.
MODEL_CHARS = 300


@lru_cache(maxsize=1)
def _model() -> NaiveBayesLanguages:
    """py3langid's model, restricted to ``LATIN_LANGUAGES``, in the compiled runner. Only
    the restricted weights are kept (2.4 MB, against the library's 28 MB for 97
    languages), and the automaton compactly (2.3 MB against the library's table of
    39 MB, which is not kept: ``_langid.pyx``)."""
    return compiled_model(library_model())


def library_model() -> Any:
    """py3langid's identifier of ``LATIN_LANGUAGES`` (raw scores), as the library runs it
    (the oracle of ``tests/unit/test_native_langid.py``)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
    ident.set_languages(list(LATIN_LANGUAGES))
    return ident


def compiled_model(ident: Any) -> NaiveBayesLanguages:
    """The tables of a py3langid ``LanguageIdentifier`` in ``NaiveBayesLanguages``."""
    import numpy as np

    return NaiveBayesLanguages(
        ident.tk_nextmove,
        ident._rowbase,  # its rows, already multiplied by 256
        ident.tk_output,
        np.ascontiguousarray(ident.nb_ptc, dtype=np.float32),
        [float(p) for p in ident.nb_pc],
        ident.nb_classes,
    )


def preload() -> None:
    """Load the language model now (about 0.7 s) rather than on the first Latin-script
    text without a language tag, which would stall that event's whole batch."""
    _model()


def model_language(sample: str) -> str:
    return _model().classify(sample[:MODEL_CHARS])


def decide(
    sample: str,
    votes: Mapping[str, int],
    stopword_votes: Callable[[str], Mapping[str, int]] | None = None,
    spaced_text: str = "",
) -> str:
    """Language of ``sample`` (raw text) given the matcher's lexicon votes and, for
    Latin-script text, its stopword votes: ``stopword_votes(spaced_text)``, called only
    when needed (``LexiconMatcher.stopword_votes`` of the text as ``spaced`` gives it).
    The steps above, compiled (``guess_language``); the model is ``model_language``."""
    return guess_language(sample, votes, stopword_votes, spaced_text, model_language)
