# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The text model's explanation, compiled: which words pushed a text towards ``neg``.

Decision 3 of ``service/sentiment/model.py`` says what an explanation is: a token's
weight is the sum of its fastText input rows' contributions (row · the ``neg`` margin),
and a text's features are its tokens' rows plus one for the end of the line. This module
finds a token's rows as fastText's dictionary finds them, without asking fastText:

1. The token's own row, when it is in the dictionary: ``words`` in id order, then
   ``labels`` (fastText finds a label's entry too, and its number names a hashed row).
2. Unless the token is the end-of-line token ``</s>``, one row per character n-gram of
   ``<token>`` (its UTF-8 bytes between the two markers) of ``minn`` to ``maxn``
   characters, an n-gram starting at the first byte of a character; a one-character
   n-gram is left out at either marker. Its row is ``len(words)`` plus the n-gram's
   32-bit FNV-1a hash (each byte taken as a signed char, as fastText takes it) modulo
   ``bucket``. (A pruned, quantized model maps hashes through a table instead; those
   are refused when the model loads.)
3. The weight is the sum of the rows' contributions in that order, in double precision
   (worked out once for every word of the vocabulary when the model loads, 0.1 s).
   What the explanation shows for the token: the token; nothing for a token that is not
   alphanumeric or a lone ASCII character; for a run of more than ``LONG_RUN`` Chinese or
   Japanese characters, its strongest n-gram (markers stripped), whose weight it then
   carries instead.

``explain`` keeps each shown word's highest weight among the text's tokens, ranks them by
it (ties in the order they first occur), and gives the first ``limit`` that push towards
``neg`` with their share (weight over the number of features). fastText's own
``getSubwords`` with the Python loop this replaced is the oracle of
``tests/unit/test_native_tokens.py``.
"""

from cpython.unicode cimport Py_UNICODE_ISALNUM
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int8_t, int32_t, uint32_t

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size) except NULL

cdef extern from *:
    # defined by setup.py: the digest of this file as it was compiled
    const char* TRIAGE_SOURCE_DIGEST

#: The first 16 hex digits of the SHA-256 of the ``.pyx`` this module was compiled from
#: (``tests/unit/test_native_tokens.py`` compares it with the file).
SOURCE_DIGEST = TRIAGE_SOURCE_DIGEST.decode("ascii")

#: A run of more CJK characters than this shows its strongest n-gram (step 3).
LONG_RUN = 4
#: fastText's end-of-line token (step 2).
EOS = "</s>"
cdef Py_ssize_t _LONG_RUN = LONG_RUN
cdef str _EOS = EOS


cdef inline bint _is_cjk(Py_UCS4 ch):
    return 0x3040 <= ch <= 0x30FF or 0x3400 <= ch <= 0x9FFF or 0xF900 <= ch <= 0xFAFF


cdef class TokenWeights:
    """The rows' contributions of a fastText model and how to find a token's rows.

    ``words``: the vocabulary in id order; ``labels``: the labels in theirs (numbered
    after the words); ``contributions``: one float per input row (``len(words) +
    bucket`` of them); ``minn``/``maxn``: the n-gram lengths, in characters; ``bucket``:
    the number of hashed rows."""

    cdef dict _ids
    cdef const float[::1] _rows
    cdef Py_ssize_t _minn, _maxn, _n_words, _n_rows
    cdef uint32_t _bucket
    cdef double* _word_weights
    cdef int32_t* _word_rows

    def __cinit__(self):
        self._word_weights = NULL
        self._word_rows = NULL

    def __init__(
        self, words, labels, contributions, Py_ssize_t minn, Py_ssize_t maxn, Py_ssize_t bucket
    ):
        cdef Py_ssize_t i, n_rows
        entries = [*words, *labels]
        self._ids = {word: i for i, word in enumerate(entries)}
        self._rows = contributions
        self._n_words = len(words)
        self._n_rows = self._rows.shape[0]
        if len(self._ids) != len(entries):
            raise ValueError("the dictionary repeats a word or label")
        if bucket <= len(labels) or bucket > 0xFFFFFFFF or self._n_rows != self._n_words + bucket:
            raise ValueError("one contribution per word and per hash bucket")
        if minn < 0 or maxn < 0:
            raise ValueError("n-gram lengths cannot be negative")
        self._minn, self._maxn, self._bucket = minn, maxn, <uint32_t>bucket
        # every word's weight and rows, once (as fastText keeps each word's n-grams): a
        # word of the text then costs a lookup, not its n-grams' reads of the rows
        self._word_weights = <double*>PyMem_Malloc(max(self._n_words, 1) * sizeof(double))
        self._word_rows = <int32_t*>PyMem_Malloc(max(self._n_words, 1) * sizeof(int32_t))
        if self._word_weights == NULL or self._word_rows == NULL:
            raise MemoryError()
        for i in range(self._n_words):
            n_rows = 0
            self._word_weights[i] = self._sum_rows(words[i], i, &n_rows, None)
            self._word_rows[i] = <int32_t>n_rows

    def __dealloc__(self):
        PyMem_Free(self._word_weights)
        PyMem_Free(self._word_rows)

    def weight(self, str token):
        """``(weight, rows, shown)`` of one token (steps 1 to 3)."""
        cdef Py_ssize_t parts = 0
        cdef double total = 0.0
        cdef str shown = self._weight(token, &total, &parts)
        return total, parts, shown

    cdef str _weight(self, str token, double* weight, Py_ssize_t* parts):
        """Steps 1 to 3: what to show; the weight into ``weight``, the rows into ``parts``."""
        cdef Py_ssize_t length = len(token), wid = -1
        cdef list grams = None
        cdef bint ascii = token.isascii()
        cdef bint long_cjk = length > _LONG_RUN and not ascii and _is_cjk(token[0])
        cdef object found = self._ids.get(token)
        if found is not None:
            wid = found
        if 0 <= wid < self._n_words and not long_cjk:
            weight[0] = self._word_weights[wid]
            parts[0] = self._word_rows[wid]
        else:
            if long_cjk:
                grams = []
            weight[0] = self._sum_rows(token, wid, parts, grams)
        if (length < 2 and ascii) or not _alphanumeric(token):
            return ""
        if long_cjk:
            # the token's own row is not one of its n-grams
            grams = [(w, s.strip("<>")) for w, s in grams if s != token]
            if not grams:
                return ""
            best = max(grams)
            weight[0] = best[0]
            return best[1]
        return token

    cdef double _sum_rows(self, str token, Py_ssize_t wid, Py_ssize_t* parts, list grams) except? -1.0:
        """Steps 1 and 2: the sum of the token's rows (its own, ``wid``, when it is not
        -1, then its n-grams'), their number into ``parts``, and each n-gram with its
        row's contribution into ``grams`` when one is given. The n-grams are hashed over
        ``<`` + the token's UTF-8 (kept by the string) + ``>`` without building that
        text."""
        cdef double total = 0.0, row
        cdef Py_ssize_t n_rows = 0, i, j, n, size, utf8_size
        cdef uint32_t h
        cdef const unsigned char* utf8
        if wid >= 0:
            total += self._rows[wid]
            n_rows += 1
        if token != _EOS:
            utf8 = <const unsigned char*>PyUnicode_AsUTF8AndSize(token, &utf8_size)
            size = utf8_size + 2  # with the two markers
            for i in range(size):
                if (_byte(utf8, utf8_size, i) & 0xC0) == 0x80:
                    continue
                j = i
                n = 1
                h = 2166136261U
                while j < size and n <= self._maxn:
                    h = (h ^ <uint32_t>(<int8_t>_byte(utf8, utf8_size, j))) * 16777619U
                    j += 1
                    while j < size and (_byte(utf8, utf8_size, j) & 0xC0) == 0x80:
                        h = (h ^ <uint32_t>(<int8_t>_byte(utf8, utf8_size, j))) * 16777619U
                        j += 1
                    if n >= self._minn and not (n == 1 and (i == 0 or j == size)):
                        row = self._rows[self._n_words + h % self._bucket]
                        total += row
                        n_rows += 1
                        if grams is not None:
                            grams.append((row, _marked(token, utf8, utf8_size, i, j)))
                    n += 1
        parts[0] = n_rows
        return total

    def explain(self, str prepared, Py_ssize_t limit=3):
        """The words that pushed ``prepared`` towards ``neg`` most, with their share of
        its margin, strongest first (at most ``limit``)."""
        cdef list tokens = prepared.split()
        cdef dict found = {}
        cdef Py_ssize_t features = 1, parts = 0  # the end-of-line token
        cdef double weight = 0.0
        cdef str token, shown
        if not tokens:
            return []
        for token in tokens:
            shown = self._weight(token, &weight, &parts)
            features += parts
            if weight > 0 and shown:
                if weight > found.get(shown, 0.0):
                    found[shown] = weight
        ranked = sorted(found.items(), key=_negated_weight)[:limit]
        return [(word, w / features) for word, w in ranked]


cdef inline unsigned char _byte(const unsigned char* utf8, Py_ssize_t size, Py_ssize_t k):
    """Byte ``k`` of ``<`` + the token's UTF-8 + ``>``."""
    if k == 0:
        return 60  # "<"
    if k == size + 1:
        return 62  # ">"
    return utf8[k - 1]


cdef str _marked(str token, const unsigned char* utf8, Py_ssize_t size, Py_ssize_t i, Py_ssize_t j):
    """Bytes ``i`` to ``j`` of ``<`` + the token's UTF-8 + ``>``, as text."""
    cdef bytes marked = b"<" + utf8[:size] + b">"
    return marked[i:j].decode("utf-8")


cdef bint _alphanumeric(str token):
    """``token.isalnum()``: not empty, and every character a letter or a digit."""
    cdef Py_UCS4 ch
    if not token:
        return False
    for ch in token:
        if not Py_UNICODE_ISALNUM(ch):
            return False
    return True


def _negated_weight(item):
    return -item[1]
