# cython: language_level=3, boundscheck=False, wraparound=False
"""The decoder's checks of a document's shape, compiled (Cython): how deep it could nest
and whether a key was repeated (``decode.py``, ``_check_tree``, says why these counts
decide it).

``raw_counts`` reads the raw bytes once for what the Python form counted in five passes
(``[`` and ``{``; ``:`` and its escaped forms ``\\u003a``/``\\u003A``).
``parsed_colons`` counts what ``orjson.dumps`` of the parsed document would hold of
``:`` (one after each key, and those inside keys and strings) by walking the document,
instead of writing it out again and counting: orjson writes a ``:`` nowhere else, and
never escapes one. ``tests/unit/test_decode_counts.py`` holds both to the Python forms.
"""

cdef extern from *:
    # defined by setup.py: the digest of this file as it was compiled
    const char* TRIAGE_SOURCE_DIGEST

#: The first 16 hex digits of the SHA-256 of the ``.pyx`` this module was compiled from
#: (``tests/unit/test_native_builds.py`` compares it with the file).
SOURCE_DIGEST = TRIAGE_SOURCE_DIGEST.decode("ascii")


#: What a byte is to ``raw_counts``: 1 a bracket (``[`` ``{``), 2 a colon, 3 a backslash
#: (perhaps an escaped colon), 0 anything else.
cdef unsigned char _KIND[256]
_KIND[:] = [0] * 256
_KIND[91] = _KIND[123] = 1
_KIND[58] = 2
_KIND[92] = 3


def raw_counts(bytes raw):
    """``(brackets, colons)`` of a document's bytes: its ``[`` and ``{``, and its ``:``
    with the escaped ``\\u003a`` and ``\\u003A``. One pass, the counts added without a
    branch per byte (a table of what each byte is); only a backslash looks ahead."""
    cdef const unsigned char* p = raw
    cdef Py_ssize_t i, n = len(raw)
    cdef Py_ssize_t brackets = 0, colons = 0
    cdef unsigned char kind
    for i in range(n):
        kind = _KIND[p[i]]
        brackets += kind == 1
        colons += kind == 2
        if (
            kind == 3
            and i + 5 < n
            and p[i + 1] == 117  # u
            and p[i + 2] == 48
            and p[i + 3] == 48
            and p[i + 4] == 51  # 003
            and (p[i + 5] == 97 or p[i + 5] == 65)  # a A
        ):
            colons += 1
    return brackets, colons


def parsed_colons(object document):
    """The ``:`` that ``orjson.dumps(document)`` would write, for a document that
    ``orjson.loads`` gave (dicts with string keys, lists, strings, numbers, booleans,
    null)."""
    return _colons(document)


cdef Py_ssize_t _colons(object node) except -1:
    cdef Py_ssize_t n = 0
    if type(node) is str:
        return (<str>node).count(":")
    if type(node) is dict:
        n = len(<dict>node)
        for key, value in (<dict>node).items():
            n += (<str?>key).count(":") + _colons(value)
        return n
    if type(node) is list:
        for value in <list>node:
            n += _colons(value)
    return n
