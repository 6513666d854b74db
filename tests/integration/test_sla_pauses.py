"""SLA pauses, re-targeting and business-hours clocks against a real broker (contract 1.4).

Tickets go straight to the tickets topic (``tests/tickets.py``, with the target and due
time the policy gives, as the prioritizer would publish them), activities to the activity
topic keyed by ticket id. Short policies make the steps come due in seconds; every wait is
on a condition (a record on a topic, a committed offset, /readyz), bounded. Activity times
are chosen by the test (millisecond precision, as the contract carries them) and the
expected pauses and due times are computed from them: the monitor counts a pause from the
``occurred_at`` of the activities.
"""

from __future__ import annotations

import asyncio
import collections
import signal
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schemas.activity import ActivityKind, TicketActivity
from schemas.common import Priority
from schemas.escalation import Escalation, EscalationKind
from schemas.ticket import SlaInfo, Ticket
from service.kafka.embedded import free_port
from service.sla.policy import SlaPolicy, load_policy
from service.sla.state import TicketClock, decode_record
from tests.integration.kafka_helpers import (
    committed_offsets,
    produce,
    read_topic,
    read_until,
    running_app,
    service_env,
    start_service,
    unique_settings,
    wait_ready,
)
from tests.tickets import make_ticket

pytestmark = pytest.mark.integration

#: P1 target of the in-process tests: warn50 3 s, breach1 6 s after the start.
FAST = 6
#: Timestamps and due times travel with millisecond precision.
MS = 0.002


def now_ms() -> datetime:
    """Now, to the millisecond (what survives a round trip through the contract)."""
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def fast_policy(**targets: int) -> SlaPolicy:
    return SlaPolicy.model_validate(
        {
            "version": "it-pauses",
            "warning_fractions": [0.5],
            "breach_multipliers": [1],
            "target_seconds": {"P1": FAST, **targets},
        }
    )


def sla_ticket(
    policy: SlaPolicy,
    name: str,
    priority: Priority,
    start: datetime,
    *,
    customer_id: str | None = None,
    related: Sequence[str] = (),
) -> Ticket:
    """A ticket as the prioritizer publishes it under ``policy`` (its target, its due
    time in the priority's calendar, the policy's id)."""
    target, due = policy.first_response_due(priority, start)
    base = make_ticket(name, priority, start, customer_id=customer_id)
    sla = SlaInfo(target_seconds=target, first_response_due_at=due, policy_id=policy.version)
    return base.model_copy(update={"sla": sla, "related_ticket_ids": list(related)})


def ticket_records(tickets: Iterable[Ticket]) -> list[tuple[bytes | None, bytes | None]]:
    return [(t.ticket_id.encode(), t.model_dump_json().encode()) for t in tickets]


def activity(
    ticket: Ticket, kind: ActivityKind, at: datetime, priority: Priority | None = None
) -> tuple[bytes | None, bytes | None]:
    """An activity record keyed by its ticket id (the activity topic's contract)."""
    value = TicketActivity(
        ticket_id=ticket.ticket_id,
        kind=kind,
        occurred_at=at,
        agent_id="agent-7",
        priority=priority,
    )
    return ticket.ticket_id.encode(), value.model_dump_json(exclude_none=True).encode()


def step(ticket: Ticket, name: str) -> str:
    """The escalation id of a first-response step (``warn50``, ``breach1``)."""
    return f"{ticket.ticket_id}:first_response:{name}"


def retargeted(ticket: Ticket, n: int = 1) -> str:
    return f"{ticket.ticket_id}:retarget.{n}:retargeted"


def parse(records: Iterable[Any]) -> list[Escalation]:
    return [Escalation.model_validate_json(r.value) for r in records]


def by_id(records: Iterable[Any]) -> dict[str, Escalation]:
    """Distinct escalations (a pager dedupes on the id): the first copy of each."""
    out: dict[str, Escalation] = {}
    for e in parse(records):
        out.setdefault(e.escalation_id, e)
    return out


def has(*ids: str) -> Callable[[list[Any]], bool]:
    wanted = set(ids)
    return lambda records: wanted <= {e.escalation_id for e in parse(records)}


async def until(
    bootstrap: str, topic: str, done: Callable[[list[Any]], bool], timeout: float, what: str
) -> list[Any]:
    """Read ``topic`` from the start until ``done`` holds; fail after ``timeout``."""
    records = await read_until(bootstrap, topic, done, timeout=timeout)
    assert done(records), f"timed out after {timeout} s waiting for {what}"
    return records


def clocks(records: Iterable[Any]) -> dict[str, TicketClock]:
    """The latest state of each ticket in SLA changelog records (tombstones forget)."""
    out: dict[str, TicketClock] = {}
    for r in records:
        key = r.key.decode()
        if r.value is None:
            out.pop(key, None)
            continue
        record = decode_record(r.value)
        if isinstance(record, TicketClock):
            out[key] = record
    return out


def assert_due(e: Escalation, expected: datetime) -> None:
    assert abs((e.due_at - expected).total_seconds()) < MS, (e.escalation_id, e.due_at, expected)


def assert_step(e: Escalation, ticket: Ticket, paused: float) -> None:
    """A first-response warning or breach of ``ticket``: per-step dedup key, cycle key,
    the time paused, emitted at (not before) its due time."""
    assert e.dedup_key == e.escalation_id
    assert e.cycle_key == f"{ticket.ticket_id}:first_response"
    assert e.metric == "first_response"
    assert e.paused_seconds == pytest.approx(paused, abs=MS), e
    assert e.emitted_at >= e.due_at - seconds(MS), e


# --- 1. pauses -----------------------------------------------------------------------


async def test_a_pause_moves_every_later_step_and_a_pause_never_ended_never_breaches(
    bootstrap: str,
) -> None:
    s = unique_settings(bootstrap)
    policy = fast_policy()
    async with running_app(s, role="sla", sla_policy=policy):
        start = now_ms()
        resumed, waiting, held, control = (
            sla_ticket(policy, f"pause-{n}", Priority.P1, start)
            for n in ("resumed", "waiting", "held", "control")
        )
        await produce(bootstrap, s.topic_tickets, ticket_records((resumed, waiting, held, control)))
        paused_at = now_ms()  # shortly after the start
        await produce(
            bootstrap,
            s.topic_activity,
            [
                activity(resumed, ActivityKind.PENDING, paused_at),
                activity(waiting, ActivityKind.WAITING_ON_CUSTOMER, paused_at),
                activity(held, ActivityKind.ON_HOLD, paused_at),
            ],
        )
        # Some seconds later: when the control ticket warns (half its target in). The
        # paused tickets, started at the same instant, have not.
        records = await until(
            bootstrap, s.topic_escalations, has(step(control, "warn50")), 20, "control's warn50"
        )
        early = [e.escalation_id for e in parse(records) if e.ticket_id != control.ticket_id]
        assert early == []
        ended_at = now_ms()
        await produce(
            bootstrap,
            s.topic_activity,
            [
                activity(resumed, ActivityKind.RESUMED, ended_at),
                # a customer reply ends waiting_on_customer
                activity(waiting, ActivityKind.CUSTOMER_REPLY, ended_at),
            ],
        )
        wanted = [step(t, n) for t in (control, resumed, waiting) for n in ("warn50", "breach1")]
        records = await until(
            bootstrap, s.topic_escalations, has(*wanted), 30, "every step of the resumed clocks"
        )
    got = by_id(records)
    pause = (ended_at - paused_at).total_seconds()
    assert pause >= FAST / 2 - 0.5  # a pause of seconds, not milliseconds

    for name, fraction in (("warn50", 0.5), ("breach1", 1.0)):
        e = got[step(control, name)]
        assert_step(e, control, paused=0.0)
        assert_due(e, start + seconds(fraction * FAST))
        for ticket in (resumed, waiting):
            e = got[step(ticket, name)]
            assert_step(e, ticket, paused=pause)
            assert_due(e, start + seconds(fraction * FAST + pause))
            assert e.priority is Priority.P1
    breach = got[step(resumed, "breach1")]
    assert breach.kind is EscalationKind.SLA_BREACH
    assert breach.overdue_seconds == pytest.approx(
        (breach.emitted_at - breach.due_at).total_seconds(), abs=MS
    )
    warning = got[step(resumed, "warn50")]
    assert warning.overdue_seconds == pytest.approx(
        (warning.emitted_at - breach.due_at).total_seconds(), abs=MS
    )
    # The ticket paused and never resumed: nothing, though its unpaused deadline passed
    # seconds before the resumed tickets breached.
    assert breach.emitted_at > held.sla.first_response_due_at + seconds(1)
    assert [e.escalation_id for e in got.values() if e.ticket_id == held.ticket_id] == []
    assert set(got) == set(wanted)


# --- 2. re-targeting ---------------------------------------------------------------------


async def test_priority_change_and_repeat_contact_retarget_from_the_original_start(
    bootstrap: str,
) -> None:
    s = unique_settings(bootstrap)
    policy = fast_policy(P2=3600, P3=7200)
    async with running_app(s, role="sla", sla_policy=policy):
        start = now_ms() - seconds(1)
        changed = sla_ticket(policy, "rt-changed", Priority.P3, start)
        earlier = sla_ticket(policy, "rt-earlier", Priority.P3, start, customer_id="c-rt")
        higher = sla_ticket(policy, "rt-higher", Priority.P2, start, customer_id="c-rt-hi")
        await produce(bootstrap, s.topic_tickets, ticket_records((changed, earlier, higher)))
        again_at = now_ms()
        # the customers wrote again: a P1 naming the P3 ticket, a P4 naming the P2 one
        again = sla_ticket(
            policy,
            "rt-again",
            Priority.P1,
            again_at,
            customer_id="c-rt",
            related=[earlier.ticket_id],
        )
        again_low = sla_ticket(
            policy,
            "rt-again-low",
            Priority.P4,
            again_at,
            customer_id="c-rt-hi",
            related=[higher.ticket_id],
        )
        await produce(bootstrap, s.topic_tickets, ticket_records((again, again_low)))
        await produce(
            bootstrap,
            s.topic_activity,
            [activity(changed, ActivityKind.PRIORITY_CHANGED, again_at, Priority.P1)],
        )
        wanted = [retargeted(t) for t in (changed, earlier)] + [
            step(t, n) for t in (changed, earlier) for n in ("warn50", "breach1")
        ]
        records = await until(
            bootstrap, s.topic_escalations, has(*wanted), 30, "the re-targeted P1 steps"
        )
        # the monitor's own repeat_contact activities (one per related ticket) and ours
        activities = await read_topic(bootstrap, s.topic_activity, 3, timeout=10)
    got = by_id(records)
    for ticket in (changed, earlier):
        r = got[retargeted(ticket)]
        assert r.kind is EscalationKind.SLA_RETARGETED
        assert (r.priority, r.previous_priority) == (Priority.P1, Priority.P3)
        assert r.notify is False
        assert r.level == 0
        # the new deadline: the original start + the P1 target (not the change + it)
        assert_due(r, start + seconds(FAST))
        for name, fraction in (("warn50", 0.5), ("breach1", 1.0)):
            e = got[step(ticket, name)]
            assert e.priority is Priority.P1
            assert_step(e, ticket, paused=0.0)
            assert_due(e, start + seconds(fraction * FAST))
        assert got[step(ticket, "breach1")].kind is EscalationKind.SLA_BREACH
    # A repeat contact raises a priority, never lowers it; the new tickets are not
    # re-targeted themselves.
    others = {higher.ticket_id, again.ticket_id, again_low.ticket_id}
    assert [
        e.escalation_id
        for e in got.values()
        if e.ticket_id in others and e.kind is EscalationKind.SLA_RETARGETED
    ] == []
    assert [e.escalation_id for e in got.values() if e.ticket_id == higher.ticket_id] == []

    published = [TicketActivity.model_validate_json(r.value) for r in activities]
    repeats = {a.ticket_id: a for a in published if a.kind is ActivityKind.REPEAT_CONTACT}
    assert set(repeats) == {earlier.ticket_id, higher.ticket_id}
    repeat = repeats[earlier.ticket_id]
    assert (repeat.priority, repeat.related_ticket_id) == (Priority.P1, again.ticket_id)
    assert repeat.activity_id == f"{again.ticket_id}:repeat_contact:{earlier.ticket_id}"
    assert repeat.occurred_at == again_at
    keys = {r.key for r in activities if b"repeat_contact" in r.value}
    assert keys == {earlier.ticket_id.encode(), higher.ticket_id.encode()}


# --- 3. kill -9 with paused and business-hours clocks ------------------------------------

#: P1 target of the restart test: warn50 6 s, breach1 12 s after the start (the steps of
#: one clock stay 6 s apart, so a restart that takes a few seconds never lets two of them
#: come due at once, which would emit only the higher).
RESTART_P1 = 12
OFFICE_ZONE = "Asia/Tokyo"  # no DST: the independent check of the due times holds every day


def write_restart_policy(path: Path, now: datetime) -> datetime:
    """A policy whose P1 clocks count in an all-week calendar of a non-UTC zone (open
    now: the calendar path, with deadlines that can be checked by plain addition) and
    whose other clocks count in office hours that are closed now (a 2-hour window
    starting 2 hours after the current local hour). Returns the next opening."""
    local = now.astimezone(ZoneInfo(OFFICE_ZONE))
    opens = (local.hour + 2) % 24
    closes = min(opens + 2, 24)
    path.write_text(
        "version: it-pauses-bh\n"
        "warning_fractions: [0.5]\n"
        "breach_multipliers: [1]\n"
        f"target_seconds: {{P1: {RESTART_P1}, P2: 2700, P3: 1800, P4: 172800}}\n"
        "calendars:\n"
        "  all-week:\n"
        "    timezone: Asia/Kolkata\n"
        '    hours: {mon-sun: "00:00-24:00"}\n'
        "  office:\n"
        f"    timezone: {OFFICE_ZONE}\n"
        f'    hours: {{mon-sun: "{opens:02d}:00-{closes:02d}:00"}}\n'
        "calendar: {default: office, P1: all-week}\n"
    )
    opening = local.replace(hour=opens, minute=0, second=0, microsecond=0)
    if opening <= local:
        opening += timedelta(days=1)
    return opening


def tail(log: Path) -> str:
    """The end of the service's log, for a failure message."""
    return log.read_text(errors="replace")[-3000:]


async def committed(bootstrap: str, group: str, topic: str, count: int, timeout: float) -> None:
    """Wait until ``group`` committed ``count`` records of ``topic`` (all partitions)."""
    deadline = time.monotonic() + timeout
    while True:
        offsets = await committed_offsets(bootstrap, group, topic)
        done = sum(o for o in offsets.values() if o is not None)
        if done >= count:
            return
        assert time.monotonic() < deadline, f"{done} of {count} offsets of {topic} committed"
        await asyncio.sleep(0.1)


async def test_kill_minus_nine_keeps_paused_and_business_hours_clocks(
    bootstrap: str, tmp_path: Path
) -> None:
    s = unique_settings(bootstrap)
    path = tmp_path / "policy.yaml"
    opening = write_restart_policy(path, datetime.now(UTC))
    policy = load_policy(path)  # the file the service reads
    week = policy.calendar_for(Priority.P1, "first_response")
    office = policy.calendar_for(Priority.P3, "first_response")
    assert policy.calendar_for(Priority.P2, "first_response") is office
    assert not week.always_open
    assert not office.always_open
    port = free_port()
    env = service_env(
        s,
        port,
        TRIAGE_SLA_POLICY_PATH=str(path),
        TRIAGE_INSTANCE_ID=f"triage-pauses-{uuid.uuid4().hex[:8]}",  # static membership
        TRIAGE_LOG_LEVEL="INFO",
    )
    log = tmp_path / "service.log"
    proc = start_service(env, log, role="sla")
    try:
        await wait_ready(proc, port, 60, log)
        start = now_ms()
        running, was_paused, paused = (
            sla_ticket(policy, f"k9-{n}", Priority.P1, start)
            for n in ("running", "was-paused", "paused")
        )
        desk = sla_ticket(policy, "k9-desk", Priority.P3, start)  # office hours, closed now
        tickets = (running, was_paused, paused, desk)
        await produce(bootstrap, s.topic_tickets, ticket_records(tickets))
        paused_at = now_ms()
        await produce(
            bootstrap,
            s.topic_activity,
            [activity(t, ActivityKind.PENDING, paused_at) for t in (was_paused, paused, desk)],
        )
        await until(
            bootstrap, s.topic_escalations, has(step(running, "warn50")), 30, "running's warn50"
        )
        was_resumed_at = now_ms()
        await produce(
            bootstrap,
            s.topic_activity,
            [activity(was_paused, ActivityKind.RESUMED, was_resumed_at)],
        )
        first_pause_us = (was_resumed_at - paused_at) // timedelta(microseconds=1)

        def settled(records: list[Any]) -> bool:
            c = clocks(records)
            if not all(t.ticket_id in c for t in tickets):
                return False
            return (
                "warn50" in c[running.ticket_id].reply.emitted
                and c[was_paused.ticket_id].pause is None
                and c[was_paused.ticket_id].reply.paused_us == first_pause_us
                and c[paused.ticket_id].pause == "pending"
                and c[paused.ticket_id].reply.paused_at == paused_at
                and c[desk.ticket_id].pause == "pending"
            )

        await until(bootstrap, s.topic_sla_changelog, settled, 20, "the paused states")
        # Kill once the activities' offsets are committed too, so the restart is tested
        # on its own (redelivered pause activities: the last test below).
        await committed(bootstrap, s.sla_group_id, s.topic_activity, 4, timeout=20)
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        killed = time.monotonic()
        proc = start_service(env, log, role="sla")
        await wait_ready(proc, port, 60, log)
        restart = time.monotonic() - killed
        ended_at = now_ms()
        await produce(
            bootstrap,
            s.topic_activity,
            [
                activity(paused, ActivityKind.RESUMED, ended_at),
                activity(desk, ActivityKind.RESUMED, ended_at),
                activity(desk, ActivityKind.PRIORITY_CHANGED, ended_at, Priority.P2),
            ],
        )
        wanted = [
            step(t, n) for t in (running, was_paused, paused) for n in ("warn50", "breach1")
        ] + [retargeted(desk)]
        records = await until(
            bootstrap,
            s.topic_escalations,
            has(*wanted),
            40,
            f"every step after the restart (it took {restart:.1f} s)",
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)

    # Each step exactly once: the distinct ids are the wanted ones, and a repeat (at least
    # once) is the same step again.
    all_of = parse(records)
    assert {e.escalation_id for e in all_of} == set(wanted), (
        f"restart took {restart:.1f} s:\n" + tail(log)
    )
    copies = collections.defaultdict(set)
    for e in all_of:
        copies[e.escalation_id].add((e.kind, e.level, e.priority, e.due_at, e.paused_seconds))
    assert {i: len(c) for i, c in copies.items() if len(c) > 1} == {}
    got = by_id(records)

    # The pauses, one ended before the kill and one spanning it, in the all-week calendar
    # (open: a business second is a second, which plain addition checks).
    first_pause = first_pause_us / 1_000_000
    spanning_pause = (ended_at - paused_at).total_seconds()
    assert spanning_pause > restart
    for ticket, pause in ((running, 0.0), (was_paused, first_pause), (paused, spanning_pause)):
        for name, fraction in (("warn50", 0.5), ("breach1", 1.0)):
            e = got[step(ticket, name)]
            assert_step(e, ticket, paused=pause)
            expected = week.add(start, fraction * RESTART_P1 + pause)
            assert_due(e, expected)
            assert_due(e, start + seconds(fraction * RESTART_P1 + pause))

    # The office clock: paused while the office was closed, so no business time was
    # paused; re-targeted to P2 after the restart, its deadline is the office's opening
    # plus the P2 target (business time), from the ticket's start.
    assert abs((desk.sla.first_response_due_at - (opening + seconds(1800))).total_seconds()) < MS
    r = got[retargeted(desk)]
    assert (r.priority, r.previous_priority) == (Priority.P2, Priority.P3)
    assert r.paused_seconds == 0.0
    assert_due(r, office.add(start, 2700))
    assert_due(r, opening + seconds(2700))
    assert [e.escalation_id for e in got.values() if e.ticket_id == desk.ticket_id] == [
        retargeted(desk)
    ]


# --- redelivered pause activities ------------------------------------------------------


async def test_redelivered_pause_activities_change_nothing(bootstrap: str) -> None:
    # At least once: after a crash between the changelog write and the offset commit the
    # same activities are consumed again, on top of the state that already holds them
    # (docs/sla.md: "Redelivered tickets and activities change nothing").
    s = unique_settings(bootstrap)
    policy = fast_policy()
    async with running_app(s, role="sla", sla_policy=policy):
        start = now_ms() - seconds(1)
        pair = sla_ticket(policy, "redeliver-pair", Priority.P1, start)
        stale = sla_ticket(policy, "redeliver-stale", Priority.P1, start)
        paused_at, ended_at = start + seconds(0.2), start + seconds(0.7)
        await produce(bootstrap, s.topic_tickets, ticket_records((pair, stale)))
        # Both clocks known first: activities of a ticket not seen yet are kept, and
        # identical ones only once, which would hide the redelivery.
        await until(
            bootstrap,
            s.topic_sla_changelog,
            lambda r: {pair.ticket_id, stale.ticket_id} <= set(clocks(r)),
            20,
            "both clocks",
        )
        pending = [activity(t, ActivityKind.PENDING, paused_at) for t in (pair, stale)]
        resumed = [activity(t, ActivityKind.RESUMED, ended_at) for t in (pair, stale)]
        await produce(bootstrap, s.topic_activity, [*pending, *resumed])
        pause_us = (ended_at - paused_at) // timedelta(microseconds=1)

        def applied(records: list[Any]) -> bool:
            c = clocks(records)
            return all(
                t.ticket_id in c
                and c[t.ticket_id].pause is None
                and c[t.ticket_id].reply.paused_us == pause_us
                for t in (pair, stale)
            )

        await until(bootstrap, s.topic_sla_changelog, applied, 20, "the pauses applied")
        # delivered again: pair's pending and resumed, stale's pending alone
        await produce(bootstrap, s.topic_activity, [*pending, resumed[0]])
        records = await until(
            bootstrap, s.topic_escalations, has(step(pair, "breach1")), 20, "pair's breach"
        )
        # stale's breach1 is due at the same instant as pair's (without the bug)
        records = await read_until(
            bootstrap, s.topic_escalations, has(step(stale, "breach1")), timeout=3
        )
    got = by_id(records)
    problems = []
    breach = got[step(pair, "breach1")]
    if breach.paused_seconds != pytest.approx(0.5, abs=MS):
        problems.append(f"pair: paused_seconds {breach.paused_seconds}, expected 0.5")
    if step(stale, "breach1") not in got:
        problems.append("stale: no breach (the redelivered pending paused it again)")
    assert not problems, problems
