"""Step timing and escalation building for a ticket's timers (pure functions of state).

Time is kept as integer microseconds since the epoch so heap keys and step times compare
exactly. Escalation fields:

* ``escalation_id`` ``<ticket>:<cycle>:<step>`` with cycle ``first_response``,
  ``next_reply.<n>``, ``resolution`` (``resolution.<n>`` after a reopen) or
  ``periodic_update.<n>`` and step ``warn50``, ``warn80``, ``breach1``…, ``recovered``;
  management attention is ``<ticket>:management:mgmt``; a re-targeting
  ``<ticket>:retarget.<n>:retargeted``.
* ``dedup_key``: **one per step** (since contract 1.4): a warning's or breach's is its
  ``escalation_id``, so a pager that deduplicates on it (PagerDuty Events v2
  ``dedup_key``, Opsgenie ``alias``) opens a new incident, and notifies, for every level.
  ``cycle_key`` ``<ticket>:<cycle>`` groups a cycle's steps; ``sla_recovered`` carries
  the cycle key as its ``dedup_key`` and lists in ``resolves`` the dedup key of every
  step of the cycle, so a pager resolves each level. Management attention keeps
  ``<ticket>:management``.
* ``notify``: False for a step the policy's ladder for the priority does not notify
  (``ladders.<P>.notify``); published for dashboards, left alone by pagers.
* ``due_at`` the instant the step was scheduled for: cycle start + fraction × target +
  the time paused, in the timer's business-hours calendar (``SlaPolicy.calendar_for``:
  priority and metric; plain addition for 24/7); for ``recovered``,
  ``management_attention`` and ``sla_retargeted`` the cycle's deadline.
* ``overdue_seconds`` ``emitted_at − deadline`` (negative before the deadline), so the
  deadline itself is always ``emitted_at − overdue_seconds``.
* ``paused_seconds`` the time the cycle spent paused (in its calendar), which moved every
  step after it.
* ``metric`` ``first_response``, ``next_reply``, ``resolution`` or ``periodic_update``
  (without the cycle number).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.common import Priority
from schemas.escalation import Escalation, EscalationKind
from service.sla.calendar import BusinessCalendar, from_us, to_us
from service.sla.policy import SlaPolicy, StepDef
from service.sla.state import TicketClock, Timer

__all__ = ["Ladder", "Outcome", "calendar_of", "deadline", "escalation", "from_us", "to_us"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A cycle ended by a response, an update or a resolution: met or missed, for metrics."""

    ticket_id: str
    priority: Priority
    metric: str
    cycle: int
    met: bool
    #: time from the cycle's start to its end, less the time paused, in its calendar
    response_seconds: float
    target_seconds: int


def calendar_of(policy: SlaPolicy, clock: TicketClock, timer: Timer) -> BusinessCalendar:
    """The calendar a timer counts in: its priority's and metric's, of the clock's policy."""
    return policy.calendar_for(clock.priority, timer.metric, clock.policy_id)


def deadline(policy: SlaPolicy, clock: TicketClock, timer: Timer) -> datetime:
    """A timer's deadline: start + target + the time paused so far, in its calendar."""
    calendar = calendar_of(policy, clock, timer)
    due = calendar.add_us(
        to_us(timer.started_at), timer.target_seconds * 1_000_000 + timer.paused_us
    )
    return from_us(due)


class Ladder:
    """The policy's steps (per priority), applied to a ticket's timers."""

    def __init__(self, policy: SlaPolicy) -> None:
        self.policy = policy
        #: False: every clock is 24/7 and a step is start + offset (the fast path)
        self._business = policy.business_hours
        self._steps = {p: policy.steps(p) for p in Priority}
        self._names = {p: tuple(s.name for s in steps) for p, steps in self._steps.items()}
        self._index = {p: {n: i for i, n in enumerate(ns)} for p, ns in self._names.items()}
        #: the fraction of the target where a cycle becomes "at risk": its priority's first
        #: warning (a ladder without warnings: the deadline)
        self._first_warning = {
            p: min((s.fraction for s in steps if s.kind == "sla_warning"), default=1.0)
            for p, steps in self._steps.items()
        }

    def steps(self, priority: Priority) -> tuple[StepDef, ...]:
        return self._steps[priority]

    def step_us(self, clock: TicketClock, timer: Timer, i: int) -> int:
        """When the step is due (``_at``)."""
        return self._at(clock, timer, self._steps[clock.priority][i].fraction)

    def at_risk_us(self, clock: TicketClock, timer: Timer) -> int:
        """When the timer's cycle becomes at risk: at its priority's first warning."""
        return self._at(clock, timer, self._first_warning[clock.priority])

    def _at(self, clock: TicketClock, timer: Timer, fraction: float) -> int:
        """Cycle start + ``fraction`` of the target + the time paused, in the timer's
        calendar."""
        offset = round(fraction * timer.target_seconds * 1_000_000) + timer.paused_us
        if not self._business:
            return to_us(timer.started_at) + offset
        return calendar_of(self.policy, clock, timer).add_us(to_us(timer.started_at), offset)

    def next_index(self, clock: TicketClock, timer: Timer) -> int | None:
        """Index of the timer's first step not yet emitted (None: none left, or the timer
        is stopped or paused)."""
        if not timer.ticking:
            return None
        names = self._names[clock.priority]
        emitted = timer.emitted
        n = len(emitted)
        if emitted != names[:n]:  # not a prefix: the ladder changed (policy or priority)
            index = self._index[clock.priority]
            n = max((index[e] for e in emitted if e in index), default=-1) + 1
        return n if n < len(names) else None

    def next_us(self, clock: TicketClock) -> int | None:
        """The earliest step still to come over the ticket's timers (None: none)."""
        best: int | None = None
        for timer in clock.timers():
            i = self.next_index(clock, timer)
            if i is not None:
                at = self.step_us(clock, timer, i)
                if best is None or at < best:
                    best = at
        return best

    def fire(self, clock: TicketClock, now: datetime) -> list[Escalation]:
        """For each timer, emit the highest step due at ``now`` (marking lower ones done)."""
        out: list[Escalation] = []
        for timer in clock.timers():
            esc = self._fire(clock, timer, now)
            if esc is not None:
                out.append(esc)
        return out

    def _fire(self, clock: TicketClock, timer: Timer, now: datetime) -> Escalation | None:
        first = self.next_index(clock, timer)
        if first is None:
            return None
        steps = self._steps[clock.priority]
        now_us = to_us(now)
        last = None
        for i in range(first, len(steps)):
            if self.step_us(clock, timer, i) > now_us:
                break
            last = i
        if last is None:
            return None
        timer.emitted = (*timer.emitted, *(s.name for s in steps[first : last + 1]))
        timer.escalated = True
        step = steps[last]
        return escalation(
            clock,
            timer,
            EscalationKind(step.kind),
            step.level,
            step.name,
            from_us(self.step_us(clock, timer, last)),
            now,
            notify=step.notify,
        )


def escalation(
    clock: TicketClock,
    timer: Timer,
    kind: EscalationKind,
    level: int,
    step: str,
    due_at: datetime,
    now: datetime,
    *,
    notify: bool = True,
    base: str | None = None,
    previous_priority: Priority | None = None,
) -> Escalation:
    """A warning, breach or recovery of one of the ticket's timers; with ``base``, an
    event about the ticket named by it (management attention, a re-targeting), whose one
    key is ``<ticket>:<base>`` and whose deadline is ``timer``'s."""
    cycle_key = f"{clock.ticket_id}:{base or timer.dedup_base}"
    step_key = f"{cycle_key}:{step}"
    per_step = base is None and kind is not EscalationKind.SLA_RECOVERED
    recovered = kind is EscalationKind.SLA_RECOVERED
    return Escalation(
        escalation_id=step_key,
        dedup_key=step_key if per_step else cycle_key,
        cycle_key=cycle_key,
        resolves=[f"{cycle_key}:{s}" for s in timer.emitted if s != "recovered"]
        if recovered
        else [],
        notify=notify,
        ticket_id=clock.ticket_id,
        customer_id=clock.customer_id,
        kind=kind,
        level=level,
        priority=clock.priority,
        previous_priority=previous_priority,
        metric=timer.metric,
        due_at=due_at.astimezone(UTC),
        emitted_at=now.astimezone(UTC),
        overdue_seconds=(now - timer.due_at).total_seconds(),
        paused_seconds=timer.paused_us / 1_000_000,
        category=clock.category,
        customer_tier=clock.customer_tier,
        rule_ids=list(clock.rule_ids),
    )
