# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The per-event reading of a text, compiled (Cython): the words of one text that the
lexicon automaton found, with what the modifiers before them do to them; the text's
normal form, for the characters that take it by table (``Folding``); the text as the
matcher reads it (``spaced``); its tone (``shouting_ratio``, ``angry_punctuation``); the
language its script decides (``script_language``); and whether it may hold a symbol term
at all (``SymbolHeads``).

``LexiconMatcher`` (``service/rules/matcher.py``) compiles the lexicons into ``Term``
entries of automata (``Automaton``, below) once, and hands them to a ``Scanner``; per event,
``Scanner.scan`` spaces the text and walks the automaton's hits, sorting each into the
buckets of a ``TextSignals``, then looks for symbol terms. The rules of negation,
hedging and intensifying are the matcher's (its module docstring states them); this
module is how they run per hit:

1. A hit's start is ``end + 1 - key_len`` (a word term's key starts with its space).
   A term with a stem or a ``*`` inside is confirmed by its anchored ``verify``
   expression, which also gives where the hit ends.
2. Modifiers are remembered per language of the term, the last of each kind
   (``Modifiers``); a non-ambiguous negator is remembered under ``"*"`` too, and negates a
   term of any language.
3. ``reached`` is the last start of a hit that a modifier seen so far may change. A hit
   starting after it is stated as it is, with none of the modifier tests: most hits.
   ``every_hit=True`` starts ``reached`` at the end of the text, so that every hit takes
   the tests (what the shortcut must give; ``tests/unit/test_text_fast_paths.py``).
4. The same words as a term of another language share the first's fate: a hit negated
   once at a start is negated for every lexicon term there (``negated_at``).
5. CJK terms count their windows in characters (three a word) and are negated by
   不/没/别… up to ``CJK_NEGATION_CHARS`` characters before them.

Everything here is loops in C over Python strings read as code points; the old
pure-Python implementation is the oracle of ``tests/unit/test_native_scan.py``.
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.stdint cimport int32_t, uint32_t, uint64_t
from libc.string cimport memset
from cpython.unicode cimport (
    PyUnicode_1BYTE_KIND,
    PyUnicode_4BYTE_KIND,
    PyUnicode_DATA,
    PyUnicode_FromKindAndData,
    PyUnicode_KIND,
    PyUnicode_READ,
)


cdef extern from "Python.h":
    bint Py_UNICODE_ISALNUM(Py_UCS4 ch)
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void PyUnicode_WRITE(int kind, void* data, Py_ssize_t index, Py_UCS4 value)

cdef extern from *:
    # defined by setup.py: the digest of this file as it was compiled
    const char* TRIAGE_SOURCE_DIGEST

#: The first 16 hex digits of the SHA-256 of the ``.pyx`` this module was compiled from
#: (``tests/unit/test_native_builds.py`` compares it with the file: a stale build fails).
SOURCE_DIGEST = TRIAGE_SOURCE_DIGEST.decode("ascii")

#: Only the first this-many characters are analysed; longer texts keep their ticket
#: but a novel-length message says no more about severity than its first pages.
MAX_ANALYSED_CHARS = 20_000
cdef Py_ssize_t _MAX_CHARS = MAX_ANALYSED_CHARS

#: The clause-break token in matched text (a letter, so that it is a word of its own).
CLAUSE = "ǂ"
#: Clause punctuation: each becomes a ``CLAUSE`` token in ``spaced`` text.
CLAUSE_CHARS = ".,;:!?。，！？；…"

#: Entry kinds in the automaton: a lexicon term, or a modifier.
LEX, NEG, PSEUDO, HEDGE, INTENS, STOP = range(6)
cdef enum:
    _LEX = 0
    _NEG = 1
    _PSEUDO = 2
    _HEDGE = 3

#: A CJK term preceded (within ``CJK_NEGATION_CHARS``) by one of these is negated.
CJK_NEGATORS = frozenset("不没沒别別未无無")
CJK_NEGATION_CHARS = 3
#: Negators that are ordinary words in another supported language (Finnish "en"/"et" are
#: French "in"/"and", Spanish "no" is English "no"…) negate only terms of their own
#: language; every other negator negates a term of any language ("não" + "reembolso").
AMBIGUOUS_NEGATORS = frozenset({"en", "et", "ala", "no", "nie", "nem", "ni", "sin", "se"})

cdef frozenset _AMBIGUOUS = AMBIGUOUS_NEGATORS
cdef str _CLAUSE_STR = CLAUSE
cdef Py_UCS4 _CLAUSE = CLAUSE[0]
cdef str _CLAUSE_RUN = f"{CLAUSE} {CLAUSE}"
cdef Py_ssize_t _CJK_CHARS = CJK_NEGATION_CHARS


cdef class Term:
    """One term of a lexicon, as the automaton finds it: under its literal head (the key)."""

    #: ``LEX`` (a signal) or the kind of modifier (``NEG``, ``PSEUDO``, ``HEDGE``, ``INTENS``)
    cdef readonly int kind
    #: the lexicon, and the language of the term
    cdef readonly str name
    cdef readonly str lang
    #: what must follow the head (anchored at its end), for a term with a stem or a ``*``
    #: inside; None: the head is the term
    cdef readonly object verify
    #: a CJK term (matched as a substring, its modifiers counted in characters)
    cdef readonly bint cjk
    #: a negator cancels its hits
    cdef readonly bint negatable
    #: the length of the head (a word term's starts with a space)
    cdef readonly Py_ssize_t key_len
    #: the phrase a hit shows, for a term of whole words; None: the words the hit spans
    cdef readonly object phrase

    def __init__(
        self,
        int kind,
        str name,
        str lang,
        object verify,
        bint cjk,
        bint negatable,
        Py_ssize_t key_len,
        object phrase,
    ):
        self.kind = kind
        self.name = name
        self.lang = lang
        self.verify = verify
        self.cjk = cjk
        self.negatable = negatable
        self.key_len = key_len
        self.phrase = phrase

    def __repr__(self):
        return (
            f"Term(kind={self.kind}, name={self.name!r}, lang={self.lang!r}, "
            f"key_len={self.key_len}, phrase={self.phrase!r})"
        )


cdef class TextSignals:
    """What one text says, found in one pass (``Scanner.scan``)."""

    #: lexicon → matched phrases (not negated), in order of appearance, deduplicated
    cdef public dict hits
    #: lexicon → phrases that a negator cancelled (shown only when debugging)
    cdef public dict negated
    #: lexicons with at least one hit that was not hedged
    cdef public set stated
    #: lexicon → hedged phrases ("maybe I'll cancel")
    cdef public dict hedged
    #: lexicon → intensified phrases ("very disappointed")
    cdef public dict intensified
    #: language → votes (lexicon terms of that language; stopwords are counted apart)
    cdef public dict votes
    #: the text as matched: normalised, one space between words, "ǂ" for clause breaks
    cdef public str spaced
    #: the normalised text itself (the text model reads its emoji and emoticons)
    cdef public str normalized

    def __init__(
        self,
        dict hits=None,
        dict negated=None,
        set stated=None,
        dict hedged=None,
        dict intensified=None,
        dict votes=None,
        str spaced="",
        str normalized="",
    ):
        self.hits = {} if hits is None else hits
        self.negated = {} if negated is None else negated
        self.stated = set() if stated is None else stated
        self.hedged = {} if hedged is None else hedged
        self.intensified = {} if intensified is None else intensified
        self.votes = {} if votes is None else votes
        self.spaced = spaced
        self.normalized = normalized

    def as_dict(self):
        """Every field by name, in the order above (what tests compare)."""
        return {
            "hits": self.hits,
            "negated": self.negated,
            "stated": self.stated,
            "hedged": self.hedged,
            "intensified": self.intensified,
            "votes": self.votes,
            "spaced": self.spaced,
            "normalized": self.normalized,
        }

    def __eq__(self, other):
        if not isinstance(other, TextSignals):
            return NotImplemented
        return self.as_dict() == (<TextSignals>other).as_dict()

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items())
        return f"TextSignals({fields})"


cdef TextSignals _new_signals():
    """An empty ``TextSignals`` without ``__init__``'s argument parsing."""
    cdef TextSignals sig = TextSignals.__new__(TextSignals)
    sig.hits = {}
    sig.negated = {}
    sig.stated = set()
    sig.hedged = {}
    sig.intensified = {}
    sig.votes = {}
    sig.spaced = ""
    sig.normalized = ""
    return sig


cdef inline bint _is_clause(Py_UCS4 ch):
    if ch < 0x80:
        return ch == u"." or ch == u"," or ch == u";" or ch == u":" or ch == u"!" or ch == u"?"
    return ch == 0x3002 or ch == 0xFF0C or ch == 0xFF01 or ch == 0xFF1F or ch == 0xFF1B or ch == 0x2026


cdef inline bint _is_alnum(Py_UCS4 ch) noexcept:
    """``str.isalnum`` of one character: ASCII by its ranges, the rest by Python's tables
    (most characters of most texts are ASCII, and the tables cost a call each)."""
    if ch < 128:
        return (u"a" <= ch <= u"z") or (u"0" <= ch <= u"9") or (u"A" <= ch <= u"Z")
    return Py_UNICODE_ISALNUM(ch)


cpdef str spaced(str normalized):
    """The text as the matcher reads it: each clause punctuation character
    (``CLAUSE_CHARS``) becomes a ``ǂ`` token, every other run of non-word characters (not
    ``str.isalnum``) one space, with one space at each end and runs of ``ǂ`` tokens made
    one: ``"great, another outage!"`` → ``" great ǂ another outage ǂ "``. One pass over
    the code points into a buffer (``tests/unit/test_text_fast_paths.py`` holds it to the
    regular-expression definition)."""
    cdef Py_ssize_t n = len(normalized)
    # at most: a space, then each character as " ǂ" or a space and the character, a space
    cdef Py_UCS4* buf = <Py_UCS4*>PyMem_Malloc((2 * n + 2) * sizeof(Py_UCS4))
    cdef Py_ssize_t size = 1
    cdef bint gap = False  # a non-word run is pending (written as one space before a word)
    cdef Py_UCS4 ch
    cdef str text
    if buf == NULL:
        raise MemoryError()
    try:
        buf[0] = u" "
        for ch in normalized:
            if _is_alnum(ch):
                if gap:
                    buf[size] = u" "
                    size += 1
                    gap = False
                buf[size] = ch
                size += 1
            elif _is_clause(ch):
                if buf[size - 1] != u" ":
                    buf[size] = u" "
                    size += 1
                buf[size] = _CLAUSE
                size += 1
                gap = True
            elif buf[size - 1] != u" ":
                gap = True
        buf[size] = u" "
        size += 1
        text = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, size)
    finally:
        PyMem_Free(buf)
    # the rare "ǂ ǂ" (two clause marks with only non-word characters between them, or a
    # "ǂ" in the text itself) collapses as the definition's repeated replacement does
    while _CLAUSE_RUN in text:
        text = text.replace(_CLAUSE_RUN, _CLAUSE_STR)
    return text


cdef inline void _add(dict bucket, str name, str phrase):
    cdef list found = bucket.get(name)
    if found is None:
        bucket[name] = [phrase]
    elif phrase not in found:
        found.append(phrase)


cpdef Py_ssize_t window_end(str text, Py_ssize_t n_end, Py_ssize_t window):
    """The last start of a (non-CJK) hit with at most ``window`` spaces (words) from
    ``n_end - 1`` to it: ``text.count(" ", n_end - 1, start) <= window`` exactly when
    ``start <= window_end(text, n_end, window)``; that is the position of the
    ``window + 1``-th space from ``n_end - 1`` on (the length of the text when there are
    fewer)."""
    cdef Py_ssize_t n = len(text)
    cdef Py_ssize_t i
    cdef Py_ssize_t count = 0
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    for i in range(n_end - 1 if n_end > 0 else 0, n):
        if PyUnicode_READ(kind, data, i) == u" ":
            count += 1
            if count > window:
                return i
    return n


cdef Py_ssize_t _reach(str text, Py_ssize_t n_end, Py_ssize_t window):
    """The last start of a hit that a (non-CJK) negator ending at ``n_end`` reaches: the
    negation ends at the next clause break, and at most ``window`` spaces (words) may lie
    from ``n_end - 1`` to the hit. Found once per negator instead of once per hit, looking
    no further than the window (so the work stays linear in the text)."""
    cdef Py_ssize_t pos = window_end(text, n_end, window)
    cdef Py_ssize_t i
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    for i in range(n_end, pos):
        if PyUnicode_READ(kind, data, i) == _CLAUSE:
            return i
    return pos


cdef Py_ssize_t _spaces(str text, Py_ssize_t start, Py_ssize_t stop):
    """``text.count(" ", start, stop)``."""
    cdef Py_ssize_t i
    cdef Py_ssize_t count = 0
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    if start < 0:
        start = 0
    for i in range(start, stop):
        if PyUnicode_READ(kind, data, i) == u" ":
            count += 1
    return count


cpdef Py_ssize_t word_count(str spaced_text):
    """How many words a text has, as ``spaced`` gives it: its runs of word characters
    between spaces and clause tokens, each kana or Han character (``_script_of``)
    counted as a word of its own, since those scripts do not space their words
    (``tests/oracle/text_py.py`` is the reference)."""
    cdef Py_ssize_t count = 0
    cdef bint in_word = False
    cdef Py_UCS4 ch
    cdef int script
    for ch in spaced_text:
        if ch == u" " or ch == _CLAUSE:
            in_word = False
            continue
        script = _script_of(ch)
        if script == _KANA or script == _HAN:
            count += 1
            in_word = False
        elif not in_word:
            count += 1
            in_word = True
    return count


cpdef bint may_have_cjk(str text):
    """False when ``text`` has no character from U+3000 to U+FFFF, so no CJK term can
    match (the word terms' automaton alone is then enough)."""
    cdef Py_UCS4 ch
    for ch in text:
        if 0x3000 <= ch <= 0xFFFF:
            return True
    return False


cdef str _spanned(str text, Py_ssize_t start, Py_ssize_t stop, bint cjk):
    """The phrase of a hit of a stem or a verified term at ``start:stop``: the words it
    spans (a word term starts at a space; a stem is extended to the end of its word)."""
    cdef str phrase
    cdef Py_ssize_t nxt
    if cjk:
        return text[start:stop]
    if text[stop - 1] == u" ":
        phrase = text[start + 1 : stop - 1]
    else:
        nxt = text.find(" ", stop)
        phrase = text[start + 1 : nxt if nxt != -1 else len(text)]
    return phrase.replace(_CLAUSE_STR, ",") if _CLAUSE_STR in phrase else phrase


cdef bint _negates(tuple neg, tuple pseudo, Py_ssize_t start, str text, Py_ssize_t window):
    """Whether ``neg`` (start, end, is_cjk, reach) negates a (non-CJK) hit at ``start``:
    it ends before the hit (a negator overlapping the hit, as in "not working", is part of
    its own term), the hit is within its reach (-1: not computed yet), and no
    pseudo-negator ("did not") contains it."""
    cdef Py_ssize_t n_start, n_end, reach
    if neg is None:
        return False
    n_start = neg[0]
    n_end = neg[1]
    if n_end > start + 1:
        return False
    reach = neg[3]
    if reach < 0:
        reach = _reach(text, n_end, window)
    if start > reach:
        return False
    return pseudo is None or not (<Py_ssize_t>pseudo[0] <= n_start and n_end <= <Py_ssize_t>pseudo[1])


#: ``CJK_NEGATORS`` as code points, for ``_is_cjk_negator``
cdef Py_UCS4 _CJK_NEG_CODES[16]
cdef int _N_CJK_NEG = 0
if len(CJK_NEGATORS) > 16:
    raise ImportError("CJK_NEGATORS holds more than _CJK_NEG_CODES can")
for _negator in CJK_NEGATORS:
    _CJK_NEG_CODES[_N_CJK_NEG] = ord(_negator)
    _N_CJK_NEG += 1


cdef inline bint _is_cjk_negator(Py_UCS4 ch) noexcept:
    """One of ``CJK_NEGATORS``."""
    cdef int k
    for k in range(_N_CJK_NEG):
        if ch == _CJK_NEG_CODES[k]:
            return True
    return False


cdef bint _cjk_negated(str text, Py_ssize_t start):
    """A CJK negator among the ``CJK_NEGATION_CHARS`` characters before ``start``, where
    the text at ``start`` does not itself start with one (a term such as 不满 carries its
    own negator). Code points compared in C, without a slice or a set."""
    cdef Py_ssize_t i
    cdef Py_ssize_t lo = start - _CJK_CHARS if start > _CJK_CHARS else 0
    if _is_cjk_negator(text[start]):
        return False
    for i in range(lo, start):
        if _is_cjk_negator(text[i]):
            return True
    return False


cdef class Modifiers:
    """The modifiers one scan has seen so far (the last of each kind, by language of the
    term), and what they do to a hit that they may reach."""

    cdef str text
    cdef Py_ssize_t nwin, hwin, iwin, length
    #: lang → (start, end, is_cjk, reach): a hit starting after ``reach`` is past the
    #: clause or the window (see ``_reach``; -1: not found yet); "*": the last negator
    #: that negates a term of any language
    cdef dict neg
    #: lang → (start, end); "*": the last of any language
    cdef dict pseudo
    cdef dict hedge
    cdef dict intens
    #: (lexicon, start) of the negated hits: the same words as a term of another
    #: language are negated too
    cdef set negated_at
    #: the scan's buckets (``TextSignals``)
    cdef dict hits, negated, hedged, intensified
    cdef set stated

    def __init__(self, str text, Py_ssize_t nwin, Py_ssize_t hwin, Py_ssize_t iwin, TextSignals sig):
        self.text = text
        self.length = len(text)
        self.nwin, self.hwin, self.iwin = nwin, hwin, iwin
        self.neg = {}
        self.pseudo = {}
        self.hedge = {}
        self.intens = {}
        self.negated_at = set()
        self.hits = sig.hits
        self.negated = sig.negated
        self.hedged = sig.hedged
        self.intensified = sig.intensified
        self.stated = sig.stated

    cdef Py_ssize_t see(self, Term term, Py_ssize_t start, Py_ssize_t stop, Py_ssize_t reached):
        """Note a modifier found at ``start:stop``; ``reached`` (the last start of a hit
        that the modifiers seen before may change) moved on to cover this one's reach."""
        cdef int kind = term.kind
        cdef str lang = term.lang
        cdef Py_ssize_t reach
        cdef tuple neg
        if kind == _PSEUDO:
            self.pseudo[lang] = self.pseudo["*"] = (start, stop)
            return reached
        if kind == _NEG:
            if term.cjk:  # its reach, rarely needed, is found when it is: test every hit
                self.neg[lang] = (start, stop, True, -1)
                return self.length
            reach = _reach(self.text, stop, self.nwin)
            neg = (start, stop, False, reach)
            self.neg[lang] = neg
            if self.text[start + 1 : stop - 1] not in _AMBIGUOUS:
                self.neg["*"] = neg
        else:
            (self.hedge if kind == _HEDGE else self.intens)[lang] = (start, stop)
            if term.cjk:  # in CJK text, where most hits take the full tests
                return self.length
            if reached >= self.length:
                return reached
            reach = window_end(self.text, stop, self.hwin if kind == _HEDGE else self.iwin)
        return reach if reach > reached else reached

    cdef void word_hit(self, Term term, Py_ssize_t start, str phrase):
        """Record a hit of a word term that a modifier may reach: negated (set apart) when
        the last negator of its language, or of any, negates it (``_negated_by``); else
        ``_record``, windows counted in words."""
        if term.negatable and (
            (self.negated_at and (term.name, start) in self.negated_at)
            or (self.neg and self._negated_by(term.lang, start))
        ):
            self._negate(term.name, start, phrase)
            return
        self._record(term, start, phrase, False)

    cdef void cjk_hit(self, Term term, Py_ssize_t start, str phrase):
        """``word_hit`` for a CJK term: negated by 不/没/别… within ``CJK_NEGATION_CHARS``
        before it (unless the term itself starts with one) or by a language-neutral
        negator; a window of words is three characters a word."""
        cdef str text = self.text
        if term.negatable and (
            (self.negated_at and (term.name, start) in self.negated_at)
            or _cjk_negated(text, start)
            or _negates(self.neg.get("*"), self.pseudo.get("*"), start, text, self.nwin)
        ):
            self._negate(term.name, start, phrase)
            return
        self._record(term, start, phrase, True)

    cdef void _negate(self, str name, Py_ssize_t start, str phrase):
        """A negated hit: set apart (and remembered, for the other terms at ``start``)."""
        self.negated_at.add((name, start))
        _add(self.negated, name, phrase)

    cdef void _record(self, Term term, Py_ssize_t start, str phrase, bint cjk):
        """A hit that was not negated: hedged (or else stated) and intensified when such
        a modifier of its language ends at most a window before it (``_within``)."""
        cdef str name = term.name
        _add(self.hits, name, phrase)
        if self._within(self.hedge.get(term.lang), start, self.hwin, cjk):
            _add(self.hedged, name, phrase)
        else:
            self.stated.add(name)
        if self._within(self.intens.get(term.lang), start, self.iwin, cjk):
            _add(self.intensified, name, phrase)

    cdef bint _within(self, object modifier, Py_ssize_t start, Py_ssize_t window, bint cjk):
        """The modifier (``(start, stop)`` or None) ends at most ``window`` words before
        the hit at ``start``: counted in spaces, or for CJK text three characters a word."""
        cdef Py_ssize_t stop
        if modifier is None:
            return False
        stop = <Py_ssize_t>(<tuple>modifier)[1]
        if stop > start + 1:
            return False
        if cjk:
            return start - stop <= window * 3
        return _spaces(self.text, stop - 1, start) <= window

    cdef bint _negated_by(self, str lang, Py_ssize_t start):
        """The last negator of ``lang``, or the last of any language, negates the (non-CJK)
        hit at ``start``."""
        cdef tuple near
        cdef Py_ssize_t reach
        for key in (lang, "*"):
            near = self.neg.get(key)
            # most hits are out of the last negators' reach: that test here, ``_negates``
            # (which repeats it) only for the others
            if near is None or <Py_ssize_t>near[1] > start + 1:
                continue
            reach = near[3]
            if (reach < 0 or start <= reach) and _negates(
                near, self.pseudo.get(key), start, self.text, self.nwin
            ):
                return True
        return False


cdef dict _scan_words(
    Automaton auto,
    str text,
    TextSignals sig,
    Py_ssize_t negation_window,
    Py_ssize_t hedge_window,
    Py_ssize_t intensifier_window,
    bint every_hit,
):
    """The word and CJK terms of the spaced ``text`` that ``auto`` finds, sorted into the
    buckets of ``sig`` (hits, stated, negated, hedged, intensified); returns the votes per
    language of the lexicon terms found (an empty dict for none).
    ``every_hit``: every hit takes the modifier tests (rule 3 of the module docstring)."""
    cdef Modifiers mods = Modifiers(text, negation_window, hedge_window, intensifier_window, sig)
    cdef dict votes = {}
    cdef Py_ssize_t reached = len(text) if every_hit else -1
    cdef list values = auto._values
    cdef _Hits found
    cdef Py_ssize_t k
    _init_hits(&found)
    try:
        auto._find(text, &found)
        for k in range(found.n):
            reached = _scan_hit(
                mods, text, found.end[k], <tuple>values[found.value[k]], votes, reached
            )
    finally:
        _free_hits(&found)
    return votes


cdef Py_ssize_t _scan_hit(
    Modifiers mods, str text, Py_ssize_t end, tuple terms, dict votes, Py_ssize_t reached
) except -2:
    """The terms of one key that ends at ``end``, each sorted into ``mods``' buckets (rules
    1–5); returns ``reached`` as the modifiers among them leave it."""
    cdef dict hits = mods.hits
    cdef Py_ssize_t stop = end + 1
    cdef Py_ssize_t start, hit_stop
    cdef Term term
    cdef object verify, m, phrase
    cdef list found
    cdef str name
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
        if term.kind != _LEX:  # a modifier
            reached = mods.see(term, start, hit_stop, reached)
            continue
        phrase = term.phrase
        if phrase is None:  # a stem or a verified term: the words it spans
            phrase = _spanned(text, start, hit_stop, term.cjk)
        votes[term.lang] = votes.get(term.lang, 0) + 1
        if term.cjk:
            mods.cjk_hit(term, start, phrase)
        elif start > reached:
            # no modifier reaches this hit (see ``reached``): it is stated
            name = term.name
            found = hits.get(name)
            if found is None:
                hits[name] = [phrase]
            elif phrase not in found:
                found.append(phrase)
            mods.stated.add(name)
        else:
            mods.word_hit(term, start, phrase)
    return reached


cdef int _scan_symbols(Automaton auto, str normalized, TextSignals sig) except -1:
    """The symbol terms (emoji, emoticons) that ``auto`` finds in the normalised text:
    substrings, always stated."""
    cdef dict hits = sig.hits
    cdef set stated = sig.stated
    cdef list values = auto._values
    cdef Py_ssize_t k, end
    cdef Term term
    cdef _Hits found
    _init_hits(&found)
    try:
        auto._find(normalized, &found)
        for k in range(found.n):
            end = found.end[k]
            for term in <tuple>values[found.value[k]]:
                _add(hits, term.name, normalized[end + 1 - term.key_len : end + 1])
                stated.add(term.name)
    finally:
        _free_hits(&found)
    return 0


# --- a value per code point ----------------------------------------------------------


# A 32-bit value per code point, 0 for most, in pages of 256 code points up to U+10FFFF:
# ``pages[cp >> 8]`` is the page of ``cp``, the shared page of zeros where no code point
# of it has a value. What the normal forms (``Folding``) and the automaton's classes of
# characters (``Automaton``) look a character up in.
cdef struct _CodeTable:
    uint32_t** pages
    uint32_t* entries


cdef enum:
    _PAGES = 0x1100


cdef int _table_fill(_CodeTable* table, dict values) except -1:
    """``values``: code point → its value (not 0); every other code point is 0."""
    cdef list pages = sorted({cp >> 8 for cp in values})
    cdef Py_ssize_t page, at
    cdef uint32_t cp
    for cp in values:
        if cp >= 0x110000:
            raise ValueError(f"no code point U+{cp:X}")
    table.pages = <uint32_t**>_zeroed(sizeof(uint32_t*) * _PAGES)
    table.entries = <uint32_t*>_zeroed(sizeof(uint32_t) * 256 * (len(pages) + 1))
    for page in range(_PAGES):
        table.pages[page] = table.entries
    for at, page in enumerate(pages, 1):
        table.pages[page] = table.entries + 256 * at
    for cp, value in values.items():
        table.pages[cp >> 8][cp & 255] = value
    return 0


cdef inline uint32_t _table_get(const _CodeTable* table, uint32_t cp) noexcept:
    """The value of ``cp`` (a code point: below 0x110000)."""
    return table.pages[cp >> 8][cp & 255]


cdef inline void _table_free(_CodeTable* table) noexcept:
    PyMem_Free(table.pages)
    PyMem_Free(table.entries)
    table.pages = NULL
    table.entries = NULL


# --- normal forms by table ------------------------------------------------------------


cdef enum:
    # a ``Folding`` entry: 0 none; this bit and a code point: the form is that one
    # character; else ``_POOLED``, the form's offset in the pool (bits 5–29) and its
    # length (bits 0–4)
    _ONE = 0x80000000
    _POOLED = 0x40000000
    _POOL_LIMIT = 1 << 25


cdef inline Py_ssize_t _pooled_at(uint32_t entry) noexcept:
    return (entry >> 5) & (_POOL_LIMIT - 1)


cdef inline Py_ssize_t _pooled_end(uint32_t entry) noexcept:
    return _pooled_at(entry) + (entry & 31)


cdef class Folding:
    """The normal form (``text.normalize``'s) of each character of a set, written for a
    text of those characters alone one character at a time: ``fold`` gives the text's
    form, or None when it has a character outside the set. ``text.py`` chooses the set
    (characters whose form, and every pair's, is the concatenation of their own forms,
    which ``tests/unit/test_text_fast_paths.py`` checks) and works out each form with
    the Unicode route it replaces."""

    cdef _CodeTable _entries  # each character's entry (0: it has no form here)
    cdef Py_UCS4* _pool

    def __cinit__(self):
        self._entries.pages = NULL
        self._entries.entries = NULL
        self._pool = NULL

    def __init__(self, dict forms):
        """``forms``: code point → its form (a string of at most 31 characters)."""
        cdef Py_ssize_t pooled = 0, offset = 0
        cdef str form
        cdef dict entries = {}
        for cp, form in forms.items():
            if not 0 <= cp < 0x110000 or len(form) > 31:
                raise ValueError(f"no form by table for U+{cp:04X}: {form!r}")
            pooled += len(form) if len(form) != 1 else 0
        if pooled >= _POOL_LIMIT:
            raise ValueError(f"{pooled} characters of forms: more than a table holds")
        self._pool = <Py_UCS4*>_zeroed(sizeof(Py_UCS4) * (pooled or 1))
        for cp, form in forms.items():
            if len(form) == 1:
                entries[cp] = _ONE | ord(form)
                continue
            entries[cp] = _POOLED | (offset << 5) | len(form)
            for ch in form:
                self._pool[offset] = ord(ch)
                offset += 1
        _table_fill(&self._entries, entries)

    def __dealloc__(self):
        _table_free(&self._entries)
        PyMem_Free(self._pool)

    def fold(self, str text):
        """The form of ``text``, each character's in turn; None when a character has
        none here."""
        cdef int kind = PyUnicode_KIND(text)
        cdef void* data = PyUnicode_DATA(text)
        cdef Py_ssize_t i, j, n = len(text), size = 0
        cdef uint32_t cp, entry, top = 0  # (a Py_UCS4 in arithmetic would become a str)
        cdef object out
        cdef int out_kind
        cdef void* out_data
        for i in range(n):  # the form's length and its largest character
            cp = PyUnicode_READ(kind, data, i)
            entry = _table_get(&self._entries, cp)
            if entry == 0:
                return None
            if entry & _ONE:
                size += 1
                if entry & 0x1FFFFF > top:
                    top = entry & 0x1FFFFF
                continue
            size += entry & 31
            for j in range(_pooled_at(entry), _pooled_end(entry)):
                if self._pool[j] > top:
                    top = self._pool[j]
        out = PyUnicode_New(size, top)
        out_kind = PyUnicode_KIND(out)
        out_data = PyUnicode_DATA(out)
        size = 0
        for i in range(n):
            cp = PyUnicode_READ(kind, data, i)
            entry = _table_get(&self._entries, cp)
            if entry & _ONE:
                PyUnicode_WRITE(out_kind, out_data, size, entry & 0x1FFFFF)
                size += 1
                continue
            for j in range(_pooled_at(entry), _pooled_end(entry)):
                PyUnicode_WRITE(out_kind, out_data, size, self._pool[j])
                size += 1
        return out


# --- tone ---------------------------------------------------------------------------


cdef inline bint _is_upper(Py_UCS4 ch):
    """A capital of the supported alphabets: A-Z, Latin-1 capitals, Greek, Cyrillic."""
    return (
        (0x41 <= ch <= 0x5A)
        or (0xC0 <= ch <= 0xD6)
        or (0xD8 <= ch <= 0xDE)
        or (0x386 <= ch <= 0x38F)
        or (0x391 <= ch <= 0x3AB)
        or (0x400 <= ch <= 0x42F)
    )


cdef inline bint _is_lower(Py_UCS4 ch):
    """A small letter of the supported alphabets (``ß`` and ``ÿ`` included)."""
    return (
        (0x61 <= ch <= 0x7A)
        or (0xDF <= ch <= 0xF6)
        or (0xF8 <= ch <= 0xFF)
        or (0x3AC <= ch <= 0x3CE)
        or (0x430 <= ch <= 0x45F)
    )


cdef enum:
    # every letter ``_is_upper`` or ``_is_lower`` names is below this code point
    _CASED_BELOW = 0x460

#: Per code point below ``_CASED_BELOW``: 1 a capital, 2 a small letter, 0 neither (the
#: two tests above, read once at import: one load per character instead of their ranges).
cdef unsigned char _CASE[_CASED_BELOW]



def shouting_ratio(str text, Py_ssize_t min_letters=12, double at_least=0.0):
    """Share of capitals among the cased letters of the first ``MAX_ANALYSED_CHARS``
    characters; 0 when
    no three capitals stand in a row (shouting has words in capitals), when there are
    fewer than ``min_letters`` cased letters, or when the share is below ``at_least``."""
    cdef Py_ssize_t n = len(text) if len(text) < _MAX_CHARS else _MAX_CHARS
    cdef Py_ssize_t i, upper = 0, lower = 0, run = 0
    cdef bint caps_run = False
    cdef Py_UCS4 ch
    cdef unsigned char case
    cdef double share
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    for i in range(n):
        ch = PyUnicode_READ(kind, data, i)
        case = _CASE[ch] if ch < _CASED_BELOW else 0
        if case == 1:
            upper += 1
            run += 1
            if run >= 3:
                caps_run = True
        else:
            run = 0
            if case == 2:
                lower += 1
    if not caps_run or upper + lower < min_letters:
        return 0.0
    share = <double>upper / <double>(upper + lower)
    return 0.0 if share < at_least else share


cdef inline bint _is_bang(Py_UCS4 ch):
    return ch == u"!" or ch == 0xFF01


cdef inline bint _is_question(Py_UCS4 ch):
    return ch == u"?" or ch == 0xFF1F


cdef inline bint _is_angry_mark(Py_UCS4 ch):
    return _is_bang(ch) or _is_question(ch)


def angry_punctuation(str text):
    """Runs of punctuation that show anger in the first ``MAX_ANALYSED_CHARS`` characters,
    in order: ``!!`` (two or more exclamation
    marks), ``？？`` (fullwidth question marks), any three or more of ``!?！？``, ``?!``
    and ``!?``; ``??`` alone is a question, not anger. Within each run of two or more of
    these characters, the first of those forms that matches at a position is taken (the
    longest run of its kind), and the search goes on after it."""
    cdef Py_ssize_t n = len(text) if len(text) < _MAX_CHARS else _MAX_CHARS
    cdef Py_ssize_t i = 0, start, end, j, k
    cdef list found = []
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    while i < n:
        if not _is_angry_mark(PyUnicode_READ(kind, data, i)):
            i += 1
            continue
        start = i
        while i < n and _is_angry_mark(PyUnicode_READ(kind, data, i)):
            i += 1
        end = i
        if end - start < 2:
            continue
        j = start
        while j < end:
            k = _angry_at(kind, data, j, end)
            if k > j:
                found.append(text[j:k])
                j = k
            else:
                j += 1
    return found


cdef Py_ssize_t _angry_at(int kind, void* data, Py_ssize_t j, Py_ssize_t end):
    """The end of the angry form that starts at ``j`` in the run ending at ``end`` (``j``:
    none) of a text's code points (``kind``, ``data``), trying the forms in the order
    ``angry_punctuation`` names them."""
    cdef Py_ssize_t k = j
    cdef Py_UCS4 first, second
    while k < end and _is_bang(PyUnicode_READ(kind, data, k)):
        k += 1
    if k - j >= 2:
        return k
    k = j
    while k < end and PyUnicode_READ(kind, data, k) == 0xFF1F:
        k += 1
    if k - j >= 2:
        return k
    if end - j >= 3:
        return end
    if j + 1 < end:
        first = PyUnicode_READ(kind, data, j)
        second = PyUnicode_READ(kind, data, j + 1)
        if _is_question(first) and _is_bang(second):
            return j + 2
        if _is_bang(first) and _is_question(second):
            return j + 2
    return j


# --- script -------------------------------------------------------------------------


cdef inline bint _is_latin_letter(Py_UCS4 ch):
    """A-Z, a-z and U+00C0–U+024F (Latin-1 letters and Latin Extended-A and -B)."""
    return (0x41 <= ch <= 0x5A) or (0x61 <= ch <= 0x7A) or (0xC0 <= ch <= 0x24F)


cdef enum:
    _NOT_A_SCRIPT = 0
    _GREEK = 1
    _CYRILLIC = 2
    _KANA = 3
    _HAN = 4
    _HANGUL = 5


cdef enum:
    # no script ``_script_of`` names starts below this code point
    _SCRIPTS_FROM = 0x370

#: Per code point below ``_SCRIPTS_FROM``: 1 for a Latin letter (``_is_latin_letter``,
#: read once at import), else 0.
cdef unsigned char _LATIN[_SCRIPTS_FROM]


cdef void _fill_tables() noexcept:
    """``_CASE`` and ``_LATIN`` from the tests they stand for."""
    cdef Py_UCS4 ch
    for ch in range(_CASED_BELOW):
        _CASE[ch] = 1 if _is_upper(ch) else (2 if _is_lower(ch) else 0)
    for ch in range(_SCRIPTS_FROM):
        _LATIN[ch] = _is_latin_letter(ch)


_fill_tables()


cdef inline int _script_of(Py_UCS4 ch) noexcept:
    """The non-Latin script the language guess knows a letter by: Greek (and its extended
    block), Cyrillic, kana, Han (with its extension A and compatibility ideographs),
    Hangul syllables; ``_NOT_A_SCRIPT`` for any other character."""
    if ch < _SCRIPTS_FROM:
        return _NOT_A_SCRIPT
    if ch <= 0x3FF or 0x1F00 <= ch <= 0x1FFF:
        return _GREEK
    if ch <= 0x4FF:
        return _CYRILLIC
    if 0x3040 <= ch <= 0x30FF:
        return _KANA
    if 0x3400 <= ch <= 0x4DBF or 0x4E00 <= ch <= 0x9FFF or 0xF900 <= ch <= 0xFAFF:
        return _HAN
    if 0xAC00 <= ch <= 0xD7AF:
        return _HANGUL
    return _NOT_A_SCRIPT


def script_language(str sample):
    """The language a non-Latin script decides (step 1 of ``service/rules/language.py``),
    or None for Latin letters, or none: the script of the first non-Latin letter
    (Greek ``el``, Cyrillic ``ru``, kana ``ja``, Hangul ``ko``, else Han ``zh``, which is
    ``ja`` when the sample has kana anywhere), unless the Latin letters are more than
    three times as many as the non-Latin ones. One pass over the code points."""
    cdef bint latin
    return _script_language(sample, len(sample), &latin)


cdef str _script_language(str sample, Py_ssize_t limit, bint* has_latin):
    """``script_language`` of the first ``limit`` characters of ``sample``; ``has_latin``
    set to whether they hold a Latin letter (what the guess asks next, from the same
    pass)."""
    cdef Py_ssize_t i, latin = 0, non_latin = 0
    cdef Py_ssize_t n = len(sample) if len(sample) < limit else limit
    cdef Py_UCS4 ch
    cdef int script, first = _NOT_A_SCRIPT
    cdef bint kana = False
    cdef int kind = PyUnicode_KIND(sample)
    cdef void* data = PyUnicode_DATA(sample)
    for i in range(n):
        ch = PyUnicode_READ(kind, data, i)
        if ch < _SCRIPTS_FROM:  # a Latin letter or no script's
            latin += _LATIN[ch]
            continue
        script = _script_of(ch)
        if script != _NOT_A_SCRIPT:
            non_latin += 1
            if first == _NOT_A_SCRIPT:
                first = script
            if script == _KANA:
                kana = True
    has_latin[0] = latin > 0
    if first == _NOT_A_SCRIPT or (latin and non_latin * 3 < latin):
        return None
    if first == _GREEK:
        return "el"
    if first == _CYRILLIC:
        return "ru"
    if first == _KANA:
        return "ja"
    if first == _HANGUL:
        return "ko"
    return "ja" if kana else "zh"


#: Latin-script languages the guess may answer (the ones the lexicons cover).
LATIN_LANGUAGES = ("en", "fi", "es", "de", "fr", "pt")
#: How much of a text its script is read from.
SCRIPT_CHARS = 600
cdef tuple _LATIN_LANGUAGES = LATIN_LANGUAGES
cdef Py_ssize_t _SCRIPT_CHARS = SCRIPT_CHARS


cpdef str guess_language(
    str sample,
    object votes,
    object stopword_votes,
    str spaced_text,
    object model_language,
):
    """The language of ``sample`` (raw text), steps 1 to 3 of
    ``service/rules/language.py``: the script of its first ``SCRIPT_CHARS`` characters
    (``script_language``), ``und`` without any letter; else the lexicon ``votes`` plus
    ``stopword_votes(spaced_text)`` among ``LATIN_LANGUAGES``, when the first has at least
    two and leads the next by two; else ``model_language(sample)``."""
    cdef str script, lang, best = None
    cdef dict merged
    cdef Py_ssize_t n, best_n = 0, second = 0
    cdef bint has_latin
    script = _script_language(sample, _SCRIPT_CHARS, &has_latin)
    if script is not None:
        return script
    if not has_latin:
        return "und"
    merged = dict(votes)
    if stopword_votes is not None:
        for lang, count in stopword_votes(spaced_text).items():
            merged[lang] = merged.get(lang, 0) + <Py_ssize_t>count
    # the two highest counts (two languages tied at the top never decide)
    for lang, count in merged.items():
        if lang not in _LATIN_LANGUAGES:
            continue
        n = count
        if best is None or n > best_n:
            if best is not None:
                second = best_n
            best, best_n = lang, n
        elif n > second:
            second = n
    if best is not None and best_n >= 2 and best_n - second >= 2:
        return best
    return model_language(sample)


# --- symbols ------------------------------------------------------------------------


cdef class SymbolHeads:
    """The first one or two characters of every symbol term (emoji, emoticons): a text
    in which none occurs has no symbol term, and skips the symbol automaton (whose pass
    costs about 15 ns a character). ``found_in`` is one pass over the code points: a
    character of the basic plane is ruled out by a bitmap of the heads' first characters
    (8 KB), any other by a binary search of them."""

    cdef Py_UCS4* _first
    cdef Py_UCS4* _second  # 0: a head of one character
    cdef Py_ssize_t _n
    cdef unsigned long long _plane[1024]  # one bit per code point below U+10000

    def __cinit__(self):
        self._first = NULL
        self._second = NULL

    def __init__(self, heads):
        cdef list ordered = sorted({h for h in heads if h})
        cdef Py_ssize_t i
        cdef Py_UCS4 ch
        cdef str head
        for head in ordered:
            if len(head) > 2:
                raise ValueError(f"a symbol head has one or two characters: {head!r}")
        self._n = len(ordered)
        self._first = <Py_UCS4*>PyMem_Malloc(sizeof(Py_UCS4) * (self._n or 1))
        self._second = <Py_UCS4*>PyMem_Malloc(sizeof(Py_UCS4) * (self._n or 1))
        if self._first == NULL or self._second == NULL:
            raise MemoryError()
        memset(self._plane, 0, sizeof(self._plane))
        for i in range(self._n):
            head = ordered[i]
            ch = head[0]
            self._first[i] = ch
            self._second[i] = head[1] if len(head) == 2 else 0
            if ch < 0x10000:
                self._plane[<unsigned int>ch >> 6] |= 1ULL << (<unsigned int>ch & 63)

    def __dealloc__(self):
        PyMem_Free(self._first)
        PyMem_Free(self._second)

    def found_in(self, str text):
        """Whether any head occurs in ``text``."""
        return self._found_in(text)

    cdef bint _found_in(self, str text):
        cdef Py_ssize_t i, j, n = len(text)
        cdef Py_UCS4 ch
        cdef int kind = PyUnicode_KIND(text)
        cdef void* data = PyUnicode_DATA(text)
        for i in range(n):
            ch = PyUnicode_READ(kind, data, i)
            if ch < 0x10000:
                if not (self._plane[<unsigned int>ch >> 6] >> (<unsigned int>ch & 63)) & 1:
                    continue
            j = self._lower_bound(ch)
            while j < self._n and self._first[j] == ch:
                if self._second[j] == 0 or (
                    i + 1 < n and PyUnicode_READ(kind, data, i + 1) == self._second[j]
                ):
                    return True
                j += 1
        return False

    cdef Py_ssize_t _lower_bound(self, Py_UCS4 ch) noexcept:
        """The first head whose first character is not below ``ch``."""
        cdef Py_ssize_t lo = 0, hi = self._n, mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if self._first[mid] < ch:
                lo = mid + 1
            else:
                hi = mid
        return lo


# --- the scan of one text ------------------------------------------------------------


cdef uint32_t _FNV_OFFSET = 2166136261u
cdef uint32_t _FNV_PRIME = 16777619u


cdef class StopwordTable:
    """The stopwords of every language, for ``Scanner.stopword_votes``: an open-addressing
    table of the words' code points (keyed by their 32-bit FNV-1a hash, one code point a
    step), each word with a bit per language it is a stopword of. A few kilobytes, so a
    text's words are looked up without a string or a set per word and without leaving
    the CPU's caches; a stamp per word counts each distinct word once per text."""

    cdef Py_UCS4* _chars  # every word's code points, one after another
    cdef Py_ssize_t* _starts  # where each word starts in ``_chars``
    cdef Py_ssize_t* _lengths
    cdef uint64_t* _langs  # bit i: a stopword of ``languages[i]``
    cdef uint32_t* _hashes
    cdef int32_t* _slots  # word index, or -1: an empty slot
    cdef uint32_t _mask  # slots - 1 (a power of two, at least twice the words)
    cdef uint32_t* _stamps  # per word, the last call that counted it
    cdef uint32_t _stamp
    cdef Py_ssize_t _n_words
    #: the languages, in the order of the votes
    cdef readonly tuple languages

    def __cinit__(self):
        self._chars = NULL
        self._starts = NULL
        self._lengths = NULL
        self._langs = NULL
        self._hashes = NULL
        self._slots = NULL
        self._stamps = NULL

    def __init__(self, dict stopword_langs, languages):
        """``stopword_langs``: every stopword → the languages it is a stopword of (each
        one of ``languages``, at most 64); a stopword is one word (no space)."""
        cdef list words = sorted(stopword_langs)
        cdef Py_ssize_t i, j, total = sum(len(w) for w in words)
        cdef uint32_t size = 8, h
        cdef str word
        self.languages = tuple(languages)
        if len(self.languages) > 64:
            raise ValueError("at most 64 languages")
        position = {lang: k for k, lang in enumerate(self.languages)}
        self._n_words = len(words)
        while size < 2 * self._n_words + 2:
            size *= 2
        self._mask = size - 1
        self._chars = <Py_UCS4*>PyMem_Malloc((total + 1) * sizeof(Py_UCS4))
        self._starts = <Py_ssize_t*>PyMem_Malloc((self._n_words + 1) * sizeof(Py_ssize_t))
        self._lengths = <Py_ssize_t*>PyMem_Malloc((self._n_words + 1) * sizeof(Py_ssize_t))
        self._langs = <uint64_t*>PyMem_Malloc((self._n_words + 1) * sizeof(uint64_t))
        self._hashes = <uint32_t*>PyMem_Malloc((self._n_words + 1) * sizeof(uint32_t))
        self._stamps = <uint32_t*>PyMem_Malloc((self._n_words + 1) * sizeof(uint32_t))
        self._slots = <int32_t*>PyMem_Malloc(size * sizeof(int32_t))
        if not (
            self._chars and self._starts and self._lengths and self._langs
            and self._hashes and self._stamps and self._slots
        ):
            raise MemoryError()
        for j in range(size):
            self._slots[j] = -1
        total = 0
        for i, word in enumerate(words):
            if not word or " " in word:
                raise ValueError(f"a stopword is one word: {word!r}")
            self._starts[i] = total
            self._lengths[i] = len(word)
            h = _FNV_OFFSET
            for j in range(len(word)):
                self._chars[total + j] = word[j]
                h = (h ^ <uint32_t>word[j]) * _FNV_PRIME
            total += len(word)
            self._hashes[i] = h
            self._stamps[i] = 0
            self._langs[i] = 0
            for lang in stopword_langs[word]:
                self._langs[i] |= (<uint64_t>1) << <int>position[lang]
            j = h & self._mask
            while self._slots[j] >= 0:
                j = (j + 1) & self._mask
            self._slots[j] = i
        self._stamp = 0

    def __dealloc__(self):
        PyMem_Free(self._chars)
        PyMem_Free(self._starts)
        PyMem_Free(self._lengths)
        PyMem_Free(self._langs)
        PyMem_Free(self._hashes)
        PyMem_Free(self._stamps)
        PyMem_Free(self._slots)

    cpdef dict votes(self, str text, Py_ssize_t limit=300):
        """language → distinct stopwords of it among the words (runs of characters other
        than the space) of the first ``limit`` characters of ``text``; a word that the
        limit cuts counts as the part before it."""
        cdef Py_ssize_t n = len(text) if len(text) < limit else limit
        cdef int kind = PyUnicode_KIND(text)
        cdef void* data = PyUnicode_DATA(text)
        cdef Py_ssize_t i = 0, start, k
        cdef uint32_t h
        cdef uint64_t seen = 0
        cdef int counts[64]
        cdef dict votes = {}
        cdef Py_UCS4 ch
        if self._n_words == 0:
            return votes
        self._stamp += 1
        if self._stamp == 0:  # wrapped: every stamp is older than the next call's
            memset(self._stamps, 0, self._n_words * sizeof(uint32_t))
            self._stamp = 1
        while i < n:
            ch = PyUnicode_READ(kind, data, i)
            if ch == 32:  # " "
                i += 1
                continue
            start = i
            h = _FNV_OFFSET
            while True:
                h = (h ^ <uint32_t>ch) * _FNV_PRIME
                i += 1
                if i >= n:
                    break
                ch = PyUnicode_READ(kind, data, i)
                if ch == 32:
                    break
            k = self._find(kind, data, start, i - start, h)
            if k >= 0 and self._stamps[k] != self._stamp:
                self._stamps[k] = self._stamp
                if not seen:
                    memset(counts, 0, sizeof(counts))
                seen |= self._langs[k]
                _count_bits(counts, self._langs[k])
        if seen:
            for k in range(len(self.languages)):
                if seen & ((<uint64_t>1) << k):
                    votes[self.languages[k]] = counts[k]
        return votes

    cdef Py_ssize_t _find(
        self, int kind, void* data, Py_ssize_t start, Py_ssize_t length, uint32_t h
    ) noexcept:
        """The word of ``length`` code points at ``start`` of the text, or -1."""
        cdef uint32_t j = h & self._mask
        cdef int32_t k
        cdef Py_ssize_t m
        cdef Py_UCS4* chars
        while True:
            k = self._slots[j]
            if k < 0:
                return -1
            if self._hashes[k] == h and self._lengths[k] == length:
                chars = self._chars + self._starts[k]
                for m in range(length):
                    if chars[m] != PyUnicode_READ(kind, data, start + m):
                        break
                else:
                    return k
            j = (j + 1) & self._mask


cdef inline void _count_bits(int* counts, uint64_t langs) noexcept:
    cdef int k = 0
    while langs:
        if langs & 1:
            counts[k] += 1
        langs >>= 1
        k += 1



# --- the lexicon automaton ----------------------------------------------------------


cdef struct _Edge:
    uint32_t symbol  # the character's class (``Automaton._symbol``), never 0
    int32_t child


# the hits of one text, in the order they are reported: where each ends, and the index
# of its key's value
cdef struct _Hits:
    Py_ssize_t n
    Py_ssize_t capacity
    Py_ssize_t* end
    int32_t* value


cdef enum:
    # the complete rows (one entry per class) of the nodes nearest the root, breadth
    # first, hold at most this many entries together (256 KB)
    _ROW_ENTRIES = 65536


cdef class Automaton:
    """Aho–Corasick over code points: every occurrence of every key in a text, as
    ``(end, value)`` with ``end`` the index of the hit's last character, in order of
    ``end`` and, for hits that end together, longest key first — what pyahocorasick's
    ``Automaton.iter`` reports, which this replaced (``tests/unit/test_automaton.py``
    holds the two equal).

    Why not a library's: here the hits go straight to the scan as C integers, with no
    Python object per hit or per call. pyahocorasick, which this replaced, follows the
    whole failure chain at every character (it keeps no output links) and scans each
    node's edges one by one: nearly half the scan's instructions on the bench mix
    (2026-12-07). The Rust crate's binding (ahocorasick-rs) was slower than it on the word
    terms, which most texts take (a list of tuples and a released GIL per call).
    Measured, the whole scan of a text (``Scanner.scan``, 2026-12-07): on the bench mix
    8.2 → 6.0 µs, on public texts 6.6 → 5.8.

    The decisions:

    1. Characters are read as classes: each character of some key has a class of its
       own (1, 2, …), every other character is class 0, which no edge takes, so it sends
       the search back to the root at once.
    2. The trie's edges are sorted by class, and the failure links are the usual
       breadth-first ones. The nodes nearest the root (the first breadth first, as many
       as ``_ROW_ENTRIES`` allows: the root and the space that starts every word term
       among them) also have a complete row: for every class, the node the search goes
       to, failure links followed already. So a character costs one row's entry where
       the search is near the root, which is where it mostly is; deeper, an edge, or
       the failure links down to a node with a row.
    3. ``_output[node]`` is the nearest node, the node itself or one down its failure
       chain, that ends a key (-1 none): the hits at a position are found by following
       these links alone, longest key first.
    """

    cdef Py_ssize_t _nodes, _classes
    cdef int32_t* _fail
    cdef int32_t* _output
    cdef int32_t* _value
    cdef int32_t* _first_edge
    cdef int32_t* _edge_count
    cdef int32_t* _row  # the node's complete row in ``_rows``, or -1
    cdef _Edge* _edges
    cdef int32_t* _rows
    #: the class of each code point (rule 1)
    cdef _CodeTable _class_of
    cdef list _keys
    cdef list _values

    def __cinit__(self):
        self._fail = self._output = self._value = NULL
        self._first_edge = self._edge_count = self._row = self._rows = NULL
        self._edges = NULL
        self._class_of.pages = NULL
        self._class_of.entries = NULL

    def __init__(self, dict keyed):
        """``keyed``: each key (a non-empty string) and its value, reported with its hits."""
        cdef dict symbols = {}
        cdef list children = [{}]  # per node: class → child
        cdef list value_at = [-1]
        cdef Py_ssize_t node, child
        self._keys = list(keyed)
        self._values = list(keyed.values())
        for i, key in enumerate(self._keys):
            if not key:
                raise ValueError("an automaton's key is never empty")
            node = 0
            for ch in <str>key:
                symbol = symbols.setdefault(ord(ch), len(symbols) + 1)
                child = (<dict>children[node]).get(symbol, -1)
                if child < 0:
                    child = len(children)
                    (<dict>children[node])[symbol] = child
                    children.append({})
                    value_at.append(-1)
                node = child
            value_at[node] = i
        self._classes = len(symbols) + 1
        self._nodes = len(children)
        _table_fill(&self._class_of, symbols)  # rule 1
        self._trie(children, self._links(children, value_at))

    def __dealloc__(self):
        PyMem_Free(self._fail)
        PyMem_Free(self._output)
        PyMem_Free(self._value)
        PyMem_Free(self._first_edge)
        PyMem_Free(self._edge_count)
        PyMem_Free(self._row)
        PyMem_Free(self._edges)
        PyMem_Free(self._rows)
        _table_free(&self._class_of)

    cdef list _links(self, list children, list value_at):
        """Rules 2 and 3: failure links breadth first (over the trie's own edges), then
        each node's nearest output; returns the nodes in breadth-first order."""
        cdef Py_ssize_t node, child, back
        cdef list order = [0]
        cdef Py_ssize_t k = 0
        self._value = <int32_t*>_zeroed(sizeof(int32_t) * self._nodes)
        self._fail = <int32_t*>_zeroed(sizeof(int32_t) * self._nodes)
        self._output = <int32_t*>_zeroed(sizeof(int32_t) * self._nodes)
        for node in range(self._nodes):
            self._value[node] = value_at[node]
        self._output[0] = -1
        while k < len(order):
            node = order[k]
            k += 1
            for symbol, child in (<dict>children[node]).items():
                order.append(child)
                back = self._fail[node]
                while node and back and symbol not in <dict>children[back]:
                    back = self._fail[back]
                if node:
                    self._fail[child] = (<dict>children[back]).get(symbol, 0)
                # breadth first: the failure node, shorter, already has its output
                self._output[child] = (
                    child if self._value[child] >= 0 else self._output[self._fail[child]]
                )
        return order

    cdef int _trie(self, list children, list order) except -1:
        """Rule 2: the edges, sorted; the complete rows of the first nodes breadth first."""
        cdef Py_ssize_t node, at = 0, n_edges = 0, rows, row, fail_row, symbol
        cdef Py_ssize_t width = self._classes
        for edges in children:
            n_edges += len(<dict>edges)
        rows = min(self._nodes, max(1, _ROW_ENTRIES // width))
        self._first_edge = <int32_t*>_zeroed(sizeof(int32_t) * self._nodes)
        self._edge_count = <int32_t*>_zeroed(sizeof(int32_t) * self._nodes)
        self._row = <int32_t*>_zeroed(sizeof(int32_t) * self._nodes)
        self._edges = <_Edge*>_zeroed(sizeof(_Edge) * (n_edges or 1))
        self._rows = <int32_t*>_zeroed(sizeof(int32_t) * width * rows)
        for node in range(self._nodes):
            edges = <dict>children[node]
            self._first_edge[node] = at
            self._edge_count[node] = len(edges)
            self._row[node] = -1
            for symbol in sorted(edges):
                self._edges[at].symbol = symbol
                self._edges[at].child = edges[symbol]
                at += 1
        for row in range(rows):
            # breadth first, a node's failure node (shorter) has its row already
            node = order[row]
            self._row[node] = row
            fail_row = self._row[self._fail[node]]
            edges = <dict>children[node]
            for symbol in range(width):
                self._rows[row * width + symbol] = edges.get(
                    symbol, self._rows[fail_row * width + symbol] if node else 0
                )
        return 0

    cdef inline int32_t _next(self, Py_ssize_t state, uint32_t symbol) noexcept:
        """Rule 2: the node after ``state`` on a character of class ``symbol``: a row's
        entry, or an edge, or the same from the failure node."""
        cdef int32_t row
        cdef _Edge* edge
        cdef int32_t i
        while True:
            row = self._row[state]
            if row >= 0:
                return self._rows[row * self._classes + symbol]
            edge = self._edges + self._first_edge[state]
            for i in range(self._edge_count[state]):
                if edge[i].symbol >= symbol:
                    if edge[i].symbol == symbol:
                        return edge[i].child
                    break
            state = self._fail[state]  # never the root's: the root has a row

    cdef int _find(self, str text, _Hits* hits) except -1:
        """Every hit of ``text`` into ``hits`` (which the caller frees with ``_free_hits``)."""
        cdef int kind = PyUnicode_KIND(text)
        cdef void* data = PyUnicode_DATA(text)
        cdef Py_ssize_t i, n = len(text)
        cdef Py_ssize_t state = 0
        cdef int32_t out
        cdef uint32_t symbol
        for i in range(n):
            symbol = _table_get(&self._class_of, PyUnicode_READ(kind, data, i))
            if symbol == 0:  # rule 1: no key has this character
                state = 0
                continue
            state = self._next(state, symbol)
            out = self._output[state]
            while out >= 0:  # rule 3
                _add_hit(hits, i, self._value[out])
                out = self._output[self._fail[out]]
        return 0

    def iter(self, str text):
        """The hits of ``text``: ``(end, value)``, as pyahocorasick's ``iter`` gave them."""
        cdef _Hits hits
        _init_hits(&hits)
        try:
            self._find(text, &hits)
            return [(hits.end[k], self._values[hits.value[k]]) for k in range(hits.n)]
        finally:
            _free_hits(&hits)

    def keys(self):
        """The keys, in the order they were given."""
        return list(self._keys)


cdef void* _zeroed(size_t size) except NULL:
    cdef void* pointer = PyMem_Malloc(size)
    if pointer == NULL:
        raise MemoryError()
    memset(pointer, 0, size)
    return pointer


cdef inline void _init_hits(_Hits* hits) noexcept:
    hits.n = hits.capacity = 0
    hits.end = NULL
    hits.value = NULL


cdef int _add_hit(_Hits* hits, Py_ssize_t end, int32_t value) except -1:
    cdef Py_ssize_t capacity
    cdef Py_ssize_t* ends
    cdef int32_t* values
    if hits.n == hits.capacity:
        capacity = hits.capacity * 2 if hits.capacity else 32
        ends = <Py_ssize_t*>PyMem_Realloc(hits.end, sizeof(Py_ssize_t) * capacity)
        if ends == NULL:
            raise MemoryError()
        hits.end = ends
        values = <int32_t*>PyMem_Realloc(hits.value, sizeof(int32_t) * capacity)
        if values == NULL:
            raise MemoryError()
        hits.value = values
        hits.capacity = capacity
    hits.end[hits.n] = end
    hits.value[hits.n] = value
    hits.n += 1
    return 0


cdef inline void _free_hits(_Hits* hits) noexcept:
    PyMem_Free(hits.end)
    PyMem_Free(hits.value)
    _init_hits(hits)


cdef class Scanner:
    """The per-event half of ``LexiconMatcher`` (``service/rules/matcher.py``), which
    compiles the lexicons into the automata this reads: ``scan`` gives every signal of a
    normalised text, ``stopword_votes`` the stopwords' vote for its language."""

    cdef Automaton _words, _word_terms, _symbols
    cdef SymbolHeads _heads, _latin1_heads
    cdef StopwordTable _stopwords
    cdef Py_ssize_t _nwin, _hwin, _iwin
    cdef bint _every_hit

    def __init__(
        self,
        *,
        Automaton words,
        Automaton word_terms,
        Automaton symbols,
        SymbolHeads heads,
        SymbolHeads latin1_heads,
        dict stopword_langs,
        languages,
        Py_ssize_t negation_window,
        Py_ssize_t hedge_window,
        Py_ssize_t intensifier_window,
        bint every_hit=False,
    ):
        self._words = words
        self._word_terms = word_terms
        self._symbols = symbols
        self._heads = heads
        self._latin1_heads = latin1_heads
        self._stopwords = StopwordTable(stopword_langs, languages)
        self._nwin = negation_window
        self._hwin = hedge_window
        self._iwin = intensifier_window
        self._every_hit = every_hit

    cpdef TextSignals scan(self, str normalized):
        """All signals of a normalised text (``text.normalize``): the word and CJK terms
        in the spaced text, then the symbol terms in the normalised text, when any of
        their heads occurs in it.

        A text stored one byte a code point (CPython's narrowest form, PEP 393) is
        Latin-1 text (English and the other Western European languages): it has no CJK
        character and no emoji, so it takes the automaton of the word terms alone (the
        CJK terms' first characters make the full one's root about twice as slow) and
        the Latin-1 symbol heads."""
        cdef TextSignals sig = _new_signals()
        cdef str text
        cdef bint in_latin1
        cdef Automaton auto
        if not normalized:
            return sig
        sig.normalized = normalized
        text = sig.spaced = spaced(normalized)
        in_latin1 = PyUnicode_KIND(normalized) == PyUnicode_1BYTE_KIND
        auto = self._word_terms if in_latin1 or not may_have_cjk(text) else self._words
        if auto is not None:
            sig.votes = _scan_words(
                auto, text, sig, self._nwin, self._hwin, self._iwin, self._every_hit
            )
        if self._symbols is not None and (
            self._latin1_heads if in_latin1 else self._heads
        )._found_in(normalized):
            _scan_symbols(self._symbols, normalized, sig)
        return sig

    cpdef dict stopword_votes(self, str spaced_text, Py_ssize_t limit=300):
        """language → how many distinct stopwords of it the first ``limit`` characters of
        a text (as ``spaced`` gives it) have, counted as whole words (a word the limit
        cuts counts as what is left of it), in the languages' order (``StopwordTable``)."""
        return self._stopwords.votes(spaced_text, limit)

