"""The SLA engine: warnings, breaches, recoveries, cycles, out-of-order and duplicate input.

Time is explicit: every call gets ``now``; nothing sleeps.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from schemas.activity import ActivityKind, TicketActivity
from schemas.common import Priority
from schemas.escalation import Escalation, EscalationKind
from schemas.ticket import SlaInfo, Ticket
from service.clock import FakeClock
from service.sla.engine import SlaEngine
from service.sla.policy import SlaPolicy
from service.sla.state import Status

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
P1_TARGET = 600


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ticket(
    tid: str = "t1",
    *,
    occurred: datetime = T0,
    priority: Priority = Priority.P1,
    target: int = P1_TARGET,
    mgmt: bool = False,
) -> Ticket:
    return Ticket(
        ticket_id=tid,
        event_id=f"e-{tid}",
        customer_id=f"c-{tid}",
        priority=priority,
        severity=80,
        category="frustrated",
        reasons=[],
        language="en",
        sla=SlaInfo(
            target_seconds=target, first_response_due_at=occurred + timedelta(seconds=target)
        ),
        actions=[],
        management_attention=mgmt,
        occurred_at=occurred,
        created_at=occurred,
        channel="email",
        text="",
        rules_version="test",
    )


def act(kind: str, seconds: float, tid: str = "t1") -> TicketActivity:
    return TicketActivity(ticket_id=tid, kind=ActivityKind(kind), occurred_at=at(seconds))


def ids(escalations: list[Escalation]) -> list[str]:
    return [e.escalation_id for e in escalations]


def test_warnings_then_breach_ladder_each_once() -> None:
    engine = SlaEngine(SlaPolicy())
    assert engine.on_ticket(ticket(), at(1)) == []
    assert engine.next_due() == at(300)
    assert engine.fire_due(at(299.999)) == []
    [warn50] = engine.fire_due(at(300))
    assert warn50.escalation_id == "t1:first_response:warn50"
    assert warn50.dedup_key == "t1:first_response:warn50"  # per step: each level pages
    assert warn50.cycle_key == "t1:first_response"
    assert (warn50.kind, warn50.level, warn50.metric) == (
        EscalationKind.SLA_WARNING,
        1,
        "first_response",
    )
    assert (warn50.due_at, warn50.emitted_at, warn50.overdue_seconds) == (at(300), at(300), -300)
    assert (warn50.priority, warn50.customer_id, warn50.ticket_id) == (Priority.P1, "c-t1", "t1")
    assert engine.fire_due(at(300)) == engine.fire_due(at(479)) == []
    [warn80] = engine.fire_due(at(480))
    assert (warn80.escalation_id, warn80.level) == ("t1:first_response:warn80", 2)
    [breach1] = engine.fire_due(at(600))
    assert (breach1.escalation_id, breach1.kind, breach1.level) == (
        "t1:first_response:breach1",
        EscalationKind.SLA_BREACH,
        1,
    )
    assert breach1.overdue_seconds == 0
    assert engine.next_due() == at(1200)
    [breach2] = engine.fire_due(at(1201))
    assert (breach2.level, breach2.due_at, breach2.overdue_seconds) == (2, at(1200), 601)
    [breach3] = engine.fire_due(at(2400))
    assert (breach3.escalation_id, breach3.level) == ("t1:first_response:breach3", 3)
    assert engine.next_due() is None
    for s in (2400, 2401, 10_000, 100_000):
        assert engine.fire_due(at(s)) == []


def test_fire_due_with_fake_clock_in_small_ticks_emits_each_step_once() -> None:
    clock = FakeClock(T0)
    engine = SlaEngine(SlaPolicy())
    engine.on_ticket(ticket(), clock.now())
    emitted: list[Escalation] = []
    for _ in range(3000):
        clock.advance(1)
        emitted += engine.fire_due(clock.now())
    assert [e.escalation_id.rsplit(":", 1)[1] for e in emitted] == [
        "warn50",
        "warn80",
        "breach1",
        "breach2",
        "breach3",
    ]
    assert len(set(ids(emitted))) == 5


def test_late_ticket_emits_one_escalation_at_the_highest_step_passed() -> None:
    engine = SlaEngine(SlaPolicy())
    [only] = engine.on_ticket(ticket(), at(5 * P1_TARGET))
    assert (only.escalation_id, only.kind, only.level) == (
        "t1:first_response:breach3",
        EscalationKind.SLA_BREACH,
        3,
    )
    assert only.overdue_seconds == 4 * P1_TARGET
    assert engine.next_due() is None
    assert engine.fire_due(at(10 * P1_TARGET)) == []
    clock = engine.get("t1")
    assert clock is not None
    assert clock.reply.emitted == ("warn50", "warn80", "breach1", "breach2", "breach3")


def test_ticket_between_breach_levels_then_continues_up_the_ladder() -> None:
    engine = SlaEngine(SlaPolicy())
    assert ids(engine.on_ticket(ticket(), at(1500))) == ["t1:first_response:breach2"]
    assert engine.next_due() == at(2400)
    assert ids(engine.fire_due(at(2400))) == ["t1:first_response:breach3"]


def test_p1_that_occurred_9m52s_ago_breaches_at_its_deadline() -> None:
    engine = SlaEngine(SlaPolicy())
    now = T0 + timedelta(minutes=9, seconds=52)
    first = engine.on_ticket(ticket(), now)
    assert ids(first) == ["t1:first_response:warn80"]  # warn50 counted, not repeated
    assert engine.next_due() == at(600)
    assert engine.fire_due(now + timedelta(seconds=7)) == []
    [breach] = engine.fire_due(now + timedelta(seconds=8))
    assert breach.kind is EscalationKind.SLA_BREACH
    assert breach.due_at == T0 + timedelta(minutes=10)
    assert breach.overdue_seconds == 0


def test_answered_ticket_never_escalates() -> None:
    engine = SlaEngine(SlaPolicy())
    engine.on_ticket(ticket(), at(0))
    assert engine.on_activity(act("first_response", 120), at(121)) == []
    assert engine.next_due() is None
    assert engine.fire_due(at(100_000)) == []
    [outcome] = engine.outcomes()
    assert (outcome.metric, outcome.met, outcome.response_seconds) == ("first_response", True, 120)
    clock = engine.get("t1")
    assert clock is not None
    assert clock.first_response_at == at(120)
    assert clock.status is Status.WAITING_FOR_CUSTOMER
    assert engine.outcomes() == []  # drained


def test_recovery_resolves_every_step_of_its_cycle() -> None:
    engine = SlaEngine(SlaPolicy())
    engine.on_ticket(ticket(), at(0))
    [warn] = engine.fire_due(at(300))
    [recovered] = engine.on_activity(act("agent_reply", 400), at(401))
    assert recovered.kind is EscalationKind.SLA_RECOVERED
    assert recovered.escalation_id == "t1:first_response:recovered"
    assert recovered.dedup_key == warn.cycle_key == "t1:first_response"
    assert recovered.resolves == [warn.dedup_key]
    assert (recovered.due_at, recovered.emitted_at, recovered.level) == (at(600), at(401), 0)
    assert engine.fire_due(at(10_000)) == []
    assert engine.outcomes()[0].met is True


def test_recovery_after_a_breach_and_missed_outcome() -> None:
    engine = SlaEngine(SlaPolicy())
    engine.on_ticket(ticket(), at(0))
    [breach] = engine.fire_due(at(700))
    [recovered] = engine.on_activity(act("first_response", 900), at(905))
    assert breach.dedup_key == "t1:first_response:breach1"
    assert recovered.dedup_key == breach.cycle_key == "t1:first_response"
    # the warnings passed on the way count as done: resolving them too is harmless
    assert recovered.resolves == [
        "t1:first_response:warn50",
        "t1:first_response:warn80",
        "t1:first_response:breach1",
    ]
    assert recovered.overdue_seconds == 305
    [outcome] = engine.outcomes()
    assert (outcome.met, outcome.response_seconds) == (False, 900)
    assert engine.on_activity(act("first_response", 900), at(906)) == []  # duplicate


def test_redelivered_ticket_is_a_no_op() -> None:
    engine = SlaEngine(SlaPolicy())
    engine.on_ticket(ticket(mgmt=True), at(0))
    engine.fire_due(at(300))
    engine.changed()
    before = engine.get("t1")
    assert before is not None
    dump = copy.deepcopy(before)
    assert engine.on_ticket(ticket(mgmt=True), at(5000)) == []
    assert engine.on_ticket(ticket(priority=Priority.P4, target=9), at(5000)) == []
    assert engine.changed() == []
    assert before == dump


def test_management_attention_once_at_creation() -> None:
    engine = SlaEngine(SlaPolicy())
    [mgmt] = engine.on_ticket(ticket(mgmt=True), at(1))
    assert (mgmt.kind, mgmt.level) == (EscalationKind.MANAGEMENT_ATTENTION, 0)
    assert (mgmt.escalation_id, mgmt.dedup_key) == ("t1:management:mgmt", "t1:management")
    assert (mgmt.due_at, mgmt.overdue_seconds) == (at(600), -599)
    late = SlaEngine(SlaPolicy())
    assert ids(late.on_ticket(ticket(mgmt=True), at(700))) == [
        "t1:management:mgmt",
        "t1:first_response:breach1",
    ]
    off = SlaEngine(SlaPolicy(management_attention=False))
    assert off.on_ticket(ticket(mgmt=True), at(1)) == []


def test_policy_target_and_no_next_reply_clock() -> None:
    engine = SlaEngine(SlaPolicy(target_seconds={Priority.P2: 60}, next_reply_clock=False))
    engine.on_ticket(ticket(priority=Priority.P2, target=60), at(0))
    assert engine.next_due() == at(30)
    assert ids(engine.fire_due(at(60))) == ["t1:first_response:breach1"]
    engine.on_activity(act("first_response", 70), at(70))
    engine.on_activity(act("customer_reply", 100), at(100))
    clock = engine.get("t1")
    assert clock is not None
    assert (clock.status, clock.reply.running) == (Status.WAITING_FOR_AGENT, False)
    assert engine.next_due() is None
    assert engine.fire_due(at(100_000)) == []
    assert engine.on_activity(act("agent_reply", 200), at(200)) == []
    clock = engine.get("t1")  # a copy as of the call
    assert clock is not None
    assert clock.status is Status.WAITING_FOR_CUSTOMER


def test_stats_count_open_tickets_by_priority() -> None:
    engine = SlaEngine(SlaPolicy())
    engine.on_ticket(ticket("a"), at(0))
    engine.on_ticket(ticket("b", priority=Priority.P3, target=28_800), at(0))
    engine.on_ticket(ticket("c"), at(0))
    engine.on_activity(act("first_response", 10, "a"), at(10))
    engine.on_activity(act("resolved", 20, "c"), at(20))
    stats = engine.stats()
    assert stats.open_by_priority == {
        Priority.P1: 1,
        Priority.P2: 0,
        Priority.P3: 1,
        Priority.P4: 0,
    }
    assert stats.waiting_for_agent_by_priority[Priority.P1] == 0
    assert stats.waiting_for_agent_by_priority[Priority.P3] == 1
    assert (stats.tickets, len(engine)) == (3, 3)


def test_naive_datetimes_are_refused() -> None:
    engine = SlaEngine(SlaPolicy())
    with pytest.raises(ValueError, match="naive"):
        engine.fire_due(datetime(2026, 1, 1))
