"""How one ticket activity moves a ticket's timers (pure: mutates the clock it is given).

1. **Agent side** (``first_response``, ``agent_reply``, ``resolved``) stops the running
   reply cycle: an :class:`Outcome` (met / missed) is recorded and, if the cycle already
   warned or breached, ``sla_recovered`` is emitted (resolving every step of the cycle).
   An agent activity older than the customer message that started the current next-reply
   cycle is stale and ignored.
2. ``first_response`` and ``agent_reply`` are **updates**: where the policy has a
   periodic-update target, each one ends the running update cycle (met / missed) and
   starts the next one at its ``occurred_at``.
3. ``resolved`` closes the ticket and stops every timer (resolution and update too).
4. **Customer side** (``customer_reply`` while waiting for the customer, ``reopened``
   after an agent reply or a resolution) starts a next-reply cycle at its
   ``occurred_at``, with the ticket's target. A customer message older than the last
   agent activity was already answered and is ignored; one while the reply clock already
   runs changes nothing; a ``customer_reply`` on a resolved ticket does not reopen it
   (the helpdesk sends ``reopened`` when it does). A reopen after a resolution also
   starts a new resolution cycle.
5. **Pauses** (``pending``, ``on_hold``, ``waiting_on_customer``) stop the running
   timers whose metric the policy's ``pauses`` names for that kind, from the activity's
   ``occurred_at``; ``resumed`` (and a ``customer_reply`` during ``waiting_on_customer``)
   restarts them. The time paused, counted in each timer's calendar, is added to its
   deadline and every later step (``Timer.paused_us``); a timer started during a pause
   starts paused; a pause of another kind replaces the one in effect. A pause or resume
   older than the last one applied is stale (a redelivery) and changes nothing.
6. **Re-targeting** (``priority_changed`` from an agent; ``repeat_contact`` when it
   raises the priority): the ticket takes the new priority, its policy is chosen again
   (``SlaPolicy.select``) and every running timer takes that policy's target for the new
   priority *from its original start*; a timer the new priority has no target for ends
   (with a recovery if it had escalated), one it newly has starts (resolution from the
   ticket's start, update from the last agent update). Steps already emitted stay
   emitted; ``sla_retargeted`` says so. A resolved ticket is not re-targeted.
"""

from __future__ import annotations

from datetime import datetime

from schemas.activity import PAUSES, ActivityKind, TicketActivity
from schemas.common import Priority
from schemas.escalation import Escalation, EscalationKind
from service.sla.ladder import (
    Outcome,
    calendar_of,
    deadline,
    escalation,
    to_us,
)
from service.sla.policy import SlaPolicy, TicketFacts
from service.sla.state import (
    NEXT_REPLY,
    PERIODIC_UPDATE,
    RESOLUTION,
    Metric,
    Status,
    TicketClock,
    Timer,
)

AGENT_SIDE = frozenset(
    {ActivityKind.FIRST_RESPONSE, ActivityKind.AGENT_REPLY, ActivityKind.RESOLVED}
)
RETARGETS = frozenset({ActivityKind.PRIORITY_CHANGED, ActivityKind.REPEAT_CONTACT})


def apply_activity(
    clock: TicketClock,
    activity: TicketActivity,
    now: datetime,
    policy: SlaPolicy,
    out: list[Escalation],
    outcomes: list[Outcome],
) -> bool:
    """Apply one activity; append escalations and outcomes; False if nothing changed."""
    kind = activity.kind
    at = activity.occurred_at
    if kind in PAUSES:
        return set_pause(clock, kind.value, at, policy)
    if kind is ActivityKind.RESUMED:
        return set_pause(clock, None, at, policy)
    if kind in RETARGETS:
        return retarget(clock, activity, now, policy, out)
    if kind in AGENT_SIDE:
        return _agent_side(clock, kind, at, now, policy, out, outcomes)
    return _customer_side(clock, kind, at, policy)


def _agent_side(
    clock: TicketClock,
    kind: ActivityKind,
    at: datetime,
    now: datetime,
    policy: SlaPolicy,
    out: list[Escalation],
    outcomes: list[Outcome],
) -> bool:
    reply = clock.reply
    if reply.cycle > 0 and at < reply.started_at:
        return False
    changed = clock.last_agent_at is None or at > clock.last_agent_at
    if changed:
        clock.last_agent_at = at
    if reply.running:
        stop(policy, clock, reply, at, now, out, outcomes)
        changed = True
    if kind is ActivityKind.RESOLVED:
        if clock.status is not Status.RESOLVED:
            clock.status = Status.RESOLVED
            clock.closed_at = now
            for timer in (clock.resolution, clock.update):
                if timer is not None and timer.running:
                    stop(policy, clock, timer, at, now, out, outcomes)
            changed = True
        return changed
    if clock.status is Status.WAITING_FOR_AGENT:
        clock.status = Status.WAITING_FOR_CUSTOMER
        changed = True
    if clock.status is not Status.RESOLVED:
        changed = _next_update(clock, at, now, policy, out, outcomes) or changed
    return changed


def _next_update(
    clock: TicketClock,
    at: datetime,
    now: datetime,
    policy: SlaPolicy,
    out: list[Escalation],
    outcomes: list[Outcome],
) -> bool:
    """An agent update ends the running periodic-update cycle and starts the next."""
    target = _chosen(policy, clock).target_for(clock.priority, PERIODIC_UPDATE)
    current = clock.update
    if target is None or (current is not None and at <= current.started_at):
        return False
    if current is not None and current.running:
        stop(policy, clock, current, at, now, out, outcomes)
    cycle = 1 if current is None else current.cycle + 1
    clock.update = start(policy, clock, PERIODIC_UPDATE, cycle, target, at)
    return True


def _customer_side(clock: TicketClock, kind: ActivityKind, at: datetime, policy: SlaPolicy) -> bool:
    changed = False
    if kind is ActivityKind.CUSTOMER_REPLY and clock.pause == ActivityKind.WAITING_ON_CUSTOMER:
        changed = set_pause(clock, None, at, policy)
    if clock.last_agent_at is not None and at < clock.last_agent_at:
        return changed
    if clock.status is Status.WAITING_FOR_AGENT:
        return changed
    if kind is ActivityKind.CUSTOMER_REPLY and clock.status is Status.RESOLVED:
        return changed
    if clock.status is Status.RESOLVED:
        _reopen_resolution(clock, at, policy)
    start_next_reply(clock, at, policy)
    return True


def start_next_reply(clock: TicketClock, at: datetime, policy: SlaPolicy) -> None:
    reply = clock.reply
    clock.reply = start(policy, clock, NEXT_REPLY, reply.cycle + 1, reply.target_seconds, at)
    clock.reply.running = policy.next_reply_clock
    clock.closed_at = None
    clock.status = Status.WAITING_FOR_AGENT


def _reopen_resolution(clock: TicketClock, at: datetime, policy: SlaPolicy) -> None:
    previous = clock.resolution
    target = _chosen(policy, clock).target_for(clock.priority, RESOLUTION)
    if previous is not None:
        target = previous.target_seconds
    if target is not None:
        cycle = 0 if previous is None else previous.cycle + 1
        clock.resolution = start(policy, clock, RESOLUTION, cycle, target, at)


def start(
    policy: SlaPolicy, clock: TicketClock, metric: Metric, cycle: int, target: int, at: datetime
) -> Timer:
    """A new running cycle of a timer from ``at`` (paused from the start when the pause
    in effect stops this metric)."""
    timer = Timer(metric, cycle, target, at, at)
    if clock.pause is not None and policy.pauses_metric(clock.pause, metric):
        timer.paused_at = at
    timer.due_at = deadline(policy, clock, timer)
    return timer


def stop(
    policy: SlaPolicy,
    clock: TicketClock,
    timer: Timer,
    at: datetime,
    now: datetime,
    out: list[Escalation],
    outcomes: list[Outcome],
) -> None:
    """End a running cycle at ``at``: met or missed (time paused excluded), and a
    recovery when it had warned or breached."""
    if timer.paused_at is not None:
        resume(policy, clock, timer, at)
    timer.running = False
    if timer.cycle == 0 and timer.metric == "first_response" and clock.first_response_at is None:
        clock.first_response_at = at
    calendar = calendar_of(policy, clock, timer)
    taken = calendar.elapsed_us(to_us(timer.started_at), to_us(at)) - timer.paused_us
    outcomes.append(
        Outcome(
            ticket_id=clock.ticket_id,
            priority=clock.priority,
            metric=timer.metric,
            cycle=timer.cycle,
            met=at <= timer.due_at,
            response_seconds=max(0.0, taken / 1_000_000),
            target_seconds=timer.target_seconds,
        )
    )
    if timer.escalated:
        timer.emitted = (*timer.emitted, "recovered")
        out.append(
            escalation(
                clock, timer, EscalationKind.SLA_RECOVERED, 0, "recovered", timer.due_at, now
            )
        )


def set_pause(clock: TicketClock, pause: str | None, at: datetime, policy: SlaPolicy) -> bool:
    """Put ``pause`` in effect (None: resume): pause the running timers it stops, resume
    the paused ones it does not."""
    if clock.status is Status.RESOLVED or clock.pause == pause:
        return False
    if clock.pause_changed_at is not None and at < clock.pause_changed_at:
        return False  # older than the last change: a redelivery, already applied
    clock.pause = pause
    clock.pause_changed_at = at
    for timer in clock.timers():
        if not timer.running:
            continue
        stops = pause is not None and policy.pauses_metric(pause, timer.metric)
        if stops and timer.paused_at is None:
            timer.paused_at = max(at, timer.started_at)
        elif not stops and timer.paused_at is not None:
            resume(policy, clock, timer, at)
    return True


def resume(policy: SlaPolicy, clock: TicketClock, timer: Timer, at: datetime) -> None:
    """Count the pause that ends at ``at`` (in the timer's calendar) and move the deadline."""
    paused_at = timer.paused_at
    if paused_at is None:
        return
    calendar = calendar_of(policy, clock, timer)
    end = max(at, paused_at)
    timer.paused_us += calendar.elapsed_us(to_us(paused_at), to_us(end))
    timer.paused_at = None
    timer.due_at = deadline(policy, clock, timer)


def retarget(
    clock: TicketClock,
    activity: TicketActivity,
    now: datetime,
    policy: SlaPolicy,
    out: list[Escalation],
) -> bool:
    """Move the ticket to ``activity.priority`` (see 6. above)."""
    new = activity.priority
    old = clock.priority
    if new is None or new is old or clock.status is Status.RESOLVED:
        return False
    if activity.kind is ActivityKind.REPEAT_CONTACT and new.rank > old.rank:
        return False  # a repeat contact raises the priority, never lowers it
    apply_priority(clock, new, now, policy, out)
    clock.retargets += 1
    out.append(
        escalation(
            clock,
            clock.reply,
            EscalationKind.SLA_RETARGETED,
            0,
            "retargeted",
            clock.reply.due_at,
            now,
            notify=False,
            base=f"retarget.{clock.retargets}",
            previous_priority=old,
        )
    )
    return True


def apply_policy(
    clock: TicketClock, now: datetime, policy: SlaPolicy, out: list[Escalation]
) -> bool:
    """Give an open ticket's running timers the targets ``policy`` sets for its priority
    (a changed policy file, applied at start when asked to); False: nothing differs."""
    if not differs_from_policy(clock, policy):
        return False
    apply_priority(clock, clock.priority, now, policy, out)
    return True


def differs_from_policy(clock: TicketClock, policy: SlaPolicy) -> bool:
    """An open ticket whose running timers' targets are not the ones ``policy`` gives it."""
    if clock.status is Status.RESOLVED:
        return False
    return _targets(clock) != _policy_targets(clock, policy)


def _targets(clock: TicketClock) -> dict[str, int | None]:
    return {
        "reply": clock.reply.target_seconds,
        RESOLUTION: None if clock.resolution is None else clock.resolution.target_seconds,
        PERIODIC_UPDATE: None if clock.update is None else clock.update.target_seconds,
    }


def _policy_targets(clock: TicketClock, policy: SlaPolicy) -> dict[str, int | None]:
    chosen = policy.select(_facts(clock, clock.priority))
    prio = clock.priority
    update = chosen.target_for(prio, PERIODIC_UPDATE) if clock.last_agent_at is not None else None
    return {
        "reply": chosen.target_for(prio, clock.reply.metric),
        RESOLUTION: chosen.target_for(prio, RESOLUTION),
        PERIODIC_UPDATE: update,
    }


def apply_priority(
    clock: TicketClock,
    priority: Priority,
    now: datetime,
    policy: SlaPolicy,
    out: list[Escalation],
) -> None:
    """Set the priority, choose the policy again and re-target every timer to it."""
    chosen = policy.select(_facts(clock, priority))
    clock.priority = priority
    clock.policy_id = chosen.version if chosen is not policy else None
    reply_target = chosen.target_for(priority, clock.reply.metric)
    assert reply_target is not None  # first response and next reply always have one
    _retime(policy, clock, clock.reply, reply_target)
    clock.resolution = _retarget_timer(
        policy, chosen, clock, clock.resolution, RESOLUTION, clock.opened_at, now, out
    )
    clock.update = _retarget_timer(
        policy, chosen, clock, clock.update, PERIODIC_UPDATE, clock.last_agent_at, now, out
    )


def _retarget_timer(
    policy: SlaPolicy,
    chosen: SlaPolicy,
    clock: TicketClock,
    timer: Timer | None,
    metric: Metric,
    since: datetime | None,
    now: datetime,
    out: list[Escalation],
) -> Timer | None:
    target = chosen.target_for(clock.priority, metric)
    if timer is None:
        if target is None or since is None:
            return None
        return start(policy, clock, metric, 0 if metric == RESOLUTION else 1, target, since)
    if target is None:
        if timer.running and timer.escalated:
            timer.emitted = (*timer.emitted, "recovered")
            kind = EscalationKind.SLA_RECOVERED
            out.append(escalation(clock, timer, kind, 0, "recovered", timer.due_at, now))
        return None
    _retime(policy, clock, timer, target)
    return timer


def _retime(policy: SlaPolicy, clock: TicketClock, timer: Timer, target: int) -> None:
    timer.target_seconds = target
    timer.due_at = deadline(policy, clock, timer)


def _chosen(policy: SlaPolicy, clock: TicketClock) -> SlaPolicy:
    return policy.by_id(clock.policy_id) or policy


def _facts(clock: TicketClock, priority: Priority) -> TicketFacts:
    return TicketFacts(
        priority=priority,
        tier=clock.customer_tier,
        channel=clock.channel,
        category=clock.category,
        language=clock.language,
        brand=clock.brand,
    )
