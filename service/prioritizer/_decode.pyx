# cython: language_level=3, boundscheck=False, wraparound=False
"""The decoder's compiled steps (Cython): the checks of a document's shape — how deep it
could nest and whether a key was repeated (``decode.py``, ``_check_tree``, says why these
counts decide it) — and ``event_of``, the common form of an event built without the
validator (below, and ``decode.py``'s module docstring).

``raw_counts`` reads the raw bytes once, eight at a time, for what the Python form
counted in five passes (``[`` and ``{``; ``:`` and its escaped forms
``\\u003a``/``\\u003A``).
``parsed_colons`` counts what ``orjson.dumps`` of the parsed document would hold of
``:`` (one after each key, and those inside keys and strings) by walking the document,
instead of writing it out again and counting: orjson writes a ``:`` nowhere else, and
never escapes one. ``tests/unit/test_decode_counts.py`` holds both to the Python forms.
"""

from libc.stdint cimport uint64_t
from libc.string cimport memchr, memcpy

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


cdef inline uint64_t _bytes_equal(uint64_t word, uint64_t byte) noexcept:
    """0x80 in each byte of ``word`` that is ``byte``, 0 in every other: the exact test
    for a zero byte, on the word xor the byte repeated (no borrow from one byte reaches
    the next, so no byte is flagged wrongly)."""
    cdef uint64_t low7 = 0x7F7F7F7F7F7F7F7FULL
    cdef uint64_t x = word ^ (0x0101010101010101ULL * byte)
    return ~(((x & low7) + low7) | x | low7)


cdef inline Py_ssize_t _flagged(uint64_t flags) noexcept:
    """How many bytes of ``flags`` (each 0x80 or 0) are flagged: each flag moved to the
    byte's low bit, and the eight bytes summed into the top byte by one multiplication."""
    return <Py_ssize_t>(((flags >> 7) * 0x0101010101010101ULL) >> 56)


cdef inline void _count_byte(
    const unsigned char* p, Py_ssize_t i, Py_ssize_t n, Py_ssize_t* brackets, Py_ssize_t* colons
) noexcept:
    """One byte's share of the counts (a backslash looks ahead for ``u003a``)."""
    cdef unsigned char kind = _KIND[p[i]]
    brackets[0] += kind == 1
    colons[0] += kind == 2
    if (
        kind == 3
        and i + 5 < n
        and p[i + 1] == 117  # u
        and p[i + 2] == 48
        and p[i + 3] == 48
        and p[i + 4] == 51  # 003
        and (p[i + 5] == 97 or p[i + 5] == 65)  # a A
    ):
        colons[0] += 1


def raw_counts(bytes raw):
    """``(brackets, colons)`` of a document's bytes: its ``[`` and ``{``, and its ``:``
    with the escaped ``\\u003a`` and ``\\u003A``. One pass, eight bytes at a time: in
    each word the brackets and colons are flagged and counted without a branch per byte
    (``_bytes_equal``, ``_flagged``); a word with a backslash, and the last bytes, go a
    byte at a time, where a backslash looks ahead for an escaped colon."""
    cdef Py_ssize_t brackets = 0, colons = 0
    _raw_counts(raw, &brackets, &colons)
    return brackets, colons


cdef void _raw_counts(bytes raw, Py_ssize_t* bracket_count, Py_ssize_t* colon_count) noexcept:
    """``raw_counts``, into ``bracket_count`` and ``colon_count``."""
    cdef const unsigned char* p = raw
    cdef Py_ssize_t i = 0, j, n = len(raw)
    cdef Py_ssize_t brackets = 0, colons = 0
    cdef uint64_t word
    while i + 8 <= n:
        memcpy(&word, p + i, 8)
        if _bytes_equal(word, 92):  # a backslash: this word byte by byte
            for j in range(i, i + 8):
                _count_byte(p, j, n, &brackets, &colons)
        else:
            brackets += _flagged(_bytes_equal(word, 91) | _bytes_equal(word, 123))
            colons += _flagged(_bytes_equal(word, 58))
        i += 8
    for j in range(i, n):
        _count_byte(p, j, n, &brackets, &colons)
    bracket_count[0] = brackets
    colon_count[0] = colons


def parsed_colons(object document):
    """The ``:`` that ``orjson.dumps(document)`` would write, for a document that
    ``orjson.loads`` gave (dicts with string keys, lists, strings, numbers, booleans,
    null)."""
    return _colons(document)


cdef Py_ssize_t _colons(object node) except -1:
    cdef Py_ssize_t n = 0
    if type(node) is str:
        return _colons_in(<str>node)
    if type(node) is dict:
        n = len(<dict>node)
        for key, value in (<dict>node).items():
            n += _colons_in(<str?>key) + _colons(value)
        return n
    if type(node) is list:
        for value in <list>node:
            n += _colons(value)
    return n


cdef Py_ssize_t _colons_in(str text) noexcept:
    """``text.count(":")``, in C: a text stored a byte a character (most keys and texts)
    is searched with ``memchr``, any other read character by character."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), i, count = 0
    cdef int kind = PyUnicode_KIND(text)
    cdef const char* data = PyUnicode_DATA(text)
    cdef const char* at
    cdef const char* end
    if kind == 1:
        at, end = data, data + n
        while True:
            at = <const char*>memchr(at, 58, end - at)
            if at == NULL:
                return count
            count += 1
            at += 1
    for i in range(n):
        count += PyUnicode_READ(kind, data, i) == 58
    return count


# --- the common form of an event, built without the validator ------------------------
#
# ``event_of`` is step 3 of ``decode.decode_feedback`` for the events nearly every
# publisher sends: it checks the parsed document against the contract's rules for the
# forms it knows, and builds the ``FeedbackEvent`` the validator would have built. Any
# form it does not know — a missing or mistyped field, a value out of bounds, a timestamp
# written another way than below, an id to strip or with a character that is not
# printable — gives None, and the decoder hands the document to the validator, which
# accepts it or says exactly why not. So this path may decline a valid event, never
# accept an invalid one, and what it accepts equals the validator's event
# (``tests/unit/test_event_fast_path.py``: the labelled corpus, the hostile corpus and
# hypothesis-generated documents; the bounds below are compared with the contract's
# JSON schema there, so a changed contract fails that test until this path follows).

from cpython.datetime cimport datetime_new, import_datetime

from datetime import timedelta

from schemas.common import LifecycleStage, Tier
from schemas.feedback import Customer, FeedbackEvent
from service.prioritizer.history import shared_timezone
from service.trusted import construct

import_datetime()

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object)
    const char* PyUnicode_DATA(object)
    int PyUnicode_KIND(object)
    Py_UCS4 PyUnicode_READ(int kind, const void* data, Py_ssize_t index)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    bint Py_UNICODE_ISPRINTABLE(Py_UCS4 ch)

#: The event's fields in the contract's order, each with its number below.
EVENT_FIELDS = (
    "schema_version", "event_id", "occurred_at", "channel", "customer", "text",
    "nps_score", "rating", "language", "subject", "metadata", "brand",
)
#: The customer's fields in the contract's order.
CUSTOMER_FIELDS = ("id", "tier", "lifecycle_stage", "name")
#: Bounds of the contract (``schemas/feedback.py``) this path checks; the test compares
#: them with the model's JSON schema.
MAX_ID = 256
MAX_TEXT = 1_000_000
MAX_SUBJECT = 2_000
MAX_NAME = 512
MAX_BRAND = 100
NPS_RANGE = (0, 10)
RATING_RANGE = (1, 5)
MAX_CHANNEL = 64
MAX_SUBTAG = 8

# the same bounds as C values (what the checks below read)
cdef Py_ssize_t _MAX_ID = MAX_ID, _MAX_TEXT = MAX_TEXT, _MAX_SUBJECT = MAX_SUBJECT
cdef Py_ssize_t _MAX_NAME = MAX_NAME, _MAX_BRAND = MAX_BRAND
cdef Py_ssize_t _MAX_CHANNEL = MAX_CHANNEL, _MAX_SUBTAG = MAX_SUBTAG
cdef long _NPS_LOW = NPS_RANGE[0], _NPS_HIGH = NPS_RANGE[1]
cdef long _RATING_LOW = RATING_RANGE[0], _RATING_HIGH = RATING_RANGE[1]

cdef dict _EVENT_NUMBERS = {name: i for i, name in enumerate(EVENT_FIELDS)}
cdef dict _CUSTOMER_NUMBERS = {name: i for i, name in enumerate(CUSTOMER_FIELDS)}
cdef dict _TIERS = {member.value: member for member in Tier}
cdef dict _STAGES = {member.value: member for member in LifecycleStage}
#: the shared time zone of each offset in seconds (``history.shared_zone``'s objects)
cdef dict _ZONES = {}
#: the contract still has these fields, in this order (else this path declines all)
cdef bint _KNOWN = (
    tuple(FeedbackEvent.model_fields) == EVENT_FIELDS
    and tuple(Customer.model_fields) == CUSTOMER_FIELDS
)
#: whether this path is in use (False: every event goes to the validator)
ENABLED = _KNOWN


def event_of(dict document):
    """The ``FeedbackEvent`` of ``document`` (a JSON object as ``orjson.loads`` gives
    it) when it is in the common form, its ids printable; else None (see above). Its
    time carries the shared ``datetime.timezone`` of its offset
    (``history.shared_timezone``, as ``shared_zone`` gives it)."""
    return _event_of(document)


cdef object _event_of(dict document):
    """``event_of``."""
    if not _KNOWN:
        return None
    cdef list values = [None] * 12
    cdef dict extra = None
    cdef int number
    for key, value in document.items():
        found = _EVENT_NUMBERS.get(key)
        if found is None:
            if extra is None:
                extra = {}
            extra[key] = value
            continue
        number = found
        if number == 0:  # schema_version
            if value is not None and type(value) is not str:
                return None
        elif number == 1:  # event_id
            if not _plain_id(value):
                return None
        elif number == 2:  # occurred_at
            value = _timestamp(value)
            if value is None:
                return None
        elif number == 3:  # channel
            if not _channel(value):
                return None
        elif number == 4:  # customer
            value = _customer(value)
            if value is None:
                return None
        elif number == 5:  # text
            if type(value) is not str or len(<str>value) > _MAX_TEXT:
                return None
        elif number == 6:  # nps_score
            if value is not None and not _int_within(value, _NPS_LOW, _NPS_HIGH):
                return None
        elif number == 7:  # rating
            if value is not None and not _int_within(value, _RATING_LOW, _RATING_HIGH):
                return None
        elif number == 8:  # language
            if value is not None and not _language(value):
                return None
        elif number == 9:  # subject
            if value is not None and not _text_within(value, 0, _MAX_SUBJECT):
                return None
        elif number == 10:  # metadata
            value = _metadata(value)
            if value is None:
                return None
        else:  # brand
            if value is not None and not _text_within(value, 1, _MAX_BRAND):
                return None
        values[number] = value
    # the required fields: event_id, occurred_at, channel, customer, text (a None of
    # theirs was declined above, so None here is a field the document lacks)
    for number in range(1, 6):
        if values[number] is None:
            return None
    if values[10] is None:  # (its default: a new dict per event)
        values[10] = {}
    fields = {
        "schema_version": values[0],
        "event_id": values[1],
        "occurred_at": values[2],
        "channel": values[3],
        "customer": values[4],
        "text": values[5],
        "nps_score": values[6],
        "rating": values[7],
        "language": values[8],
        "subject": values[9],
        "metadata": values[10],
        "brand": values[11],
    }
    return construct(FeedbackEvent, fields, set(document), extra if extra is not None else {})


cdef object _customer(object value):
    """The ``Customer`` of a customer object in the common form, else None."""
    if type(value) is not dict:
        return None
    cdef object id_ = None, tier = None, stage = None, name = None
    cdef dict extra = {}
    for key, item in (<dict>value).items():
        found = _CUSTOMER_NUMBERS.get(key)
        if found is None:
            extra[key] = item
        elif found == 0:
            if not _plain_id(item):
                return None
            id_ = item
        elif found == 1:
            tier = _member(item, _TIERS)
            if tier is _NOT_A_MEMBER:
                return None
        elif found == 2:
            stage = _member(item, _STAGES)
            if stage is _NOT_A_MEMBER:
                return None
        else:
            if item is not None and not _text_within(item, 0, _MAX_NAME):
                return None
            name = item
    if id_ is None:
        return None
    return construct(
        Customer,
        {"id": id_, "tier": tier, "lifecycle_stage": stage, "name": name},
        set(<dict>value),
        extra,
    )


cdef object _NOT_A_MEMBER = object()


cdef object _member(object value, dict members):
    """The enum member ``value`` names in ``members`` (by value; None stays None), else
    ``_NOT_A_MEMBER``."""
    if value is None:
        return None
    if type(value) is not str:
        return _NOT_A_MEMBER
    return members.get(value, _NOT_A_MEMBER)


cdef bint _plain_id(object value):
    """An id the contract takes as it is: a string of 1 to ``MAX_ID`` characters, every
    one printable, the first and the last not a space. (Stripping would change nothing:
    every other white-space character is not printable.)"""
    if type(value) is not str:
        return False
    cdef str text = <str>value
    cdef Py_ssize_t i, n = len(text)
    if n < 1 or n > _MAX_ID:
        return False
    cdef int kind = PyUnicode_KIND(text)
    cdef const void* data = PyUnicode_DATA(text)
    if PyUnicode_READ(kind, data, 0) == 32 or PyUnicode_READ(kind, data, n - 1) == 32:
        return False
    for i in range(n):
        if not Py_UNICODE_ISPRINTABLE(PyUnicode_READ(kind, data, i)):
            return False
    return True


cdef bint _text_within(object value, Py_ssize_t low, Py_ssize_t high):
    return type(value) is str and low <= len(<str>value) <= high


cdef bint _int_within(object value, long low, long high):
    """An int (not a bool: strict) from ``low`` to ``high``."""
    return type(value) is int and low <= value <= high


cdef object _metadata(object value):
    """A copy of a metadata object whose values are all strings, else None."""
    if type(value) is not dict:
        return None
    for item in (<dict>value).values():
        if type(item) is not str:
            return None
    return dict(<dict>value)


cdef bint _channel(object value):
    """``^[a-z][a-z0-9_]{0,63}$``."""
    if type(value) is not str or not PyUnicode_IS_ASCII(value):
        return False
    cdef Py_ssize_t i, n = len(<str>value)
    if n < 1 or n > _MAX_CHANNEL:
        return False
    cdef const unsigned char* p = <const unsigned char*>PyUnicode_DATA(value)
    if not (97 <= p[0] <= 122):
        return False
    for i in range(1, n):
        if not (97 <= p[i] <= 122 or 48 <= p[i] <= 57 or p[i] == 95):
            return False
    return True


cdef inline bint _letter(unsigned char c):
    return 65 <= c <= 90 or 97 <= c <= 122


cdef bint _language(object value):
    """``^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$``."""
    if type(value) is not str or not PyUnicode_IS_ASCII(value):
        return False
    cdef Py_ssize_t i = 0, start, n = len(<str>value)
    cdef const unsigned char* p = <const unsigned char*>PyUnicode_DATA(value)
    while i < n and _letter(p[i]):
        i += 1
    if not 2 <= i <= 3:
        return False
    while i < n:
        if p[i] != 45:  # -
            return False
        i += 1
        start = i
        while i < n and (_letter(p[i]) or 48 <= p[i] <= 57):
            i += 1
        if not 1 <= i - start <= _MAX_SUBTAG:
            return False
    return True


cdef inline int _digits(const unsigned char* p, int count):
    """The number written by ``count`` ASCII digits, or -1."""
    cdef int i, n = 0
    for i in range(count):
        if not 48 <= p[i] <= 57:
            return -1
        n = n * 10 + p[i] - 48
    return n


cdef object _timestamp(object value):
    """The aware datetime of ``YYYY-MM-DDTHH:MM:SS``, then 1 to 6 digits of a second
    after a ``.``, then ``Z`` or ``±HH:MM`` (RFC 3339's common form), with the shared
    time zone of its offset; else None (a leap second, a day the month lacks, another
    form)."""
    if type(value) is not str or not PyUnicode_IS_ASCII(value):
        return None
    cdef Py_ssize_t n = len(<str>value)
    if n < 20 or n > 32:
        return None
    cdef const unsigned char* p = <const unsigned char*>PyUnicode_DATA(value)
    if p[4] != 45 or p[7] != 45 or p[10] != 84 or p[13] != 58 or p[16] != 58:  # - - T : :
        return None
    cdef int year = _digits(p, 4), month = _digits(p + 5, 2), day = _digits(p + 8, 2)
    cdef int hour = _digits(p + 11, 2), minute = _digits(p + 14, 2), second = _digits(p + 17, 2)
    if year < 1 or month < 1 or day < 1 or hour < 0 or hour > 23 or minute < 0 or minute > 59:
        return None
    if second < 0 or second > 59:
        return None
    cdef Py_ssize_t i = 19, start
    cdef int micro = 0, scale = 100000
    if p[i] == 46:  # .
        i += 1
        start = i
        while i < n and 48 <= p[i] <= 57:
            if i - start == 6:
                return None
            micro += (p[i] - 48) * scale
            scale //= 10
            i += 1
        if i == start:
            return None
    cdef int offset, sign, hours, minutes
    if n - i == 1 and p[i] == 90:  # Z
        offset = 0
    elif n - i == 6 and (p[i] == 43 or p[i] == 45) and p[i + 3] == 58:  # ± :
        sign = 1 if p[i] == 43 else -1
        hours, minutes = _digits(p + i + 1, 2), _digits(p + i + 4, 2)
        if hours < 0 or hours > 23 or minutes < 0 or minutes > 59:
            return None
        offset = sign * (hours * 3600 + minutes * 60)
    else:
        return None
    zone = _ZONES.get(offset)
    if zone is None:
        zone = _ZONES[offset] = shared_timezone(timedelta(seconds=offset))
    try:
        return datetime_new(year, month, day, hour, minute, second, micro, zone)
    except ValueError:  # a day the month does not have
        return None


# --- a record's event in one call ------------------------------------------------------
#
# ``common_event`` is ``decode.decode_feedback`` for the records nearly every publisher
# sends: no headers, and an event in the common form within the plausible window. It
# runs the same steps in the same order — size, JSON, depth, duplicate keys, the common
# form, the window — in one call, and declines (None) at the first step whose answer is
# not the plain one; the decoder then runs its whole route from the start, which says
# why or accepts the event in another form. So a declined record is parsed twice: dead
# letters and events that need the validator, a few in a thousand.
# ``tests/unit/test_decode_fast_path.py`` holds it to the whole route.

from orjson import loads as _loads


def common_event(object value, object limits, object now):
    """The event of a record's ``value`` when the record has no headers (the caller's
    condition) and ``decode_feedback`` would return ``event_of``'s event for it; else
    None. ``limits``: the decoder's ``DecodeLimits``; ``now``: the decoder's time."""
    if type(value) is not bytes:
        return None
    cdef Py_ssize_t n = len(<bytes>value)
    if n == 0 or n > <Py_ssize_t>limits.max_bytes:
        return None
    try:
        document = _loads(value)
    except Exception:  # invalid JSON or UTF-8, a number out of range: the whole route
        return None
    if type(document) is not dict:
        return None
    cdef Py_ssize_t brackets, colons
    _raw_counts(<bytes>value, &brackets, &colons)
    if brackets > <Py_ssize_t>limits.max_depth:  # it may nest too deep: the walk decides
        return None
    if colons != _colons(document):  # a repeated key, or an escaped backslash before u003a
        return None
    event = _event_of(<dict>document)
    if event is None:
        return None
    age = event.occurred_at - now
    if age > limits.max_future_skew or -age > limits.max_age:
        return None
    return event
