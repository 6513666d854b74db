"""Lexicon matching in one linear pass (Aho–Corasick).

Lexicon term syntax (one string per term):
- words separated by spaces must appear in that order, separated by non-letters;
  a lone ``,`` stands for clause punctuation (``great , another`` matches "Great, another");
- a word ending in ``*`` matches any word starting with it (a stem: ``отмен*``), which is
  how inflection is handled (Russian, Finnish and Greek endings);
- a lone ``*`` matches any one word (``cancel * subscription``);
- a term containing CJK characters matches as a substring (CJK has no word breaks);
- a term without letters or digits (emoji, emoticons such as ``:(``) matches as a
  substring of the normalised text.

Matching: the text is normalised, every run of non-word characters becomes one space,
and a single Aho–Corasick automaton (``Automaton``, compiled in ``_scan.pyx``) finds
every term's literal head at word starts. A term that continues after a stem or a
wildcard is confirmed by a small anchored regular expression with bounded repetitions. The cost is linear in the
length of the text; only the first ``MAX_ANALYSED_CHARS`` are analysed
(see ``service/rules/text.py`` for normalisation).

Modifiers, found in the same pass, change what a hit means (per language of the term):
- a *negator* ("not", "don't want", "δεν", "не", "ei", 不/没/别 …) within
  ``negation_window`` words before a hit of a negatable lexicon, in the same clause, cancels
  it ("I don't want a refund"); a *pseudo-negator* ("did not", "still not") containing it
  does not negate;
- a *hedge* ("maybe", "thinking about", "ίσως", "может", "ehkä", 考虑 …) within
  ``hedge_window`` words before marks the hit as hedged;
- an *intensifier* ("very", "πολύ", "очень", "todella", 非常 …) right before marks it
  as intensified.
Stopwords vote for the language of Latin-script text when the script and the lexicon
terms do not decide it: the words of the spaced text are looked up in a compiled table
(``StopwordTable`` in ``_scan.pyx``), not in the automaton.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping

from service.rules._scan import (
    HEDGE,
    INTENS,
    LEX,
    NEG,
    PSEUDO,
    STOP,
    Automaton,
    Scanner,
    SymbolHeads,
    Term,
)

# what one text says (compiled, as the scan that fills it): re-exported from here
from service.rules._scan import TextSignals as TextSignals
from service.rules.text import _NONWORD, CLAUSE, has_cjk, normalize, spaced

_TERM_TOKEN = re.compile(r"[\w*]+|,")
_HAS_WORD = re.compile(r"[^\W_]")

#: Reserved lexicon names: modifiers, not signals.
MODIFIER_LEXICONS = {
    "negators": NEG,
    "pseudo_negators": PSEUDO,
    "hedges": HEDGE,
    "intensifiers": INTENS,
    "stopwords": STOP,
}


class LexiconMatcher:
    """Finds which lexicons a text mentions, and the words that matched.

    ``lexicons`` maps lexicon name → language → terms. The reserved names in
    ``MODIFIER_LEXICONS`` (negators, pseudo_negators, hedges, intensifiers, stopwords)
    are modifiers; every other name is a signal. ``negatable`` names the signal
    lexicons a negator can cancel (all of them when None).
    """

    def __init__(
        self,
        lexicons: Mapping[str, Mapping[str, Iterable[str]]],
        *,
        negatable: Iterable[str] | None = None,
        negation_window: int = 3,
        hedge_window: int = 5,
        intensifier_window: int = 1,
    ) -> None:
        self._negatable = None if negatable is None else frozenset(negatable)
        self.negation_window = negation_window
        self.hedge_window = hedge_window
        self.intensifier_window = intensifier_window
        keyed: dict[str, list[Term]] = {}
        symbols: dict[str, list[Term]] = {}
        #: language → its stopwords (single normalised words), to guess Latin-script text
        self.stopwords: dict[str, frozenset[str]] = {}
        for name, by_lang in lexicons.items():
            kind = MODIFIER_LEXICONS.get(name, LEX)
            for lang, terms in by_lang.items():
                if kind == STOP:
                    words = {spaced(normalize(t)).strip() for t in terms}
                    self.stopwords[lang] = frozenset(w for w in words if w and " " not in w)
                    continue
                for raw in terms:
                    self._compile(name, kind, lang, raw, keyed, symbols)
        #: every stopword → the languages it is a stopword of
        self._stopword_langs: dict[str, tuple[str, ...]] = {}
        for lang, stop in self.stopwords.items():
            for word in stop:
                self._stopword_langs[word] = (*self._stopword_langs.get(word, ()), lang)
        #: every term: CJK terms match anywhere, word terms after a space
        self._words = self._automaton(keyed)
        #: the word terms alone, for text without CJK characters (most text): the CJK
        #: terms' hundred-odd first characters make the automaton's root, where every
        #: character that continues no term is looked up again, about twice as slow
        self._word_terms = self._automaton({k: v for k, v in keyed.items() if k[0] == " "})
        self._symbols = self._automaton(symbols)
        #: every symbol term starts with one of these (its first two characters): a text
        #: without any skips the symbol pass; Latin-1 text can only hold the Latin-1 ones
        heads = {key[:2] for key in symbols}
        #: the per-event half (compiled): the scan of a text, the stopwords' votes
        self._scanner = Scanner(
            words=self._words,
            word_terms=self._word_terms,
            symbols=self._symbols,
            heads=SymbolHeads(heads),
            latin1_heads=SymbolHeads(h for h in heads if max(h) <= "\xff"),
            stopword_langs=self._stopword_langs,
            languages=tuple(self.stopwords),
            negation_window=negation_window,
            hedge_window=hedge_window,
            intensifier_window=intensifier_window,
            every_hit=self._every_hit,
        )
        self.scan = self._scanner.scan
        self.stopword_votes = self._scanner.stopword_votes

    @staticmethod
    def _automaton(keyed: Mapping[str, Iterable[object]]) -> Automaton | None:
        if not keyed:
            return None
        return Automaton({key: tuple(entries) for key, entries in keyed.items()})

    def _compile(
        self,
        name: str,
        kind: int,
        lang: str,
        raw: str,
        keyed: dict[str, list[Term]],
        symbols: dict[str, list[Term]],
    ) -> None:
        norm = normalize(raw.strip())
        negatable = self._negatable is None or name in self._negatable
        if not _HAS_WORD.search(norm):  # emoji, emoticons
            if norm.strip() and kind == LEX:
                key = sys.intern(norm.strip())
                term = Term(LEX, name, lang, None, False, False, len(key), key)
                symbols.setdefault(key, []).append(term)
            return
        if has_cjk(norm):
            key = _NONWORD.sub("", norm)
            term = Term(kind, name, lang, None, True, negatable, len(key), key)
            keyed.setdefault(key, []).append(term)
            return
        words = [w for w in (w.replace("_", "") for w in _TERM_TOKEN.findall(norm)) if w]
        words = [CLAUSE if w == "," else w for w in words]
        if not words or all(w.strip("*") == "" for w in words):
            return
        # The literal head: up to (and including the stem of) the first word with a '*'.
        head = " "
        rest_at = len(words)
        stem_open = False
        for i, word in enumerate(words):
            if word == "*":
                rest_at = i
                break
            if word.endswith("*"):
                head += word.rstrip("*")
                stem_open = True
                rest_at = i + 1
                break
            head += word + " "
        if head == " ":  # starts with a wildcard: key on the first literal word
            return self._compile(name, kind, lang, " ".join(words[1:]), keyed, symbols)
        verify = None
        if rest_at < len(words):
            parts = [r"[^ ]{0,40}" if stem_open else ""]
            first = True
            for word in words[rest_at:]:
                sep = "" if (first and not stem_open) else " "
                first = False
                if word == "*":
                    parts.append(sep + r"[^ ]{1,40}")
                elif word.endswith("*"):
                    parts.append(sep + re.escape(word.rstrip("*")) + r"[^ ]{0,40}")
                else:
                    parts.append(sep + re.escape(word) + "(?= )")
            verify = re.compile("".join(parts))
        # a term of whole words (no stem, nothing to verify) is its own phrase
        phrase = head.strip().replace(CLAUSE, ",") if verify is None and not stem_open else None
        term = Term(kind, name, lang, verify, False, negatable, len(head), phrase)
        keyed.setdefault(sys.intern(head), []).append(term)

    #: every hit takes the modifier tests (the shortcut off: what tests compare it with)
    _every_hit = False

    #: All signals of a normalised text (see ``normalize``): ``Scanner.scan``.
    scan: Callable[[str], TextSignals]
    #: language → how many distinct stopwords of it the first ``limit`` (300) characters
    #: of a text (as ``spaced`` gives it) have, counted as whole words:
    #: ``Scanner.stopword_votes``.
    stopword_votes: Callable[..., dict[str, int]]

    def match(self, normalized: str) -> dict[str, list[str]]:
        """Map lexicon name → matched phrases (in order of appearance, deduplicated)."""
        return self.scan(normalized).hits
