"""The packed clock store (service/sla/store.py): a clock comes back as it was put, the
timing wheel hands out exactly the due tickets, and open clocks give the garbage collector
nothing to walk."""

from __future__ import annotations

import gc
import random
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.common import Priority
from service.sla.calendar import to_us
from service.sla.state import METRICS, Status, TicketClock, Timer
from service.sla.store import ClockStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def clock(tid: str = "t1", **changes: object) -> TicketClock:
    base = TicketClock(
        ticket_id=tid,
        customer_id="c-1",
        priority=Priority.P1,
        reply=Timer("first_response", 0, 600, at(0), at(600)),
        touched_at=at(1),
    )
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def test_a_full_clock_comes_back_equal() -> None:
    full = clock(
        customer_id="kundin-ü-42",
        priority=Priority.P2,
        reply=Timer(
            "next_reply", 3, 3600, at(10), at(4000), True, ("warn50",), True, at(20), 5_000_000
        ),
        resolution=Timer("resolution", 1, 86_400, at(0), at(90_000), False, (), False, None, 0),
        update=Timer("periodic_update", 2, 7200, at(5), at(7205)),
        management_emitted=True,
        status=Status.WAITING_FOR_CUSTOMER,
        pause="on_hold",
        pause_changed_at=at(20).astimezone(CET),  # an offset other than UTC: same instant
        opened_at=at(0),
        retargets=2,
        first_response_at=at(30),
        last_agent_at=at(40),
        closed_at=None,
        category="churn_threat",
        customer_tier="enterprise",
        rule_ids=("text.churn_intent", "model.negative"),
        policy_id="enterprise",
        channel="email",
        language="de",
        brand="acme",
    )
    store = ClockStore()
    store.put(full, None)
    assert store.get("t1") == full
    assert store.get("t1") is not store.get("t1")  # a copy each time


def test_facts_past_the_table_s_limit_are_packed_inline() -> None:
    store = ClockStore()
    store._facts._limit = 2  # small enough to pass
    clocks = [clock(f"t{i}", brand=f"brand-{i}", rule_ids=(f"r{i}",)) for i in range(5)]
    for c in clocks:
        store.put(c, None)
    assert len(store._facts) == 2
    assert [store.get(c.ticket_id) for c in clocks] == clocks


_instants = st.integers(min_value=0, max_value=10**9).map(lambda s: at(s / 7))
_opt_instants = st.none() | _instants
_text = st.none() | st.text(max_size=12)


@st.composite
def _timers(draw: st.DrawFn) -> Timer:
    return Timer(
        metric=draw(st.sampled_from(METRICS)),
        cycle=draw(st.integers(0, 2**32 - 1)),
        target_seconds=draw(st.integers(1, 2**32 - 1)),
        started_at=draw(_instants),
        due_at=draw(_instants),
        running=draw(st.booleans()),
        emitted=tuple(draw(st.lists(st.sampled_from(["warn50", "breach1", "recovered"])))),
        escalated=draw(st.booleans()),
        paused_at=draw(_opt_instants),
        paused_us=draw(st.integers(0, 2**62)),
    )


@st.composite
def _clocks(draw: st.DrawFn) -> TicketClock:
    return TicketClock(
        ticket_id=draw(st.text(min_size=1, max_size=40)),
        customer_id=draw(st.text(max_size=80)),
        priority=draw(st.sampled_from(Priority)),
        reply=draw(_timers()),
        touched_at=draw(_instants),
        resolution=draw(st.none() | _timers()),
        update=draw(st.none() | _timers()),
        management_emitted=draw(st.booleans()),
        status=draw(st.sampled_from(Status)),
        pause=draw(st.sampled_from([None, "pending", "on_hold", "waiting_on_customer"])),
        pause_changed_at=draw(_opt_instants),
        opened_at=draw(_opt_instants),
        retargets=draw(st.integers(0, 2**32 - 1)),
        first_response_at=draw(_opt_instants),
        last_agent_at=draw(_opt_instants),
        closed_at=draw(_opt_instants),
        category=draw(_text),
        customer_tier=draw(_text),
        rule_ids=tuple(draw(st.lists(st.text(max_size=10), max_size=4))),
        policy_id=draw(_text),
        channel=draw(_text),
        language=draw(_text),
        brand=draw(_text),
    )


@settings(max_examples=300, deadline=None)
@given(_clocks(), st.booleans())
def test_any_clock_round_trips(original: TicketClock, inline: bool) -> None:
    store = ClockStore()
    if inline:
        store._facts._limit = 0
    store.put(original, None)
    assert store.get(original.ticket_id) == original


def test_the_wheel_hands_out_exactly_the_due_tickets_once() -> None:
    """Against a plain dict of next step times: random puts (new times, the same time,
    nothing to come), drops and time moving on in uneven steps."""
    rnd = random.Random(7)
    store = ClockStore()
    model: dict[str, int | None] = {}
    now = to_us(T0)
    for _ in range(4_000):
        op = rnd.random()
        tid = f"t{rnd.randrange(60)}"
        if op < 0.55:
            nxt = rnd.choice([None, now + rnd.randrange(-2_000_000, 5_000_000)])
            if tid in model and rnd.random() < 0.2:
                nxt = model[tid]  # the same time again: no second hand-out
            store.put(clock(tid), nxt)
            model[tid] = nxt
        elif op < 0.65:
            store.drop(tid)
            model.pop(tid, None)
        elif op < 0.8:
            expected = min((t for t in model.values() if t is not None), default=None)
            assert store.next_us() == expected
        else:
            now += rnd.randrange(0, 1_500_000)
            due = store.due(now)
            expected_due = {t for t, n in model.items() if n is not None and n <= now}
            assert sorted(due) == sorted(expected_due)  # each once
            for t in due:
                model[t] = None  # unscheduled until put again
    assert store.entries <= 2 * len(store) + 1024


def test_open_clocks_add_nothing_for_the_garbage_collector() -> None:
    store = ClockStore()
    gc.collect()
    before = len(gc.get_objects())
    for i in range(5_000):
        store.put(clock(f"t{i}", brand=f"b{i % 7}"), to_us(at(600 + i % 3)))
    gc.collect()
    assert len(gc.get_objects()) - before < 50  # three wheel buckets, a few tables
    assert not gc.is_tracked(store._blobs)  # the point of packing


def test_expired_reads_the_packed_times() -> None:
    store = ClockStore()
    store.put(clock("closed", status=Status.RESOLVED, closed_at=at(100)), None)
    store.put(clock("closed-late", status=Status.RESOLVED, closed_at=at(300)), None)
    store.put(clock("idle", touched_at=at(50)), None)
    store.put(clock("idle-but-due", touched_at=at(50)), to_us(at(900)))
    store.put(clock("busy", touched_at=at(250)), None)
    assert sorted(store.expired(to_us(at(200)), to_us(at(200)))) == ["closed", "idle"]
    assert store.expired(to_us(at(200)), None) == ["closed"]
