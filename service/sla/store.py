"""Open ticket clocks at rest: one packed ``bytes`` per ticket, and when each is next due.

A monitor keeps a clock for every open ticket of its partitions: a million on a busy
instance. As Python objects (a :class:`~service.sla.state.TicketClock`, its
:class:`~service.sla.state.Timer` s and their datetimes) that costs about 800 bytes per
ticket and, worse, gives the garbage collector a few objects per ticket to walk: a full
collection took 165 ms at 200,000 open tickets, and every timer waits for it. So the
engine keeps clocks packed, and builds the objects only for the ticket it is working on:

1. **A clock is a ``bytes`` value** in a ``dict`` keyed by ticket id. Neither is
   tracked by the garbage collector (a dict holding only strings and bytes is not), so a
   collection does not look at them at all. :meth:`ClockStore.get` unpacks a clock;
   :meth:`ClockStore.put` packs it again after a change. The engine never keeps an
   unpacked clock between calls: what it changed and did not put back is lost.
2. **Layout** (little-endian, ``struct``): a fixed header of seven instants as integer
   microseconds since the epoch (``NONE`` for an absent one; the first is the next step
   time, so a scan reads it without unpacking the rest), priority, status, flags,
   retargets, and ids of shared values; then one fixed-size record per timer (reply;
   resolution and update when present; each with the instant it becomes at risk, from
   the ladder, so the gauges' risk scan compares integers and calls no calendar); then the customer id (UTF-8), then, rarely, the
   ticket's facts inline (JSON). Instants come back as UTC datetimes: the same instants,
   so comparisons and the changelog's meaning are unchanged.
3. **Shared values** (a ticket's category, tier, fired rules, policy, channel, language and
   brand together; the steps a timer emitted; the pause in effect) are interned in tables
   of the store, and a clock holds their 4-byte ids. A million tickets have a few
   thousand distinct combinations. The facts table is bounded (:data:`MAX_FACTS`): past
   it, a ticket's facts are packed inline, so a high-cardinality brand cannot grow it
   without limit.
4. **When each clock is next due** lives in a timing wheel of one-second buckets (a
   ``dict`` of lists of ticket ids) and a heap of the buckets' seconds, instead of a heap
   entry per ticket. A bucket's entry is live while the clock's packed next step time is
   in that second; a clock that moved on leaves a stale entry behind, dropped when its
   bucket comes up (or when stale entries outnumber live ones: :meth:`compact`).
   :meth:`ClockStore.due` hands out each due ticket once and marks it unscheduled until
   it is put back.

``bench/sla_memory.py`` measures bytes per open ticket and the collector's full pause.
"""

from __future__ import annotations

import heapq
import re
import struct
from collections.abc import Callable, Hashable, Iterator
from datetime import datetime
from typing import Any, cast

import orjson

from schemas.common import Priority
from service.sla._risk import Layout, scan
from service.sla.calendar import from_us, to_us
from service.sla.state import METRICS, Status, TicketClock, Timer

#: An absent instant (also: no step scheduled).
NONE = -(2**63)
#: The facts table's size limit; further combinations are packed inline.
MAX_FACTS = 65_536
_INLINE = 0xFFFFFFFF
_BUCKET_US = 1_000_000

#: next, touched, opened, pause_changed, first_response, last_agent, closed (µs);
#: priority, status, flags, retargets, pause id, facts id, customer id length
_HEAD = struct.Struct("<7qBBBIIII")
#: metric, flags, cycle, target seconds, started, due, paused at, paused µs, emitted id,
#: at risk from (µs; the risk scan's threshold, from the ladder)
_TIMER = struct.Struct("<BBIIqqqqIq")
_NEXT = struct.Struct("<q")
#: next, touched, (4 instants skipped), closed, (priority skipped), status
_EXPIRY = struct.Struct("<qq32xqxB")

_PRIORITIES = tuple(Priority)
_PRIORITY_INDEX = {p: i for i, p in enumerate(_PRIORITIES)}
_STATUSES = tuple(Status)
_STATUS_INDEX = {s: i for i, s in enumerate(_STATUSES)}
_METRIC_INDEX = {m: i for i, m in enumerate(METRICS)}
_RESOLVED = _STATUS_INDEX[Status.RESOLVED]

_MANAGEMENT = 1
_HAS_RESOLUTION = 2
_HAS_UPDATE = 4
_RUNNING = 1
_ESCALATED = 2

#: category, customer_tier, rule_ids, policy_id, channel, language, brand
Facts = tuple[
    str | None, str | None, tuple[str, ...], str | None, str | None, str | None, str | None
]


#: when a timer's cycle becomes at risk (``Ladder.at_risk_us``), µs
AtRisk = Callable[[TicketClock, Timer], int]


class _Table:
    """Values interned to small integer ids (one copy each), at most ``limit`` of them."""

    def __init__(self, limit: int | None = None) -> None:
        self._ids: dict[Hashable, int] = {}
        self._values: list[Any] = []
        self._limit = limit

    def id_of(self, value: Hashable) -> int | None:
        found = self._ids.get(value)
        if found is not None:
            return found
        if self._limit is not None and len(self._values) >= self._limit:
            return None
        self._ids[value] = len(self._values)
        self._values.append(value)
        return len(self._values) - 1

    def value(self, id_: int) -> Any:
        return self._values[id_]

    def __len__(self) -> int:
        return len(self._values)


class ClockStore:
    """The packed clocks of one engine and their schedule. Not thread-safe; one owner."""

    def __init__(self, at_risk: AtRisk | None = None) -> None:
        """``at_risk``: when a timer becomes at risk, packed for the risk scan (None: at
        its deadline)."""
        self._at_risk = at_risk
        self._blobs: dict[str, bytes] = {}
        self._facts = _Table(MAX_FACTS)
        self._small = _Table()  # emitted-step tuples and pause kinds: a handful
        self._wheel: dict[int, list[str]] = {}
        self._seconds: list[int] = []  # heap of the wheel's bucket seconds
        self._entries = 0
        self._changes = 0  # puts, drops and hand-outs so far: ``next_us``'s cache is valid
        self._next_cache: tuple[int, int | None] | None = None  # while this stays the same

    # -- clocks ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._blobs)

    def __contains__(self, ticket_id: str) -> bool:
        return ticket_id in self._blobs

    def ids(self) -> list[str]:
        return list(self._blobs)

    def get(self, ticket_id: str) -> TicketClock | None:
        blob = self._blobs.get(ticket_id)
        return None if blob is None else self._unpack(ticket_id, blob)

    def put(self, clock: TicketClock, next_us: int | None) -> None:
        """Store the clock; ``next_us``: its next step time (None: nothing to come)."""
        tid = clock.ticket_id
        self._changes += 1
        old = self._blobs.get(tid)
        was = NONE if old is None else _NEXT.unpack_from(old)[0]
        key = NONE if next_us is None else next_us
        self._blobs[tid] = self._pack(clock, key)
        if key != NONE and key != was:
            self._schedule(tid, key)

    def drop(self, ticket_id: str) -> tuple[Priority, Status] | None:
        """Forget a clock; its priority and status (None: not known). Its wheel entries
        go stale."""
        blob = self._blobs.pop(ticket_id, None)
        if blob is None:
            return None
        self._changes += 1
        head = _HEAD.unpack_from(blob)
        return _PRIORITIES[head[7]], _STATUSES[head[8]]

    def clocks(self) -> Iterator[TicketClock]:
        for tid, blob in self._blobs.items():
            yield self._unpack(tid, blob)

    def risk(self, now_us: int) -> tuple[list[int], list[int], int | None]:
        """The risk scan, straight from the packed bytes (compiled: ``_risk.scan``, whose
        docstring states its rules): per priority (in ``Priority`` order) the clocks at
        risk and the overdue ones at ``now_us``, and the earliest deadline still ahead."""
        return scan(self._blobs.values(), now_us, _LAYOUT, len(_PRIORITIES))

    def expired(self, closed_before_us: int, idle_before_us: int | None) -> list[str]:
        """Resolved tickets closed at ``closed_before_us`` or earlier, and open ones with
        no step to come, untouched since ``idle_before_us`` (None: kept however idle)."""
        out: list[str] = []
        unpack = _EXPIRY.unpack_from
        idle = NONE if idle_before_us is None else idle_before_us
        for tid, blob in self._blobs.items():
            next_us, touched, closed, status = unpack(blob)
            if status == _RESOLVED:
                if closed != NONE and closed <= closed_before_us:
                    out.append(tid)
            elif next_us == NONE and touched <= idle:
                out.append(tid)
        return out

    # -- schedule ----------------------------------------------------------------------
    @property
    def entries(self) -> int:
        """Wheel entries, live and stale."""
        return self._entries

    def due(self, now_us: int) -> list[str]:
        """Tickets whose next step time is ``now_us`` or earlier, each once; they count
        as unscheduled until :meth:`put` gives them their next step time."""
        out: list[str] = []
        now_second = now_us // _BUCKET_US
        while self._seconds and self._seconds[0] <= now_second:
            second = self._seconds[0]
            bucket = self._wheel[second]
            keep: list[str] = []
            for tid in bucket:
                at = self._live_next(tid, second)
                if at is None:
                    continue
                if at <= now_us:
                    out.append(tid)
                    self._unschedule(tid)
                    self._changes += 1
                else:
                    keep.append(tid)
            self._entries -= len(bucket) - len(keep)
            if keep:  # only the current second can hold entries not yet due
                self._wheel[second] = keep
                break
            del self._wheel[second]
            heapq.heappop(self._seconds)
        return out

    def next_us(self) -> int | None:
        """The earliest next step time over the clocks (None: nothing scheduled)."""
        cached = self._next_cache
        if cached is not None and cached[0] == self._changes:
            return cached[1]
        found = self._earliest()
        self._next_cache = (self._changes, found)
        return found

    def _earliest(self) -> int | None:
        while self._seconds:
            second = self._seconds[0]
            bucket = self._wheel[second]
            live = [(at, tid) for tid in bucket if (at := self._live_next(tid, second)) is not None]
            if live:
                if len(live) < len(bucket):
                    self._entries -= len(bucket) - len(live)
                    self._wheel[second] = [tid for _, tid in live]
                return min(at for at, _ in live)
            self._entries -= len(bucket)
            del self._wheel[second]
            heapq.heappop(self._seconds)
        return None

    def compact(self) -> None:
        """Rebuild the wheel from the clocks' next step times (drops every stale entry)."""
        self._wheel.clear()
        self._seconds.clear()
        self._entries = 0
        for tid, blob in self._blobs.items():
            at = _NEXT.unpack_from(blob)[0]
            if at != NONE:
                self._schedule(tid, at)

    def _schedule(self, tid: str, at: int) -> None:
        second = at // _BUCKET_US
        bucket = self._wheel.get(second)
        if bucket is None:
            self._wheel[second] = [tid]
            heapq.heappush(self._seconds, second)
        else:
            bucket.append(tid)
        self._entries += 1
        if self._entries > 2 * len(self._blobs) + 1024:
            self.compact()

    def _live_next(self, tid: str, second: int) -> int | None:
        blob = self._blobs.get(tid)
        if blob is None:
            return None
        at: int = _NEXT.unpack_from(blob)[0]
        return at if at != NONE and at // _BUCKET_US == second else None

    def _unschedule(self, tid: str) -> None:
        blob = bytearray(self._blobs[tid])
        _NEXT.pack_into(blob, 0, NONE)
        self._blobs[tid] = bytes(blob)

    # -- packing -----------------------------------------------------------------------
    def _pack(self, clock: TicketClock, next_us: int) -> bytes:
        facts: Facts = (
            clock.category,
            clock.customer_tier,
            clock.rule_ids,
            clock.policy_id,
            clock.channel,
            clock.language,
            clock.brand,
        )
        facts_id = self._facts.id_of(facts)
        customer = clock.customer_id.encode()
        flags = (
            (_MANAGEMENT if clock.management_emitted else 0)
            | (_HAS_RESOLUTION if clock.resolution is not None else 0)
            | (_HAS_UPDATE if clock.update is not None else 0)
        )
        parts = [
            _HEAD.pack(
                next_us,
                to_us(clock.touched_at),
                _opt_us(clock.opened_at),
                _opt_us(clock.pause_changed_at),
                _opt_us(clock.first_response_at),
                _opt_us(clock.last_agent_at),
                _opt_us(clock.closed_at),
                _PRIORITY_INDEX[clock.priority],
                _STATUS_INDEX[clock.status],
                flags,
                clock.retargets,
                self._small_id(clock.pause),
                _INLINE if facts_id is None else facts_id,
                len(customer),
            ),
            *(self._pack_timer(clock, t) for t in clock.timers()),
            customer,
        ]
        if facts_id is None:
            parts.append(orjson.dumps(facts))
        return b"".join(parts)

    def _pack_timer(self, clock: TicketClock, timer: Timer) -> bytes:
        due = to_us(timer.due_at)
        return _TIMER.pack(
            _METRIC_INDEX[timer.metric],
            (_RUNNING if timer.running else 0) | (_ESCALATED if timer.escalated else 0),
            timer.cycle,
            timer.target_seconds,
            to_us(timer.started_at),
            due,
            _opt_us(timer.paused_at),
            timer.paused_us,
            self._small_id(timer.emitted),
            due if self._at_risk is None else self._at_risk(clock, timer),
        )

    def _small_id(self, value: Hashable) -> int:
        found = self._small.id_of(value)
        assert found is not None  # unbounded
        return found

    def _unpack(self, tid: str, blob: bytes) -> TicketClock:
        head = _HEAD.unpack_from(blob)
        flags = head[9]
        timers = [self._unpack_timer(blob, i) for i in range(_timer_count(flags))]
        reply = timers[0]
        resolution = timers[1] if flags & _HAS_RESOLUTION else None
        update = timers[-1] if flags & _HAS_UPDATE else None
        start = _HEAD.size + _TIMER.size * len(timers)
        # positional, in the dataclass's field order (a third of the keyword call's cost;
        # tests/unit/test_sla_store.py round-trips every field)
        return TicketClock(
            tid,
            blob[start : start + head[13]].decode(),
            _PRIORITIES[head[7]],
            reply,
            from_us(head[1]),
            resolution,
            update,
            bool(flags & _MANAGEMENT),
            _STATUSES[head[8]],
            self._small.value(head[11]),
            _opt_dt(head[3]),
            _opt_dt(head[2]),
            head[10],
            _opt_dt(head[4]),
            _opt_dt(head[5]),
            _opt_dt(head[6]),
            *self._facts_of(blob, head),
        )

    def _unpack_timer(self, blob: bytes, i: int) -> Timer:
        metric, flags, cycle, target, started, due, paused_at, paused_us, emitted, _ = (
            _TIMER.unpack_from(blob, _HEAD.size + i * _TIMER.size)
        )
        return Timer(  # positional, in field order (as above)
            METRICS[metric],
            cycle,
            target,
            from_us(started),
            from_us(due),
            bool(flags & _RUNNING),
            self._small.value(emitted),
            bool(flags & _ESCALATED),
            _opt_dt(paused_at),
            paused_us,
        )

    def _facts_of(self, blob: bytes, head: tuple[Any, ...]) -> Facts:
        if head[12] != _INLINE:
            return cast(Facts, self._facts.value(head[12]))
        start = _HEAD.size + _TIMER.size * _timer_count(head[9]) + head[13]
        doc = orjson.loads(blob[start:])
        return cast(Facts, (*doc[:2], tuple(doc[2]), *doc[3:]))


def _offset(layout: struct.Struct, field: int) -> int:
    """Where field number ``field`` (as ``unpack`` numbers them) of a packed
    little-endian ``layout`` starts (a format of codes with counts, no padding)."""
    codes: list[str] = []
    for count, code in re.findall(r"(\d*)([a-zA-Z?])", layout.format.lstrip("<")):
        codes.extend(code * int(count or 1))
    return struct.calcsize("<" + "".join(codes[:field]))


def _timer_count(flags: int) -> int:
    return 1 + bool(flags & _HAS_RESOLUTION) + bool(flags & _HAS_UPDATE)


def _opt_us(value: datetime | None) -> int:
    return NONE if value is None else to_us(value)


def _opt_dt(value: int) -> datetime | None:
    return None if value == NONE else from_us(value)


#: Where the risk scan reads (``_risk.Layout``): the header's priority (field 7) and flags
#: (field 9); a timer's flags (1), deadline (5), paused-at (6) and at-risk instants (9).
_LAYOUT = Layout(
    head_size=_HEAD.size,
    priority_at=_offset(_HEAD, 7),
    flags_at=_offset(_HEAD, 9),
    timer_size=_TIMER.size,
    timer_flags_at=_offset(_TIMER, 1),
    due_at=_offset(_TIMER, 5),
    paused_at=_offset(_TIMER, 6),
    risk_at=_offset(_TIMER, 9),
    has_resolution=_HAS_RESOLUTION,
    has_update=_HAS_UPDATE,
    running=_RUNNING,
    none=NONE,
)
