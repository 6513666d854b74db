"""The SLA monitor across partitions: routing, output phases, snapshots, restore."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.common import Priority
from schemas.escalation import Escalation
from schemas.ticket import SlaInfo, Ticket
from service.clock import FakeClock
from service.partition_state import BASE_HEADER
from service.records import InRecord, OutRecord
from service.sla import monitor as monitor_module
from service.sla.monitor import SlaMonitor, SlaTopics
from service.sla.policy import SlaPolicy

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TOPICS = SlaTopics("tickets", "activity", "escalations", "changelog", "dlq")


def ticket(tid: str, occurred: datetime = T0, target: int = 600) -> bytes:
    t = Ticket(
        ticket_id=tid,
        event_id=f"e-{tid}",
        customer_id="c",
        priority=Priority.P1,
        severity=80,
        category="churn_threat",
        reasons=[],
        language="en",
        sla=SlaInfo(
            target_seconds=target, first_response_due_at=occurred + timedelta(seconds=target)
        ),
        actions=[],
        occurred_at=occurred,
        created_at=occurred,
        channel="email",
        text="",
        rules_version="test",
    )
    return t.model_dump_json().encode()


def rec(topic: str, partition: int, offset: int, value: bytes) -> InRecord:
    return InRecord(topic, partition, offset, b"k", value)


def make(clock: FakeClock) -> tuple[SlaMonitor, list[Escalation]]:
    acked: list[Escalation] = []
    mon = SlaMonitor(SlaPolicy(), TOPICS, clock, on_escalation=acked.append)
    mon.state.restore(0, [])
    mon.state.restore(1, [])
    return mon, acked


def ack_all(outputs: list[OutRecord], start: int = 0) -> None:
    for i, out in enumerate(outputs):
        if out.on_ack is not None:
            out.on_ack(start + i)


def test_escalations_come_before_the_state_that_records_them() -> None:
    clock = FakeClock(T0 + timedelta(seconds=11 * 60))  # a late ticket: breached on arrival
    mon, acked = make(clock)
    out = mon.process([rec("tickets", 1, 0, ticket("t1"))])
    kinds = [(o.topic, o.phase) for o in out]
    assert kinds == [("escalations", 0), ("changelog", 1)]
    assert out[0].key == b"t1"
    assert out[1].partition == 1  # the changelog partition matches the input partition
    assert dict(out[1].headers)[BASE_HEADER] == b"0"
    assert acked == []  # metrics only count what the broker acknowledged
    ack_all(out)
    assert [e.escalation_id for e in acked] == ["t1:first_response:breach1"]


def test_timers_fire_per_partition_and_restore_rebuilds_pending_steps() -> None:
    clock = FakeClock(T0)
    mon, _ = make(clock)
    first = mon.process([rec("tickets", 0, 0, ticket("a")), rec("tickets", 1, 0, ticket("b"))])
    changelog = [(o.key, o.value) for o in first if o.topic == "changelog"]
    assert mon.next_due() == T0 + timedelta(seconds=300)
    clock.set(T0 + timedelta(seconds=301))
    fired = mon.fire_due()
    ids = sorted(o.key or b"" for o in fired if o.topic == "escalations")  # both partitions
    assert ids == [b"a", b"b"]
    changelog += [(o.key, o.value) for o in fired if o.topic == "changelog" and o.partition == 0]
    # A new owner of partition 0 rebuilds it from the changelog: warn50 is not repeated.
    other, _ = make(clock)
    other.state.restore(0, [(k, v) for k, v in changelog if k == b"a"])
    assert other.fire_due() == []
    clock.set(T0 + timedelta(seconds=481))
    again = [o for o in other.fire_due() if o.topic == "escalations"]
    assert [o.key for o in again] == [b"a"]
    assert b"warn80" in again[0].value


def test_unreadable_ticket_or_activity_becomes_a_dead_letter() -> None:
    mon, _ = make(FakeClock(T0))
    out = mon.process(
        [rec("tickets", 0, 7, b"{not json"), rec("activity", 0, 8, b'{"ticket_id": "x"}')]
    )
    assert [(o.topic, o.label) for o in out] == [
        ("dlq", "invalid_json"),
        ("dlq", "schema_violation"),
    ]
    assert out[0].value == b"{not json"
    assert dict(out[0].headers)["triage.dlq.offset"] == b"7"


def test_snapshot_moves_the_base_once_every_snapshot_record_is_acknowledged() -> None:
    mon, _ = make(FakeClock(T0))
    mon.state.min_records, mon.state.factor = 5, 0
    batch = [rec("tickets", 0, i, ticket(f"t{i}")) for i in range(6)]
    out = mon.process(batch)
    snapshot = [o for o in out if o.phase == 2]
    assert len(snapshot) == 6  # every live state again
    assert mon.state.owned[0].cursor.base == 0
    ack_all([o for o in out if o.phase == 1], start=0)
    ack_all(snapshot[:-1], start=6)
    assert mon.state.owned[0].cursor.base == 0  # not complete yet: the old base still holds
    snapshot[-1].on_ack(11)  # type: ignore[misc]
    assert mon.state.owned[0].cursor.base == 6
    later = mon.process([rec("tickets", 0, 6, ticket("t-new"))])
    assert dict(later[-1].headers)[BASE_HEADER] == b"6"


def test_a_tombstone_in_the_changelog_forgets_the_ticket() -> None:
    clock = FakeClock(T0)
    mon, _ = make(clock)
    out = mon.process([rec("tickets", 0, 0, ticket("gone"))])
    state = [(o.key, o.value) for o in out if o.topic == "changelog"]
    mon.state.restore(0, [*state, (b"gone", b"")])
    clock.set(T0 + timedelta(hours=1))
    assert mon.fire_due() == []


def test_old_tickets_are_forgotten_one_partition_per_tick_in_turn() -> None:
    clock = FakeClock(T0)
    mon, _ = make(clock)  # partitions 0 and 1
    seen: list[int] = []
    for number, part in mon.state.owned.items():
        original = part.state.expire

        def spy(now: datetime, number: int = number, original: Any = original) -> list[str]:
            seen.append(number)
            result: list[str] = original(now)
            return result

        part.state.expire = spy  # type: ignore[method-assign]
    mon.fire_due()
    assert seen == [0]  # one partition per tick
    mon.fire_due()
    assert seen == [0]  # not again before its turn
    clock.advance(monitor_module.EXPIRE_EVERY.total_seconds() / 2)
    mon.fire_due()
    clock.advance(monitor_module.EXPIRE_EVERY.total_seconds() / 2)
    mon.fire_due()
    assert seen == [0, 1, 0]  # each partition swept once per EXPIRE_EVERY
