# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The SLA gauges' risk scan over packed clocks, compiled (Cython).

``ClockStore.risk`` (``service/sla/store.py``, the one home of the clocks' layout) passes
the packed clocks and where each field lies in them (``Layout``); ``scan`` reads them
straight from the bytes, with no object per clock or timer:

1. A clock counts by its priority (the header's priority index).
2. Its timers are the header's count of them (one reply timer, plus resolution and
   update when the header's flags say so); a timer ticks when it is running and not
   paused (its paused-at instant is ``NONE``).
3. A clock with a ticking timer at or past its deadline is *overdue*; else one with a
   ticking timer at or past its at-risk instant is *at risk*; a clock is counted once,
   by the worse.
4. The next deadline is the earliest deadline still ahead among ticking timers.

All integers are little-endian, as ``struct``'s ``<`` writes them. The Python loop this
replaced is the oracle of ``tests/unit/test_native_risk.py``.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

cdef extern from *:
    # defined by setup.py: the digest of this file as it was compiled
    const char* TRIAGE_SOURCE_DIGEST

#: The first 16 hex digits of the SHA-256 of the ``.pyx`` this module was compiled from
#: (``tests/unit/test_native_builds.py`` compares it with the file: a stale build fails).
SOURCE_DIGEST = TRIAGE_SOURCE_DIGEST.decode("ascii")


cdef class Layout:
    """Where the risk scan's fields lie in a packed clock (byte offsets), and the bits
    it reads: the header's size, priority and flags; a timer's size, flags, deadline,
    paused-at and at-risk instants; the header flags that add a resolution and an update
    timer; the timer flag of a running one; the absent instant."""

    cdef readonly Py_ssize_t head_size, priority_at, flags_at
    cdef readonly Py_ssize_t timer_size, timer_flags_at, due_at, paused_at, risk_at
    cdef readonly int has_resolution, has_update, running
    cdef readonly long long none

    def __init__(
        self,
        Py_ssize_t head_size,
        Py_ssize_t priority_at,
        Py_ssize_t flags_at,
        Py_ssize_t timer_size,
        Py_ssize_t timer_flags_at,
        Py_ssize_t due_at,
        Py_ssize_t paused_at,
        Py_ssize_t risk_at,
        int has_resolution,
        int has_update,
        int running,
        long long none,
    ):
        self.head_size, self.priority_at, self.flags_at = head_size, priority_at, flags_at
        self.timer_size, self.timer_flags_at = timer_size, timer_flags_at
        self.due_at, self.paused_at, self.risk_at = due_at, paused_at, risk_at
        self.has_resolution, self.has_update, self.running = has_resolution, has_update, running
        self.none = none


cdef inline long long _i64(const unsigned char* p) noexcept:
    cdef unsigned long long v = 0
    cdef int i
    for i in range(7, -1, -1):
        v = (v << 8) | p[i]
    return <long long>v


def scan(object clocks, long long now_us, Layout layout, int priorities):
    """``(at_risk, overdue, next_us)`` of the packed ``clocks`` (an iterable of bytes):
    counts per priority index (lists of ``priorities``), and the earliest deadline still
    ahead (None: none)."""
    cdef list at_risk = [0] * priorities
    cdef list overdue = [0] * priorities
    cdef long long[16] risk_count, over_count
    cdef long long next_us = 0, due, risk
    cdef bint have_next = False, is_over, is_risk
    cdef const unsigned char* blob
    cdef const unsigned char* timer
    cdef Py_ssize_t size, i, n, prio
    cdef int flags
    if priorities > 16:
        raise ValueError("at most 16 priorities")
    for i in range(priorities):
        risk_count[i] = 0
        over_count[i] = 0
    for value in clocks:
        blob = <const unsigned char*>PyBytes_AS_STRING(value)
        size = PyBytes_GET_SIZE(value)
        flags = blob[layout.flags_at]
        n = 1 + (1 if flags & layout.has_resolution else 0) + (1 if flags & layout.has_update else 0)
        if layout.head_size + n * layout.timer_size > size:
            raise ValueError("a packed clock shorter than its timers")
        is_over = is_risk = False
        for i in range(n):
            timer = blob + layout.head_size + i * layout.timer_size
            if not (timer[layout.timer_flags_at] & layout.running):
                continue
            if _i64(timer + layout.paused_at) != layout.none:
                continue
            due = _i64(timer + layout.due_at)
            if now_us >= due:
                is_over = True
                continue
            if not have_next or due < next_us:
                next_us, have_next = due, True
            if now_us >= _i64(timer + layout.risk_at):
                is_risk = True
        prio = blob[layout.priority_at]
        if prio >= priorities:
            raise ValueError(f"priority index {prio} out of range")
        if is_over:
            over_count[prio] += 1
        elif is_risk:
            risk_count[prio] += 1
    for i in range(priorities):
        at_risk[i] = risk_count[i]
        overdue[i] = over_count[i]
    return at_risk, overdue, (next_us if have_next else None)
