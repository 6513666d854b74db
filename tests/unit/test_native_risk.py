"""The compiled risk scan of the SLA gauges (``service/sla/_risk.pyx``) counts exactly
what the Python loop it replaced counted (``tests/oracle/risk_py.py``): at-risk and
overdue clocks per priority and the next deadline, on stores of tickets of every priority
with first responses, replies, pauses, resolutions, reopenings and priority changes, under
policies with resolution and update timers, at many moments."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from schemas.activity import ActivityKind, TicketActivity
from schemas.common import Priority
from service.sla import _risk
from service.sla.calendar import to_us
from service.sla.engine import SlaEngine
from service.sla.policy import SlaPolicy, parse_policy
from service.sla.store import _LAYOUT
from tests.oracle import risk_py
from tests.tickets import make_ticket

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICIES = {
    "default": SlaPolicy(),
    "resolution and updates": parse_policy(
        "version: test\n"
        "resolution_seconds: {P1: 7200, P2: 14400, P3: 86400}\n"
        "periodic_update_seconds: {P1: 1800, P2: 3600}\n"
        "ladders: {P4: {warning_fractions: [], breach_multipliers: [1]}}\n",
        "test.yaml",
    ),
}
KINDS = [
    ActivityKind.FIRST_RESPONSE,
    ActivityKind.AGENT_REPLY,
    ActivityKind.CUSTOMER_REPLY,
    ActivityKind.RESOLVED,
    ActivityKind.REOPENED,
    ActivityKind.ON_HOLD,
    ActivityKind.WAITING_ON_CUSTOMER,
    ActivityKind.RESUMED,
    ActivityKind.PRIORITY_CHANGED,
]


def _engine(policy: SlaPolicy, seed: int, tickets: int = 400) -> SlaEngine:
    rng = random.Random(seed)
    engine = SlaEngine(policy)
    for n in range(tickets):
        opened = T0 + timedelta(seconds=rng.randrange(0, 20_000))
        engine.on_ticket(make_ticket(f"t{n}", rng.choice(list(Priority)), opened), opened)
        when = opened
        for _ in range(rng.randrange(0, 4)):
            when += timedelta(seconds=rng.randrange(1, 5_000))
            kind = rng.choice(KINDS)
            extra = {"priority": rng.choice(list(Priority))} if kind == "priority_changed" else {}
            activity = TicketActivity.model_validate(
                {"ticket_id": f"t{n}", "kind": kind, "occurred_at": when, **extra}
            )
            engine.on_activity(activity, when)
    return engine


@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("seed", range(3))
def test_the_compiled_risk_scan_counts_as_the_python_one(policy: str, seed: int) -> None:
    engine = _engine(POLICIES[policy], seed)
    seen_risk = seen_overdue = 0
    for seconds in range(0, 200_000, 2_500):
        now = T0 + timedelta(seconds=seconds)
        got = engine.risk(now)
        at_risk, overdue, next_us = risk_py.risk(engine._clocks, to_us(now))
        assert got.at_risk_by_priority == at_risk, seconds
        assert got.overdue_by_priority == overdue, seconds
        got_next = None if got.next_deadline is None else to_us(got.next_deadline)
        assert got_next == next_us, seconds
        seen_risk += sum(at_risk.values())
        seen_overdue += sum(overdue.values())
    # both states were compared, not only zeros
    assert seen_risk
    assert seen_overdue


def test_a_truncated_clock_is_refused_not_read_past_its_end() -> None:
    engine = _engine(SlaPolicy(), 0, tickets=1)
    (blob,) = engine._clocks._blobs.values()
    with pytest.raises(ValueError, match="shorter"):
        _risk.scan([blob[: _LAYOUT.head_size + 3]], 0, _LAYOUT, len(Priority))


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_the_compiled_risk_scan_agrees_at_the_boundaries(policy: str) -> None:
    """At a deadline or at-risk instant exactly, and a microsecond either side."""
    engine = _engine(POLICIES[policy], 7)
    instants = sorted(
        {
            t
            for _, timers in risk_py.ticking(engine._clocks)
            for due, risk in timers
            for t in (due, risk)
        }
    )
    rng = random.Random(7)
    for instant in rng.sample(instants, 60):
        for now_us in (instant - 1, instant, instant + 1):
            at_risk, overdue, next_us = _risk.scan(
                engine._clocks._blobs.values(), now_us, _LAYOUT, len(Priority)
            )
            expected = risk_py.risk(engine._clocks, now_us)
            assert (at_risk, overdue, next_us) == (
                list(expected[0].values()),
                list(expected[1].values()),
                expected[2],
            ), now_us
