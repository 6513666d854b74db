"""Text normalisation, and the tone of a text (capitals, punctuation).

Normalisation: NFKC, case folding (Greek final sigma becomes σ), and removal of
combining marks (Greek tonos, Finnish/German umlauts, Russian й/ё) — applied alike to
lexicon terms and to text, so "ΑΚΥΡΩΣΗ", "ακύρωση" and "ακυρωση" all match. ``spaced``
then turns the normalised text into the form the lexicon matcher reads (see
``service/rules/matcher.py``): one space between words, ``ǂ`` for clause breaks.

Most texts are written in characters that compose with nothing around them (Latin-1,
Greek, Cyrillic, CJK, their punctuation, the emoji): their normal forms are worked out
once, by the Unicode route below, and such a text is written from them in one compiled
pass (``_forms``, ``_scan.Folding``): 3.6 → 1.1 µs a text on the bench mix. Any other
text takes the Unicode route.
"""

from __future__ import annotations

import re
import unicodedata

# the limit of what is analysed, ``spaced``, the clause token and the tone are compiled
# (loops over the code points); this module is where the rest of the rules read them
from service.rules._scan import CLAUSE as CLAUSE
from service.rules._scan import MAX_ANALYSED_CHARS as MAX_ANALYSED_CHARS
from service.rules._scan import Folding
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


#: The blocks whose characters may take their forms by table (``_forms``): Latin-1 and
#: Latin Extended-A, Greek, Cyrillic, general punctuation, currency signs, arrows, the
#: miscellaneous symbols and dingbats, CJK punctuation and kana, the CJK ideographs, the
#: fullwidth and halfwidth forms but Hangul's, and the emoji.
_TABLE_BLOCKS = (
    (0x0000, 0x017F),
    (0x0370, 0x03FF),
    (0x0400, 0x04FF),
    (0x2000, 0x206F),
    (0x20A0, 0x20CF),
    (0x2190, 0x21FF),
    (0x2600, 0x27BF),
    (0x3000, 0x30FF),
    (0x4E00, 0x9FFF),
    (0xFF00, 0xFF9F),  # not the halfwidth Hangul after it: its jamo compose
    (0xFFE0, 0xFFEF),
    (0x1F300, 0x1FAFF),
)


def _forms() -> dict[int, str]:
    """Each character of ``_TABLE_BLOCKS`` that is not a mark and whose normal form has
    none, with that form (``_full_normalize`` of it alone, the definition).
    Such characters compose with nothing around them, so a text of them alone
    normalises character by character (``test_text_fast_paths.py`` checks every
    character, and every pair of them but the ideographs', of which it checks a
    sample)."""
    forms: dict[int, str] = {}
    for low, high in _TABLE_BLOCKS:
        for cp in range(low, high + 1):
            ch = chr(cp)
            if _is_mark(ch):
                continue
            form = _full_normalize(ch)
            if len(form) <= 31 and not any(_is_mark(c) for c in form):
                forms[cp] = form
    return forms


def _is_mark(ch: str) -> bool:
    """A mark of any kind (Mn, Mc, Me): the enclosing ones have no combining class, and
    the text's marks are removed only beside others (``_full_normalize``)."""
    return unicodedata.category(ch).startswith("M")


_BY_TABLE = Folding(_forms())


def normalize(text: str) -> str:
    """NFKC, case folding, combining marks removed (see the module docstring). ASCII text
    only needs ``lower()``; a text of the characters ``_forms`` holds (Latin-1, Greek,
    Cyrillic, CJK and their punctuation, but for a few) is written from their forms in
    one compiled pass; other text takes the Unicode route (``test_text_fast_paths.py``
    holds the three to one reference)."""
    if text.isascii():  # NFKC is the identity; casefold is lower()
        return text.lower()
    folded = _BY_TABLE.fold(text)
    return folded if folded is not None else _full_normalize(text)


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None
