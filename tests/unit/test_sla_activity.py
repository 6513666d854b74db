"""The SLA engine and ticket activity: next-reply cycles, resolve/reopen, out-of-order
and duplicate activities. Time is explicit: every call gets ``now``; nothing sleeps."""

from __future__ import annotations

from schemas.common import Priority
from schemas.escalation import EscalationKind
from service.sla.engine import SlaEngine
from service.sla.policy import SlaPolicy
from service.sla.state import PendingActivities, Status
from tests.unit.test_sla_engine import P1_TARGET, act, at, ids, ticket


def test_next_reply_cycles_after_customer_replies() -> None:
    engine = SlaEngine(SlaPolicy())
    engine.on_ticket(ticket(), at(0))
    engine.on_activity(act("first_response", 60), at(60))
    assert engine.on_activity(act("customer_reply", 1000), at(1001)) == []
    assert engine.next_due() == at(1300)
    [warn] = engine.fire_due(at(1300))
    assert warn.escalation_id == "t1:next_reply.1:warn50"
    assert (warn.dedup_key, warn.cycle_key, warn.metric) == (
        "t1:next_reply.1:warn50",
        "t1:next_reply.1",
        "next_reply",
    )
    assert warn.due_at == at(1300)
    assert warn.overdue_seconds == -300  # deadline = 1000 + 600
    [rec] = engine.on_activity(act("agent_reply", 1400), at(1400))
    assert (rec.escalation_id, rec.dedup_key) == ("t1:next_reply.1:recovered", "t1:next_reply.1")
    assert rec.resolves == ["t1:next_reply.1:warn50"]
    engine.on_activity(act("customer_reply", 2000), at(2000))
    [late] = engine.fire_due(at(2000 + 2 * P1_TARGET))
    assert late.escalation_id == "t1:next_reply.2:breach2"
    clock = engine.get("t1")
    assert clock is not None
    assert (clock.reply.cycle, clock.reply.metric, clock.first_response_at) == (
        2,
        "next_reply",
        at(60),
    )
    metrics = [(o.metric, o.cycle, o.met) for o in engine.outcomes()]
    assert metrics == [("first_response", 0, True), ("next_reply", 1, True)]


def test_customer_reply_while_waiting_for_the_agent_changes_nothing() -> None:
    engine = SlaEngine(SlaPolicy())
    engine.on_ticket(ticket(), at(0))
    engine.changed()
    assert engine.on_activity(act("customer_reply", 100), at(100)) == []
    assert engine.changed() == []
    assert engine.next_due() == at(300)
    assert ids(engine.fire_due(at(300))) == ["t1:first_response:warn50"]


def test_stale_and_duplicate_activities_are_harmless() -> None:
    engine = SlaEngine(SlaPolicy())
    engine.on_ticket(ticket(), at(0))
    engine.on_activity(act("first_response", 60), at(60))
    engine.on_activity(act("customer_reply", 100), at(100))
    engine.on_activity(act("agent_reply", 200), at(200))
    engine.changed()
    # Redelivered: an old customer reply, an old agent reply, the first response again.
    for kind, s in [("customer_reply", 100), ("agent_reply", 200), ("first_response", 60)]:
        assert engine.on_activity(act(kind, s), at(300)) == []
    assert engine.changed() == []
    assert engine.next_due() is None
    clock = engine.get("t1")
    assert clock is not None
    assert (clock.reply.cycle, clock.status) == (1, Status.WAITING_FOR_CUSTOMER)
    # An agent reply older than the customer message of the running cycle does not stop it.
    engine.on_activity(act("customer_reply", 500), at(500))
    assert engine.on_activity(act("agent_reply", 450), at(501)) == []
    assert engine.next_due() == at(800)


def test_resolved_stops_everything_and_reopen_starts_a_cycle() -> None:
    engine = SlaEngine(SlaPolicy())
    engine.on_ticket(ticket(), at(0))
    engine.fire_due(at(300))
    [rec] = engine.on_activity(act("resolved", 350), at(351))
    assert rec.kind is EscalationKind.SLA_RECOVERED
    clock = engine.get("t1")
    assert clock is not None
    assert (clock.status, clock.closed_at) == (Status.RESOLVED, at(351))
    assert engine.next_due() is None
    assert engine.fire_due(at(100_000)) == []
    assert engine.on_activity(act("customer_reply", 400), at(400)) == []  # no implicit reopen
    assert engine.on_activity(act("resolved", 350), at(401)) == []
    assert engine.on_activity(act("reopened", 1000), at(1000)) == []
    clock = engine.get("t1")  # a copy as of the call
    assert clock is not None
    assert (clock.status, clock.reply.cycle, clock.closed_at) == (Status.WAITING_FOR_AGENT, 1, None)
    assert ids(engine.fire_due(at(1600))) == ["t1:next_reply.1:breach1"]
    assert engine.on_activity(act("reopened", 1000), at(1601)) == []  # duplicate
    assert engine.on_activity(act("resolved", 350), at(1602)) == []  # older than the reopen
    assert engine.stats().open_by_priority[Priority.P1] == 1


def test_activities_before_their_ticket_are_kept_and_applied() -> None:
    engine = SlaEngine(SlaPolicy())
    assert engine.on_activity(act("first_response", 100), at(101)) == []
    assert engine.on_activity(act("first_response", 100), at(102)) == []  # duplicate kept once
    [(tid, record)] = engine.changed()
    assert tid == "t1"
    assert isinstance(record, PendingActivities)
    assert len(record.activities) == 1
    assert engine.on_ticket(ticket(), at(5000)) == []  # answered before we saw it: no burst
    assert engine.fire_due(at(100_000)) == []
    assert [o.met for o in engine.outcomes()] == [True]
    assert engine.stats().pending_tickets == 0


def test_pending_customer_reply_starts_the_next_reply_cycle_in_order() -> None:
    engine = SlaEngine(SlaPolicy())
    engine.on_activity(act("customer_reply", 200), at(201))  # arrives first, happened later
    engine.on_activity(act("first_response", 100), at(202))
    assert ids(engine.on_ticket(ticket(), at(250))) == []
    assert engine.next_due() == at(500)
    assert ids(engine.fire_due(at(500))) == ["t1:next_reply.1:warn50"]
