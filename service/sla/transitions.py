"""How one ticket activity moves a ticket clock (pure: mutates the clock it is given).

* Agent side (``first_response``, ``agent_reply``, ``resolved``) stops the running clock:
  an :class:`Outcome` (met / missed) is recorded and, if the cycle already warned or
  breached, ``sla_recovered`` is emitted with the cycle's dedup key. ``resolved`` closes
  the ticket. An agent activity older than the customer message that started the current
  next-reply cycle is stale and ignored.
* Customer side (``customer_reply`` while waiting for the customer, ``reopened`` after
  an agent reply or a resolution) starts a next-reply cycle at its ``occurred_at``, with the
  ticket's target. A customer message older than the last agent activity was already
  answered and is ignored; one while the clock already runs changes nothing; a
  ``customer_reply`` on a resolved ticket does not reopen it (the helpdesk sends
  ``reopened`` when it does).
"""

from __future__ import annotations

from datetime import datetime

from schemas.activity import ActivityKind, TicketActivity
from schemas.escalation import Escalation, EscalationKind
from service.sla.calendar import TWENTY_FOUR_SEVEN, BusinessCalendar
from service.sla.ladder import Outcome, escalation
from service.sla.policy import SlaPolicy
from service.sla.state import NEXT_REPLY, Status, TicketClock

AGENT_SIDE = frozenset(
    {ActivityKind.FIRST_RESPONSE, ActivityKind.AGENT_REPLY, ActivityKind.RESOLVED}
)


def apply_activity(
    clock: TicketClock,
    activity: TicketActivity,
    now: datetime,
    policy: SlaPolicy,
    out: list[Escalation],
    outcomes: list[Outcome],
) -> bool:
    """Apply one activity; append escalations and outcomes; False if nothing changed."""
    at = activity.occurred_at
    if activity.kind in AGENT_SIDE:
        if clock.cycle > 0 and at < clock.started_at:
            return False
        changed = clock.last_agent_at is None or at > clock.last_agent_at
        if changed:
            clock.last_agent_at = at
        if clock.running:
            calendar = policy.calendar_for(clock.priority, clock.metric, clock.policy_id)
            stop_clock(clock, at, now, out, outcomes, calendar)
            changed = True
        if activity.kind is ActivityKind.RESOLVED:
            if clock.status is not Status.RESOLVED:
                clock.status = Status.RESOLVED
                clock.closed_at = now
                changed = True
        elif clock.status is Status.WAITING_FOR_AGENT:
            clock.status = Status.WAITING_FOR_CUSTOMER
            changed = True
        return changed
    if clock.last_agent_at is not None and at < clock.last_agent_at:
        return False
    if clock.status is Status.WAITING_FOR_AGENT:
        return False
    if activity.kind is ActivityKind.CUSTOMER_REPLY and clock.status is Status.RESOLVED:
        return False
    start_next_reply(clock, at, policy)
    return True


def start_next_reply(clock: TicketClock, at: datetime, policy: SlaPolicy) -> None:
    clock.cycle += 1
    clock.metric = NEXT_REPLY
    clock.started_at = at
    calendar = policy.calendar_for(clock.priority, NEXT_REPLY, clock.policy_id)
    clock.due_at = calendar.add(at, clock.target_seconds)
    clock.running = policy.next_reply_clock
    clock.emitted = []
    clock.escalated = False
    clock.closed_at = None
    clock.status = Status.WAITING_FOR_AGENT


def stop_clock(
    clock: TicketClock,
    at: datetime,
    now: datetime,
    out: list[Escalation],
    outcomes: list[Outcome],
    calendar: BusinessCalendar = TWENTY_FOUR_SEVEN,
) -> None:
    """Stop the running cycle; its response time is counted in ``calendar``."""
    clock.running = False
    if clock.cycle == 0 and clock.first_response_at is None:
        clock.first_response_at = at
    outcomes.append(
        Outcome(
            ticket_id=clock.ticket_id,
            priority=clock.priority,
            metric=clock.metric,
            cycle=clock.cycle,
            met=at <= clock.due_at,
            response_seconds=max(0.0, calendar.elapsed(clock.started_at, at)),
            target_seconds=clock.target_seconds,
        )
    )
    if clock.escalated:
        clock.emitted.append("recovered")
        out.append(
            escalation(clock, EscalationKind.SLA_RECOVERED, 0, "recovered", clock.due_at, now)
        )
