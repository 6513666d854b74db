"""The SLA monitor's domain logic for ONE Kafka partition: pure, no Kafka, no asyncio.

Time only comes in as arguments (``now``: processing time, aware datetimes). The Kafka
layer keeps one engine per assigned partition and drives it::

    engine = SlaEngine(policy)
    for record in changelog:                 # on assignment: rebuild the state
        engine.restore(decode_record(value)) # or engine.forget(ticket_id) for a tombstone
    out = engine.on_ticket(ticket, now)      # tickets.prioritized
    out = engine.on_activity(activity, now)  # tickets.activity
    out = engine.fire_due(now)               # timer: sleep until engine.next_due()
    publish(out); write(engine.changed()); commit input offsets
    observe(engine.outcomes()); gauge(engine.stats())
    tombstone(engine.expire(now))            # every few minutes (also in changed())

* ``on_ticket(ticket, now) -> list[Escalation]`` starts the first-response clock at the
  ticket's ``occurred_at`` with the target the ticket shows: ``sla.target_seconds``, which
  the prioritizer took from the SLA policy it names (``sla.policy_id``;
  ``SlaPolicy.first_response_due``), so the clock keeps ``sla.first_response_due_at``
  (also for a ticket published before schema 1.2, whose target the rule set decided). A
  target other than this engine's policy gives is logged once per policy and priority
  (``sla_policy_mismatch``: the roles run different policy files). Then it emits ``management_attention`` once if asked, applies the
  activities that arrived before it, and emits at most one step that is already due
  (a late ticket: the highest step passed). A known ticket id is a no-op.
* ``on_activity(activity, now) -> list[Escalation]``: ``first_response``/``agent_reply``
  stop the running clock (and emit ``sla_recovered`` if the cycle warned or breached);
  ``resolved`` stops it too and closes the ticket; ``customer_reply`` after an agent reply
  and ``reopened`` after a resolution start a next-reply cycle (due = occurred_at +
  target, in the clock's business-hours calendar: ``SlaPolicy.calendar_for``).
  Activities of unknown tickets are kept until the ticket arrives. Stale and duplicate
  activities (a customer reply older than the last agent activity, an agent activity
  older than the current next-reply cycle, a repeated kind) change nothing.
* ``fire_due(now) -> list[Escalation]`` emits every step whose time has come, each once
  per cycle; several due at once for one ticket → only the highest.
* ``next_due() -> datetime | None`` the earliest pending step (a timing wheel of
  one-second buckets, lazy deletion: ``service.sla.store``).
* ``changed() -> list[tuple[str, TicketClock | PendingActivities | None]]`` drains the
  states modified since the last call (``None``: tombstone). Pending activities are the
  live objects: serialise them (``encode_record``) before calling the engine again.
* ``snapshot()`` all records; ``restore(record)`` applies a changelog record (last
  write wins, not reported by ``changed()``); ``forget(ticket_id)`` applies a tombstone.
* ``get(ticket_id)`` the ticket's clock **as of the call**: clocks are kept packed
  (``service.sla.store``: about 300 bytes per open ticket, nothing for the garbage
  collector to walk), so every clock handed out is a copy; changing it changes nothing.
* ``expire(now) -> list[str]`` forgets resolved tickets after ``closed_retention_seconds``,
  idle open tickets after ``idle_retention_seconds`` and pending activities after
  ``pending_retention_seconds``; the ids are also reported as tombstones by ``changed()``.
* ``outcomes() -> list[Outcome]`` drains met/missed results of ended cycles;
  ``stats() -> SlaStats`` counts for gauges; ``risk(now) -> SlaRisk`` running cycles past
  their first warning (at risk) or past their deadline (overdue), and the next deadline.

Escalation ids, dedup keys and ``due_at``/``overdue_seconds``: see ``service.sla.ladder``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schemas.activity import TicketActivity
from schemas.common import Priority
from schemas.escalation import Escalation, EscalationKind
from schemas.ticket import Ticket
from service.observability.logging import get_logger
from service.sla.ladder import (
    Ladder,
    Outcome,
    deadline,
    escalation,
    from_us,
    to_us,
)
from service.sla.policy import SlaPolicy, TicketFacts
from service.sla.state import (
    FIRST_RESPONSE,
    RESOLUTION,
    PendingActivities,
    Status,
    TicketClock,
    Timer,
)
from service.sla.store import ClockStore
from service.sla.transitions import apply_activity, apply_policy, differs_from_policy
from service.sla.transitions import start as start_timer

log = get_logger("triage.sla")
#: distinct (policy id, priority) mismatches logged per engine, at most
_MISMATCHES_LOGGED = 64

#: At most this many activities are kept for a ticket not seen yet; later ones are dropped.
MAX_PENDING_PER_TICKET = 100

Change = tuple[str, TicketClock | PendingActivities | None]


@dataclass(frozen=True, slots=True)
class SlaStats:
    open_by_priority: dict[Priority, int]
    waiting_for_agent_by_priority: dict[Priority, int]
    tickets: int
    pending_tickets: int
    schedule_entries: int


@dataclass(frozen=True, slots=True)
class SlaRisk:
    """Running response cycles by how close they are to (or past) their deadline."""

    #: past the first warning step (default 50 % of the target), deadline not yet reached
    at_risk_by_priority: dict[Priority, int]
    #: deadline passed, no response yet
    overdue_by_priority: dict[Priority, int]
    #: the earliest deadline still ahead (None: no running cycle before its deadline)
    next_deadline: datetime | None
    #: the time the counts were taken at
    as_of: datetime

    @property
    def seconds_to_next_deadline(self) -> float | None:
        if self.next_deadline is None:
            return None
        return max(0.0, (self.next_deadline - self.as_of).total_seconds())

    @staticmethod
    def merge(parts: list[SlaRisk], as_of: datetime) -> SlaRisk:
        at_risk: dict[Priority, int] = dict.fromkeys(Priority, 0)
        overdue: dict[Priority, int] = dict.fromkeys(Priority, 0)
        deadlines = [p.next_deadline for p in parts if p.next_deadline is not None]
        for part in parts:
            for prio in Priority:
                at_risk[prio] += part.at_risk_by_priority.get(prio, 0)
                overdue[prio] += part.overdue_by_priority.get(prio, 0)
        return SlaRisk(at_risk, overdue, min(deadlines) if deadlines else None, as_of)


class SlaEngine:
    """SLA clocks of the tickets of one partition. Not thread-safe; one owner."""

    def __init__(self, policy: SlaPolicy | None = None) -> None:
        self.policy = policy or SlaPolicy()
        self._ladder = Ladder(self.policy)
        #: the clocks, packed, and when each is next due (``service.sla.store``): a
        #: clock is unpacked for the call that changes it and packed again after
        self._clocks = ClockStore(self._ladder.at_risk_us)
        self._pending: dict[str, PendingActivities] = {}
        #: tickets changed since ``changed()`` was last called, with the clock as it was
        #: packed (None: look it up, a tombstone if gone), so draining needs no unpacking
        self._dirty: dict[str, TicketClock | None] = {}
        self._outcomes: list[Outcome] = []
        self._counts: Counter[tuple[Priority, Status]] = Counter()
        self._mismatches: set[tuple[str, Priority]] = set()

    def _target(self, ticket: Ticket, start: datetime) -> tuple[int, SlaPolicy]:
        """The target the ticket's clock keeps and the policy it counts in. The target is
        the one the ticket shows, so the clock keeps its ``sla.first_response_due_at``.
        The prioritizer took it from the SLA policy the ticket names
        (``SlaPolicy.select`` and ``first_response_due``, the same calls as here: the entry
        ``sla.policy_id`` names, else the one the ticket's fields select); when that policy
        gives another target the roles run different policy files (or the ticket predates
        schema 1.2, when the rule set decided): logged once per policy and priority
        (``sla_policy_mismatch``)."""
        sla = ticket.sla
        chosen = self.policy.for_ticket(sla.policy_id, ticket_facts(ticket))
        mine, _ = chosen.first_response_due(ticket.priority, start)
        if sla.target_seconds != mine:
            key = (sla.policy_id or "", ticket.priority)
            if key not in self._mismatches and len(self._mismatches) < _MISMATCHES_LOGGED:
                self._mismatches.add(key)
                log.warning(
                    "sla_policy_mismatch",
                    ticket_id=ticket.ticket_id,
                    priority=ticket.priority.value,
                    ticket_policy=sla.policy_id,
                    ticket_target_seconds=sla.target_seconds,
                    policy=chosen.version,
                    policy_target_seconds=mine,
                    kept="ticket",
                )
        return sla.target_seconds, chosen

    # -- inputs ---------------------------------------------------------------------
    def on_ticket(self, ticket: Ticket, now: datetime) -> list[Escalation]:
        tid = ticket.ticket_id
        if tid in self._clocks:
            return []
        clock = self._new_clock(ticket, now)
        out: list[Escalation] = []
        if self.policy.management_attention and ticket.management_attention:
            clock.management_emitted = True
            out.append(
                escalation(
                    clock,
                    clock.reply,
                    EscalationKind.MANAGEMENT_ATTENTION,
                    0,
                    "mgmt",
                    clock.reply.due_at,
                    now,
                    base="management",
                )
            )
        self._count(clock)
        pending = self._pending.pop(tid, None)
        if pending is not None:
            for activity in sorted(pending.activities, key=_order):
                self._apply(clock, activity, now, out)
        self._after_change(clock, now, out)
        return out

    def _new_clock(self, ticket: Ticket, now: datetime) -> TicketClock:
        """The clock of a new ticket: the reply timer with the ticket's target, and the
        resolution timer where its policy has a target for its priority."""
        start = ticket.occurred_at.astimezone(UTC)
        target, chosen = self._target(ticket, start)
        clock = TicketClock(
            ticket_id=ticket.ticket_id,
            customer_id=ticket.customer_id,
            priority=ticket.priority,
            reply=Timer(FIRST_RESPONSE, 0, target, start, start),
            touched_at=now,
            opened_at=start,
            category=ticket.category,
            customer_tier=ticket.customer_tier,
            rule_ids=tuple(r.rule_id for r in ticket.reasons),
            # the entry of the policy's ``policies`` the clock counts in (None: the file's)
            policy_id=chosen.version if chosen is not self.policy else None,
            channel=ticket.channel,
            language=ticket.language,
            brand=ticket.brand,
        )
        clock.reply.due_at = deadline(self.policy, clock, clock.reply)
        resolution = chosen.target_for(ticket.priority, RESOLUTION)
        if resolution is not None:
            clock.resolution = start_timer(self.policy, clock, RESOLUTION, 0, resolution, start)
        return clock

    def on_activity(self, activity: TicketActivity, now: datetime) -> list[Escalation]:
        tid = activity.ticket_id
        clock = self._clocks.get(tid)
        if clock is None:
            self._keep_pending(activity, now)
            return []
        out: list[Escalation] = []
        if self._apply(clock, activity, now, out):
            self._after_change(clock, now, out)
        return out

    def _apply(
        self, clock: TicketClock, activity: TicketActivity, now: datetime, out: list[Escalation]
    ) -> bool:
        before = (clock.priority, clock.status)
        changed = apply_activity(clock, activity, now, self.policy, out, self._outcomes)
        self._recount(clock, before)
        return changed

    def _recount(self, clock: TicketClock, before: tuple[Priority, Status]) -> None:
        after = (clock.priority, clock.status)
        if after != before:
            self._counts[before] -= 1
            self._counts[after] += 1

    def apply_policy(self, now: datetime) -> tuple[int, list[Escalation]]:
        """Give every open ticket the targets this engine's policy sets for it (a policy
        file changed since the clocks started): explicit, at start, when asked to
        (``TRIAGE_SLA_APPLY_POLICY_TO_OPEN``). Steps already emitted stay emitted; the
        ones due under the new targets are emitted now (the highest per timer). Returns
        how many tickets changed, and the escalations."""
        out: list[Escalation] = []
        changed = 0
        for clock in list(self._clocks.clocks()):
            before = (clock.priority, clock.status)
            if apply_policy(clock, now, self.policy, out):
                changed += 1
                self._recount(clock, before)
                self._after_change(clock, now, out)
        return changed, out

    def differs_from_policy(self) -> int:
        """How many open tickets run targets other than this engine's policy gives them."""
        return sum(1 for c in self._clocks.clocks() if differs_from_policy(c, self.policy))

    def fire_due(self, now: datetime) -> list[Escalation]:
        out: list[Escalation] = []
        for tid in self._clocks.due(to_us(now)):
            clock = self._clocks.get(tid)
            assert clock is not None  # due() hands out stored clocks only
            self._after_change(clock, now, out)
        return out

    def next_due(self) -> datetime | None:
        key = self._clocks.next_us()
        return None if key is None else from_us(key)

    # -- state for the changelog ----------------------------------------------------
    def changed(self) -> list[Change]:
        out: list[Change] = []
        for tid, clock in self._dirty.items():
            if clock is None:
                clock = self._clocks.get(tid)
            out.append((tid, clock if clock is not None else self._pending.get(tid)))
        self._dirty.clear()
        return out

    def snapshot(self) -> list[TicketClock | PendingActivities]:
        return [*self._clocks.clocks(), *self._pending.values()]

    def ids(self) -> list[str]:
        """Every ticket with a record: clocks, then activities waiting for their ticket."""
        return [*self._clocks.ids(), *self._pending]

    def record(self, ticket_id: str) -> TicketClock | PendingActivities | None:
        """The ticket's record as of now (a clock, or activities waiting for it)."""
        return self._clocks.get(ticket_id) or self._pending.get(ticket_id)

    def restore(self, record: TicketClock | PendingActivities) -> None:
        tid = record.ticket_id
        self._drop(tid)
        self._dirty.pop(tid, None)  # the changelog already holds this state
        if isinstance(record, TicketClock):
            self._count(record)
            self._clocks.put(record, self._ladder.next_us(record))
        else:
            self._pending[tid] = record

    def forget(self, ticket_id: str) -> None:
        self._drop(ticket_id)
        self._dirty.pop(ticket_id, None)

    def expire(self, now: datetime) -> list[str]:
        p = self.policy
        now_us = to_us(now)
        closed_before = now_us - p.closed_retention_seconds * 1_000_000
        idle = p.idle_retention_seconds
        idle_before = None if idle is None else now_us - idle * 1_000_000
        # the packed next step time is the ladder's (every put stores it)
        gone = self._clocks.expired(closed_before, idle_before)
        pending_before = now - timedelta(seconds=p.pending_retention_seconds)
        gone += [tid for tid, pa in self._pending.items() if pa.received_at <= pending_before]
        for tid in gone:
            self._drop(tid)
            self._dirty[tid] = None
        return gone

    # -- metrics --------------------------------------------------------------------
    def outcomes(self) -> list[Outcome]:
        out, self._outcomes = self._outcomes, []
        return out

    def stats(self) -> SlaStats:
        open_by: dict[Priority, int] = dict.fromkeys(Priority, 0)
        waiting: dict[Priority, int] = dict.fromkeys(Priority, 0)
        for (prio, status), n in self._counts.items():
            if status is not Status.RESOLVED:
                open_by[prio] += n
            if status is Status.WAITING_FOR_AGENT:
                waiting[prio] += n
        return SlaStats(
            open_by, waiting, len(self._clocks), len(self._pending), self._clocks.entries
        )

    def risk(self, now: datetime) -> SlaRisk:
        """Scan the running cycles (linear in the open tickets, compiled: ``_risk.pyx``;
        for gauges at scrape time).
        A cycle is at risk past its priority's first warning (``ladders``; a ladder without
        warnings: never before the deadline)."""
        at_risk, overdue, next_us = self._clocks.risk(to_us(now))
        # each timer's at-risk instant was packed with it (``Ladder.at_risk_us``)
        next_deadline = None if next_us is None else from_us(next_us)
        return SlaRisk(
            dict(zip(Priority, at_risk, strict=True)),
            dict(zip(Priority, overdue, strict=True)),
            next_deadline,
            now,
        )

    def get(self, ticket_id: str) -> TicketClock | None:
        return self._clocks.get(ticket_id)

    def __len__(self) -> int:
        return len(self._clocks)

    # -- internals ------------------------------------------------------------------
    def _keep_pending(self, activity: TicketActivity, now: datetime) -> None:
        tid = activity.ticket_id
        pending = self._pending.get(tid)
        if pending is None:
            pending = PendingActivities(ticket_id=tid, received_at=now, touched_at=now)
            self._pending[tid] = pending
        if activity in pending.activities or len(pending.activities) >= MAX_PENDING_PER_TICKET:
            return
        pending.activities.append(activity)
        pending.touched_at = now
        self._dirty[tid] = None

    def _after_change(self, clock: TicketClock, now: datetime, out: list[Escalation]) -> None:
        """Emit the step due now (if any), reschedule, and mark the state for the changelog."""
        key = self._ladder.next_us(clock)
        if key is not None and key <= to_us(now):
            out.extend(self._ladder.fire(clock, now))
            key = self._ladder.next_us(clock)
        clock.touched_at = now
        self._dirty[clock.ticket_id] = clock  # not changed again: the next call unpacks anew
        self._clocks.put(clock, key)  # packed with its next step time: the one copy kept

    def _count(self, clock: TicketClock) -> None:
        self._counts[(clock.priority, clock.status)] += 1

    def _drop(self, ticket_id: str) -> None:
        self._pending.pop(ticket_id, None)
        known = self._clocks.drop(ticket_id)
        if known is not None:
            self._counts[known] -= 1


def _order(activity: TicketActivity) -> datetime:
    return activity.occurred_at


def ticket_facts(ticket: Ticket) -> TicketFacts:
    """What the SLA policy's conditions see of a published ticket (``SlaPolicy.select``)."""
    return TicketFacts(
        priority=ticket.priority,
        tier=ticket.customer_tier,
        channel=ticket.channel,
        category=ticket.category,
        language=ticket.language,
        brand=ticket.brand,
    )
