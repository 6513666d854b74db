# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The text model at run time, compiled: its prediction, and which words pushed a text
towards ``neg``.

The model is a fastText classifier (``service/sentiment/model.py``): a text's vector is
the mean of its features' input rows, and each label's logit is that vector times the
label's output row. Both are linear, so when the model loads every input row gets its
logit contributions (row · each label's output row) and its ``neg`` margin contribution
(decision 3 of model.py); per text, this module finds the features as fastText's
dictionary finds them, without asking fastText, and sums those:

1. A token's own row, when it is in the dictionary (its UTF-8 looked up by its FNV-1a
   hash, below): ``words`` in id order, then ``labels`` (fastText's ``getSubwords``
   finds a label's entry too, and its number names a hashed row: the explanation keeps
   that; the prediction skips every token that starts with the label prefix, as
   fastText's reading of a line does).
2. Unless the token is the end-of-line token ``</s>``, one row per character n-gram of
   ``<token>`` (its UTF-8 bytes between the two markers) of ``minn`` to ``maxn``
   characters, an n-gram starting at the first byte of a character; a one-character
   n-gram is left out at either marker. Its row is ``len(words)`` plus the n-gram's
   32-bit FNV-1a hash (each byte taken as a signed char, as fastText takes it) modulo
   ``bucket``. (A pruned, quantized model maps hashes through a table instead; those
   are refused when the model loads.) A vocabulary word's rows are summed once, at load.
3. The prediction reads a line as fastText does: tokens split at fastText's seven
   spaces (space, tab, line feed, carriage return, vertical tab, form feed, NUL), up to
   the first line feed (or a literal ``</s>``), then ``</s>``; each token's rows,
   then one row per pair of neighbouring tokens (``word_ngrams`` = 2): the pair's hash
   (``h = h × 116049371 + next``, over the tokens' 32-bit hashes taken as signed, in 64
   bits) modulo ``bucket``, after the words. The logits are the mean of the features'
   contributions; the probabilities their softmax, plus the 1e-5 that fastText adds
   before it reports them. fastText sums in single precision, this in double: the two
   differ by about 1e-7 (``tests/unit/test_native_tokens.py`` holds them within 1e-5).
4. The explanation: a token's weight is the sum of its rows' margin contributions, in
   order, in double precision. What it shows for the token: the token; nothing for a
   token that is not alphanumeric or a lone ASCII character; for a run of more than
   ``LONG_RUN`` Chinese or Japanese characters, its strongest n-gram (markers stripped),
   whose weight it then carries instead. ``explain`` keeps each shown word's highest
   weight among the text's tokens (split as ``str.split`` splits), ranks them by it
   (ties in the order they first occur), and gives the first ``limit`` that push towards
   ``neg`` with their share (weight over the number of features).

5. The symbols (``symbols``): what spacing drops but the model reads (decision 1 of
   model.py), in order, at most ``most``, searched from the start of the text to ``end``
   (nothing past it is seen). A match starts at the first character that begins one,
   and the next search starts where it ended. Tried in this order at each character:

   - an emoji: U+1F300–U+1F3FA, U+1F400–U+1FAFF, U+2600–U+27BF, U+2B50 or U+2B55 (not
     skin tones or joiners), read as itself;
   - a smile, read as ``:)``: ``:;=8x``, then maybe ``'`` or ``-``, then one of
     ``)]dp3*``; or ``<3``; or ``^^``/``^_^``; each at the text's start or after a space
     (``str.isspace``), and followed by the end, a space or one of ``.,!?``; or a run of
     two ``)`` or more, anywhere (how Russian writers smile), as long as it goes;
   - a frown, read as ``:(``: ``:;=``, then maybe ``'`` or ``-``, then one of ``([/\\|``,
     with the same edges as a smile; or a run of two ``(`` or more, anywhere.

   The regular expression these rules were first written as is the oracle of
   ``tests/unit/test_sentiment_model.py`` (``tests/oracle/symbols_py.py``).

fastText's own ``predict``, and the Python loop over its ``getSubwords`` that the
explanation replaced, are the oracles of ``tests/unit/test_native_tokens.py``.
"""

from cpython.unicode cimport (
    Py_UNICODE_ISALNUM,
    Py_UNICODE_ISSPACE,
    PyUnicode_DATA,
    PyUnicode_KIND,
    PyUnicode_READ,
)
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport exp
from libc.string cimport memcmp
from libc.stdint cimport int8_t, int32_t, int64_t, uint32_t, uint64_t

cdef extern from *:
    void __builtin_prefetch(const void* address)  # gcc and clang

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size) except NULL

cdef extern from *:
    # defined by setup.py: the digest of this file as it was compiled
    const char* TRIAGE_SOURCE_DIGEST

#: The first 16 hex digits of the SHA-256 of the ``.pyx`` this module was compiled from
#: (``tests/unit/test_native_builds.py`` compares it with the file).
SOURCE_DIGEST = TRIAGE_SOURCE_DIGEST.decode("ascii")

#: A run of more CJK characters than this shows its strongest n-gram (step 4).
LONG_RUN = 4
#: fastText's end-of-line token (steps 2 and 3).
EOS = "</s>"
cdef Py_ssize_t _LONG_RUN = LONG_RUN
cdef str _EOS = EOS
#: What fastText adds to a probability before it reports it (``std_log``'s 1e-5).
cdef double _REPORTED_FLOOR = 1e-5
#: At most this many labels (the shipped model has three).
cdef enum:
    MAX_LABELS = 16


cdef inline bint _is_cjk(Py_UCS4 ch):
    return 0x3040 <= ch <= 0x30FF or 0x3400 <= ch <= 0x9FFF or 0xF900 <= ch <= 0xFAFF


cdef class CompiledTextModel:
    """A fastText model's rows as contributions, and how to find a text's rows.

    ``words``: the vocabulary in id order; ``labels``: the labels in theirs (numbered
    after the words); ``contributions``: each input row's ``neg`` margin contribution
    (``len(words) + bucket`` floats); ``logits``: each input row's contribution to each
    label's logit (one row of ``len(labels)`` floats per input row, C order);
    ``minn``/``maxn``: the n-gram lengths, in characters; ``bucket``: the number of
    hashed rows; ``word_ngrams``: the longest run of tokens hashed as one feature;
    ``label_prefix``: what starts a label. Not for several threads at once.

    The dictionary is fastText's kind: the entries' UTF-8 in one buffer, found through
    an open-addressing table keyed by the same FNV-1a hash that the pairs of tokens use,
    so a token of a line is looked up in its bytes, without a string of its own."""

    cdef bytes _text  # every entry's UTF-8, one after another
    cdef Py_ssize_t* _starts  # entry i is _text[_starts[i]:_starts[i + 1]]
    cdef uint32_t* _entry_hashes
    cdef int32_t* _slots  # entry ids by hash, -1 where empty
    cdef Py_ssize_t _slot_mask
    cdef const float[::1] _rows
    cdef const float[:, ::1] _logits
    cdef Py_ssize_t _minn, _maxn, _n_words, _n_rows, _n_labels, _word_ngrams
    cdef uint32_t _bucket
    cdef bytes _label_prefix
    cdef double* _word_weights
    cdef double* _word_logits
    cdef int32_t* _word_rows

    def __cinit__(self):
        self._starts = NULL
        self._entry_hashes = NULL
        self._slots = NULL
        self._word_weights = NULL
        self._word_logits = NULL
        self._word_rows = NULL

    def __init__(
        self,
        words,
        labels,
        contributions,
        logits,
        Py_ssize_t minn,
        Py_ssize_t maxn,
        Py_ssize_t bucket,
        Py_ssize_t word_ngrams,
        str label_prefix,
    ):
        cdef Py_ssize_t i, n_rows, n_words = len(words)
        cdef const unsigned char* text
        self._rows = contributions
        self._logits = logits
        self._n_words = n_words
        self._n_rows = self._rows.shape[0]
        self._n_labels = len(labels)
        if bucket <= len(labels) or bucket > 0xFFFFFFFF or self._n_rows != n_words + bucket:
            raise ValueError("one contribution per word and per hash bucket")
        if not 0 < self._n_labels <= MAX_LABELS:
            raise ValueError(f"between 1 and {MAX_LABELS} labels")
        if self._logits.shape[0] != self._n_rows or self._logits.shape[1] != self._n_labels:
            raise ValueError("one logit contribution per input row and label")
        if minn < 0 or maxn < 0 or word_ngrams < 1:
            raise ValueError("n-gram lengths cannot be negative, nor word n-grams below 1")
        self._minn, self._maxn, self._bucket = minn, maxn, <uint32_t>bucket
        self._word_ngrams, self._label_prefix = word_ngrams, label_prefix.encode("utf-8")
        self._index([entry.encode("utf-8") for entry in [*words, *labels]])
        if not 0 <= self._find(<const unsigned char*>b"</s>", 4, _fnv(b"</s>", 4)) < n_words:
            raise ValueError(f"the vocabulary has no {_EOS}")
        # every word's sums and rows, once (as fastText keeps each word's n-grams): a
        # word of the text then costs a lookup, not its n-grams' reads of the rows
        self._word_weights = <double*>PyMem_Malloc(max(n_words, 1) * sizeof(double))
        self._word_logits = <double*>PyMem_Malloc(
            max(n_words, 1) * self._n_labels * sizeof(double)
        )
        self._word_rows = <int32_t*>PyMem_Malloc(max(n_words, 1) * sizeof(int32_t))
        if not (self._word_weights and self._word_logits and self._word_rows):
            raise MemoryError()
        text = self._text
        for i in range(n_words):
            n_rows = 0
            self._word_weights[i] = self._sum_rows(
                &text[self._starts[i]],
                self._starts[i + 1] - self._starts[i],
                i,
                &n_rows,
                None,
                &self._word_logits[i * self._n_labels],
            )
            self._word_rows[i] = <int32_t>n_rows

    cdef _index(self, list entries):
        """The buffer, the starts and the table of ``entries`` (UTF-8, in id order)."""
        cdef Py_ssize_t i, n = len(entries), size = 1
        cdef const unsigned char* text
        cdef bytes entry
        while size < 2 * n + 2:
            size *= 2
        self._text = b"".join(entries)
        text = self._text
        self._starts = <Py_ssize_t*>PyMem_Malloc((n + 1) * sizeof(Py_ssize_t))
        self._entry_hashes = <uint32_t*>PyMem_Malloc(max(n, 1) * sizeof(uint32_t))
        self._slots = <int32_t*>PyMem_Malloc(size * sizeof(int32_t))
        if not (self._starts and self._entry_hashes and self._slots):
            raise MemoryError()
        self._slot_mask = size - 1
        for i in range(size):
            self._slots[i] = -1
        self._starts[0] = 0
        for i in range(n):
            entry = entries[i]
            self._starts[i + 1] = self._starts[i] + len(entry)
            self._entry_hashes[i] = _fnv(&text[self._starts[i]], len(entry))
            if self._find(&text[self._starts[i]], len(entry), self._entry_hashes[i]) >= 0:
                raise ValueError("the dictionary repeats a word or label")
            self._slots[self._free_slot(self._entry_hashes[i])] = <int32_t>i

    cdef Py_ssize_t _free_slot(self, uint32_t h):
        cdef Py_ssize_t slot = h & self._slot_mask
        while self._slots[slot] >= 0:
            slot = (slot + 1) & self._slot_mask
        return slot

    cdef Py_ssize_t _find(self, const unsigned char* token, Py_ssize_t size, uint32_t h):
        """The id of the entry whose UTF-8 is ``token`` (``h``: its hash), or -1."""
        cdef Py_ssize_t slot = h & self._slot_mask, entry
        while True:
            entry = self._slots[slot]
            if entry < 0:
                return -1
            if (
                self._entry_hashes[entry] == h
                and self._starts[entry + 1] - self._starts[entry] == size
                and memcmp(<const unsigned char*>self._text + self._starts[entry], token, size) == 0
            ):
                return entry
            slot = (slot + 1) & self._slot_mask

    def __dealloc__(self):
        PyMem_Free(self._starts)
        PyMem_Free(self._entry_hashes)
        PyMem_Free(self._slots)
        PyMem_Free(self._word_weights)
        PyMem_Free(self._word_logits)
        PyMem_Free(self._word_rows)

    def probabilities(self, str prepared):
        """Each label's probability for ``prepared`` as fastText reports it (step 3), in
        the order of ``labels``."""
        cdef double sums[MAX_LABELS]
        cdef double top, z
        cdef Py_ssize_t k, i, j, start = -1, n_hashes = 0, features = 0, size
        cdef const unsigned char* text = <const unsigned char*>PyUnicode_AsUTF8AndSize(
            prepared, &size
        )
        cdef unsigned char byte
        cdef uint64_t h
        cdef bint last = False
        cdef Py_ssize_t* pairs = NULL
        cdef Py_ssize_t n_pairs = 0
        # a token per space-separated run, and the end of the line: at most this many
        cdef int32_t* hashes = <int32_t*>PyMem_Malloc((size // 2 + 2) * sizeof(int32_t))
        if hashes == NULL:
            raise MemoryError()
        try:
            self._prefetch_words(text, size, False)
            for k in range(self._n_labels):
                sums[k] = 0.0
            for i in range(size + 1):
                byte = text[i] if i < size else 10  # the line ends at the text's end
                if not _is_space(byte):
                    if start < 0:
                        start = i
                    continue
                if start >= 0:
                    if self._add_token(&text[start], i - start, sums, &features, hashes, &n_hashes):
                        last = True  # a literal ``</s>`` ends the line
                        break
                    start = -1
                if byte == 10:  # the first line break ends the line
                    break
            if not last:
                self._add_token(<const unsigned char*>b"</s>", 4, sums, &features, hashes, &n_hashes)
            pairs = <Py_ssize_t*>PyMem_Malloc(
                (n_hashes * (self._word_ngrams - 1) + 1) * sizeof(Py_ssize_t)
            )
            if pairs == NULL:
                raise MemoryError()
            # the pairs' rows first, each asked of the memory at once (they are far
            # apart in a table larger than the caches), then summed
            for i in range(n_hashes):
                h = <uint64_t>(<int64_t>hashes[i])
                for j in range(i + 1, min(n_hashes, i + self._word_ngrams)):
                    h = h * 116049371ULL + <uint64_t>(<int64_t>hashes[j])
                    pairs[n_pairs] = self._n_words + <Py_ssize_t>(h % self._bucket)
                    __builtin_prefetch(&self._logits[pairs[n_pairs], 0])
                    n_pairs += 1
            for i in range(n_pairs):
                self._add_row(pairs[i], sums)
            features += n_pairs
        finally:
            PyMem_Free(hashes)
            PyMem_Free(pairs)
        top = sums[0] / features
        for k in range(self._n_labels):
            sums[k] /= features
            if sums[k] > top:
                top = sums[k]
        z = 0.0
        for k in range(self._n_labels):
            sums[k] = exp(sums[k] - top)
            z += sums[k]
        return tuple([sums[k] / z + _REPORTED_FLOOR for k in range(self._n_labels)])

    cdef int _prefetch_words(
        self, const unsigned char* text, Py_ssize_t size, bint margins
    ) except -1:
        """Ask the memory for what reading the line's tokens will read, before any is
        read: each token's slot of the table, then the entry it names (its hash, its
        start, its summed logits, or with ``margins`` its summed margin contribution)
        and the entry's bytes, and for a token not in the table its n-grams' rows (of
        the logits, or the margin contributions). A lookup reads these one after
        another, so without this every token would wait on the memory two or three times
        in a row whenever the pipeline's other work has pushed the model out of the
        caches (9.1 µs a prediction there, against 3.5 alone: docs/performance.md). A
        hint only: nothing read here decides anything."""
        cdef Py_ssize_t i, start = -1, n = 0, k
        cdef int32_t entry
        cdef unsigned char byte
        # per token: its slot, then its entry; where it starts; its size
        cdef int32_t* found = <int32_t*>PyMem_Malloc(3 * (size // 2 + 2) * sizeof(int32_t))
        if found == NULL:
            raise MemoryError()
        cdef int32_t* starts = found + (size // 2 + 2)
        cdef int32_t* sizes = starts + (size // 2 + 2)
        for i in range(size + 1):
            byte = text[i] if i < size else 10
            if not _is_space(byte):
                if start < 0:
                    start = i
                continue
            if start >= 0:
                found[n] = <int32_t>(_fnv(&text[start], i - start) & self._slot_mask)
                starts[n], sizes[n] = <int32_t>start, <int32_t>(i - start)
                __builtin_prefetch(&self._slots[found[n]])
                n += 1
                start = -1
            if byte == 10:
                break
        for k in range(n):
            entry = self._slots[found[k]]
            found[k] = entry
            if entry >= 0:
                __builtin_prefetch(&self._entry_hashes[entry])
                __builtin_prefetch(&self._starts[entry])
                if entry < self._n_words:
                    if margins:
                        __builtin_prefetch(&self._word_weights[entry])
                    else:
                        __builtin_prefetch(&self._word_logits[entry * self._n_labels])
            else:  # an empty slot: not in the table, so its n-grams are read
                self._prefetch_grams(&text[starts[k]], sizes[k], margins)
        for k in range(n):
            if found[k] >= 0:
                __builtin_prefetch(<const unsigned char*>self._text + self._starts[found[k]])
        PyMem_Free(found)
        return 0

    cdef void _prefetch_grams(
        self, const unsigned char* utf8, Py_ssize_t utf8_size, bint margins
    ):
        """Ask the memory for the rows of a token's n-grams (as ``_sum_rows`` finds
        them): their logits, or with ``margins`` their margin contributions."""
        cdef Py_ssize_t row
        cdef _Grams g
        if _is_eos(utf8, utf8_size):
            return
        _grams_start(&g, utf8, utf8_size)
        while _next_gram(&g, self._minn, self._maxn):
            row = self._n_words + g.h % self._bucket
            if margins:
                __builtin_prefetch(&self._rows[row])
            else:
                __builtin_prefetch(&self._logits[row, 0])

    cdef bint _add_token(
        self,
        const unsigned char* token,
        Py_ssize_t size,
        double* sums,
        Py_ssize_t* features,
        int32_t* hashes,
        Py_ssize_t* n,
    ) except -1:
        """A token (its UTF-8) of the line read by ``probabilities``: its rows into
        ``sums`` and ``features``, its hash into ``hashes``; true when it ends the line
        (``</s>``). A label is skipped."""
        cdef Py_ssize_t k, wid, parts = 0
        cdef double* word
        cdef uint32_t h
        cdef Py_ssize_t prefix = len(self._label_prefix)
        if size >= prefix and memcmp(token, <const unsigned char*>self._label_prefix, prefix) == 0:
            return False
        h = _fnv(token, size)
        wid = self._find(token, size, h)
        if 0 <= wid < self._n_words:
            word = &self._word_logits[wid * self._n_labels]
            for k in range(self._n_labels):
                sums[k] += word[k]
            features[0] += self._word_rows[wid]
        else:
            self._sum_rows(token, size, -1, &parts, None, sums)
            features[0] += parts
        hashes[n[0]] = <int32_t>h
        n[0] += 1
        return _is_eos(token, size)

    cdef inline void _add_row(self, Py_ssize_t row, double* sums):
        cdef Py_ssize_t k
        for k in range(self._n_labels):
            sums[k] += self._logits[row, k]

    def weight(self, str token):
        """``(weight, rows, shown)`` of one token (steps 1, 2 and 4)."""
        cdef Py_ssize_t parts = 0
        cdef double total = 0.0
        cdef str shown = self._weight(token, &total, &parts)
        return total, parts, shown

    cdef str _weight(self, str token, double* weight, Py_ssize_t* parts):
        """Step 4: what to show; the weight into ``weight``, the rows into ``parts``."""
        cdef Py_ssize_t length = len(token), wid, size
        cdef list grams = None
        cdef bint ascii = token.isascii()
        cdef bint long_cjk = length > _LONG_RUN and not ascii and _is_cjk(token[0])
        cdef const unsigned char* utf8 = <const unsigned char*>PyUnicode_AsUTF8AndSize(
            token, &size
        )
        wid = self._find(utf8, size, _fnv(utf8, size))
        if 0 <= wid < self._n_words and not long_cjk:
            weight[0] = self._word_weights[wid]
            parts[0] = self._word_rows[wid]
        else:
            if long_cjk:
                grams = []
            weight[0] = self._sum_rows(utf8, size, wid, parts, grams, NULL)
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

    cdef double _sum_rows(
        self,
        const unsigned char* utf8,
        Py_ssize_t utf8_size,
        Py_ssize_t wid,
        Py_ssize_t* parts,
        list grams,
        double* logits,
    ) except? -1.0:
        """Steps 1 and 2: the sum of the margin contributions of a token's rows (its
        own, ``wid``, when it is not -1, then its n-grams'), their number into ``parts``,
        each n-gram with its row's contribution into ``grams`` when one is given, and
        the rows' logit contributions added to ``logits`` when it is not NULL. The
        n-grams are hashed over ``<`` + the token's UTF-8 + ``>`` without building that
        text."""
        cdef double total = 0.0, row
        cdef Py_ssize_t n_rows = 0, k, row_id
        cdef _Grams g
        if logits != NULL and wid >= 0:
            for k in range(self._n_labels):
                logits[k] = 0.0
        if wid >= 0:
            total += self._rows[wid]
            n_rows += 1
            if logits != NULL:
                self._add_row(wid, logits)
        if not _is_eos(utf8, utf8_size):
            _grams_start(&g, utf8, utf8_size)
            while _next_gram(&g, self._minn, self._maxn):
                row_id = self._n_words + g.h % self._bucket
                row = self._rows[row_id]
                total += row
                n_rows += 1
                if grams is not None:
                    grams.append((row, _marked(utf8, utf8_size, g.i, g.j)))
                if logits != NULL:
                    self._add_row(row_id, logits)
        parts[0] = n_rows
        return total

    def explain(self, str prepared, Py_ssize_t limit=3):
        """The words that pushed ``prepared`` towards ``neg`` most, with their share of
        its margin, strongest first (at most ``limit``; step 4).

        One walk over the text's characters and its UTF-8 at once: each token (a run
        between ``str.split``'s spaces) is weighed in its bytes, and a string is made
        only for the words the answer names (a long CJK run, whose n-grams are ranked,
        makes its own). The shown words are kept in a small table keyed by their bytes,
        each with its highest weight and where it first occurred."""
        cdef Py_ssize_t size, n = len(prepared), i, start = -1, b = 0, b_start = 0
        cdef const unsigned char* utf8 = <const unsigned char*>PyUnicode_AsUTF8AndSize(
            prepared, &size
        )
        cdef int kind = PyUnicode_KIND(prepared)
        cdef const void* data = PyUnicode_DATA(prepared)
        cdef Py_UCS4 ch = 0
        cdef _Shown shown
        cdef Py_ssize_t features = 1  # the end-of-line token
        cdef list grams = []  # the long runs' shown n-grams, kept alive for their bytes
        if n == 0:
            return []
        if not _shown_init(&shown, n // 2 + 1):
            raise MemoryError()
        try:
            # a hint: the tokens as fastText splits a line (``str.split``'s but at a few
            # rare spaces, and only up to a line break)
            self._prefetch_words(utf8, size, True)
            for i in range(n + 1):
                if i < n:
                    ch = PyUnicode_READ(kind, data, i)
                    if not Py_UNICODE_ISSPACE(ch):
                        if start < 0:
                            start, b_start = i, b
                        b += _utf8_length(ch)
                        continue
                if start >= 0:
                    features += self._explain_token(
                        prepared, start, i, utf8 + b_start, b - b_start, &shown, grams
                    )
                    start = -1
                if i < n:
                    b += _utf8_length(ch)
            if shown.count == 0:
                return []
            return _ranked(&shown, prepared, grams, limit, features)
        finally:
            _shown_free(&shown)

    cdef Py_ssize_t _explain_token(
        self,
        str prepared,
        Py_ssize_t start,
        Py_ssize_t end,
        const unsigned char* token,
        Py_ssize_t size,
        _Shown* shown,
        list grams,
    ) except -1:
        """Weigh the token ``prepared[start:end]`` (``token``: its UTF-8), note what it
        shows in ``shown`` when it pushes towards ``neg``; its number of rows."""
        cdef Py_ssize_t length = end - start, parts = 0, wid
        cdef bint ascii = size == length
        cdef double weight
        cdef uint32_t h
        cdef str gram
        cdef const unsigned char* gram_utf8
        cdef Py_ssize_t gram_size
        if length > _LONG_RUN and not ascii and _is_cjk(prepared[start]):
            gram = self._weight(prepared[start:end], &weight, &parts)
            if weight > 0 and gram:
                grams.append(gram)
                gram_utf8 = <const unsigned char*>PyUnicode_AsUTF8AndSize(gram, &gram_size)
                h = _fnv(gram_utf8, gram_size)
                _shown_note(shown, gram_utf8, gram_size, h, weight, -1, len(grams) - 1)
            return parts
        h = _fnv(token, size)
        wid = self._find(token, size, h)
        if 0 <= wid < self._n_words:
            weight = self._word_weights[wid]
            parts = self._word_rows[wid]
        else:
            weight = self._sum_rows(token, size, wid, &parts, None, NULL)
        if weight > 0 and not (length < 2 and ascii) and _alphanumeric_span(prepared, start, end):
            _shown_note(shown, token, size, h, weight, start, end)
        return parts


ctypedef struct _Word:
    const unsigned char* key  # its UTF-8
    Py_ssize_t size
    uint32_t hash
    double weight  # the highest of its tokens'
    Py_ssize_t start  # the text's token (a code point offset), or -1: a long run's n-gram
    Py_ssize_t end  # the token's end, or the n-gram's index among ``explain``'s grams
    bint taken


ctypedef struct _Shown:
    _Word* words  # in the order they first occurred
    Py_ssize_t count
    Py_ssize_t* slots  # word indices by hash, -1 where empty
    Py_ssize_t mask


cdef bint _shown_init(_Shown* shown, Py_ssize_t most):
    """An empty table for at most ``most`` words; false when memory ran out."""
    cdef Py_ssize_t capacity = 8, i
    while capacity < 2 * most:
        capacity *= 2
    shown.count, shown.mask = 0, capacity - 1
    shown.words = <_Word*>PyMem_Malloc(most * sizeof(_Word))
    shown.slots = <Py_ssize_t*>PyMem_Malloc(capacity * sizeof(Py_ssize_t))
    if shown.words == NULL or shown.slots == NULL:
        _shown_free(shown)
        return False
    for i in range(capacity):
        shown.slots[i] = -1
    return True


cdef void _shown_free(_Shown* shown):
    PyMem_Free(shown.words)
    PyMem_Free(shown.slots)
    shown.words, shown.slots = NULL, NULL


cdef void _shown_note(
    _Shown* shown,
    const unsigned char* key,
    Py_ssize_t size,
    uint32_t h,
    double weight,
    Py_ssize_t start,
    Py_ssize_t end,
):
    """A shown word (``key``, its UTF-8; ``h``, its ``_fnv``) and its weight: kept
    where it first occurred, at its highest."""
    cdef Py_ssize_t slot = h & shown.mask, at
    cdef _Word* word
    while True:
        at = shown.slots[slot]
        if at < 0:
            break
        word = &shown.words[at]
        if word.hash == h and word.size == size and memcmp(word.key, key, size) == 0:
            if weight > word.weight:
                word.weight = weight
            return
        slot = (slot + 1) & shown.mask
    shown.slots[slot] = shown.count
    word = &shown.words[shown.count]
    word.key, word.size, word.hash, word.weight = key, size, h, weight
    word.start, word.end, word.taken = start, end, False
    shown.count += 1


cdef list _ranked(
    _Shown* shown, str prepared, list grams, Py_ssize_t limit, Py_ssize_t features
):
    """The first ``limit`` shown words (a slice's ``[:limit]``) by weight, ties in the
    order they first occurred, each with its share."""
    cdef list out = []
    cdef Py_ssize_t r, k, best
    cdef _Word* word
    if limit < 0:
        limit = max(0, shown.count + limit)
    for r in range(min(limit, shown.count)):
        best = -1
        for k in range(shown.count):
            if shown.words[k].taken:
                continue
            if best < 0 or shown.words[k].weight > shown.words[best].weight:
                best = k
        word = &shown.words[best]
        word.taken = True
        text = prepared[word.start:word.end] if word.start >= 0 else grams[word.end]
        out.append((text, word.weight / features))
    return out


cdef inline Py_ssize_t _utf8_length(Py_UCS4 ch):
    """The bytes of ``ch`` in UTF-8."""
    return 1 if ch < 0x80 else 2 if ch < 0x800 else 3 if ch < 0x10000 else 4


cdef bint _alphanumeric_span(str text, Py_ssize_t start, Py_ssize_t end):
    """``text[start:end].isalnum()`` without the slice (``end > start``)."""
    cdef int kind = PyUnicode_KIND(text)
    cdef const void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t i
    for i in range(start, end):
        if not Py_UNICODE_ISALNUM(PyUnicode_READ(kind, data, i)):
            return False
    return True


ctypedef struct _Grams:
    # the character n-grams of ``<`` + a token's UTF-8 + ``>`` (step 2), one at a time
    const unsigned char* utf8
    Py_ssize_t utf8_size
    Py_ssize_t size  # with the two markers
    Py_ssize_t i  # the n-gram's first byte
    Py_ssize_t j  # the byte after its last
    Py_ssize_t n  # its length in characters, plus one
    uint32_t h  # its hash


cdef inline void _grams_start(_Grams* g, const unsigned char* utf8, Py_ssize_t utf8_size):
    """Before the first n-gram of a token (``utf8``: its bytes, markers left out)."""
    g.utf8, g.utf8_size, g.size = utf8, utf8_size, utf8_size + 2
    g.i, g.j, g.n = -1, g.size, 0


cdef inline bint _next_gram(_Grams* g, Py_ssize_t minn, Py_ssize_t maxn) noexcept:
    """Move to the token's next n-gram of ``minn`` to ``maxn`` characters (step 2: each
    starts at a character's first byte; a one-character n-gram is left out at either
    marker), its hash in ``g.h`` and its bytes ``g.i`` to ``g.j``; false when none is
    left. The one home of the rule that ``_sum_rows`` and ``_prefetch_grams`` follow."""
    cdef bint wanted
    while True:
        if g.j >= g.size or g.n > maxn:  # this start is done: the next character's
            g.i += 1
            while g.i < g.size and (_byte(g.utf8, g.utf8_size, g.i) & 0xC0) == 0x80:
                g.i += 1
            if g.i >= g.size:
                return False
            g.j, g.n, g.h = g.i, 1, 2166136261U
        g.h = (g.h ^ <uint32_t>(<int8_t>_byte(g.utf8, g.utf8_size, g.j))) * 16777619U
        g.j += 1
        while g.j < g.size and (_byte(g.utf8, g.utf8_size, g.j) & 0xC0) == 0x80:
            g.h = (g.h ^ <uint32_t>(<int8_t>_byte(g.utf8, g.utf8_size, g.j))) * 16777619U
            g.j += 1
        wanted = g.n >= minn and not (g.n == 1 and (g.i == 0 or g.j == g.size))
        g.n += 1
        if wanted:
            return True


cdef inline unsigned char _byte(const unsigned char* utf8, Py_ssize_t size, Py_ssize_t k):
    """Byte ``k`` of ``<`` + the token's UTF-8 + ``>``."""
    if k == 0:
        return 60  # "<"
    if k == size + 1:
        return 62  # ">"
    return utf8[k - 1]


cdef str _marked(const unsigned char* utf8, Py_ssize_t size, Py_ssize_t i, Py_ssize_t j):
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


cdef inline bint _is_space(unsigned char byte):
    """What ends a token where fastText reads a line."""
    return (
        byte == 32 or byte == 10 or byte == 13 or byte == 9 or byte == 11 or byte == 12
        or byte == 0
    )


cdef inline bint _is_eos(const unsigned char* token, Py_ssize_t size):
    """Whether a token's UTF-8 is ``</s>``."""
    return size == 4 and memcmp(token, <const unsigned char*>b"</s>", 4) == 0


cdef inline uint32_t _fnv(const unsigned char* data, Py_ssize_t size):
    """fastText's 32-bit FNV-1a of some bytes, each taken as a signed char."""
    cdef uint32_t h = 2166136261U
    cdef Py_ssize_t i
    for i in range(size):
        h = (h ^ <uint32_t>(<int8_t>data[i])) * 16777619U
    return h


# --- the symbols (step 5) ---------------------------------------------------------------

#: The tokens ``symbols`` reads a smile and a frown as.
SMILE = ":)"
FROWN = ":("


cdef inline bint _is_emoji(Py_UCS4 ch):
    return (
        0x1F300 <= ch <= 0x1F3FA
        or 0x1F400 <= ch <= 0x1FAFF
        or 0x2600 <= ch <= 0x27BF
        or ch == 0x2B50
        or ch == 0x2B55
    )


cdef inline Py_UCS4 _at(int kind, const void* data, Py_ssize_t i, Py_ssize_t end):
    """The character at ``i``, or 0 at and past ``end`` (no symbol contains a NUL)."""
    return PyUnicode_READ(kind, data, i) if i < end else 0


cdef inline bint _edge_after(int kind, const void* data, Py_ssize_t i, Py_ssize_t end):
    """An emoticon may end before ``i``: the end, a space or one of ``.,!?`` follows."""
    cdef Py_UCS4 ch
    if i >= end:
        return True
    ch = PyUnicode_READ(kind, data, i)
    return Py_UNICODE_ISSPACE(ch) or ch == 46 or ch == 44 or ch == 33 or ch == 63  # . , ! ?


cdef Py_ssize_t _face(
    int kind, const void* data, Py_ssize_t i, Py_ssize_t end, str eyes, str mouths
):
    """The end of an emoticon at ``i``: one of ``eyes``, maybe ``'`` or ``-``, one of
    ``mouths``, then an edge (``_edge_after``); -1 for none."""
    cdef Py_UCS4 ch = _at(kind, data, i, end)
    cdef Py_ssize_t j = i + 1
    if ch == 0 or ch not in eyes:
        return -1
    ch = _at(kind, data, j, end)
    if ch == 39 or ch == 45:  # ' or -
        j += 1
        ch = _at(kind, data, j, end)
    if ch == 0 or ch not in mouths or not _edge_after(kind, data, j + 1, end):
        return -1
    return j + 1


cdef Py_ssize_t _run(int kind, const void* data, Py_ssize_t i, Py_ssize_t end, Py_UCS4 bracket):
    """The end of a run of two ``bracket`` or more at ``i``; -1 for none."""
    cdef Py_ssize_t j = i
    while j < end and PyUnicode_READ(kind, data, j) == bracket:
        j += 1
    return j if j - i >= 2 else -1


cdef Py_ssize_t _smile(int kind, const void* data, Py_ssize_t i, Py_ssize_t end, bint free):
    """The end of a smile at ``i`` (``free``: the text starts there or a space is before
    it); -1 for none."""
    cdef Py_ssize_t j
    cdef Py_UCS4 ch = PyUnicode_READ(kind, data, i)
    if free:
        j = _face(kind, data, i, end, ":;=8x", ")]dp3*")
        if j >= 0:
            return j
        if ch == 60 and _at(kind, data, i + 1, end) == 51 and _edge_after(kind, data, i + 2, end):
            return i + 2  # <3
        if ch == 94:  # ^^ or ^_^
            j = i + 2 if _at(kind, data, i + 1, end) == 95 else i + 1
            if _at(kind, data, j, end) == 94 and _edge_after(kind, data, j + 1, end):
                return j + 1
    return _run(kind, data, i, end, 41) if ch == 41 else -1  # ))


cdef Py_ssize_t _frown(int kind, const void* data, Py_ssize_t i, Py_ssize_t end, bint free):
    """The end of a frown at ``i`` (``free`` as for ``_smile``); -1 for none."""
    cdef Py_ssize_t j
    if free:
        j = _face(kind, data, i, end, ":;=", "([/\\|")
        if j >= 0:
            return j
    return _run(kind, data, i, end, 40) if PyUnicode_READ(kind, data, i) == 40 else -1  # ((


def symbols(str normalized, Py_ssize_t end, Py_ssize_t most):
    """The emoji and emoticons of ``normalized`` before ``end``, in order, as the model
    reads them (step 5); at most ``most``."""
    cdef int kind = PyUnicode_KIND(normalized)
    cdef const void* data = PyUnicode_DATA(normalized)
    cdef list found = []
    cdef Py_ssize_t i = 0, stop
    cdef Py_UCS4 ch
    cdef bint free
    if end > len(normalized):
        end = len(normalized)
    while i < end and len(found) < most:
        ch = PyUnicode_READ(kind, data, i)
        if _is_emoji(ch):
            found.append(chr(ch))
            i += 1
            continue
        if ch not in ":;=8x<^()":  # where no emoticon starts
            i += 1
            continue
        free = i == 0 or Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i - 1))
        stop = _smile(kind, data, i, end, free)
        if stop >= 0:
            found.append(SMILE)
        else:
            stop = _frown(kind, data, i, end, free)
            if stop >= 0:
                found.append(FROWN)
        i = stop if stop >= 0 else i + 1
    return found
