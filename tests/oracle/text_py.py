"""ORACLE — the pure-Python ``spaced``, ``shouting_ratio`` and ``angry_punctuation`` as
they ran before they moved to native code (``service/rules/_scan.pyx``), unchanged, for
the oracle matcher (``matcher_py.py``) and ``tests/unit/test_native_scan.py``.
``tests/unit/test_text_fast_paths.py`` also holds the native ones to their definitions.
``word_count`` is the reference the native one was written against."""

from __future__ import annotations

import re

from service.rules.text import _NONWORD


def latin1(text: str) -> bytes | None:
    """``text`` encoded in Latin-1, or None when it has other characters."""
    raw = text.encode("latin-1", "ignore")
    return raw if len(raw) == len(text) else None


MAX_ANALYSED_CHARS = 20_000
_ANGRY_PUNCT = re.compile(r"[!！]{2,}|？{2,}|[?？!！]{3,}|[?？][!！]|[!！][?？]")
_UPPER = re.compile(r"[A-Z\u00c0-\u00d6\u00d8-\u00de\u0386-\u038f\u0391-\u03ab\u0400-\u042f]")
_LOWER = re.compile(r"[a-z\u00df-\u00f6\u00f8-\u00ff\u03ac-\u03ce\u0430-\u045f]+")
_CAPS_RUN = re.compile(
    r"[A-Z\u00c0-\u00d6\u00d8-\u00de\u0386-\u038f\u0391-\u03ab\u0400-\u042f]"
    r"[A-Z\u00c0-\u00d6\u00d8-\u00de\u0386-\u038f\u0391-\u03ab\u0400-\u042f]{2}"
)
_PUNCT_RUN = re.compile(r"[!?！？]{2,}")

#: The clause-break token in matched text (a letter, so one regex pass keeps it).
CLAUSE = "ǂ"
_CLAUSE_CHARS = ".,;:!?。，！？；…"
_CLAUSE_RUN = f"{CLAUSE} {CLAUSE}"


#: Non-word characters common inside whitespace-separated chunks of text; turned into
#: spaces by ``str.replace`` before the general (regular expression) pass is needed.
_COMMON_NONWORD = "'\"-()/’“”«»„¿¡#"


_SPACED_ASCII = bytes(
    1 if chr(i) in _CLAUSE_CHARS else 32 if _NONWORD.fullmatch(chr(i)) else i for i in range(128)
) + bytes(range(128, 256))


def spaced(normalized: str) -> str:
    """Clause punctuation becomes a ``ǂ`` token, every other run of non-word characters
    one space, with a space at each end: ``"great, another outage!"`` → ``" great ǂ another
    outage ǂ "``. (``str.replace`` per clause character and per common non-word
    character; then, when only words and spaces remain, ``str.replace`` on runs of spaces,
    else ``str.split``, and the regular expression only on chunks with other non-word
    characters: the cheapest way through CPython's string machinery.)"""
    if normalized.isascii():
        # one bytes translation: clause punctuation → \x01, other non-word → space
        # (split and join on bytes: ASCII only until the clause marks go in)
        # (runs of spaces are halved by replace until none is left: most runs are of two
        # or three, so that is two or three passes in C, cheaper than split and join)
        raw = normalized.encode("ascii").translate(_SPACED_ASCII)
        clauses = b"\x01" in raw
        if clauses:
            raw = raw.replace(b"\x01", b" \x01 ")
        while b"  " in raw:
            raw = raw.replace(b"  ", b" ")
        raw = raw.strip(b" ")
        if clauses:
            while b"\x01 \x01" in raw:
                raw = raw.replace(b"\x01 \x01", b"\x01")
            return f" {raw.decode('ascii').replace(chr(1), CLAUSE)} "
        return f" {raw.decode('ascii')} "
    text = normalized
    for ch in _CLAUSE_CHARS:
        if ch in text:
            text = text.replace(ch, " ǂ ")
    for ch in _COMMON_NONWORD:
        if ch in text:
            text = text.replace(ch, " ")
    if text.replace(" ", "").isalnum():
        # only words and spaces are left (most text): runs of spaces are halved by
        # replace until none is left, cheaper than split and join
        while "  " in text:
            text = text.replace("  ", " ")
        text = text.strip(" ")
        while _CLAUSE_RUN in text:
            text = text.replace(_CLAUSE_RUN, CLAUSE)
        return f" {text} "
    words = text.split()
    # str.isalnum is exactly "no [\W_] character" (both are Py_UNICODE_ISALNUM); the rare
    # chunks with other non-word characters (emoji…) are split by the regular expression
    if not "".join(words).isalnum():
        words = " ".join([w if w.isalnum() else _NONWORD.sub(" ", w) for w in words]).split()
    text = " ".join(words)
    while _CLAUSE_RUN in text:
        text = text.replace(_CLAUSE_RUN, CLAUSE)
    return f" {text} "


def _latin1_class(pattern: re.Pattern[str]) -> bytes:
    """The Latin-1 characters (as bytes) of a one-character-class pattern."""
    return bytes(i for i in range(256) if pattern.fullmatch(chr(i)))


_UPPER_L1 = _latin1_class(_UPPER)
_LOWER_L1 = _latin1_class(re.compile(_LOWER.pattern[:-1]))
#: capitals → "U", every other Latin-1 character → " " (to find three capitals in a row)
_CAPS_MAP_L1 = bytes(ord("U") if i in _UPPER_L1 else ord(" ") for i in range(256))


def shouting_ratio(text: str, min_letters: int = 12, at_least: float = 0.0) -> float:
    """Share of capital letters among cased letters; 0 when there are too few letters.

    With ``at_least``, a share below it may be reported as 0 (the small letters are then
    counted only until the share is known to be below it)."""
    sample = text[:MAX_ANALYSED_CHARS]
    raw = latin1(sample)
    if raw is not None:
        # Latin-1 text (English, most of Finnish, Spanish, German, French, Portuguese):
        # the same counts with bytes operations instead of regular expressions
        if b"UUU" not in raw.translate(_CAPS_MAP_L1):  # shouting has words in capitals
            return 0.0
        upper = len(raw) - len(raw.translate(None, _UPPER_L1))
        lower = len(raw) - len(raw.translate(None, _LOWER_L1))
    else:
        if _CAPS_RUN.search(sample) is None:
            return 0.0
        upper = len(_UPPER.findall(sample))
        if at_least > 0:
            lower = 0
            for run in _LOWER.finditer(sample):
                lower += run.end() - run.start()
                # the share only falls as small letters are added
                if upper / (upper + lower) < at_least:
                    return 0.0
        else:
            lower = sum(map(len, _LOWER.findall(sample)))
    total = upper + lower
    if total < min_letters:
        return 0.0
    return upper / total


def angry_punctuation(text: str) -> list[str]:
    """Runs of punctuation that show anger: ``!!``, ``?!``, ``？？``, ``???``…"""
    sample = text[:MAX_ANALYSED_CHARS]
    if (
        "！" not in sample
        and "？" not in sample
        and not ("!!" in sample or "??" in sample or "!?" in sample or "?!" in sample)
    ):
        return []  # no run of two (what _PUNCT_RUN needs)
    runs = _PUNCT_RUN.findall(sample)
    if not runs:
        return runs
    return [m for run in runs for m in _ANGRY_PUNCT.findall(run)]


#: kana and Han, as the native ``_script_of`` tells them
_CJK_CHAR = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def word_count(spaced_text: str) -> int:
    """REFERENCE (written with the native ``word_count``, not moved from Python): the
    words of a spaced text, every character of a CJK script a word of its own."""
    words = 0
    for token in re.split(f"[ {CLAUSE}]+", spaced_text):
        rest = _CJK_CHAR.split(token)
        words += len(token) - sum(len(part) for part in rest)  # the CJK characters
        words += sum(1 for part in rest if part)  # the runs of other word characters
    return words
