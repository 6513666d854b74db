# cython: language_level=3, boundscheck=False, wraparound=False
"""The prioritizer's JSON written straight into one buffer, compiled (Cython): a ticket,
and a customer's changelog record.

``ticket_bytes`` writes the bytes ``Ticket.model_dump_json()`` writes, from the event,
its assessment and the values the prioritizer decided for it (``ticket_json.py``: the
ids, the SLA policy's target and due time), without building the model or a dict of it.
On the hot path the dict of 26 fields that orjson serialised cost as much as its
serialisation; here the fields are read once and written in the contract's order.

The decisions it holds, each a rule of the contract's serialiser (pydantic's, which
``tests/unit/test_ticket_json.py`` holds these bytes equal to, and orjson's before it):

1. Fields in ``Ticket``'s order, every one written, ``null`` for an absent value; no
   spaces.
2. A string is its UTF-8, between quotes. Escaped: ``"`` and ``\\``, and each control
   character below U+0020: ``\\b \\t \\n \\f \\r`` by their short forms, the others as
   ``\\u00xx`` in lowercase hex. Nothing else: not ``/``, not U+007F, not U+2028, not any
   other non-ASCII character. A string that has no UTF-8 (a lone surrogate, which no
   decoded event holds) raises ``UnicodeEncodeError``.
3. An enum of the contract is a ``StrEnum``: written as its value, which is its text.
4. ``True``/``False`` as ``true``/``false`` (before integers: a bool is an int); an
   integer in decimal, within 64 bits (``OverflowError`` past them, as orjson refused
   them); a list and a dict (a reason: string keys, in their order) element by element.
   Any other type (a float: no ticket field has one) raises ``TypeError``.

``ticket_id_for`` writes a ticket's id: ``str(uuid.uuid5(TICKET_NAMESPACE, event_id))``,
the SHA-1 from ``hashlib`` and its text written here (rule 6).

``customer_record_bytes`` writes a customer's changelog record (``history.py``) as
``orjson.dumps`` wrote it from a dict of the record: its strings, booleans and integers
by the rules above, and one more, orjson's:

5. A remembered ticket's time (an aware ``datetime``) is written
   ``YYYY-MM-DDTHH:MM:SS``, then ``.ffffff`` when it has microseconds, then its offset.
   The offset's text is orjson's own, learned once per time zone by letting orjson write
   one time of it (a ``datetime.timezone`` has one offset for every time, and the
   history shares one zone per offset); a time in any other zone, or naive, is written
   by orjson whole.

And one of RFC 4122's, for a ticket's id:

6. A name-based (version 5) UUID is the first 16 bytes of the SHA-1 of the namespace's
   16 bytes and the name's UTF-8, its version nibble set to 5 and its variant bits to
   ``10``, written as 32 lowercase hex digits in groups of 8, 4, 4, 4 and 12 joined by
   ``-``: the text of ``uuid.UUID``, without building one.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.datetime cimport (
    datetime,
    datetime_day,
    datetime_hour,
    datetime_microsecond,
    datetime_minute,
    datetime_month,
    datetime_second,
    datetime_tzinfo,
    datetime_year,
    import_datetime,
)
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject_GenericGetAttr
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, strlen

from datetime import datetime as _datetime
from datetime import timezone as _timezone

import uuid
from hashlib import sha1 as _sha1

import orjson

from schemas.common import SCHEMA_VERSION

import_datetime()

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size) except NULL
    bint PyUnicode_IS_COMPACT_ASCII(object text)
    void* PyUnicode_DATA(object text)
    Py_ssize_t PyUnicode_GET_LENGTH(object text)
    ctypedef struct PyObject
    bint PyUnicode_Check(PyObject* value)
    bint PyLong_Check(PyObject* value)
    bint PyList_Check(PyObject* value)
    bint PyDict_Check(PyObject* value)
    Py_ssize_t PyList_GET_SIZE(PyObject* items)
    PyObject* PyList_GET_ITEM(PyObject* items, Py_ssize_t i)
    bint PyDict_Next(PyObject* fields, Py_ssize_t* at, PyObject** key, PyObject** value)
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)

cdef extern from *:
    # defined by setup.py: the digest of this file as it was compiled
    const char* TRIAGE_SOURCE_DIGEST

#: The first 16 hex digits of the SHA-256 of the ``.pyx`` this module was compiled from
#: (``tests/unit/test_native_builds.py`` compares it with the file).
SOURCE_DIGEST = TRIAGE_SOURCE_DIGEST.decode("ascii")

cdef str _SCHEMA_VERSION = SCHEMA_VERSION
# the two bools as objects (``True`` alone is a C constant to Cython)
cdef object _TRUE = True
cdef object _FALSE = False
cdef const char* _HEX = b"0123456789abcdef"
#: the first allocation: most tickets fit (a longer text grows it, doubling)
cdef Py_ssize_t _FIRST_CAPACITY = 2048
#: the same for a customer's record (about 100 bytes a remembered ticket)
cdef Py_ssize_t _RECORD_CAPACITY = 1024


cdef struct Buffer:
    char* data
    Py_ssize_t size
    Py_ssize_t capacity


cdef int _open(Buffer* out, Py_ssize_t capacity) except -1:
    """An empty buffer of ``capacity`` bytes (the caller frees ``out.data``)."""
    out.data = <char*>PyMem_Malloc(capacity)
    if out.data == NULL:
        raise MemoryError()
    out.size = 0
    out.capacity = capacity
    return 0


cdef int _grow(Buffer* out, Py_ssize_t want) except -1:
    """A buffer of at least ``want`` bytes (doubling), the written ones kept."""
    cdef Py_ssize_t capacity = out.capacity * 2
    cdef char* grown
    if capacity < want:
        capacity = want
    grown = <char*>PyMem_Realloc(out.data, capacity)
    if grown == NULL:
        raise MemoryError()
    out.data = grown
    out.capacity = capacity
    return 0


cdef inline int _reserve(Buffer* out, Py_ssize_t more) except -1:
    """Room for ``more`` bytes after the written ones."""
    if out.size + more > out.capacity:
        return _grow(out, out.size + more)
    return 0


cdef inline int _put(Buffer* out, const char* data, Py_ssize_t n) except -1:
    if out.size + n > out.capacity:
        _grow(out, out.size + n)
    memcpy(out.data + out.size, data, n)
    out.size += n
    return 0


cdef inline int _lit(Buffer* out, const char* literal) except -1:
    return _put(out, literal, strlen(literal))


cdef int _escape(Buffer* out, unsigned char c) except -1:
    """Rule 2's escape of one byte: a quote, a backslash or a control character."""
    cdef char code[6]
    if c == 34:
        return _put(out, b'\\"', 2)
    if c == 92:
        return _put(out, b"\\\\", 2)
    if c == 8:
        return _put(out, b"\\b", 2)
    if c == 9:
        return _put(out, b"\\t", 2)
    if c == 10:
        return _put(out, b"\\n", 2)
    if c == 12:
        return _put(out, b"\\f", 2)
    if c == 13:
        return _put(out, b"\\r", 2)
    code[0] = 92  # backslash
    code[1] = 117  # u
    code[2] = 48
    code[3] = 48
    code[4] = _HEX[c >> 4]
    code[5] = _HEX[c & 15]
    return _put(out, code, 6)


cdef inline bint _plain8(uint64_t word) noexcept:
    """No byte of these eight needs an escape: none is below 0x20, a quote or a
    backslash (the classic test for a zero byte, on the word and on its xors)."""
    cdef uint64_t ones = 0x0101010101010101ULL
    cdef uint64_t highs = 0x8080808080808080ULL
    cdef uint64_t quote = word ^ (ones * 34)
    cdef uint64_t slash = word ^ (ones * 92)
    return (
        ((word - ones * 32) & ~word)
        | ((quote - ones) & ~quote)
        | ((slash - ones) & ~slash)
    ) & highs == 0


cdef int _string(Buffer* out, object text) except -1:
    """Rules 2 and 3: ``text`` (a ``str`` or a ``StrEnum`` member) quoted and escaped.
    Runs of bytes that need no escape are copied whole; they are found eight bytes at a
    time."""
    cdef Py_ssize_t n, i = 0, start = 0
    cdef const char* data
    cdef unsigned char c
    cdef uint64_t word
    if PyUnicode_IS_COMPACT_ASCII(text):  # its characters are its UTF-8 (most strings)
        data = <const char*>PyUnicode_DATA(text)
        n = PyUnicode_GET_LENGTH(text)
    else:
        data = PyUnicode_AsUTF8AndSize(text, &n)
    _reserve(out, n + 2)
    out.data[out.size] = 34
    out.size += 1
    while i < n:
        if i + 8 <= n:
            memcpy(&word, data + i, 8)
            if _plain8(word):
                i += 8
                continue
        c = <unsigned char>data[i]
        if c >= 32 and c != 34 and c != 92:
            i += 1
            continue
        _put(out, data + start, i - start)
        _escape(out, c)
        i += 1
        start = i
    _put(out, data + start, n - start)
    return _put(out, b'"', 1)


cdef int _integer(Buffer* out, long long value) except -1:
    cdef char digits[24]
    cdef int at = 24
    cdef bint negative = value < 0
    # the magnitude as unsigned: the most negative value has no positive counterpart
    cdef unsigned long long rest = (<unsigned long long>(-(value + 1)) + 1) if negative else <unsigned long long>value
    while True:
        at -= 1
        digits[at] = <char>(48 + rest % 10)
        rest //= 10
        if rest == 0:
            break
    if negative:
        at -= 1
        digits[at] = 45  # minus
    return _put(out, digits + at, 24 - at)


cdef int _value(Buffer* out, PyObject* value) except -1:
    """Rules 2–4: any value a ticket holds. Borrowed, as are the items and fields below
    it: nothing here keeps a reference, and nothing it calls runs Python code that could
    drop one (an exact or enum string's UTF-8, an int's value), until the ``TypeError``."""
    if value == <PyObject*>None:
        return _put(out, b"null", 4)
    if value == <PyObject*>_TRUE:
        return _put(out, b"true", 4)
    if value == <PyObject*>_FALSE:
        return _put(out, b"false", 5)
    if PyUnicode_Check(value):
        return _string(out, <object>value)
    if PyLong_Check(value):
        return _integer(out, <object>value)
    if PyList_Check(value):
        return _array(out, value)
    if PyDict_Check(value):
        return _object(out, value)
    raise TypeError(f"a ticket holds no {type(<object>value).__name__}: {<object>value!r}")


cdef int _array(Buffer* out, PyObject* items) except -1:
    cdef Py_ssize_t i
    _put(out, b"[", 1)
    for i in range(PyList_GET_SIZE(items)):
        if i:
            _put(out, b",", 1)
        _value(out, PyList_GET_ITEM(items, i))
    return _put(out, b"]", 1)


#: The keys of a reason (``Reason``'s fields, eight reasons a ticket on the bench mix), as
#: the objects the engine's dicts hold (interned, as every identifier-like literal is):
#: a key that is one of them is written from its literal, with no scan for escapes.
cdef str _RULE_ID = "rule_id"
cdef str _WEIGHT = "weight"
cdef str _EVIDENCE = "evidence"
cdef str _MIN_PRIORITY = "min_priority"


cdef int _key(Buffer* out, PyObject* key) except -1:
    """A dict's key and its colon: a reason's key from its literal (found by identity;
    any other string, an equal one included, is written by rule 2, to the same bytes)."""
    if key == <PyObject*>_RULE_ID:
        return _put(out, b'"rule_id":', 10)
    if key == <PyObject*>_WEIGHT:
        return _put(out, b'"weight":', 9)
    if key == <PyObject*>_EVIDENCE:
        return _put(out, b'"evidence":', 11)
    if key == <PyObject*>_MIN_PRIORITY:
        return _put(out, b'"min_priority":', 15)
    _string(out, <object>key)
    return _put(out, b":", 1)


cdef int _object(Buffer* out, PyObject* fields) except -1:
    cdef Py_ssize_t at = 0
    cdef PyObject* key
    cdef PyObject* value
    cdef bint first = True
    _put(out, b"{", 1)
    while PyDict_Next(fields, &at, &key, &value):
        if not first:
            _put(out, b",", 1)
        first = False
        _key(out, key)
        _value(out, value)
    return _put(out, b"}", 1)


cdef inline object _field(object model, str name):
    """A field of the event (or of its customer) by the generic lookup, without the hook
    that pydantic's ``__getattr__`` puts before every attribute read (as ``_rules._field``
    says)."""
    return PyObject_GenericGetAttr(model, name)


cdef inline int _entry(Buffer* out, const char* key, object value) except -1:
    """A field: its key, written as given with the punctuation before it, then its value."""
    _lit(out, key)
    return _value(out, <PyObject*>value)


def ticket_bytes(
    object event,
    object assessment,
    str ticket_id,
    str created_at,
    str rules_version,
    object target_seconds,
    str due_at,
    object policy_id,
    str occurred_at,
):
    """The ticket of ``event`` as ``Ticket.model_dump_json().encode()`` writes it: the
    times (``due_at``, ``occurred_at``, ``created_at``) already in RFC 3339, the SLA
    target and policy id as ``SlaPolicy`` decided them."""
    cdef Buffer out
    customer = _field(event, "customer")
    _open(&out, _FIRST_CAPACITY)
    try:
        _entry(&out, b'{"schema_version":', _SCHEMA_VERSION)
        _entry(&out, b',"ticket_id":', ticket_id)
        _entry(&out, b',"event_id":', _field(event, "event_id"))
        _entry(&out, b',"customer_id":', _field(customer, "id"))
        _entry(&out, b',"priority":', assessment.priority)
        _entry(&out, b',"severity":', assessment.severity)
        _entry(&out, b',"category":', assessment.category)
        _entry(&out, b',"reasons":', assessment.reason_fields)
        _entry(&out, b',"language":', assessment.language)
        _entry(&out, b',"sla":{"target_seconds":', target_seconds)
        _entry(&out, b',"first_response_due_at":', due_at)
        _entry(&out, b',"policy_id":', policy_id)
        _entry(&out, b'},"actions":', assessment.actions)
        _entry(&out, b',"management_attention":', assessment.management_attention)
        _entry(&out, b',"occurred_at":', occurred_at)
        _entry(&out, b',"created_at":', created_at)
        _entry(&out, b',"channel":', _field(event, "channel"))
        _entry(&out, b',"customer_tier":', _field(customer, "tier"))
        _entry(&out, b',"customer_lifecycle_stage":', _field(customer, "lifecycle_stage"))
        _entry(&out, b',"customer_name":', _field(customer, "name"))
        _entry(&out, b',"nps_score":', _field(event, "nps_score"))
        _entry(&out, b',"rating":', _field(event, "rating"))
        _entry(&out, b',"subject":', _field(event, "subject"))
        _entry(&out, b',"text":', _field(event, "text"))
        _entry(&out, b',"rules_version":', rules_version)
        _entry(&out, b',"related_ticket_ids":', assessment.related_ticket_ids)
        _entry(&out, b',"brand":', _field(event, "brand"))
        _put(&out, b"}", 1)
        return PyBytes_FromStringAndSize(out.data, out.size)
    finally:
        PyMem_Free(out.data)


#: time zone → its offset as orjson writes it (rule 5); zones are few (the history
#: shares one per offset), and the table stops growing at ``_MAX_ZONES``
cdef dict _OFFSETS = {}
cdef Py_ssize_t _MAX_ZONES = 4096


cdef bytes _offset_text(object zone):
    """Rule 5: the offset of ``zone`` (a ``datetime.timezone``) as orjson writes it after a
    time: what follows the 19 characters of the date and time in orjson's quoted form."""
    cdef bytes text = _OFFSETS.get(zone)
    cdef bytes whole
    if text is None:
        whole = orjson.dumps(_datetime(2000, 1, 1, tzinfo=zone))
        text = whole[20 : len(whole) - 1]
        if len(_OFFSETS) < _MAX_ZONES:
            _OFFSETS[zone] = text
    return text


cdef inline void _digits(char* at, int value, int width) noexcept:
    """``value`` (≥ 0) as ``width`` decimal digits, zero-padded, at ``at``."""
    cdef int i
    for i in range(width - 1, -1, -1):
        at[i] = <char>(48 + value % 10)
        value //= 10


cdef int _time(Buffer* out, datetime at) except -1:
    """Rule 5: a remembered ticket's time, quoted."""
    cdef object zone = datetime_tzinfo(at)
    cdef char text[27]
    cdef Py_ssize_t n = 19
    cdef int micro
    cdef bytes whole, offset
    if type(zone) is not _timezone:
        whole = orjson.dumps(at)
        return _put(out, whole, len(whole))
    offset = _offset_text(zone)
    _digits(text, datetime_year(at), 4)
    text[4] = 45  # -
    _digits(text + 5, datetime_month(at), 2)
    text[7] = 45
    _digits(text + 8, datetime_day(at), 2)
    text[10] = 84  # T
    _digits(text + 11, datetime_hour(at), 2)
    text[13] = 58  # :
    _digits(text + 14, datetime_minute(at), 2)
    text[16] = 58
    _digits(text + 17, datetime_second(at), 2)
    micro = datetime_microsecond(at)
    if micro:
        text[19] = 46  # .
        _digits(text + 20, micro, 6)
        n = 26
    _put(out, b'"', 1)
    _put(out, text, n)
    _put(out, offset, len(offset))
    return _put(out, b'"', 1)


def customer_record_bytes(str customer_id, list tickets):
    """A customer's changelog record as ``orjson.dumps`` wrote it from
    ``{"record": "customer", "v": 1, "customer_id": …, "tickets": [{"ticket_id": …,
    "occurred_at": …, "negative": …}, …]}``; ``tickets``: the history's
    ``(occurred_at, ticket_id, negative)`` tuples, in their order."""
    cdef Buffer out
    cdef Py_ssize_t i
    cdef tuple past
    _open(&out, _RECORD_CAPACITY)
    try:
        _entry(&out, b'{"record":"customer","v":1,"customer_id":', customer_id)
        _lit(&out, b',"tickets":[')
        for i in range(len(tickets)):
            past = <tuple?>tickets[i]
            _entry(&out, b'{"ticket_id":' if i == 0 else b',{"ticket_id":', past[1])
            _lit(&out, b',"occurred_at":')
            _time(&out, <datetime?>past[0])
            _entry(&out, b',"negative":', past[2])
            _put(&out, b"}", 1)
        _put(&out, b"]}", 2)
        return PyBytes_FromStringAndSize(out.data, out.size)
    finally:
        PyMem_Free(out.data)


#: Namespace of ticket ids: uuid5(TICKET_NAMESPACE, event_id). Never change it, or
#: redelivered events would get new ticket ids.
TICKET_NAMESPACE = uuid.UUID("6f1d3c1e-7a53-5b8e-9f0e-4c2b7d1a9e11")
cdef bytes _NAMESPACE = TICKET_NAMESPACE.bytes
#: where each byte of the digest goes in the text (after its group's dash)
cdef Py_ssize_t[16] _AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34]


def ticket_id_for(str event_id):
    """A ticket's id: ``str(uuid.uuid5(TICKET_NAMESPACE, event_id))`` (rule 6), so the same
    event always gets the same ticket id (a redelivered event included)."""
    cdef Py_ssize_t n
    cdef const char* name = PyUnicode_AsUTF8AndSize(event_id, &n)
    cdef bytes data = PyBytes_FromStringAndSize(NULL, 16 + n)
    cdef char* into = PyBytes_AS_STRING(data)
    memcpy(into, <const char*>_NAMESPACE, 16)
    memcpy(into + 16, name, n)
    cdef bytes digest = _sha1(data).digest()
    cdef const unsigned char* d = <const unsigned char*>digest
    cdef str text = PyUnicode_New(36, 127)
    cdef unsigned char* out = <unsigned char*>PyUnicode_DATA(text)
    cdef unsigned char byte
    cdef int i
    for i in range(16):
        byte = d[i]
        if i == 6:
            byte = (byte & 0x0F) | 0x50  # version 5
        elif i == 8:
            byte = (byte & 0x3F) | 0x80  # variant 10xx
        out[_AT[i]] = _HEX[byte >> 4]
        out[_AT[i] + 1] = _HEX[byte & 15]
    out[8] = out[13] = out[18] = out[23] = 45  # -
    return text
