"""ORACLE — the pure-Python ``spaced`` as it ran before it moved to native code
(``service/rules/_scan.pyx``), unchanged, for the oracle matcher (``matcher_py.py``).
``tests/unit/test_text_fast_paths.py`` also holds the native one to the definition."""

from __future__ import annotations

from service.rules.text import _NONWORD

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
