"""ORACLE — the SLA gauges' risk scan as it ran in Python before it moved to native code
(``service/sla/_risk.pyx``): ``ClockStore.ticking`` and the loop of ``SlaEngine.risk``,
unchanged but for taking the store as an argument, as the reference that
``tests/unit/test_native_risk.py`` compares the compiled scan with. Nothing in the service
imports it."""

from __future__ import annotations

from collections.abc import Iterator

from schemas.common import Priority
from service.sla.store import (
    _HEAD,
    _PRIORITIES,
    _RUNNING,
    _TIMER,
    NONE,
    ClockStore,
    _timer_count,
)

#: due µs and at-risk-from µs of a ticking timer
TickingTimer = tuple[int, int]


def ticking(store: ClockStore) -> Iterator[tuple[Priority, list[TickingTimer]]]:
    """For every clock with a running, unpaused timer: its priority and those timers'
    deadlines and at-risk instants, straight from the packed bytes (the risk scan)."""
    head_size, timer_size = _HEAD.size, _TIMER.size
    head_of, timer_of = _HEAD.unpack_from, _TIMER.unpack_from
    for blob in store._blobs.values():
        head = head_of(blob)
        timers: list[TickingTimer] = []
        for i in range(_timer_count(head[9])):
            _, flags, _, _, _, due, paused_at, _, _, risk = timer_of(
                blob, head_size + i * timer_size
            )
            if flags & _RUNNING and paused_at == NONE:
                timers.append((due, risk))
        if timers:
            yield _PRIORITIES[head[7]], timers


def risk(
    store: ClockStore, now_us: int
) -> tuple[dict[Priority, int], dict[Priority, int], int | None]:
    at_risk: dict[Priority, int] = dict.fromkeys(Priority, 0)
    overdue: dict[Priority, int] = dict.fromkeys(Priority, 0)
    next_us: int | None = None
    for priority, timers in ticking(store):
        state = None  # the ticket's worst: "overdue" over "at_risk"
        for due, risk_from in timers:
            if now_us >= due:
                state = "overdue"
                continue
            if next_us is None or due < next_us:
                next_us = due
            if state is None and now_us >= risk_from:
                state = "at_risk"
        if state == "overdue":
            overdue[priority] += 1
        elif state == "at_risk":
            at_risk[priority] += 1
    return at_risk, overdue, next_us
