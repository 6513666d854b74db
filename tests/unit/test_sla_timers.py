"""A ticket's timers beyond the first response: pauses, resolution and periodic-update
targets, per-priority ladders, re-targeting and applying a changed policy (pure engine,
injected times; the broker side: tests/integration/test_sla_pauses.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from schemas.activity import ActivityKind, TicketActivity
from schemas.common import Priority
from schemas.escalation import Escalation, EscalationKind
from service.clock import FakeClock
from service.records import InRecord
from service.sla.engine import SlaEngine
from service.sla.monitor import SlaMonitor, SlaTopics
from service.sla.policy import PolicyError, SlaPolicy, parse_policy
from service.sla.state import TicketClock, decode_record, encode_record
from tests.tickets import make_ticket

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def act(kind: str, seconds: float, tid: str = "t1", **extra: object) -> TicketActivity:
    return TicketActivity.model_validate(
        {"ticket_id": tid, "kind": kind, "occurred_at": at(seconds), **extra}
    )


def policy(text: str = "") -> SlaPolicy:
    return parse_policy("version: test\n" + text, "test.yaml")


def steps(escalations: list[Escalation]) -> list[tuple[str, datetime]]:
    return [(e.escalation_id.split(":", 1)[1], e.due_at) for e in escalations]


def run(engine: SlaEngine, until: float, step: float = 1.0) -> list[Escalation]:
    """Every escalation the timer emits up to ``until`` s, at ``step`` s resolution."""
    out: list[Escalation] = []
    t = 0.0
    while t <= until:
        out += engine.fire_due(at(t))
        t += step
    return out


def clock_of(engine: SlaEngine, tid: str = "t1") -> TicketClock:
    clock = engine.get(tid)
    assert clock is not None
    return clock


# --- pauses -------------------------------------------------------------------------


def test_a_20_minute_pause_moves_every_later_step_by_20_minutes() -> None:
    base, paused = SlaEngine(policy()), SlaEngine(policy())
    for engine in (base, paused):
        engine.on_ticket(make_ticket("t1", Priority.P2, T0), at(0))  # P2: 3600 s
    paused.on_activity(act("pending", 600), at(600))
    assert paused.fire_due(at(1800)) == []  # warn50 would be due now: the clock stands
    paused.on_activity(act("resumed", 1800), at(1800))
    plain = steps(run(base, 5 * 3600, 10))
    moved = steps(run(paused, 5 * 3600, 10))
    assert [name for name, _ in plain] == [
        "first_response:warn50",
        "first_response:warn80",
        "first_response:breach1",
        "first_response:breach2",
        "first_response:breach3",
    ]
    assert moved == [(name, due + timedelta(minutes=20)) for name, due in plain]
    clock = clock_of(paused)
    assert clock.reply.paused_us == 1200 * 1_000_000
    assert clock.reply.due_at == at(3600 + 1200)


def test_escalations_show_the_time_paused_and_the_deadline_moved() -> None:
    engine = SlaEngine(policy())
    engine.on_ticket(make_ticket("t1", Priority.P1, T0), at(0))
    engine.on_activity(act("on_hold", 100), at(100))
    engine.on_activity(act("resumed", 400), at(400))
    [breach] = engine.fire_due(at(900))
    assert breach.escalation_id == "t1:first_response:breach1"
    assert breach.paused_seconds == 300
    assert breach.due_at == at(900)
    assert breach.overdue_seconds == 0
    [recovered] = engine.on_activity(act("first_response", 950), at(950))
    assert recovered.paused_seconds == 300
    [outcome] = engine.outcomes()
    assert (outcome.met, outcome.response_seconds) == (False, 650)  # 950 - 300 paused


def test_which_metric_each_pause_stops_is_the_policy_s() -> None:
    p = policy(
        "resolution_seconds: {P1: 7200}\n"
        "pauses: {on_hold: [resolution], waiting_on_customer: [resolution, first_response]}\n"
    )
    engine = SlaEngine(p)
    engine.on_ticket(make_ticket("t1", Priority.P1, T0), at(0))
    engine.on_activity(act("on_hold", 0), at(0))
    clock = clock_of(engine)
    assert clock.reply.paused_at is None  # on hold does not stop the first response
    assert clock.resolution is not None
    assert clock.resolution.paused_at == at(0)
    [breach] = engine.fire_due(at(600))
    assert breach.metric == "first_response"
    # pending is not in the policy's pauses: it stops nothing (and ends the on-hold)
    engine.on_activity(act("pending", 1000), at(1000))
    resolution = clock_of(engine).resolution  # get() is a copy as of the call
    assert resolution is not None
    assert resolution.paused_at is None
    assert resolution.due_at == at(7200 + 1000)


def test_a_customer_reply_ends_waiting_on_customer() -> None:
    engine = SlaEngine(policy())
    engine.on_ticket(make_ticket("t1", Priority.P1, T0), at(0))
    engine.on_activity(act("waiting_on_customer", 60), at(60))
    assert clock_of(engine).reply.paused_at == at(60)
    engine.on_activity(act("customer_reply", 160), at(160))
    clock = clock_of(engine)
    assert (clock.pause, clock.reply.paused_at, clock.reply.due_at) == (None, None, at(700))


def test_a_cycle_started_during_a_pause_starts_paused_and_resolved_ends_it() -> None:
    engine = SlaEngine(policy("periodic_update_seconds: {P1: 3600}\n"))
    engine.on_ticket(make_ticket("t1", Priority.P1, T0), at(0))
    engine.on_activity(act("on_hold", 10), at(10))
    engine.on_activity(act("first_response", 20), at(20))
    clock = clock_of(engine)
    assert clock.update is not None
    assert (clock.update.cycle, clock.update.paused_at) == (1, at(20))
    assert engine.fire_due(at(10_000)) == []
    engine.on_activity(act("resolved", 20_000), at(20_000))
    assert engine.next_due() is None
    [_, update] = engine.outcomes()
    assert (update.metric, update.met, update.response_seconds) == ("periodic_update", True, 0)


def test_a_pause_counts_business_time_only() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    p = policy(
        "calendars: {office: {timezone: Europe/Berlin, hours: {mon-fri: '09:00-18:00'}}}\n"
        "calendar: office\n"
    )
    friday = datetime(2026, 3, 6, 17, 30, tzinfo=berlin)
    engine = SlaEngine(p)
    engine.on_ticket(make_ticket("t1", Priority.P2, friday), friday)
    assert clock_of(engine).reply.due_at == datetime(2026, 3, 9, 9, 30, tzinfo=berlin)
    pending = friday + timedelta(minutes=15)  # Friday 17:45
    engine.on_activity(act("pending", (pending - T0).total_seconds()), pending)
    monday_10 = datetime(2026, 3, 9, 10, 0, tzinfo=berlin)
    engine.on_activity(act("resumed", (monday_10 - T0).total_seconds()), monday_10)
    # paused: Fri 17:45-18:00 and Mon 09:00-10:00 in business time (75 min), not the weekend
    clock = clock_of(engine)
    assert clock.reply.paused_us == 4500 * 1_000_000
    assert clock.reply.due_at == datetime(2026, 3, 9, 10, 45, tzinfo=berlin)


# --- resolution and periodic-update targets ---------------------------------------------


def test_resolution_target_has_its_own_ladder_and_a_reopen_starts_a_new_cycle() -> None:
    engine = SlaEngine(policy("resolution_seconds: {P1: 3600}\n"))
    engine.on_ticket(make_ticket("t1", Priority.P1, T0), at(0))
    engine.on_activity(act("first_response", 60), at(60))
    escalations = run(engine, 3700, 50)
    assert steps(escalations) == [
        ("resolution:warn50", at(1800)),
        ("resolution:warn80", at(2880)),
        ("resolution:breach1", at(3600)),
    ]
    assert {e.metric for e in escalations} == {"resolution"}
    [recovered] = engine.on_activity(act("resolved", 4000), at(4000))
    assert recovered.escalation_id == "t1:resolution:recovered"
    assert recovered.resolves == [
        "t1:resolution:warn50",
        "t1:resolution:warn80",
        "t1:resolution:breach1",
    ]
    outcomes = [(o.metric, o.met, o.response_seconds) for o in engine.outcomes()]
    assert outcomes == [("first_response", True, 60), ("resolution", False, 4000)]
    engine.on_activity(act("reopened", 5000), at(5000))
    clock = clock_of(engine)
    assert clock.resolution is not None
    assert (clock.resolution.dedup_base, clock.resolution.due_at) == ("resolution.1", at(8600))


def test_periodic_updates_are_due_after_each_agent_update() -> None:
    engine = SlaEngine(policy("periodic_update_seconds: {P2: 1000}\nwarning_fractions: []\n"))
    engine.on_ticket(make_ticket("t1", Priority.P2, T0), at(0))
    assert clock_of(engine).update is None  # the first response is its own metric
    engine.on_activity(act("first_response", 100), at(100))
    engine.on_activity(act("agent_reply", 900), at(900))  # within 1000 s: met
    [breach] = run(engine, 2000, 10)
    assert (breach.escalation_id, breach.due_at) == ("t1:periodic_update.2:breach1", at(1900))
    [recovered] = engine.on_activity(act("agent_reply", 2100), at(2100))
    assert recovered.cycle_key == "t1:periodic_update.2"
    results = [(o.metric, o.cycle, o.met) for o in engine.outcomes()]
    assert results == [
        ("first_response", 0, True),
        ("periodic_update", 1, True),
        ("periodic_update", 2, False),
    ]
    assert engine.on_activity(act("agent_reply", 2100), at(2101)) == []  # redelivered


# --- per-priority ladders -------------------------------------------------------------


def test_a_p4_gets_only_the_steps_its_policy_names() -> None:
    p = policy(
        "ladders:\n"
        "  P4: {warning_fractions: [], breach_multipliers: [1], notify: []}\n"
        "  P3: {warning_fractions: [0.8], notify: [breach1, breach2, breach3]}\n"
    )
    engine = SlaEngine(p)
    engine.on_ticket(make_ticket("p4", Priority.P4, T0), at(0))  # 86400 s
    engine.on_ticket(make_ticket("p3", Priority.P3, T0), at(0))  # 14400 s
    engine.on_ticket(make_ticket("p1", Priority.P1, T0), at(0))
    escalations = run(engine, 5 * 86400, 60)
    by_ticket: dict[str, list[tuple[str, bool]]] = {}
    for e in escalations:
        by_ticket.setdefault(e.ticket_id, []).append((e.escalation_id.split(":")[-1], e.notify))
    assert by_ticket["p4"] == [("breach1", False)]
    assert by_ticket["p3"] == [
        ("warn80", False),
        ("breach1", True),
        ("breach2", True),
        ("breach3", True),
    ]
    assert [s for s, _ in by_ticket["p1"]] == ["warn50", "warn80", "breach1", "breach2", "breach3"]
    assert all(n for _, n in by_ticket["p1"])


def test_a_ladder_naming_an_unknown_step_is_refused() -> None:
    with pytest.raises(PolicyError, match=r"ladders\.P4\.notify\[0\]: unknown step 'warn50'"):
        policy("ladders: {P4: {warning_fractions: [], notify: [warn50]}}\n")


# --- re-targeting ---------------------------------------------------------------------


def test_priority_changed_moves_the_clock_from_its_original_start() -> None:
    engine = SlaEngine(policy("target_seconds: {P1: 600, P3: 14400}\n"))
    engine.on_ticket(make_ticket("t1", Priority.P3, T0), at(0))
    assert engine.stats().open_by_priority[Priority.P3] == 1
    out = engine.on_activity(act("priority_changed", 700, priority="P1"), at(700))
    assert [(e.kind, e.priority, e.previous_priority, e.notify) for e in out] == [
        (EscalationKind.SLA_RETARGETED, Priority.P1, Priority.P3, False),
        (EscalationKind.SLA_BREACH, Priority.P1, None, True),
    ]
    retargeted, breach = out
    assert retargeted.escalation_id == "t1:retarget.1:retargeted"
    assert retargeted.due_at == at(600)  # the P1 deadline from the original start
    assert (breach.escalation_id, breach.due_at) == ("t1:first_response:breach1", at(600))
    assert engine.stats().open_by_priority[Priority.P1] == 1
    assert engine.stats().open_by_priority[Priority.P3] == 0
    again = engine.on_activity(act("priority_changed", 700, priority="P1"), at(701))
    assert again == []  # already P1: nothing, the steps stay emitted once
    later = steps(run(engine, 3000, 10))
    assert later == [("first_response:breach2", at(1200)), ("first_response:breach3", at(2400))]


def test_a_repeat_contact_only_raises_the_priority() -> None:
    engine = SlaEngine(policy())
    engine.on_ticket(make_ticket("t1", Priority.P2, T0), at(0))
    lower = act("repeat_contact", 10, priority="P4", related_ticket_id="t2")
    assert engine.on_activity(lower, at(10)) == []
    higher = act("repeat_contact", 20, priority="P1", related_ticket_id="t3")
    [retargeted] = engine.on_activity(higher, at(20))
    assert (retargeted.priority, retargeted.previous_priority) == (Priority.P1, Priority.P2)
    assert clock_of(engine).reply.due_at == at(600)
    engine.on_activity(act("resolved", 30), at(30))
    assert engine.on_activity(act("priority_changed", 40, priority="P3"), at(40)) == []


def test_re_targeting_chooses_the_policy_again_and_starts_the_timers_it_has() -> None:
    p = policy(
        "policies:\n"
        "  - id: urgent\n"
        "    when: {priority: P1}\n"
        "    target_seconds: {P1: 300}\n"
        "    resolution_seconds: {P1: 7200}\n"
    )
    engine = SlaEngine(p)
    engine.on_ticket(make_ticket("t1", Priority.P3, T0), at(0))
    assert clock_of(engine).resolution is None
    engine.on_activity(act("priority_changed", 100, priority="P1"), at(100))
    clock = clock_of(engine)
    assert clock.policy_id == "urgent"
    assert clock.reply.due_at == at(300)
    assert clock.resolution is not None
    assert clock.resolution.due_at == at(7200)  # from the ticket's start


def test_state_round_trips_with_timers_pauses_and_retargets() -> None:
    engine = SlaEngine(
        policy("resolution_seconds: {P1: 3600}\nperiodic_update_seconds: {P1: 900}\n")
    )
    engine.on_ticket(make_ticket("t1", Priority.P2, T0), at(0))
    engine.on_activity(act("first_response", 30), at(30))
    engine.on_activity(act("priority_changed", 40, priority="P1"), at(40))
    engine.on_activity(act("on_hold", 50), at(50))
    clock = clock_of(engine)
    again = decode_record(encode_record(clock))
    assert again == clock
    fresh = SlaEngine(engine.policy)
    fresh.restore(again)
    assert fresh.next_due() is None  # every running timer is paused
    fresh.on_activity(act("resumed", 350), at(350))
    restored = clock_of(fresh)
    assert restored.resolution is not None
    assert restored.resolution.due_at == at(3600 + 300)


# --- a changed policy, applied to open tickets --------------------------------------------


def test_a_changed_policy_is_applied_to_open_tickets_only_when_asked() -> None:
    old = SlaEngine(policy("target_seconds: {P1: 600}\n"))
    old.on_ticket(make_ticket("t1", Priority.P1, T0), at(0))
    old.on_ticket(make_ticket("t2", Priority.P2, T0), at(0))
    new = SlaEngine(policy("target_seconds: {P1: 300}\n"))
    for record in old.snapshot():
        new.restore(decode_record(encode_record(record)))
    assert new.differs_from_policy() == 1  # t1; t2 keeps 3600 either way
    assert new.fire_due(at(200)) == []  # still the old target (the new warn50: 150 s)
    changed, [breach] = new.apply_policy(at(400))
    assert changed == 1
    assert (breach.ticket_id, breach.escalation_id, breach.due_at) == (
        "t1",
        "t1:first_response:breach1",
        at(300),
    )
    assert new.differs_from_policy() == 0
    assert new.apply_policy(at(401)) == (0, [])


# --- the monitor: repeat contacts go to the earlier ticket's partition --------------------


def test_a_new_ticket_naming_earlier_ones_publishes_a_repeat_contact_for_each() -> None:
    topics = SlaTopics("tickets", "activity", "escalations", "changelog", "dlq")
    monitor = SlaMonitor(policy(), topics, FakeClock(at(0)))
    monitor.state.assign([0])
    second = make_ticket("t2", Priority.P1, at(60)).model_copy(
        update={"related_ticket_ids": ["t1", "t0"]}
    )
    record = InRecord(
        topic="tickets", partition=0, offset=0, key=b"t2", value=second.model_dump_json().encode()
    )
    out = [r for r in monitor.process([record]) if r.topic == "activity"]
    assert [r.key for r in out] == [b"t1", b"t0"]
    first = TicketActivity.model_validate_json(out[0].value)
    assert (first.kind, first.priority, first.related_ticket_id, first.activity_id) == (
        ActivityKind.REPEAT_CONTACT,
        Priority.P1,
        "t2",
        "t2:repeat_contact:t1",
    )
    assert all(r.phase == 0 for r in out)
    again = monitor.process([record])  # redelivered: the ticket is known, nothing again
    assert [r for r in again if r.topic == "activity"] == []
    quiet = SlaMonitor(policy("retarget_on_repeat_contact: false\n"), topics, FakeClock(at(0)))
    quiet.state.assign([0])
    assert [r for r in quiet.process([record]) if r.topic == "activity"] == []


def test_the_monitor_applies_a_changed_policy_at_start_only_when_told() -> None:
    topics = SlaTopics("tickets", "activity", "escalations", "changelog", "dlq")
    old = SlaEngine(policy("target_seconds: {P1: 600}\n"))
    old.on_ticket(make_ticket("t1", Priority.P1, T0), at(0))
    records = [encode_record(r) for r in old.snapshot()]
    for apply in (False, True):
        clock = FakeClock(at(400))
        monitor = SlaMonitor(policy("target_seconds: {P1: 300}\n"), topics, clock)
        monitor.state.assign([0])
        for value in records:
            monitor.state.get(0).restore(decode_record(value))
        monitor.restored([0], apply_policy=apply)
        out = [r for r in monitor.fire_due() if r.topic == "escalations"]
        found = [Escalation.model_validate_json(r.value).escalation_id for r in out]
        # kept: the old 600 s target has warn50 at 300 s due; applied: the new breach1
        assert found == (["t1:first_response:breach1"] if apply else ["t1:first_response:warn50"])


def test_redelivered_pause_activities_change_nothing() -> None:
    engine = SlaEngine(policy())
    engine.on_ticket(make_ticket("t1", Priority.P1, T0), at(0))
    pair = [act("pending", 10), act("resumed", 70)]
    for activity in pair:
        engine.on_activity(activity, at(70))
    for activity in pair:  # at least once: the same records again after a crash
        assert engine.on_activity(activity, at(80)) == []
    clock = clock_of(engine)
    assert (clock.pause, clock.reply.paused_us, clock.reply.due_at) == (None, 60_000_000, at(660))
    assert engine.next_due() == at(360)


def test_at_risk_follows_each_priority_s_ladder_and_paused_clocks_are_neither() -> None:
    p = policy("ladders: {P4: {warning_fractions: [], breach_multipliers: [1]}}\n")
    engine = SlaEngine(p)
    engine.on_ticket(make_ticket("p1", Priority.P1, T0), at(0))  # 600 s, warn50 at 300
    engine.on_ticket(make_ticket("p4", Priority.P4, T0), at(0))  # 86400 s, no warnings
    engine.on_ticket(make_ticket("held", Priority.P1, T0), at(0))
    engine.on_activity(act("on_hold", 10, tid="held"), at(10))
    risk = engine.risk(at(60_000))
    assert (risk.at_risk_by_priority[Priority.P4], risk.overdue_by_priority[Priority.P4]) == (0, 0)
    assert (risk.at_risk_by_priority[Priority.P1], risk.overdue_by_priority[Priority.P1]) == (0, 1)
    late = engine.risk(at(90_000))
    assert late.overdue_by_priority[Priority.P4] == 1
