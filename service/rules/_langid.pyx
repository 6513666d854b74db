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
2. One pass over the bytes walks the automaton and counts each feature; the distinct ones
   are kept in the order they first occur, which is the order the library sums them in.
   The automaton is the library's, held compactly (``_compact``): its table gives every
   state all 256 next states (39 MB, which a pipeline's other work evicts from the CPU's
   caches between two texts: 19 µs a text there); here a state keeps only the edges
   that go one byte deeper, and any other byte goes where its *fallback* state (the
   longest proper suffix's) would go, as an Aho–Corasick automaton does. A state whose
   row is not that (and the root and its children, the hottest rows) keeps its full
   row. Each state is one record (the feature it emits, its fallback, its edges), so a
   step of the walk reads one place in memory. Built from the library's table when
   loaded, so every transition is the library's by construction: 2.3 MB.
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
from libc.stdint cimport int32_t, uint32_t, uint64_t
from libc.string cimport memset

from array import array

from unicodedata import normalize as _unicode_normalize


cdef extern from *:
    void __builtin_prefetch(const void* address)  # gcc and clang
    # defined by setup.py: the digest of this file as it was compiled
    const char* TRIAGE_SOURCE_DIGEST

#: The first 16 hex digits of the SHA-256 of the ``.pyx`` this module was compiled from
#: (``tests/unit/test_native_builds.py`` compares it with the file).
SOURCE_DIGEST = TRIAGE_SOURCE_DIGEST.decode("ascii")


ctypedef struct State:
    # while the automaton is built (``_compact``): the full row's number, for a state
    # that keeps one (``n == _DENSE``)
    uint32_t first
    # how many edges, or ``_DENSE``: the state keeps its full row
    uint32_t n
    # where a byte without an edge goes from (a state nearer the root)
    uint32_t fallback
    # the feature it emits, or -1
    int32_t emit


cdef uint32_t _DENSE = 0xFFFFFFFFu


cdef class NaiveBayesLanguages:
    """A byte n-gram naive Bayes language model, restricted to some languages.

    ``transitions``: the automaton's table (unsigned 32-bit, ``row_starts[state] + byte``
    indexes it); ``row_starts``: each state's row, already multiplied by 256;
    ``emits``: per state, the feature it emits or -1; ``weights``: one row per feature,
    one column per language of ``languages`` (32-bit floats, C order); ``priors``: one
    per language. The table is read once, when the model is built (``_compact``), and
    not kept. ``classify`` keeps nothing between texts.
    """

    #: the states while the automaton is built (``_compact``), then NULL
    cdef State* _states
    #: every state as one record (``_compact``), at the offset that names it in the walk
    cdef uint32_t* _nodes
    #: each library state's offset in ``_nodes`` (increasing with the state's number)
    cdef uint32_t* _offsets
    #: full rows, 256 next states' offsets each
    cdef uint32_t* _dense
    cdef Py_ssize_t _n_states
    #: how many states keep their full row
    cdef readonly Py_ssize_t dense_states
    cdef const float[:, ::1] _weights
    cdef float* _priors
    cdef Py_ssize_t _n_features
    cdef readonly tuple languages

    def __cinit__(self):
        self._states = NULL
        self._nodes = NULL
        self._offsets = NULL
        self._dense = NULL
        self._priors = NULL

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
        cdef const uint32_t[::1] table = transitions
        self._weights = weights
        self.languages = tuple(str(lang) for lang in languages)
        n_transitions = table.shape[0]
        self._n_states = len(row_starts)
        self._n_features = self._weights.shape[0]
        if n_languages == 0 or len(set(self.languages)) != n_languages:
            raise ValueError("languages must be distinct, and at least one")
        if self._weights.shape[1] != n_languages or len(priors) != n_languages:
            raise ValueError("one weight column and one prior per language")
        if len(emits) != self._n_states:
            raise ValueError("one emitted feature (or -1) per state")
        if not 0 < self._n_states < (1 << 24):
            raise ValueError("at least one state, and fewer than 2 ** 24")
        self._states = <State*>PyMem_Malloc(self._n_states * sizeof(State))
        self._priors = <float*>PyMem_Malloc(n_languages * sizeof(float))
        if not (self._states and self._priors):
            raise MemoryError()
        rows = array("Q", [0]) * self._n_states
        for i in range(self._n_states):
            # every walk stays inside the table: a row is 256 entries, each a state
            if row_starts[i] < 0 or row_starts[i] + 256 > n_transitions:
                raise ValueError(f"state {i}'s row is outside the transition table")
            if not -1 <= emits[i] < self._n_features:
                raise ValueError(f"state {i} emits feature {emits[i]}, which has no weights")
            rows[i] = row_starts[i]
            self._states[i].emit = emits[i]
        for i in range(n_transitions):
            if table[i] >= self._n_states:
                raise ValueError(f"transition {i} leads to state {table[i]}, which is not one")
        for i in range(n_languages):
            self._priors[i] = priors[i]
        try:
            self._compact(table, rows)
        finally:
            PyMem_Free(self._states)
            self._states = NULL

    cdef int _compact(self, const uint32_t[::1] table, const uint64_t[::1] rows) except -1:
        """The states' edges, fallbacks and full rows from the library's ``table``
        (``rows``: each state's row start), in breadth-first order from the root, state 0:

        - a state's *depth* is its distance from the root; an edge is a byte that leads
          one deeper, and the state it leads to, met first from its *parent*, gets as
          fallback the root (a child of the root) or where the parent's fallback goes
          with that byte;
        - a state keeps its full row when it is the root or the root's child, when its
          fallback is not nearer the root than itself, or when a byte without an edge
          does not go where the fallback's row sends it. So every walk ends (each
          fallback is nearer the root, and the root's row is full) and every transition
          is the table's;
        - each state becomes one record of ``_nodes``, in the library's order, and is
          named in the walk by the record's offset: the feature it emits (-1: none),
          its fallback's offset, its number of edges (or ``_DENSE``), then its full
          row's number or its edges (the next state's offset × 256 + the byte). A step
          of the walk reads one record, mostly one cache line, where a state and its
          edges in two arrays were two reads from memory apart: inside the pipeline,
          where the rest of an event's work evicts the automaton, that wait is most of
          what a text costs (docs/performance.md)."""
        cdef Py_ssize_t n = self._n_states, head = 0, tail = 1, i, b
        cdef uint32_t s, u, f
        cdef uint32_t* order = <uint32_t*>PyMem_Malloc(n * sizeof(uint32_t))
        cdef int32_t* depth = <int32_t*>PyMem_Malloc(n * sizeof(int32_t))
        if order == NULL or depth == NULL:
            PyMem_Free(order)
            PyMem_Free(depth)
            raise MemoryError()
        try:
            for i in range(n):
                depth[i] = -1
            depth[0] = 0
            order[0] = 0
            self._states[0].fallback = 0
            while head < tail:  # breadth first: depths, fallbacks, edge counts
                s = order[head]
                head += 1
                self._states[s].n = 0
                for b in range(256):
                    u = table[rows[s] + b]
                    if depth[u] < 0:
                        depth[u] = depth[s] + 1
                        order[tail] = u
                        tail += 1
                        f = self._states[s].fallback
                        self._states[u].fallback = 0 if s == 0 else table[rows[f] + b]
                    if depth[u] == depth[s] + 1:
                        self._states[s].n += 1
            self.dense_states = 0
            for i in range(tail):  # which states keep their full row
                s = order[i]
                f = self._states[s].fallback
                if depth[s] <= 1 or depth[f] >= depth[s]:
                    self._states[s].n = _DENSE
                else:
                    for b in range(256):
                        u = table[rows[s] + b]
                        if depth[u] != depth[s] + 1 and u != table[rows[f] + b]:
                            self._states[s].n = _DENSE
                            break
                if self._states[s].n == _DENSE:
                    self._states[s].first = self.dense_states
                    self.dense_states += 1
            for i in range(n):  # unreachable from the root: never walked, kept whole
                if depth[i] < 0:
                    self._states[i].n = _DENSE
                    self._states[i].first = self.dense_states
                    self.dense_states += 1
                    depth[i] = 0
            self._layout(table, rows, depth)
        finally:
            PyMem_Free(order)
            PyMem_Free(depth)
        return 0

    cdef int _layout(
        self, const uint32_t[::1] table, const uint64_t[::1] rows, const int32_t* depth
    ) except -1:
        """The records of ``_nodes`` and the full rows, from the states ``_compact``
        worked out (``depth``: each state's distance from the root)."""
        cdef Py_ssize_t n = self._n_states, i, b, at = 0, row
        cdef uint32_t u, k
        cdef State* state
        self._offsets = <uint32_t*>PyMem_Malloc(n * sizeof(uint32_t))
        if self._offsets == NULL:
            raise MemoryError()
        for i in range(n):
            self._offsets[i] = <uint32_t>at
            at += 4 if self._states[i].n == _DENSE else 3 + self._states[i].n
        if at >= (1 << 24):
            raise ValueError("the automaton is too large for its compact form")
        self._nodes = <uint32_t*>PyMem_Malloc(at * sizeof(uint32_t))
        self._dense = <uint32_t*>PyMem_Malloc(self.dense_states * 256 * sizeof(uint32_t))
        if self._nodes == NULL or self._dense == NULL:
            raise MemoryError()
        for i in range(n):
            state = &self._states[i]
            at = self._offsets[i]
            self._nodes[at] = <uint32_t>state.emit
            self._nodes[at + 1] = self._offsets[state.fallback]
            self._nodes[at + 2] = state.n
            if state.n == _DENSE:
                self._nodes[at + 3] = state.first
                row = state.first * 256
                for b in range(256):
                    self._dense[row + b] = self._offsets[table[rows[i] + b]]
                continue
            k = 0
            for b in range(256):
                u = table[rows[i] + b]
                if depth[u] == depth[i] + 1:
                    self._nodes[at + 3 + k] = self._offsets[u] * 256 + <uint32_t>b
                    k += 1
        return 0

    def __dealloc__(self):
        PyMem_Free(self._states)
        PyMem_Free(self._nodes)
        PyMem_Free(self._offsets)
        PyMem_Free(self._dense)
        PyMem_Free(self._priors)

    def classify(self, str text):
        """The language of ``text`` among ``languages`` (steps 1 to 4 above)."""
        if text.isupper():
            text = text.lower()
        cdef bytes data = _unicode_normalize("NFC", text).encode("utf-8", "surrogatepass")
        return self.languages[self._best(data)]

    cdef Py_ssize_t _best(self, bytes data) except -1:
        """Steps 2 to 4 for the UTF-8 of a text. The features are counted in a table of
        the text's own (open addressing, a few kilobytes), and each new feature's
        weights are fetched ahead while the walk goes on: a table per model, 400 KB, and
        the weights' 2.4 MB were a cache miss each in the pipeline."""
        cdef const unsigned char* p = data
        cdef Py_ssize_t n = len(data), i, k, n_distinct = 0, best = 0
        cdef Py_ssize_t n_languages = len(self.languages)
        cdef size_t size = 16
        cdef uint32_t state = 0, j, mask
        cdef int32_t feature, at
        while size < 2 * <size_t>(n + 1):
            size *= 2
        mask = <uint32_t>(size - 1)
        cdef int32_t* slots = <int32_t*>PyMem_Malloc(size * sizeof(int32_t))
        cdef int32_t* distinct = <int32_t*>PyMem_Malloc((n + 1) * sizeof(int32_t))
        cdef uint32_t* counts = <uint32_t*>PyMem_Malloc((n + 1) * sizeof(uint32_t))
        cdef float* scores = <float*>PyMem_Malloc(n_languages * sizeof(float))
        cdef float weight
        if slots == NULL or distinct == NULL or counts == NULL or scores == NULL:
            PyMem_Free(slots)
            PyMem_Free(distinct)
            PyMem_Free(counts)
            PyMem_Free(scores)
            raise MemoryError()
        memset(slots, 0xFF, size * sizeof(int32_t))  # every slot -1: empty
        for i in range(n):
            state = self._next(state, p[i])
            feature = <int32_t>self._nodes[state]
            if feature < 0:
                continue
            j = (<uint32_t>feature * 2654435761u) & mask
            while True:
                at = slots[j]
                if at < 0:  # a new feature: its weights are needed at the end
                    __builtin_prefetch(&self._weights[feature, 0])
                    slots[j] = <int32_t>n_distinct
                    distinct[n_distinct] = feature
                    counts[n_distinct] = 1
                    n_distinct += 1
                    break
                if distinct[at] == feature:
                    counts[at] += 1
                    break
                j = (j + 1) & mask
        if n_distinct:
            for k in range(n_languages):
                scores[k] = 0.0
            for i in range(n_distinct):
                feature = distinct[i]
                weight = log1pf(<float>counts[i])
                for k in range(n_languages):
                    scores[k] += weight * self._weights[feature, k]
            for k in range(n_languages):
                scores[k] += self._priors[k]
                if scores[k] > scores[best]:
                    best = k
        PyMem_Free(slots)
        PyMem_Free(distinct)
        PyMem_Free(counts)
        PyMem_Free(scores)
        return best

    cdef inline uint32_t _next(self, uint32_t at, unsigned char byte) noexcept:
        """Where ``byte`` leads from the state at ``at``: its edge, else its fallback's
        answer (offsets in ``_nodes``)."""
        cdef const uint32_t* node
        cdef uint32_t k, n
        while True:
            node = self._nodes + at
            n = node[2]
            if n == _DENSE:
                return self._dense[node[3] * 256 + byte]
            for k in range(n):
                if (node[3 + k] & 0xFF) == byte:
                    return node[3 + k] >> 8
            at = node[1]

    def next_state(self, uint32_t state, unsigned char byte):
        """Where ``byte`` leads from ``state`` (what tests compare with the table)."""
        if state >= self._n_states:
            raise ValueError(f"{state} is not a state")
        cdef uint32_t at = self._next(self._offsets[state], byte)
        cdef Py_ssize_t lo = 0, hi = self._n_states - 1, mid
        while lo < hi:  # the state whose record is at ``at`` (offsets increase)
            mid = (lo + hi + 1) >> 1
            if self._offsets[mid] <= at:
                lo = mid
            else:
                hi = mid - 1
        return lo
