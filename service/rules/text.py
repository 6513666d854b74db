"""Text normalisation and lexicon matching in one linear pass (Aho–Corasick).

Normalisation: NFKC, case folding (Greek final sigma becomes σ), and removal of
combining marks (Greek tonos, Finnish/German umlauts, Russian й/ё) — applied alike to
lexicon terms and to text, so "ΑΚΥΡΩΣΗ", "ακύρωση" and "ακυρωση" all match.

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
and a single Aho–Corasick automaton (pyahocorasick, C) finds every term's literal head
at word starts. A term that continues after a stem or a wildcard is confirmed by a
small anchored regular expression with bounded repetitions. The cost is linear in the
length of the text; only the first ``MAX_ANALYSED_CHARS`` are analysed.

Modifiers, found in the same pass, change what a hit means (per language of the term):
- a *negator* ("not", "don't want", "δεν", "не", "ei", 不/没/别 …) within
  ``negation_window`` words before a hit of a negatable lexicon, in the same clause, cancels
  it ("I don't want a refund"); a *pseudo-negator* ("did not", "still not") containing it
  does not negate;
- a *hedge* ("maybe", "thinking about", "ίσως", "может", "ehkä", 考虑 …) within
  ``hedge_window`` words before marks the hit as hedged;
- an *intensifier* ("very", "πολύ", "очень", "todella", 非常 …) right before marks it
  as intensified.
Stopwords vote for the language of Latin-script text in the same pass.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

#: Only the first this-many characters are analysed; longer texts keep their ticket
#: but a novel-length message says no more about severity than its first pages.
MAX_ANALYSED_CHARS = 20_000

#: A CJK term preceded (within ``CJK_NEGATION_CHARS``) by one of these is negated.
_CJK_NEGATORS = frozenset("不没沒别別未无無")
CJK_NEGATION_CHARS = 3
#: Negators that are ordinary words in another supported language (Finnish "en"/"et" are
#: French "in"/"and", Spanish "no" is English "no"…) negate only terms of their own
#: language; every other negator negates a term of any language ("não" + "reembolso").
_AMBIGUOUS_NEGATORS = frozenset({"en", "et", "ala", "no", "nie", "nem", "ni", "sin", "se"})
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_ANGRY_PUNCT = re.compile(r"[!！]{2,}|？{2,}|[?？!！]{3,}|[?？][!！]|[!！][?？]")
_NONWORD = re.compile(r"[\W_]+")
_TERM_TOKEN = re.compile(r"[\w*]+|,")
_HAS_WORD = re.compile(r"[^\W_]")
_UPPER = re.compile(r"[A-Z\u00c0-\u00d6\u00d8-\u00de\u0386-\u038f\u0391-\u03ab\u0400-\u042f]")
_LOWER = re.compile(r"[a-z\u00df-\u00f6\u00f8-\u00ff\u03ac-\u03ce\u0430-\u045f]")
#: Combining marks (removed after canonical decomposition): diacritics, Cyrillic
#: titlo/palatalisation, kana voicing marks.
_COMBINING = re.compile(
    r"[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
    r"\u3099\u309a]+"
)
_CAPS_RUN = re.compile(r"[A-Z\u00c0-\u00d6\u00d8-\u00de\u0386-\u038f\u0391-\u03ab\u0400-\u042f]{3}")
_PUNCT_RUN = re.compile(r"[!?！？]{2,}")

# Entry kinds in the automaton.
LEX, NEG, PSEUDO, HEDGE, INTENS, STOP = range(6)
#: Reserved lexicon names: modifiers, not signals.
MODIFIER_LEXICONS = {
    "negators": NEG,
    "pseudo_negators": PSEUDO,
    "hedges": HEDGE,
    "intensifiers": INTENS,
    "stopwords": STOP,
}


def normalize(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    if folded.isascii() or unicodedata.is_normalized("NFD", folded):
        return folded
    decomposed = _COMBINING.sub("", unicodedata.normalize("NFD", folded))
    return unicodedata.normalize("NFC", decomposed)


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


#: The clause-break token in matched text (a letter, so one regex pass keeps it).
CLAUSE = "ǂ"
_CLAUSE_CHARS = ".,;:!?。，！？；…"
_CLAUSE_RUN = f"{CLAUSE} {CLAUSE}"


def spaced(normalized: str) -> str:
    """Clause punctuation becomes a ``ǂ`` token, every other run of non-word characters
    one space, with a space at each end: ``"great, another outage!"`` → ``" great ǂ another
    outage ǂ "``. (``str.replace`` per clause character, then one regular expression: the
    cheapest way through CPython's string machinery.)"""
    text = normalized
    for ch in _CLAUSE_CHARS:
        if ch in text:
            text = text.replace(ch, " ǂ ")
    text = _NONWORD.sub(" ", text)
    while _CLAUSE_RUN in text:
        text = text.replace(_CLAUSE_RUN, CLAUSE)
    return f" {text.strip()} "


@dataclass(slots=True)
class TextSignals:
    """What one text says, found in one pass."""

    #: lexicon → matched phrases (not negated), in order of appearance, deduplicated
    hits: dict[str, list[str]] = field(default_factory=dict)
    #: lexicon → phrases that a negator cancelled (shown only when debugging)
    negated: dict[str, list[str]] = field(default_factory=dict)
    #: lexicons with at least one hit that was not hedged
    stated: set[str] = field(default_factory=set)
    #: lexicon → hedged phrases ("maybe I'll cancel")
    hedged: dict[str, list[str]] = field(default_factory=dict)
    #: lexicon → intensified phrases ("very disappointed")
    intensified: dict[str, list[str]] = field(default_factory=dict)
    #: language → votes (lexicon terms of that language; stopwords are counted apart)
    votes: dict[str, int] = field(default_factory=dict)
    #: the text as matched: normalised, one space between words, "," for clause breaks
    spaced: str = ""


_Entry = tuple[Any, ...]


def _add(bucket: dict[str, list[str]], name: str, phrase: str) -> None:
    found = bucket.get(name)
    if found is None:
        bucket[name] = [phrase]
    elif phrase not in found:
        found.append(phrase)


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
        keyed: dict[str, list[_Entry]] = {}
        symbols: dict[str, list[_Entry]] = {}
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
        self._words = self._automaton(keyed)
        self._symbols = self._automaton(symbols)

    @staticmethod
    def _automaton(keyed: dict[str, list[_Entry]]) -> Any:
        if not keyed:
            return None
        auto = ahocorasick.Automaton()
        for key, entries in keyed.items():
            auto.add_word(key, tuple(entries))
        auto.make_automaton()
        return auto

    def _compile(
        self,
        name: str,
        kind: int,
        lang: str,
        raw: str,
        keyed: dict[str, list[_Entry]],
        symbols: dict[str, list[_Entry]],
    ) -> None:
        norm = normalize(raw.strip())
        negatable = self._negatable is None or name in self._negatable
        if not _HAS_WORD.search(norm):  # emoji, emoticons
            if norm.strip() and kind == LEX:
                key = sys.intern(norm.strip())
                symbols.setdefault(key, []).append((LEX, name, lang, None, 2, False, len(key)))
            return
        if has_cjk(norm):
            key = _NONWORD.sub("", norm)
            keyed.setdefault(key, []).append((kind, name, lang, None, 1, negatable, len(key)))
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
        keyed.setdefault(sys.intern(head), []).append(
            (kind, name, lang, verify, 0, negatable, len(head))
        )

    def scan(self, normalized: str) -> TextSignals:
        """All signals of a normalised text (see ``normalize``)."""
        sig = TextSignals()
        if not normalized:
            return sig
        text = sig.spaced = spaced(normalized)
        hits, negated, stated = sig.hits, sig.negated, sig.stated
        votes = sig.votes
        last_neg: dict[str, tuple[int, int, int]] = {}  # lang → (start, end, is_cjk)
        last_pseudo: dict[str, tuple[int, int]] = {}
        last_hedge: dict[str, tuple[int, int]] = {}
        last_int: dict[str, tuple[int, int]] = {}
        negated_at: set[tuple[str, int]] = set()
        nwin, hwin, iwin = self.negation_window, self.hedge_window, self.intensifier_window
        auto = self._words
        if auto is not None:
            for end, entries in auto.iter(text):
                for entry in entries:
                    kind, name, lang, verify, cjk, negatable, key_len = entry
                    stop = end + 1
                    start = stop - key_len
                    if verify is not None:
                        m = verify.match(text, stop)
                        if m is None:
                            continue
                        stop = m.end()
                    if kind == LEX:
                        phrase = _phrase(text, start, stop, cjk)
                        votes[lang] = votes.get(lang, 0) + 1
                        if negatable and (
                            (name, start) in negated_at
                            or _negated(
                                text, start, cjk, last_neg.get(lang), last_pseudo.get(lang), nwin
                            )
                            or _negated(
                                text, start, 0, last_neg.get("*"), last_pseudo.get("*"), nwin
                            )
                        ):
                            # the same words as a term of another language are negated too
                            negated_at.add((name, start))
                            _add(negated, name, phrase)
                            continue
                        _add(hits, name, phrase)
                        hedge = last_hedge.get(lang)
                        if hedge is not None and _within(text, hedge[1], start, cjk, hwin):
                            _add(sig.hedged, name, phrase)
                        else:
                            stated.add(name)
                        inten = last_int.get(lang)
                        if inten is not None and _within(text, inten[1], start, cjk, iwin):
                            _add(sig.intensified, name, phrase)
                    elif kind == NEG:
                        last_neg[lang] = (start, stop, cjk)
                        if not cjk and text[start + 1 : stop - 1] not in _AMBIGUOUS_NEGATORS:
                            last_neg["*"] = (start, stop, cjk)
                    elif kind == PSEUDO:
                        last_pseudo[lang] = last_pseudo["*"] = (start, stop)
                    elif kind == HEDGE:
                        last_hedge[lang] = (start, stop)
                    else:
                        last_int[lang] = (start, stop)
        if self._symbols is not None:
            for end, entries in self._symbols.iter(normalized):
                for entry in entries:
                    _add(hits, entry[1], normalized[end + 1 - entry[6] : end + 1])
                    stated.add(entry[1])
        return sig

    def stopword_votes(self, spaced_text: str, limit: int = 300) -> dict[str, int]:
        """language → how many distinct stopwords of it the start of the text has."""
        words = set(spaced_text[:limit].split())
        return {lang: n for lang, stop in self.stopwords.items() if (n := len(words & stop))}

    def match(self, normalized: str) -> dict[str, list[str]]:
        """Map lexicon name → matched phrases (in order of appearance, deduplicated)."""
        return self.scan(normalized).hits


def _phrase(text: str, start: int, stop: int, cjk: int) -> str:
    if cjk:
        return text[start:stop]
    # extend a stem to the end of its word; drop the surrounding spaces
    if text[stop - 1] != " ":
        nxt = text.find(" ", stop)
        stop = nxt if nxt != -1 else len(text)
    return text[start:stop].strip().replace(CLAUSE, ",")


def _within(text: str, mod_end: int, start: int, cjk: int, window: int) -> bool:
    """True when a modifier that ended at ``mod_end`` is at most ``window`` words before."""
    if mod_end > start + 1:
        return False
    if cjk:
        return start - mod_end <= window * 3
    return text.count(" ", mod_end - 1, start) <= window


def _negated(
    text: str,
    start: int,
    cjk: int,
    neg: tuple[int, int, int] | None,
    pseudo: tuple[int, int] | None,
    window: int,
) -> bool:
    if cjk:
        lo = max(0, start - CJK_NEGATION_CHARS)
        if text[start] in _CJK_NEGATORS:
            return False
        return any(ch in _CJK_NEGATORS for ch in text[lo:start])
    if neg is None:
        return False
    n_start, n_end, _ = neg
    if pseudo is not None and pseudo[0] <= n_start and n_end <= pseudo[1]:
        return False
    if n_end > start + 1:  # the negator overlaps the hit ("not working" is its own term)
        return False
    if text.find(CLAUSE, n_end, start) != -1:  # negation ends at the clause
        return False
    return text.count(" ", n_end - 1, start) <= window


def shouting_ratio(text: str, min_letters: int = 12) -> float:
    """Share of capital letters among cased letters; 0 when there are too few letters."""
    sample = text[:MAX_ANALYSED_CHARS]
    if _CAPS_RUN.search(sample) is None:  # shouting has words in capitals
        return 0.0
    upper = len(_UPPER.findall(sample))
    lower = len(_LOWER.findall(sample))
    total = upper + lower
    if total < min_letters:
        return 0.0
    return upper / total


def angry_punctuation(text: str) -> list[str]:
    """Runs of punctuation that show anger: ``!!``, ``?!``, ``？？``, ``???``…"""
    runs = _PUNCT_RUN.findall(text[:MAX_ANALYSED_CHARS])
    if not runs:
        return runs
    return [m for run in runs for m in _ANGRY_PUNCT.findall(run)]
