# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Step 3 of the language guess, compiled: py3langid's naive Bayes model, run in C.

py3langid (the model shipped inside its package, Lui & Baldwin's langid.py retrained)
reads a text as UTF-8 bytes through a byte automaton whose states emit feature numbers
(byte n-grams); a language's score is its prior plus, over the distinct features, the
feature's log-probability in that language times ``log1p`` of how often it occurred.
The highest score wins. The library runs that walk as a Python loop over the bytes and
the sum through numpy: 17 µs a text of 70 bytes when its tables are in the CPU's caches,
23–62 µs inside the pipeline, where they are not; and on public feedback without a
language tag, 12 to 88 % of a language's texts reach this step (docs/performance.md).
Here, 1.3 µs alone:

1. The text is prepared as the library prepares it (``classify``): wholly upper case is
   lowered, then NFC, then UTF-8 (lone surrogates passed through).
2. One pass over the bytes walks the automaton (the library's own transition table, read
   in place) and counts each feature; the distinct ones are kept in the order they first
   occur, which is the order the library sums them in.
3. Per language: the prior plus ``log1pf(count) × weight`` of each distinct feature, in
   single precision as the library computes them, with the weights of only the languages
   asked for (converted once from the library's half precision, which is exact).
4. The first highest score wins; a text that emits no feature gets the first language,
   as the library's all-equal floor scores give it.

The library's ``classify`` is the oracle of ``tests/unit/test_native_langid.py``, on the
public labelled texts and on generated Unicode. The two sum in different orders (numpy
hands the product to BLAS), so scores may differ in the last bits; that test holds them
to the same language on every text whose leading score is ahead by 0.01 or more (2 of
the 184,397 public texts are closer, and differ).
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport log1pf
from libc.stdint cimport int32_t, uint32_t
from libc.string cimport memset

from unicodedata import normalize as _unicode_normalize


cdef extern from *:
    # defined by setup.py: the digest of this file as it was compiled
    const char* TRIAGE_SOURCE_DIGEST

#: The first 16 hex digits of the SHA-256 of the ``.pyx`` this module was compiled from
#: (``tests/unit/test_native_builds.py`` compares it with the file).
SOURCE_DIGEST = TRIAGE_SOURCE_DIGEST.decode("ascii")


cdef class NaiveBayesLanguages:
    """A byte n-gram naive Bayes language model, restricted to some languages.

    ``transitions``: the automaton's table (unsigned 32-bit, ``row_starts[state] + byte``
    indexes it); ``row_starts``: each state's row, already multiplied by 256;
    ``emits``: per state, the feature it emits or -1; ``weights``: one row per feature,
    one column per language of ``languages`` (32-bit floats, C order); ``priors``: one
    per language. Not for several threads at once: ``classify`` reuses one count table.
    """

    cdef const uint32_t[::1] _transitions
    cdef uint32_t* _row_starts
    cdef int32_t* _emits
    cdef Py_ssize_t _n_states
    cdef const float[:, ::1] _weights
    cdef float* _priors
    cdef uint32_t* _counts
    cdef Py_ssize_t _n_features
    cdef readonly tuple languages

    def __cinit__(self):
        self._row_starts = NULL
        self._emits = NULL
        self._priors = NULL
        self._counts = NULL

    def __init__(
        self,
        transitions,
        row_starts,
        emits,
        weights,
        priors,
        languages,
    ):
        cdef Py_ssize_t i, n_languages = len(languages)
        cdef Py_ssize_t n_transitions
        self._transitions = transitions
        self._weights = weights
        self.languages = tuple(str(lang) for lang in languages)
        n_transitions = self._transitions.shape[0]
        self._n_states = len(row_starts)
        self._n_features = self._weights.shape[0]
        if n_languages == 0 or len(set(self.languages)) != n_languages:
            raise ValueError("languages must be distinct, and at least one")
        if self._weights.shape[1] != n_languages or len(priors) != n_languages:
            raise ValueError("one weight column and one prior per language")
        if len(emits) != self._n_states:
            raise ValueError("one emitted feature (or -1) per state")
        self._row_starts = <uint32_t*>PyMem_Malloc(self._n_states * sizeof(uint32_t))
        self._emits = <int32_t*>PyMem_Malloc(self._n_states * sizeof(int32_t))
        self._priors = <float*>PyMem_Malloc(n_languages * sizeof(float))
        self._counts = <uint32_t*>PyMem_Malloc(self._n_features * sizeof(uint32_t))
        if not (self._row_starts and self._emits and self._priors and self._counts):
            raise MemoryError()
        memset(self._counts, 0, self._n_features * sizeof(uint32_t))
        for i in range(self._n_states):
            # every walk stays inside the table: a row is 256 entries, each a state
            if row_starts[i] < 0 or row_starts[i] + 256 > n_transitions:
                raise ValueError(f"state {i}'s row is outside the transition table")
            if not -1 <= emits[i] < self._n_features:
                raise ValueError(f"state {i} emits feature {emits[i]}, which has no weights")
            self._row_starts[i] = row_starts[i]
            self._emits[i] = emits[i]
        for i in range(n_transitions):
            if self._transitions[i] >= self._n_states:
                raise ValueError(f"transition {i} leads to state {self._transitions[i]}, which is not one")
        for i in range(n_languages):
            self._priors[i] = priors[i]

    def __dealloc__(self):
        PyMem_Free(self._row_starts)
        PyMem_Free(self._emits)
        PyMem_Free(self._priors)
        PyMem_Free(self._counts)

    def classify(self, str text):
        """The language of ``text`` among ``languages`` (steps 1 to 4 above)."""
        if text.isupper():
            text = text.lower()
        cdef bytes data = _unicode_normalize("NFC", text).encode("utf-8", "surrogatepass")
        return self.languages[self._best(data)]

    cdef Py_ssize_t _best(self, bytes data) except -1:
        cdef const unsigned char* p = data
        cdef Py_ssize_t n = len(data), i, k, n_distinct = 0, best = 0
        cdef Py_ssize_t n_languages = len(self.languages)
        cdef uint32_t state = 0
        cdef int32_t feature
        cdef int32_t* distinct = <int32_t*>PyMem_Malloc((n + 1) * sizeof(int32_t))
        cdef float* scores = <float*>PyMem_Malloc(n_languages * sizeof(float))
        cdef float weight
        if distinct == NULL or scores == NULL:
            PyMem_Free(distinct)
            PyMem_Free(scores)
            raise MemoryError()
        for i in range(n):
            state = self._transitions[self._row_starts[state] + p[i]]
            feature = self._emits[state]
            if feature >= 0:
                if self._counts[feature] == 0:
                    distinct[n_distinct] = feature
                    n_distinct += 1
                self._counts[feature] += 1
        if n_distinct:
            for k in range(n_languages):
                scores[k] = 0.0
            for i in range(n_distinct):
                feature = distinct[i]
                weight = log1pf(<float>self._counts[feature])
                self._counts[feature] = 0
                for k in range(n_languages):
                    scores[k] += weight * self._weights[feature, k]
            for k in range(n_languages):
                scores[k] += self._priors[k]
                if scores[k] > scores[best]:
                    best = k
        PyMem_Free(distinct)
        PyMem_Free(scores)
        return best
