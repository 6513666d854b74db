"""The standby clocks (``service.sla.standby``): a copy of the owners' changelog that
fires the steps due a grace before a rebalance began, outside the partitions this
instance gave up: exactly the escalations the owner would have."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from schemas.activity import ActivityKind, TicketActivity
from service.clock import FakeClock
from service.records import OutRecord
from service.sla import standby as standby_module
from service.sla.monitor import SlaMonitor, escalation_record
from service.sla.policy import SlaPolicy
from service.sla.standby import StandbyClocks
from service.sla.state import encode_record
from tests.unit.test_sla_monitor import T0, TOPICS, ack_all, make, rec, ticket

GRACE = timedelta(seconds=1)


def _changelog(out: list[OutRecord]) -> list[OutRecord]:
    return [o for o in out if o.topic == TOPICS.changelog]


def _feed(standby: StandbyClocks, out: list[OutRecord]) -> None:
    for o in _changelog(out):
        assert o.partition is not None
        standby.apply(o.partition, o.key, o.value)


def _owner_and_copy(clock: FakeClock) -> tuple[SlaMonitor, StandbyClocks]:
    mon, _ = make(clock)
    standby = StandbyClocks(SlaPolicy(), GRACE)
    out = mon.process([rec("tickets", 0, 0, ticket("a")), rec("tickets", 1, 0, ticket("b"))])
    ack_all(out)
    _feed(standby, out)
    return mon, standby


def test_the_copy_fires_the_steps_due_a_grace_before_the_rebalance_began() -> None:
    clock = FakeClock(T0)
    mon, standby = _owner_and_copy(clock)
    assert len(standby) == 2
    deadline = T0 + timedelta(seconds=600)
    for _ in range(4):  # the warnings at 50 % and 80 %, the breach, the second breach
        due = mon.next_due()
        assert due is not None
        clock.set(due)
        owner = [o for o in mon.fire_due() if o.topic == TOPICS.escalations]
        assert len(owner) == 2
        # a rebalance that began less than the grace after the due time: the owner may
        # have fired it without the copy knowing yet, so the copy leaves it (rule 3) …
        late = due + 5 * GRACE
        assert standby.fire_due(late, began=due + GRACE / 2) == []
        # … and fires it when the rebalance began a grace after it, stamped with now
        fired = standby.fire_due(late, began=due + GRACE)
        assert sorted(e.escalation_id for e in fired) == sorted(_ids(owner))
        assert {e.emitted_at for e in fired} == {late}
        assert {e.overdue_seconds for e in fired} == {(late - deadline).total_seconds()}
        assert standby.fire_due(late, began=late) == []  # rule 5: fired once
    record = escalation_record(fired[0], TOPICS.escalations, lambda e: None, standby=True)
    assert (record.topic, record.key) == (TOPICS.escalations, fired[0].ticket_id.encode())


def test_the_partitions_this_instance_gave_up_are_left_to_its_own_monitor() -> None:
    clock = FakeClock(T0)
    _, standby = _owner_and_copy(clock)  # "a" is in partition 0, "b" in partition 1
    late = T0 + timedelta(hours=1)
    assert {e.ticket_id for e in standby.fire_due(late, late, skip={0})} == {"b"}


def test_steps_that_come_due_during_the_rebalance_are_the_next_owners() -> None:
    clock = FakeClock(T0)
    _, standby = _owner_and_copy(clock)
    began = T0 + timedelta(seconds=100)  # before the first warning (at 300 s)
    assert standby.fire_due(T0 + timedelta(hours=1), began) == []


def _ids(records: list[OutRecord]) -> list[str]:
    return [json.loads(o.value or b"{}")["escalation_id"] for o in records]


def test_a_stopped_clock_in_the_changelog_keeps_the_copy_quiet() -> None:
    clock = FakeClock(T0)
    mon, standby = _owner_and_copy(clock)
    clock.set(T0 + timedelta(seconds=300))
    answer = TicketActivity(
        ticket_id="a",
        kind=ActivityKind.FIRST_RESPONSE,
        occurred_at=T0 + timedelta(seconds=300),
        activity_id="a:reply:1",
    )
    out = mon.process([rec("activity", 0, 1, answer.model_dump_json().encode())])
    ack_all(out)
    _feed(standby, out)
    late = T0 + timedelta(seconds=3600)
    assert {e.ticket_id for e in standby.fire_due(late, late)} == {"b"}


def test_a_tombstone_forgets_and_an_unreadable_record_is_skipped() -> None:
    clock = FakeClock(T0)
    _, standby = _owner_and_copy(clock)
    standby.apply(0, b"a", None)
    standby.apply(1, b"x", b"not json")
    assert len(standby) == 1
    late = T0 + timedelta(hours=1)
    assert {e.ticket_id for e in standby.fire_due(late, late)} == {"b"}


def test_a_step_fired_here_is_not_fired_again_when_an_older_record_replaces_it() -> None:
    """Rules 5 and 6: an owner's record from before the step, read late, puts the step
    back in the clock, but its id is remembered."""
    clock = FakeClock(T0)
    mon, standby = _owner_and_copy(clock)
    late = T0 + timedelta(seconds=600) + GRACE
    assert standby.fire_due(late, late)
    before = mon.state.get(0).record("a")
    assert before is not None
    standby.apply(0, b"a", encode_record(before))
    assert standby.fire_due(late, late) == []


def test_what_is_already_on_the_escalations_topic_is_not_fired_again() -> None:
    """Rule 6: an owner's escalation read on the topic before its changelog record."""
    clock = FakeClock(T0)
    _, standby = _owner_and_copy(clock)
    standby.saw("a:first_response:breach1")
    late = T0 + timedelta(seconds=600) + GRACE
    fired = {e.escalation_id for e in standby.fire_due(late, late)}
    assert fired == {"b:first_response:breach1"}
    assert standby.published("b:first_response:breach1")  # what it fired counts as seen


def test_the_ids_remembered_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(standby_module, "MAX_SEEN", 3)
    standby = StandbyClocks(SlaPolicy(), GRACE)
    for i in range(5):
        standby.saw(f"e{i}")
    assert [standby.published(f"e{i}") for i in range(5)] == [False, False, True, True, True]
