"""Text normalisation and lexicon matching, linear in the length of the text.

Normalisation: NFKC, case folding (Greek final sigma becomes σ), and removal of
combining marks (Greek tonos, Finnish/German umlauts, Russian й/ё) — applied alike to
lexicon terms and to text, so "ΑΚΥΡΩΣΗ", "ακύρωση" and "ακυρωση" all match.

Lexicon term syntax (one string per term):
- words separated by spaces must appear in that order, separated by non-letters;
- a word ending in ``*`` matches any word starting with it (a stem: ``отмен*``);
- a lone ``*`` matches any one word (``cancel * subscription``);
- a term containing CJK characters matches as a substring (CJK has no word breaks).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

_WORD = re.compile(r"\w+")
_TERM_WORD = re.compile(r"\w+\*?|\*")
#: A CJK term preceded by one of these is negated ("不满意" is not "满意").
_CJK_NEGATORS = frozenset("不没沒别別未无無非")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_ANGRY_PUNCT = re.compile(r"[!！]{2,}|[?？!！]{3,}|[?？][!！]|[!！][?？]")
#: Only the first this-many characters are analysed; longer texts keep their ticket
#: but a novel-length message says no more about severity than its first pages.
MAX_ANALYSED_CHARS = 20_000


def normalize(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFD", folded)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped)


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


@dataclass(frozen=True, slots=True)
class _Term:
    lexicon: str
    words: tuple[tuple[str, bool], ...]  # (text, is_prefix); ("", True) is any word
    source: str


class LexiconMatcher:
    """Finds which lexicons a text mentions, and the words that matched."""

    def __init__(self, lexicons: dict[str, dict[str, list[str]]]) -> None:
        self._exact: dict[str, list[_Term]] = defaultdict(list)
        self._prefix: dict[str, list[_Term]] = defaultdict(list)
        self._prefix_lengths: list[int] = []
        self._cjk: list[tuple[str, str]] = []  # (normalised term, lexicon)
        lengths: set[int] = set()
        for name, by_lang in lexicons.items():
            for terms in by_lang.values():
                for raw in terms:
                    norm = normalize(raw.strip())
                    if has_cjk(norm):
                        self._cjk.append((norm.replace(" ", ""), name))
                        continue
                    words = tuple(self._word(w) for w in _TERM_WORD.findall(norm))
                    if not words or all(w == ("", True) for w in words):
                        continue
                    term = _Term(name, words, raw)
                    first, is_prefix = words[0]
                    if is_prefix:
                        self._prefix[first].append(term)
                        lengths.add(len(first))
                    else:
                        self._exact[first].append(term)
        self._prefix_lengths = sorted(lengths)

    @staticmethod
    def _word(word: str) -> tuple[str, bool]:
        if word == "*":
            return ("", True)
        if word.endswith("*"):
            return (word.rstrip("*"), True)
        return (word, False)

    def match(self, normalized: str) -> dict[str, list[str]]:
        """Map lexicon name → matched words (in order of appearance, deduplicated)."""
        hits: dict[str, list[str]] = {}
        tokens = _WORD.findall(normalized)
        exact, prefix, lengths = self._exact, self._prefix, self._prefix_lengths
        n = len(tokens)
        for i, tok in enumerate(tokens):
            candidates = exact.get(tok)
            if candidates:
                self._try(candidates, tokens, i, n, hits)
            tlen = len(tok)
            for length in lengths:
                if length > tlen:
                    break
                cands = prefix.get(tok[:length])
                if cands:
                    self._try(cands, tokens, i, n, hits)
        if self._cjk and has_cjk(normalized):
            for term, name in self._cjk:
                if _cjk_present(normalized, term):
                    found = hits.setdefault(name, [])
                    if term not in found:
                        found.append(term)
        return hits

    @staticmethod
    def _try(
        candidates: list[_Term], tokens: list[str], i: int, n: int, hits: dict[str, list[str]]
    ) -> None:
        for term in candidates:
            words = term.words
            end = i + len(words)
            if end > n:
                continue
            ok = True
            for k in range(1, len(words)):
                text, is_prefix = words[k]
                tok = tokens[i + k]
                if not (tok.startswith(text) if is_prefix else tok == text):
                    ok = False
                    break
            if ok:
                phrase = " ".join(tokens[i:end])
                found = hits.setdefault(term.lexicon, [])
                if phrase not in found:
                    found.append(phrase)


def _cjk_present(text: str, term: str) -> bool:
    """True when ``term`` occurs at least once not directly after a negator."""
    start = text.find(term)
    while start != -1:
        if start == 0 or text[start - 1] not in _CJK_NEGATORS or term[0] in _CJK_NEGATORS:
            return True
        start = text.find(term, start + 1)
    return False


def shouting_ratio(text: str, min_letters: int = 12) -> float:
    """Share of capital letters among cased letters; 0 when there are too few letters."""
    upper = lower = 0
    for ch in text[:MAX_ANALYSED_CHARS]:
        if ch.isupper():
            upper += 1
        elif ch.islower():
            lower += 1
    total = upper + lower
    if total < min_letters:
        return 0.0
    return upper / total


def angry_punctuation(text: str) -> list[str]:
    """Runs of punctuation that show anger: ``!!``, ``?!``, ``？？？``…"""
    return _ANGRY_PUNCT.findall(text[:MAX_ANALYSED_CHARS])
