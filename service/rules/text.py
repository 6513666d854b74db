"""Text normalisation, and the tone of a text (capitals, punctuation).

Normalisation: NFKC, case folding (Greek final sigma becomes σ), and removal of
combining marks (Greek tonos, Finnish/German umlauts, Russian й/ё) — applied alike to
lexicon terms and to text, so "ΑΚΥΡΩΣΗ", "ακύρωση" and "ακυρωση" all match. ``spaced``
then turns the normalised text into the form the lexicon matcher reads (see
``service/rules/matcher.py``): one space between words, ``ǂ`` for clause breaks.
"""

from __future__ import annotations

import re
import unicodedata

# the limit of what is analysed, ``spaced``, the clause token and the tone are compiled
# (loops over the code points); this module is where the rest of the rules read them
from service.rules._scan import CLAUSE as CLAUSE
from service.rules._scan import MAX_ANALYSED_CHARS as MAX_ANALYSED_CHARS
from service.rules._scan import angry_punctuation as angry_punctuation
from service.rules._scan import shouting_ratio as shouting_ratio
from service.rules._scan import spaced as spaced

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_NONWORD = re.compile(r"[\W_]+")
#: Combining marks (removed after canonical decomposition): diacritics, Cyrillic
#: titlo/palatalisation, kana voicing marks.
_COMBINING = re.compile(
    r"[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
    r"\u3099\u309a]+"
)
#: The combining marks of the supported languages' accented letters: acute (Greek tonos),
#: diaeresis, breve (Russian й), grave, circumflex, tilde, ring, caron, cedilla, ogonek.
#: One combining mark: to test for any (a one-character class is searched by a fast
#: prefix scan, which a repeated class is not: about 2.5 times as fast).
_ONE_COMBINING = re.compile(_COMBINING.pattern.removesuffix("+"))
_COMMON_MARKS = "\u0301\u0308\u0306\u0300\u0302\u0303\u030a\u030c\u0327\u0328"


#: Fullwidth punctuation common in CJK text, with its NFKC form. Replacing these first
#: lets NFKC's quick check pass on typical Chinese text (NFKC maps each of them to one
#: ASCII starter, so the result is the same).
_FULLWIDTH = tuple((ch, unicodedata.normalize("NFKC", ch)) for ch in "，！？：；（）\u3000")


#: Accented letters of Greek (tonos, dialytika) and Russian (й, ё), after case folding,
#: with their letters without the marks.
_ACCENTED = tuple(
    (ch, unicodedata.normalize("NFC", _COMBINING.sub("", unicodedata.normalize("NFD", ch))))
    for ch in "άέήίόύώϊϋΐΰйё"
)


def _full_normalize(text: str) -> str:
    if not unicodedata.is_normalized("NFKC", text):
        for ch, rep in _FULLWIDTH:
            if ch in text:
                text = text.replace(ch, rep)
        text = unicodedata.normalize("NFKC", text)
    folded = text.casefold()
    if folded.isascii() or unicodedata.is_normalized("NFD", folded):
        return folded
    # Greek and Russian: replace the accented letters by their base letters; when nothing
    # else decomposes, composes or is a combining mark, that is NFD → strip → NFC
    stripped = folded
    for ch, base in _ACCENTED:
        if ch in stripped:
            stripped = stripped.replace(ch, base)
    if (
        unicodedata.is_normalized("NFD", stripped)
        and unicodedata.is_normalized("NFC", stripped)
        and _ONE_COMBINING.search(stripped) is None
    ):
        return stripped
    decomposed = unicodedata.normalize("NFD", folded)
    # the common marks go by str.replace (one C loop each); the expression removes the rest
    for mark in _COMMON_MARKS:
        if mark in decomposed:
            decomposed = decomposed.replace(mark, "")
    if _ONE_COMBINING.search(decomposed) is not None:
        decomposed = _COMBINING.sub("", decomposed)
    return unicodedata.normalize("NFC", decomposed)


def _latin1_tables() -> tuple[bytes, bytes]:
    """Latin-1 characters whose normal form is one Latin-1 character (``é`` → ``e``,
    ``Ä`` → ``a``, no-break space → space), as a bytes translation table, and the others
    (``ß`` → ``ss``, ``µ`` → ``μ``, ``½``, spacing accents such as ``¨``) as bytes to
    delete-test. All Latin-1 characters are starters that compose with nothing before or
    after them, so such a text normalises character by character
    (``test_text_fast_paths.py`` checks every pair)."""
    table = bytearray(range(256))
    other = bytearray()
    for i in range(128, 256):
        norm = _full_normalize(chr(i))
        if len(norm) == 1 and ord(norm) < 256:
            table[i] = ord(norm)
        else:
            other.append(i)
    for i in range(128):
        table[i] = ord(chr(i).lower())
    return bytes(table), bytes(other)


_LATIN1_FOLD, _LATIN1_OTHER = _latin1_tables()


def normalize(text: str) -> str:
    """NFKC, case folding, combining marks removed (see the module docstring). ASCII text
    only needs ``lower()`` and Latin-1 text one bytes translation; other text takes the
    Unicode route (``test_text_fast_paths.py`` holds the three to one reference)."""
    if text.isascii():  # NFKC is the identity; casefold is lower()
        return text.lower()
    raw = latin1(text)
    if raw is None:
        return _full_normalize(text)
    # Latin-1 text (Finnish, Spanish, German, French, Portuguese…): one bytes translation
    if len(raw.translate(None, _LATIN1_OTHER)) == len(raw):
        return raw.translate(_LATIN1_FOLD).decode("latin-1")
    return _full_normalize(text)


def latin1(text: str) -> bytes | None:
    """``text`` encoded in Latin-1, or None when it has other characters. (Encoded with
    errors ignored and the lengths compared: raising and catching the error for Greek,
    Cyrillic or CJK text costs several times the encoding.)"""
    raw = text.encode("latin-1", "ignore")
    return raw if len(raw) == len(text) else None


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None
