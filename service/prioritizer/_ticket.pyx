# cython: language_level=3, boundscheck=False, wraparound=False
"""The prioritizer's JSON written straight into one buffer, compiled (Cython): a ticket,
and a customer's changelog record; and a customer's remembered tickets, packed.

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

The history (``history.py``) keeps each customer's remembered tickets packed in one
``bytes`` object (the layout is described where its functions begin: ``remember``,
``recent_ids``, ``forget_before``, ``pack_tickets``, ``unpack_tickets``), and
``customer_record_bytes`` writes a customer's changelog record from it as
``orjson.dumps`` wrote it from a dict of the record: its strings and booleans by the
rules above, and one more, orjson's:

5. A remembered ticket's time is written ``YYYY-MM-DDTHH:MM:SS`` (its wall time at its
   own offset), then ``.ffffff`` when it has microseconds, then its offset. The offset's
   text is orjson's own, learned once per offset by letting orjson write one time in a
   ``datetime.timezone`` of it. A time is packed from an aware ``datetime`` of any zone
   (its offset at that time); a naive one is refused (``ValueError``).

And one of RFC 4122's, for a ticket's id:

6. A name-based (version 5) UUID is the first 16 bytes of the SHA-1 of the namespace's
   16 bytes and the name's UTF-8, its version nibble set to 5 and its variant bits to
   ``10``, written as 32 lowercase hex digits in groups of 8, 4, 4, 4 and 12 joined by
   ``-``: the text of ``uuid.UUID``, without building one.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.datetime cimport (
    datetime,
    datetime_new,
    timedelta,
    timedelta_days,
    timedelta_microseconds,
    timedelta_seconds,
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
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, strlen

cimport cython

from datetime import datetime as _datetime
from datetime import timedelta as _timedelta
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
    object PyUnicode_DecodeUTF8(const char* data, Py_ssize_t size, const char* errors)

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
    """Rules 2 and 3: ``text`` (a ``str`` or a ``StrEnum`` member) quoted and escaped."""
    cdef Py_ssize_t n
    cdef const char* data
    if PyUnicode_IS_COMPACT_ASCII(text):  # its characters are its UTF-8 (most strings)
        data = <const char*>PyUnicode_DATA(text)
        n = PyUnicode_GET_LENGTH(text)
    else:
        data = PyUnicode_AsUTF8AndSize(text, &n)
    return _utf8(out, data, n)


cdef int _utf8(Buffer* out, const char* data, Py_ssize_t n) except -1:
    """Rule 2: the UTF-8 text ``data[:n]`` quoted and escaped. Runs of bytes that need no
    escape are copied whole; they are found eight bytes at a time."""
    cdef Py_ssize_t i = 0, start = 0
    cdef unsigned char c
    cdef uint64_t word
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


# --- a customer's remembered tickets, packed ---------------------------------------------
#
# The history (``history.py``) keeps each customer's remembered tickets as one ``bytes``
# object: its entries one after another, oldest first, each
#
#     instant   int64   microseconds since 1970-01-01T00:00Z (the time's UTC instant)
#     offset    int64   the time's UTC offset, in microseconds (what its JSON says)
#     length    uint32  the ticket id's UTF-8 length
#     negative  uint8   1: a complaint
#     id        length bytes of UTF-8
#
# in native byte order (the bytes never leave the process: the changelog holds JSON). A
# lookup reads one object's consecutive bytes where a list of tuples read a tuple, a
# datetime and a string per ticket, each somewhere else in memory; with tens of
# thousands of customers every one of those was a cache miss. The objects are not
# tracked by the garbage collector either (bytes hold no references).
#
# Entries are in the order of ``(instant, ticket id)`` (the ids' UTF-8 bytes compare as
# their code points do): the order in which Python sorted ``(time, id, negative)``
# tuples, where an aware time compares by its instant.

cdef enum:
    _P_INSTANT = 0
    _P_OFFSET = 8
    _P_LENGTH = 16
    _P_NEGATIVE = 20
    _P_HEAD = 21

cdef int64_t _DAY_US = 86400000000
cdef int64_t _SECOND_US = 1000000


cdef inline int64_t _i64(const char* at) noexcept:
    cdef int64_t value
    memcpy(&value, at, 8)
    return value


cdef inline uint32_t _u32(const char* at) noexcept:
    cdef uint32_t value
    memcpy(&value, at, 4)
    return value


@cython.cdivision(True)
cdef int64_t _days_from_civil(int64_t y, int64_t m, int64_t d) noexcept:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    cdef int64_t era = (y if y >= 0 else y - 399) // 400
    cdef int64_t yoe = y - era * 400
    cdef int64_t doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    cdef int64_t doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@cython.cdivision(True)
cdef void _civil_from_days(int64_t z, int* year, int* month, int* day) noexcept:
    """The date ``z`` days after 1970-01-01 (the inverse of ``_days_from_civil``)."""
    z += 719468
    cdef int64_t era = (z if z >= 0 else z - 146096) // 146097
    cdef int64_t doe = z - era * 146097
    cdef int64_t yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    cdef int64_t doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    cdef int64_t mp = (5 * doy + 2) // 153
    day[0] = <int>(doy - (153 * mp + 2) // 5 + 1)
    month[0] = <int>(mp + 3 if mp < 10 else mp - 9)
    year[0] = <int>(yoe + era * 400 + (month[0] <= 2))


cdef inline int64_t _floor_div(int64_t a, int64_t b) noexcept:
    cdef int64_t q = a // b  # Cython keeps Python's floor division on C integers
    return q


#: the zone whose offset ``_instant`` read last, and that offset: most times share one
#: ``datetime.timezone`` (the decoder's shared zones), immutable, so its offset is read
#: once rather than asked of it for every time
cdef object _last_zone = None
cdef int64_t _last_offset = 0


cdef int _instant(datetime at, int64_t* instant, int64_t* offset) except -1:
    """``at``'s UTC instant and offset, in microseconds (``at`` must be aware)."""
    global _last_zone, _last_offset
    cdef object zone = datetime_tzinfo(at)
    cdef object delta
    if zone is not _last_zone or zone is None:
        delta = at.utcoffset()
        if delta is None:
            raise ValueError("a remembered ticket's time must be aware")
        if type(zone) is not _timezone:  # another kind of zone: its offset may vary
            offset[0] = _delta_us(delta)
            return _wall_instant(at, instant, offset[0])
        _last_zone = zone
        _last_offset = _delta_us(delta)
    offset[0] = _last_offset
    return _wall_instant(at, instant, _last_offset)


cdef inline int _wall_instant(datetime at, int64_t* instant, int64_t offset) except -1:
    instant[0] = (
        _days_from_civil(datetime_year(at), datetime_month(at), datetime_day(at)) * _DAY_US
        + ((datetime_hour(at) * 60 + datetime_minute(at)) * 60 + datetime_second(at))
        * _SECOND_US
        + datetime_microsecond(at)
        - offset
    )
    return 0


cdef inline int64_t _delta_us(timedelta delta) noexcept:
    return (
        <int64_t>timedelta_days(delta) * _DAY_US
        + <int64_t>timedelta_seconds(delta) * _SECOND_US
        + timedelta_microseconds(delta)
    )


cdef inline int _id_order(const char* a, Py_ssize_t an, const char* b, Py_ssize_t bn) noexcept:
    """-1, 0, 1: ids ``a`` and ``b`` (UTF-8) in the order of their code points."""
    cdef int c = memcmp(a, b, an if an < bn else bn)
    if c:
        return -1 if c < 0 else 1
    return 0 if an == bn else (-1 if an < bn else 1)


cdef const char* _ticket_id(str ticket_id, Py_ssize_t* n) except NULL:
    cdef const char* data = PyUnicode_AsUTF8AndSize(ticket_id, n)
    if n[0] > 0xFFFFFFFF:
        raise ValueError("a ticket id longer than 4 GiB")
    return data


cdef char* _write_entry(
    char* at, int64_t instant, int64_t offset, const char* id, Py_ssize_t n, bint negative
) noexcept:
    cdef uint32_t length = <uint32_t>n
    memcpy(at + _P_INSTANT, &instant, 8)
    memcpy(at + _P_OFFSET, &offset, 8)
    memcpy(at + _P_LENGTH, &length, 4)
    at[_P_NEGATIVE] = 1 if negative else 0
    memcpy(at + _P_HEAD, id, n)
    return at + _P_HEAD + n


def pack_tickets(list tickets):
    """Remembered tickets packed, in the order given: ``tickets`` are
    ``(occurred_at, ticket_id, negative)`` tuples, times aware (a changelog record read
    back; the history sorts them first)."""
    cdef Buffer out
    cdef int64_t instant, offset
    cdef Py_ssize_t n
    cdef const char* id
    _open(&out, 64 * len(tickets) + 1)
    try:
        for at, ticket_id, negative in tickets:
            _instant(<datetime?>at, &instant, &offset)
            id = _ticket_id(<str?>ticket_id, &n)
            _reserve(&out, _P_HEAD + n)
            out.size = _write_entry(
                out.data + out.size, instant, offset, id, n, bool(negative)
            ) - out.data
        return PyBytes_FromStringAndSize(out.data, out.size)
    finally:
        PyMem_Free(out.data)


def unpack_tickets(bytes packed, object zone_of):
    """The ``(occurred_at, ticket_id, negative)`` tuples of ``packed``, oldest first;
    each time in ``zone_of(offset)``, the zone of its own offset (a ``timedelta``)."""
    cdef const char* data = packed
    cdef Py_ssize_t size = len(packed), at = 0
    cdef int64_t instant, offset, local, days, rest
    cdef uint32_t n
    cdef int year, month, day
    cdef list tickets = []
    while at < size:
        instant = _i64(data + at + _P_INSTANT)
        offset = _i64(data + at + _P_OFFSET)
        n = _u32(data + at + _P_LENGTH)
        local = instant + offset
        days = _floor_div(local, _DAY_US)
        rest = local - days * _DAY_US
        _civil_from_days(days, &year, &month, &day)
        when = datetime_new(
            year,
            month,
            day,
            <int>(rest // 3600000000),
            <int>(rest // 60000000 % 60),
            <int>(rest // _SECOND_US % 60),
            <int>(rest % _SECOND_US),
            zone_of(_timedelta(microseconds=offset)),
        )
        tickets.append(
            (when, PyUnicode_DecodeUTF8(data + at + _P_HEAD, n, NULL), data[at + _P_NEGATIVE] != 0)
        )
        at += _P_HEAD + n
    return tickets


def remember(object packed, datetime occurred_at, str ticket_id, bint negative, Py_ssize_t limit):
    """``packed`` (None: no tickets yet) with one more ticket in its place, the oldest
    dropped past ``limit``; None when ``ticket_id`` is already there (a redelivered
    ticket changes nothing)."""
    cdef const char* data = NULL
    cdef Py_ssize_t size = 0, at = 0, place = -1, count = 0, n, skip, total
    cdef int64_t instant, offset, other
    cdef uint32_t length
    cdef const char* id = _ticket_id(ticket_id, &n)
    cdef char* merged
    cdef char* end
    cdef bytes held, fresh
    _instant(occurred_at, &instant, &offset)
    if packed is not None:
        held = <bytes?>packed
        data = held
        size = len(held)
    while at < size:
        length = _u32(data + at + _P_LENGTH)
        if length == n and memcmp(data + at + _P_HEAD, id, n) == 0:
            return None
        if place < 0:
            other = _i64(data + at + _P_INSTANT)
            if other > instant or (
                other == instant and _id_order(data + at + _P_HEAD, length, id, n) > 0
            ):
                place = at
        count += 1
        at += _P_HEAD + length
    if place < 0:
        place = size
    total = size + _P_HEAD + n
    fresh = PyBytes_FromStringAndSize(NULL, total)
    merged = PyBytes_AS_STRING(fresh)
    if place:
        memcpy(merged, data, place)
    end = _write_entry(merged + place, instant, offset, id, n, negative)
    if size > place:
        memcpy(end, data + place, size - place)
    if count + 1 <= limit:
        return fresh
    at = 0
    for skip in range(count + 1 - limit):  # the oldest go past the limit
        at += _P_HEAD + _u32(merged + at + _P_LENGTH)
    return PyBytes_FromStringAndSize(merged + at, total - at)


def recent_ids(
    bytes packed, datetime occurred_at, timedelta window, object exclude, bint negative_only
):
    """The ids of ``packed``'s tickets from ``window`` before ``occurred_at`` to it (both
    ends included), oldest first: complaints only when ``negative_only``, and never the
    ticket ``exclude`` (an id, or None)."""
    cdef const char* data = packed
    cdef Py_ssize_t size = len(packed), at = 0, excluded_n = -1
    cdef const char* excluded = NULL
    cdef int64_t until, offset, since, instant
    cdef uint32_t n
    cdef list ids = []
    _instant(occurred_at, &until, &offset)
    since = until - _delta_us(window)
    if exclude is not None:
        excluded = _ticket_id(<str?>exclude, &excluded_n)
    while at < size:
        instant = _i64(data + at + _P_INSTANT)
        n = _u32(data + at + _P_LENGTH)
        if (
            since <= instant <= until
            and (data[at + _P_NEGATIVE] or not negative_only)
            and not (n == excluded_n and memcmp(data + at + _P_HEAD, excluded, n) == 0)
        ):
            ids.append(PyUnicode_DecodeUTF8(data + at + _P_HEAD, n, NULL))
        at += _P_HEAD + n
    return ids


def forget_before(bytes packed, datetime before):
    """``packed`` without its tickets older than ``before``: ``packed`` itself when none
    is, None when every one is."""
    cdef const char* data = packed
    cdef Py_ssize_t size = len(packed), at = 0
    cdef int64_t limit, offset
    _instant(before, &limit, &offset)
    while at < size and _i64(data + at + _P_INSTANT) < limit:
        at += _P_HEAD + _u32(data + at + _P_LENGTH)
    if at == 0:
        return packed
    if at == size:
        return None
    return PyBytes_FromStringAndSize(data + at, size - at)


#: offset in microseconds → its text as orjson writes it after a time (rule 5)
cdef dict _OFFSETS = {}
cdef Py_ssize_t _MAX_ZONES = 4096


cdef bytes _offset_text(int64_t offset):
    """Rule 5: what follows the date and time of a time with UTC offset ``offset``
    (microseconds) in orjson's quoted form, learned from orjson once per offset."""
    cdef bytes text = _OFFSETS.get(offset)
    cdef bytes whole
    if text is None:
        zone = _timezone(_timedelta(microseconds=offset))
        whole = orjson.dumps(_datetime(2000, 1, 1, tzinfo=zone))
        text = whole[20 : len(whole) - 1]
        if len(_OFFSETS) < _MAX_ZONES:
            _OFFSETS[offset] = text
    return text


cdef inline void _digits(char* at, int value, int width) noexcept:
    """``value`` (≥ 0) as ``width`` decimal digits, zero-padded, at ``at``."""
    cdef int i
    for i in range(width - 1, -1, -1):
        at[i] = <char>(48 + value % 10)
        value //= 10


cdef int _time(Buffer* out, int64_t instant, int64_t offset) except -1:
    """Rule 5: a remembered ticket's time, quoted: its wall time at its own offset."""
    cdef int64_t local = instant + offset
    cdef int64_t days = _floor_div(local, _DAY_US)
    cdef int64_t rest = local - days * _DAY_US
    cdef int year, month, day
    cdef int micro = <int>(rest % _SECOND_US)
    cdef char text[27]
    cdef Py_ssize_t n = 19
    cdef bytes zone = _offset_text(offset)
    _civil_from_days(days, &year, &month, &day)
    _digits(text, year, 4)
    text[4] = 45  # -
    _digits(text + 5, month, 2)
    text[7] = 45
    _digits(text + 8, day, 2)
    text[10] = 84  # T
    _digits(text + 11, <int>(rest // 3600000000), 2)
    text[13] = 58  # :
    _digits(text + 14, <int>(rest // 60000000 % 60), 2)
    text[16] = 58
    _digits(text + 17, <int>(rest // _SECOND_US % 60), 2)
    if micro:
        text[19] = 46  # .
        _digits(text + 20, micro, 6)
        n = 26
    _put(out, b'"', 1)
    _put(out, text, n)
    _put(out, zone, len(zone))
    return _put(out, b'"', 1)


def customer_record_bytes(str customer_id, bytes packed):
    """A customer's changelog record as ``orjson.dumps`` wrote it from
    ``{"record": "customer", "v": 1, "customer_id": …, "tickets": [{"ticket_id": …,
    "occurred_at": …, "negative": …}, …]}``, the tickets those ``packed`` holds, in
    their order."""
    cdef Buffer out
    cdef const char* data = packed
    cdef Py_ssize_t size = len(packed), at = 0
    cdef uint32_t n
    _open(&out, _RECORD_CAPACITY)
    try:
        _entry(&out, b'{"record":"customer","v":1,"customer_id":', customer_id)
        _lit(&out, b',"tickets":[')
        while at < size:
            n = _u32(data + at + _P_LENGTH)
            _lit(&out, b'{"ticket_id":' if at == 0 else b',{"ticket_id":')
            _utf8(&out, data + at + _P_HEAD, n)
            _lit(&out, b',"occurred_at":')
            _time(&out, _i64(data + at + _P_INSTANT), _i64(data + at + _P_OFFSET))
            if data[at + _P_NEGATIVE]:
                _lit(&out, b',"negative":true}')
            else:
                _lit(&out, b',"negative":false}')
            at += _P_HEAD + n
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
