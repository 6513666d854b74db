"""ORACLE — the pure-Python lexicon matcher as it ran before its per-event loop moved to
native code (``service/rules/_scan.pyx``), kept unchanged but for this paragraph as the
reference that ``tests/unit/test_native_scan.py`` compares the compiled matcher with.
Nothing in the service imports it. When the scan's behaviour changes on purpose, change
both, and the test says whether they still agree.

Lexicon matching in one linear pass (Aho–Corasick).

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
Stopwords vote for the language of Latin-script text in the same pass.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

from service.rules.text import _NONWORD, has_cjk, normalize
from tests.oracle.text_py import CLAUSE, latin1, spaced

#: A CJK term preceded (within ``CJK_NEGATION_CHARS``) by one of these is negated.
_CJK_NEGATORS = frozenset("不没沒别別未无無")
CJK_NEGATION_CHARS = 3
#: Negators that are ordinary words in another supported language (Finnish "en"/"et" are
#: French "in"/"and", Spanish "no" is English "no"…) negate only terms of their own
#: language; every other negator negates a term of any language ("não" + "reembolso").
_AMBIGUOUS_NEGATORS = frozenset({"en", "et", "ala", "no", "nie", "nem", "ni", "sin", "se"})
_TERM_TOKEN = re.compile(r"[\w*]+|,")
_HAS_WORD = re.compile(r"[^\W_]")

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
    #: the normalised text itself (the text model reads its emoji and emoticons)
    normalized: str = ""


@dataclass(frozen=True, slots=True)
class _Term:
    """One term of a lexicon, as the automaton finds it: under its literal head (the key)."""

    #: ``LEX`` (a signal) or the kind of modifier (``NEG``, ``PSEUDO``, ``HEDGE``, ``INTENS``)
    kind: int
    #: the lexicon
    name: str
    lang: str
    #: what must follow the head (anchored at its end), for a term with a stem or a ``*``
    #: inside; None: the head is the term
    verify: re.Pattern[str] | None
    #: a CJK term (matched as a substring, its modifiers counted in characters)
    cjk: bool
    #: a negator cancels its hits
    negatable: bool
    #: the length of the head (a word term's starts with a space)
    key_len: int
    #: the phrase a hit shows, for a term of whole words; None: the words the hit spans
    phrase: str | None


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
        keyed: dict[str, list[_Term]] = {}
        symbols: dict[str, list[_Term]] = {}
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
        #: every stopword as a whole word (" the "), its value the word
        self._stopword_auto = self._automaton({f" {w} ": [w] for w in self._stopword_langs})
        #: every term: CJK terms match anywhere, word terms after a space
        self._words = self._automaton(keyed)
        #: the word terms alone, for text without CJK characters (most text): the CJK
        #: terms' hundred-odd first characters make the automaton's root, where every
        #: character that continues no term is looked up again, about twice as slow
        self._word_terms = self._automaton({k: v for k, v in keyed.items() if k[0] == " "})
        self._symbols = self._automaton(symbols)
        #: every symbol term starts with one of these (its first two characters): a text
        #: without any skips the symbol pass (``in`` on a narrower string is immediate)
        self._symbol_heads = tuple(sorted({key[:2] for key in symbols}))
        self._latin1_symbol_heads = tuple(h for h in self._symbol_heads if max(h) <= "\xff")
        #: their first characters: a one-character ``in`` is a fast scan, so a text
        #: without any of them is ruled out before the (slower) substring tests
        self._symbol_firsts = tuple(sorted({h[0] for h in self._symbol_heads}))

    @staticmethod
    def _automaton(keyed: Mapping[str, Iterable[object]]) -> Any:
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
        keyed: dict[str, list[_Term]],
        symbols: dict[str, list[_Term]],
    ) -> None:
        norm = normalize(raw.strip())
        negatable = self._negatable is None or name in self._negatable
        if not _HAS_WORD.search(norm):  # emoji, emoticons
            if norm.strip() and kind == LEX:
                key = sys.intern(norm.strip())
                term = _Term(LEX, name, lang, None, False, False, len(key), key)
                symbols.setdefault(key, []).append(term)
            return
        if has_cjk(norm):
            key = _NONWORD.sub("", norm)
            term = _Term(kind, name, lang, None, True, negatable, len(key), key)
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
        term = _Term(kind, name, lang, verify, False, negatable, len(head), phrase)
        keyed.setdefault(sys.intern(head), []).append(term)

    def scan(self, normalized: str) -> TextSignals:
        """All signals of a normalised text (see ``normalize``)."""
        sig = TextSignals()
        if not normalized:
            return sig
        sig.normalized = normalized
        text = sig.spaced = spaced(normalized)
        hits, stated = sig.hits, sig.stated
        votes: defaultdict[str, int] = defaultdict(int)
        mods = _Modifiers(text, self.negation_window, self.hedge_window, self.intensifier_window)
        # The last start of a word hit that a modifier seen so far may change (-1: none
        # yet). Modifiers are rare and reach a few words: most hits start past it and are
        # plainly stated, which needs none of the per-language tests of ``_Modifiers``.
        # (``test_text_fast_paths.py`` compares with this scan starting from
        # ``len(text)``, where every hit takes the tests.)
        reached = -1
        # Latin-1 text (English and the other Western European languages; one encoding
        # to tell) has no CJK character and no emoji
        in_latin1 = normalized.isascii() or latin1(normalized) is not None
        auto = self._word_terms if in_latin1 or not _may_have_cjk(text) else self._words
        end: int
        terms: tuple[_Term, ...]
        for end, terms in auto.iter(text) if auto is not None else ():
            stop = end + 1
            for term in terms:
                start = stop - term.key_len
                verify = term.verify
                if verify is None:
                    hit_stop = stop
                else:
                    m = verify.match(text, stop)
                    if m is None:
                        continue
                    hit_stop = m.end()
                if term.kind:  # a modifier
                    reached = mods.see(term, start, hit_stop, reached)
                    continue
                phrase = term.phrase
                if phrase is None:  # a stem or a verified term: the words it spans
                    phrase = _spanned(text, start, hit_stop, term.cjk)
                votes[term.lang] += 1
                if term.cjk:
                    mods.cjk_hit(sig, term, start, phrase)
                elif start > reached:
                    # no modifier reaches this hit (see ``reached``): it is stated
                    name = term.name
                    found = hits.get(name)
                    if found is None:
                        hits[name] = [phrase]
                    elif phrase not in found:
                        found.append(phrase)
                    stated.add(name)
                else:
                    mods.word_hit(sig, term, start, phrase)
        if votes:
            sig.votes = dict(votes)
        if self._symbols is not None and self._may_have_symbols(normalized, in_latin1):
            self._scan_symbols(normalized, sig)
        return sig

    def _scan_symbols(self, normalized: str, sig: TextSignals) -> None:
        """The symbol terms (emoji, emoticons): substrings of the normalised text, stated."""
        end: int
        terms: tuple[_Term, ...]
        for end, terms in self._symbols.iter(normalized):
            for term in terms:
                _add(sig.hits, term.name, normalized[end + 1 - term.key_len : end + 1])
                sig.stated.add(term.name)

    def _may_have_symbols(self, normalized: str, in_latin1: bool) -> bool:
        if in_latin1:
            heads = self._latin1_symbol_heads
        elif any(map(normalized.__contains__, self._symbol_firsts)):
            heads = self._symbol_heads
        else:
            return False
        return any(map(normalized.__contains__, heads))

    def stopword_votes(self, spaced_text: str, limit: int = 300) -> dict[str, int]:
        """language → how many distinct stopwords of it the first ``limit`` characters of
        a text (as ``spaced`` gives it) have, counted as whole words."""
        if self._stopword_auto is None:
            return {}
        # the automaton finds the stopwords among the words in C (splitting the text and
        # hashing every word costs about twice as much); padded, so the first and the last
        # word count
        found = {entries[0] for _, entries in self._stopword_auto.iter(f" {spaced_text[:limit]} ")}
        if not found:
            return {}
        counts: dict[str, int] = {}
        for word in found:
            for lang in self._stopword_langs[word]:
                counts[lang] = counts.get(lang, 0) + 1
        return {lang: counts[lang] for lang in self.stopwords if lang in counts}

    def match(self, normalized: str) -> dict[str, list[str]]:
        """Map lexicon name → matched phrases (in order of appearance, deduplicated)."""
        return self.scan(normalized).hits


def _spanned(text: str, start: int, stop: int, cjk: bool) -> str:
    """The phrase of a hit of a stem or a verified term at ``start:stop``: the words it
    spans (a word term starts at a space; a stem is extended to the end of its word)."""
    if cjk:
        return text[start:stop]
    if text[stop - 1] == " ":
        phrase = text[start + 1 : stop - 1]
    else:
        nxt = text.find(" ", stop)
        phrase = text[start + 1 : nxt if nxt != -1 else len(text)]
    return phrase.replace(CLAUSE, ",") if CLAUSE in phrase else phrase


class _Modifiers:
    """The modifiers one scan has seen so far (the last of each kind, by language of the
    term), and what they do to a hit that they may reach."""

    __slots__ = ("hedge", "hwin", "intens", "iwin", "neg", "negated_at", "nwin", "pseudo", "text")

    def __init__(self, text: str, nwin: int, hwin: int, iwin: int) -> None:
        self.text = text
        self.nwin, self.hwin, self.iwin = nwin, hwin, iwin
        #: lang → (start, end, is_cjk, reach): a hit starting after ``reach`` is past the
        #: clause or the window (see ``_reach``; -1: not found yet); "*": the last negator
        #: that negates a term of any language
        self.neg: dict[str, tuple[int, int, bool, int]] = {}
        #: lang → (start, end); "*": the last of any language
        self.pseudo: dict[str, tuple[int, int]] = {}
        self.hedge: dict[str, tuple[int, int]] = {}
        self.intens: dict[str, tuple[int, int]] = {}
        #: (lexicon, start) of the negated hits: the same words as a term of another
        #: language are negated too
        self.negated_at: set[tuple[str, int]] = set()

    def see(self, term: _Term, start: int, stop: int, reached: int) -> int:
        """Note a modifier found at ``start:stop``; ``reached`` (the last start of a hit
        that the modifiers seen before may change) moved on to cover this one's reach."""
        kind, lang, text = term.kind, term.lang, self.text
        if kind == PSEUDO:
            self.pseudo[lang] = self.pseudo["*"] = (start, stop)
            return reached
        if kind == NEG:
            if term.cjk:  # its reach, rarely needed, is found when it is: test every hit
                self.neg[lang] = (start, stop, True, -1)
                return len(text)
            neg = self.neg[lang] = (start, stop, False, _reach(text, stop, self.nwin))
            if text[start + 1 : stop - 1] not in _AMBIGUOUS_NEGATORS:
                self.neg["*"] = neg
            reach = neg[3]
        else:
            (self.hedge if kind == HEDGE else self.intens)[lang] = (start, stop)
            if term.cjk:  # in CJK text, where most hits take the full tests
                return len(text)
            if reached >= len(text):
                return reached
            reach = _window_end(text, stop, self.hwin if kind == HEDGE else self.iwin)
        return reach if reach > reached else reached

    def word_hit(self, sig: TextSignals, term: _Term, start: int, phrase: str) -> None:
        """Record a hit of a word term that a modifier may reach: negated (set apart) when
        the last negator of its language, or of any, negates it (``_negated_by``); else a
        hit, hedged (or else stated) and intensified when such a modifier of its language
        ends at most a window of words before it."""
        name, lang, text = term.name, term.lang, self.text
        if term.negatable and (
            (self.negated_at and (name, start) in self.negated_at)
            or (self.neg and self._negated_by(lang, start))
        ):
            self.negated_at.add((name, start))
            _add(sig.negated, name, phrase)
            return
        found = sig.hits.get(name)  # ``_add``, inline (most hits here are not negated)
        if found is None:
            sig.hits[name] = [phrase]
        elif phrase not in found:
            found.append(phrase)
        hedge = self.hedge.get(lang)
        if hedge and hedge[1] <= start + 1 and text.count(" ", hedge[1] - 1, start) <= self.hwin:
            _add(sig.hedged, name, phrase)
        else:
            sig.stated.add(name)
        inten = self.intens.get(lang)
        if inten and inten[1] <= start + 1 and text.count(" ", inten[1] - 1, start) <= self.iwin:
            _add(sig.intensified, name, phrase)

    def cjk_hit(self, sig: TextSignals, term: _Term, start: int, phrase: str) -> None:
        """``word_hit`` for a CJK term: negated by 不/没/别… within ``CJK_NEGATION_CHARS``
        before it (unless the term itself starts with one) or by a language-neutral
        negator; a window of words is three characters a word."""
        name, lang, text = term.name, term.lang, self.text
        if term.negatable and (
            (self.negated_at and (name, start) in self.negated_at)
            or (
                text[start] not in _CJK_NEGATORS
                and not _CJK_NEGATORS.isdisjoint(text[max(0, start - CJK_NEGATION_CHARS) : start])
            )
            or _negates(self.neg.get("*"), self.pseudo.get("*"), start, text, self.nwin)
        ):
            self.negated_at.add((name, start))
            _add(sig.negated, name, phrase)
            return
        found = sig.hits.get(name)  # ``_add``, inline (most hits here are not negated)
        if found is None:
            sig.hits[name] = [phrase]
        elif phrase not in found:
            found.append(phrase)
        hedge = self.hedge.get(lang)
        if hedge and hedge[1] <= start + 1 and start - hedge[1] <= self.hwin * 3:
            _add(sig.hedged, name, phrase)
        else:
            sig.stated.add(name)
        inten = self.intens.get(lang)
        if inten and inten[1] <= start + 1 and start - inten[1] <= self.iwin * 3:
            _add(sig.intensified, name, phrase)

    def _negated_by(self, lang: str, start: int) -> bool:
        """The last negator of ``lang``, or the last of any language, negates the (non-CJK)
        hit at ``start``."""
        for key in (lang, "*"):
            near = self.neg.get(key)
            # most hits are out of the last negators' reach: that test here, ``_negates``
            # (which repeats it) only for the others
            if (
                near is not None
                and near[1] <= start + 1
                and (near[3] < 0 or start <= near[3])
                and _negates(near, self.pseudo.get(key), start, self.text, self.nwin)
            ):
                return True
        return False


#: The UTF-8 lead bytes of U+3000–U+FFFF: every CJK character starts with one of them.
_WIDE_LEADS = bytes(range(0xE3, 0xF0))


def _may_have_cjk(text: str) -> bool:
    """False when ``text`` has no character from U+3000 on, so no CJK term can match
    (one encoding and a byte search each: a third of a regular-expression scan)."""
    if text.isascii():
        return False
    raw = text.encode()
    return any(map(raw.__contains__, _WIDE_LEADS))


def _reach(text: str, n_end: int, window: int) -> int:
    """The last start of a hit that a (non-CJK) negator ending at ``n_end`` reaches: the
    negation ends at the next clause break, and at most ``window`` spaces (words) may lie
    from ``n_end - 1`` to the hit. Found once per negator instead of once per hit, looking
    no further than the window (so the work stays linear in the text)."""
    pos = _window_end(text, n_end, window)
    clause = text.find(CLAUSE, n_end, pos)
    return pos if clause == -1 else clause


def _window_end(text: str, n_end: int, window: int) -> int:
    """The last start of a (non-CJK) hit with at most ``window`` spaces (words) from
    ``n_end - 1`` to it: ``text.count(" ", n_end - 1, start) <= window`` exactly when
    ``start <= _window_end(text, n_end, window)``; that is the position of the
    ``window + 1``-th space from ``n_end - 1`` on (one regular-expression match instead of
    a ``find`` per word)."""
    words = _WORD_RUNS.get(window)
    if words is None:
        words = _WORD_RUNS[window] = re.compile(f"(?:[^ ]* ){{{window + 1}}}")
    m = words.match(text, n_end - 1)
    return len(text) if m is None else m.end() - 1


#: window → the expression of ``_window_end``
_WORD_RUNS: dict[int, re.Pattern[str]] = {}


def _negates(
    neg: tuple[int, int, bool, int] | None,
    pseudo: tuple[int, int] | None,
    start: int,
    text: str,
    window: int,
) -> bool:
    """Whether ``neg`` negates a (non-CJK) hit at ``start``: it ends before the hit (a
    negator overlapping the hit, as in "not working", is part of its own term), the hit is
    within its reach (-1: not computed yet), and no pseudo-negator ("did not") contains it."""
    if neg is None or neg[1] > start + 1:
        return False
    reach = neg[3] if neg[3] >= 0 else _reach(text, neg[1], window)
    if start > reach:
        return False
    return pseudo is None or not (pseudo[0] <= neg[0] and neg[1] <= pseudo[1])
