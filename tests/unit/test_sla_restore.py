"""SLA state across restarts: changelog records, snapshot/restore, expiry, a large heap."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from schemas.common import Priority
from service.sla.engine import SlaEngine
from service.sla.policy import SlaPolicy
from service.sla.state import PendingActivities, TicketClock, decode_record, encode_record
from tests.unit.test_sla_engine import T0, act, at, ids, ticket


def replay(engine: SlaEngine) -> SlaEngine:
    """A fresh engine rebuilt from the changelog records the old one wrote."""
    fresh = SlaEngine(engine.policy)
    for tid, record in engine.changed():
        if record is None:
            fresh.forget(tid)
        else:
            fresh.restore(decode_record(encode_record(record)))
    return fresh


def test_records_round_trip_exactly() -> None:
    engine = SlaEngine(SlaPolicy())
    engine.on_ticket(ticket(occurred=T0 + timedelta(microseconds=123_457)), at(1))
    engine.on_activity(act("agent_reply", 5, "other"), at(6))
    records = {tid: r for tid, r in engine.changed() if r is not None}
    clock, pending = records["t1"], records["other"]
    assert isinstance(clock, TicketClock)
    assert isinstance(pending, PendingActivities)
    for record in (clock, pending):
        data = encode_record(record)
        assert data.startswith(b"{")
        assert decode_record(data) == record
    again = decode_record(encode_record(clock))
    assert isinstance(again, TicketClock)
    assert again.reply.started_at.microsecond == 123_457
    with pytest.raises(ValueError, match="unknown state record"):
        decode_record(b'{"record": "something else"}')


def test_a_version_1_record_is_still_read() -> None:
    """Records written before timers (one flat reply cycle) restore as the reply timer."""
    v1 = (
        b'{"record":"ticket","v":1,"ticket_id":"t9","customer_id":"c9","priority":"P2",'
        b'"target_seconds":3600,"metric":"next_reply","cycle":2,'
        b'"started_at":"2026-03-02T08:00:00Z","due_at":"2026-03-02T09:00:00Z",'
        b'"running":true,"emitted":["warn50"],"escalated":true,"management_emitted":false,'
        b'"status":"waiting_for_agent","first_response_at":"2026-03-02T07:10:00Z",'
        b'"last_agent_at":"2026-03-02T07:10:00Z","closed_at":null,'
        b'"touched_at":"2026-03-02T08:30:00Z","category":"bug","customer_tier":null,'
        b'"rule_ids":["r1"],"policy_id":null}'
    )
    clock = decode_record(v1)
    assert isinstance(clock, TicketClock)
    reply = clock.reply
    assert (reply.metric, reply.cycle, reply.target_seconds, reply.emitted) == (
        "next_reply",
        2,
        3600,
        ("warn50",),
    )
    assert (reply.escalated, reply.paused_us, clock.resolution, clock.pause) == (
        True,
        0,
        None,
        None,
    )
    assert decode_record(encode_record(clock)) == clock


def test_restart_does_not_repeat_emitted_steps() -> None:
    engine = SlaEngine(SlaPolicy())
    engine.on_ticket(ticket(), at(0))
    assert ids(engine.fire_due(at(300))) == ["t1:first_response:warn50"]
    restarted = replay(engine)
    assert restarted.next_due() == at(480)
    assert restarted.fire_due(at(479)) == []
    assert ids(restarted.fire_due(at(480))) == ["t1:first_response:warn80"]
    assert restarted.fire_due(at(480)) == []


def test_restart_after_downtime_emits_only_the_highest_pending_step_once() -> None:
    engine = SlaEngine(SlaPolicy())
    for tid in ("a", "b"):
        engine.on_ticket(ticket(tid), at(0))
    engine.fire_due(at(300))
    engine.on_activity(act("first_response", 350, "b"), at(350))
    snapshot = [decode_record(encode_record(r)) for r in engine.snapshot()]
    fresh = SlaEngine(SlaPolicy())
    for record in snapshot:
        fresh.restore(record)
    assert ids(fresh.fire_due(at(1300))) == ["a:first_response:breach2"]
    assert fresh.fire_due(at(1300)) == []
    assert ids(fresh.fire_due(at(2400))) == ["a:first_response:breach3"]
    # "b" recovered before the snapshot: it stays quiet, and a redelivered ticket is a no-op.
    assert fresh.on_ticket(ticket("b"), at(2500)) == []
    assert fresh.stats().open_by_priority[Priority.P1] == 2


def test_changed_drains_each_modified_state_once() -> None:
    engine = SlaEngine(SlaPolicy())
    engine.on_ticket(ticket("a"), at(0))
    engine.on_ticket(ticket("b"), at(0))
    assert [tid for tid, _ in engine.changed()] == ["a", "b"]
    assert engine.changed() == []
    assert engine.fire_due(at(100)) == []
    assert engine.changed() == []
    engine.fire_due(at(300))
    assert sorted(tid for tid, _ in engine.changed()) == ["a", "b"]


def test_restore_last_write_wins_and_forget() -> None:
    engine = SlaEngine(SlaPolicy())
    engine.on_ticket(ticket(), at(0))
    [(_, first)] = engine.changed()
    assert first is not None
    older = encode_record(first)
    engine.fire_due(at(300))
    [(_, second)] = engine.changed()
    assert second is not None
    newer = encode_record(second)
    fresh = SlaEngine(SlaPolicy())
    fresh.restore(decode_record(older))
    fresh.restore(decode_record(newer))
    assert ids(fresh.fire_due(at(480))) == ["t1:first_response:warn80"]
    assert len(fresh) == 1
    fresh.forget("t1")
    assert (len(fresh), fresh.next_due(), fresh.fire_due(at(10_000))) == (0, None, [])
    assert fresh.stats().open_by_priority[Priority.P1] == 0
    assert fresh.changed() == []  # restore/forget come from the changelog: not re-written


def test_expire_closed_tickets_and_stale_pending_activities() -> None:
    policy = SlaPolicy()
    engine = SlaEngine(policy)
    engine.on_ticket(ticket("done"), at(0))
    engine.on_activity(act("resolved", 60, "done"), at(60))
    engine.on_ticket(ticket("open"), at(0))
    engine.on_activity(act("agent_reply", 10, "orphan"), at(100))
    engine.changed()
    day = 86_400
    assert engine.expire(at(60 + day - 1)) == []
    assert engine.expire(at(60 + day)) == ["done"]
    assert engine.changed() == [("done", None)]
    assert engine.on_ticket(ticket("done"), at(60 + day + 1)) != []  # forgotten: late again
    assert engine.expire(at(100 + 7 * day - 1)) == []
    assert "orphan" in engine.expire(at(100 + 7 * day))
    assert engine.stats().pending_tickets == 0


def test_expire_idle_open_tickets_only_when_nothing_is_left_to_escalate() -> None:
    engine = SlaEngine(SlaPolicy(idle_retention_seconds=3600))
    engine.on_ticket(ticket("quiet", target=100_000), at(0))
    engine.on_ticket(ticket("answered"), at(0))
    engine.on_activity(act("first_response", 10, "answered"), at(10))
    assert engine.expire(at(10 + 3600)) == ["answered"]
    assert engine.get("quiet") is not None
    never = SlaEngine(SlaPolicy(idle_retention_seconds=None))
    never.on_ticket(ticket(), at(0))
    never.on_activity(act("first_response", 10), at(10))
    assert never.expire(at(10**8)) == []


def test_heap_with_100k_tickets_stays_cheap() -> None:
    engine = SlaEngine(SlaPolicy())
    base = ticket()
    n = 100_000
    for i in range(n):  # one ticket every 10 ms: occurred between T0 and T0 + 1000 s
        occurred = T0 + timedelta(milliseconds=10 * i)
        engine.on_ticket(
            base.model_copy(update={"ticket_id": f"t{i}", "occurred_at": occurred}), T0
        )
    assert engine.next_due() == at(300)
    # warn50 of the first 1000 tickets (occurred by +9.99 s), nothing else.
    first = engine.fire_due(at(309.995))
    assert len(first) == 1000
    assert {e.escalation_id.split(":")[2] for e in first} == {"warn50"}
    assert engine.fire_due(at(309.995)) == []
    # Answer every 10th ticket: its heap entry goes stale and is skipped lazily.
    for i in range(0, n, 10):
        engine.on_activity(act("first_response", 5, f"t{i}"), at(310))
    second = engine.fire_due(at(319.995))
    assert len(second) == 900
    assert engine.next_due() == at(320.01)  # t2001 (t2000 was answered)
    stats = engine.stats()
    assert stats.open_by_priority[Priority.P1] == n
    assert stats.waiting_for_agent_by_priority[Priority.P1] == n - n // 10
    assert stats.schedule_entries <= 2 * n + 1024
    # A later tick: warn80 of t0..t99, warn50 of t2000..t18099; answered ones stay quiet.
    third = engine.fire_due(at(480.995))
    steps = Counter(e.escalation_id.split(":")[2] for e in third)
    assert steps == {"warn80": 100 - 10, "warn50": 16_100 - 1_610}
    # Its cost is measured by bench/sla_memory.py, not timed here.
