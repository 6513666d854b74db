"""Step timing and escalation building for one ticket clock (pure functions of state).

Time is kept as integer microseconds since the epoch so heap keys and step times compare
exactly. Escalation fields:

* ``escalation_id`` ``<ticket>:<cycle>:<step>`` with cycle ``first_response`` or
  ``next_reply.<n>`` and step ``warn50``, ``warn80``, ``breach1``…, ``recovered``;
  management attention is ``<ticket>:management:mgmt``.
* ``dedup_key`` ``<ticket>:<cycle>`` (``<ticket>:management``): a warning, the breaches
  after it and the recovery of one cycle share it, so a pager incident auto-resolves.
* ``due_at`` the instant the step was scheduled for: the warning time for a warning,
  start + multiplier × target for a breach (breach1 = the deadline), both in the clock's
  business-hours calendar (``SlaPolicy.calendar_for``: priority and metric; plain
  addition for 24/7); for ``recovered`` and ``management_attention`` the cycle's
  deadline.
* ``overdue_seconds`` ``emitted_at − deadline`` (negative before the deadline), so the
  deadline itself is always ``emitted_at − overdue_seconds``.
* ``metric`` ``first_response`` or ``next_reply`` (without the cycle number).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schemas.common import Priority
from schemas.escalation import Escalation, EscalationKind
from service.sla.policy import SlaPolicy, StepDef
from service.sla.state import TicketClock

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_us(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the SLA engine needs aware datetimes")
    return (value - EPOCH) // _US


def from_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A cycle ended by a response (or a resolution): met or missed, for metrics."""

    ticket_id: str
    priority: Priority
    metric: str
    cycle: int
    met: bool
    response_seconds: float
    target_seconds: int


class Ladder:
    """The policy's steps, applied to clocks."""

    def __init__(self, policy: SlaPolicy) -> None:
        self.policy = policy
        #: False: every clock is 24/7 and a step is start + offset (the fast path)
        self._business = policy.business_hours
        self.steps: tuple[StepDef, ...] = policy.steps()
        self._names = [s.name for s in self.steps]
        self._index = {name: i for i, name in enumerate(self._names)}

    def offset_us(self, clock: TicketClock, i: int) -> int:
        return round(self.steps[i].fraction * clock.target_seconds * 1_000_000)

    def step_us(self, clock: TicketClock, i: int) -> int:
        """Cycle start + the step's offset, in the clock's calendar (business time)."""
        if not self._business:
            return to_us(clock.started_at) + self.offset_us(clock, i)
        calendar = self.policy.calendar_for(clock.priority, clock.metric, clock.policy_id)
        return calendar.add_us(to_us(clock.started_at), self.offset_us(clock, i))

    def next_index(self, clock: TicketClock) -> int | None:
        """Index of the first step of the current cycle not yet emitted (None: none left)."""
        if not clock.running:
            return None
        emitted = clock.emitted
        n = len(emitted)
        if emitted != self._names[:n]:  # not a prefix: the policy changed since
            n = max((self._index[e] for e in emitted if e in self._index), default=-1) + 1
        return n if n < len(self.steps) else None

    def next_us(self, clock: TicketClock) -> int | None:
        i = self.next_index(clock)
        return None if i is None else self.step_us(clock, i)

    def fire(self, clock: TicketClock, now: datetime) -> Escalation | None:
        """Emit the highest step due at ``now`` (marking lower ones emitted), if any."""
        first = self.next_index(clock)
        if first is None:
            return None
        now_us = to_us(now)
        last = None
        for i in range(first, len(self.steps)):
            if self.step_us(clock, i) > now_us:
                break
            last = i
        if last is None:
            return None
        clock.emitted.extend(s.name for s in self.steps[first : last + 1])
        clock.escalated = True
        step = self.steps[last]
        return escalation(
            clock,
            EscalationKind(step.kind),
            step.level,
            step.name,
            from_us(self.step_us(clock, last)),
            now,
        )


def escalation(
    clock: TicketClock,
    kind: EscalationKind,
    level: int,
    step: str,
    due_at: datetime,
    now: datetime,
    base: str | None = None,
) -> Escalation:
    base = base or clock.dedup_base
    return Escalation(
        escalation_id=f"{clock.ticket_id}:{base}:{step}",
        dedup_key=f"{clock.ticket_id}:{base}",
        ticket_id=clock.ticket_id,
        customer_id=clock.customer_id,
        kind=kind,
        level=level,
        priority=clock.priority,
        metric=clock.metric,
        due_at=due_at.astimezone(UTC),
        emitted_at=now.astimezone(UTC),
        overdue_seconds=(now - clock.due_at).total_seconds(),
        category=clock.category,
        customer_tier=clock.customer_tier,
        rule_ids=list(clock.rule_ids),
    )
