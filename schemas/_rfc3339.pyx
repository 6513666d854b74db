# cython: language_level=3, boundscheck=False, wraparound=False
"""The contract's timestamp writer, compiled (Cython): RFC 3339, UTC, milliseconds.

Every ticket carries two timestamps the prioritizer writes per event (``occurred_at``
and ``sla.first_response_due_at``). In Python (``astimezone(UTC)``, ``isoformat``,
``replace``) each took about 2.5 µs, a tenth of a ticket's cost without its rules. Here
the datetime's fields go straight into a C buffer, after the subtraction of its offset
that ``astimezone(UTC)`` itself performs (a naive value, which Python reads as local
time, goes through ``astimezone``), so every input gives what the Python form gave,
errors included. ``tests/unit/test_rfc3339.py`` holds the two equal on generated
datetimes.
"""

from cpython.datetime cimport (
    datetime,
    datetime_day,
    datetime_hour,
    datetime_microsecond,
    datetime_minute,
    datetime_month,
    datetime_second,
    datetime_year,
    import_datetime,
)
from cpython.unicode cimport PyUnicode_DecodeASCII

from datetime import UTC

import_datetime()

cdef extern from *:
    # defined by setup.py: the digest of this file as it was compiled
    const char* TRIAGE_SOURCE_DIGEST

#: The first 16 hex digits of the SHA-256 of the ``.pyx`` this module was compiled from
#: (``tests/unit/test_native_builds.py`` compares it with the file).
SOURCE_DIGEST = TRIAGE_SOURCE_DIGEST.decode("ascii")


cdef inline void _digits(char* at, int value, int width) noexcept:
    """Write ``value`` (≥ 0) as ``width`` decimal digits, zero-padded, at ``at``."""
    cdef int i
    for i in range(width - 1, -1, -1):
        at[i] = <char>(48 + value % 10)
        value //= 10


cpdef str rfc3339(datetime value):
    """``value`` as RFC 3339 in UTC with millisecond precision: ``2026-12-04T09:30:00.250Z``
    (the microseconds are cut, not rounded, as ``isoformat(timespec="milliseconds")`` does)."""
    offset = value.utcoffset()
    if offset is None:  # naive: Python reads it as the machine's local time
        value = value.astimezone(UTC)
    elif offset:  # the UTC wall time, as ``astimezone(UTC)`` computes it (its overflow too)
        value = value - offset
    cdef char buf[24]
    _digits(buf, datetime_year(value), 4)
    buf[4] = b"-"
    _digits(buf + 5, datetime_month(value), 2)
    buf[7] = b"-"
    _digits(buf + 8, datetime_day(value), 2)
    buf[10] = b"T"
    _digits(buf + 11, datetime_hour(value), 2)
    buf[13] = b":"
    _digits(buf + 14, datetime_minute(value), 2)
    buf[16] = b":"
    _digits(buf + 17, datetime_second(value), 2)
    buf[19] = b"."
    _digits(buf + 20, datetime_microsecond(value) // 1000, 3)
    buf[23] = b"Z"
    return PyUnicode_DecodeASCII(buf, 24, NULL)
