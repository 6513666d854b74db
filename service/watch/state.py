"""What ``triage watch`` knows: the open tickets by time to breach, the latest escalations,
counts per priority and the filters. Pure: no Kafka, no terminal, time comes in as ``now``.

The clocks are the SLA monitor's own: one :class:`~service.sla.engine.SlaEngine` fed with
the same ``Ticket`` and ``TicketActivity`` events (in any order: an activity seen before its
ticket waits for it, as in the monitor), so a ticket leaves the queue exactly when the
monitor stops its clock — an agent answered it or it was resolved — and comes back when a
customer reply starts a next-reply cycle. The engine's own escalations are not shown:
the escalations shown are the ones the monitor published (``tickets.escalations``).

    state = WatchState(policy)
    change = state.feed(decode_event(topics, record), now)  # per record read
    state.tick(now)                                          # now and then
    state.rows(now), state.counts(now), state.recent_escalations()
    state.press("1")                                         # keys: filters, quit
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import ValidationError

from schemas.activity import TicketActivity
from schemas.common import Priority, Tier
from schemas.escalation import Escalation
from schemas.ticket import Ticket
from service.records import InRecord
from service.sla.engine import SlaEngine
from service.sla.policy import SlaPolicy
from service.sla.state import Status, TicketClock

Event = Ticket | TicketActivity | Escalation
#: The tier filter's order (then any other tier seen, by name, then tickets without one).
TIER_ORDER = (Tier.ENTERPRISE, Tier.PREMIUM, Tier.STANDARD, Tier.FREE)
NO_TIER = "-"
#: Escalations remembered for the view (and for deduplication of redeliveries).
MAX_ESCALATIONS = 500


@dataclass(frozen=True, slots=True)
class WatchTopics:
    """The three topics the watch reads."""

    tickets: str
    activity: str
    escalations: str

    @property
    def names(self) -> list[str]:
        return [self.tickets, self.activity, self.escalations]


def decode_event(topics: WatchTopics, record: InRecord) -> Event | None:
    """The event a record carries, by its topic; None for another topic or unreadable
    bytes (the SLA monitor dead-letters those; the watch skips them)."""
    kind: type[Ticket] | type[TicketActivity] | type[Escalation]
    if record.topic == topics.tickets:
        kind = Ticket
    elif record.topic == topics.activity:
        kind = TicketActivity
    elif record.topic == topics.escalations:
        kind = Escalation
    else:
        return None
    try:
        return kind.model_validate_json(record.value or b"")
    except ValidationError:
        return None


class ChangeKind(StrEnum):
    NEW = "new"  # a ticket joined the queue
    LEFT = "left"  # answered or resolved: it left the queue
    BACK = "back"  # a customer reply (or reopen) put it back in the queue
    PAUSED = "paused"  # pending, on hold or waiting on the customer: its clock stopped
    RESUMED = "resumed"  # its clock runs again
    ESCALATION = "escalation"


@dataclass(frozen=True, slots=True)
class Change:
    """What one event changed that a log line should say; ``feed`` returns None otherwise."""

    kind: ChangeKind
    ticket_id: str
    ticket: Ticket | None = None
    activity: TicketActivity | None = None
    escalation: Escalation | None = None


@dataclass(frozen=True, slots=True)
class QueueRow:
    """An open ticket: waiting for an agent, with the clock of its current cycle."""

    ticket: Ticket
    clock: TicketClock
    #: Seconds until the current cycle's deadline (negative: overdue); None when no clock
    #: runs (the policy has no next-reply clock).
    seconds_left: float | None
    #: The last step of the ladder the cycle passed ("warn50", "breach2"…), or None.
    step: str | None

    @property
    def overdue(self) -> bool:
        return self.seconds_left is not None and self.seconds_left <= 0

    @property
    def policy(self) -> str:
        """Which clock runs, and its target: ``first 40s`` or ``reply 2 10m``."""
        reply = self.clock.reply
        metric = "first" if reply.cycle == 0 else f"reply {reply.cycle}"
        return f"{metric} {_duration(reply.target_seconds)}"


@dataclass(frozen=True, slots=True)
class PriorityCount:
    open: int
    overdue: int


class WatchState:
    """The queue and the escalations of every partition, with filters. One owner."""

    def __init__(self, policy: SlaPolicy | None = None) -> None:
        self.engine = SlaEngine(policy)
        self.policy = self.engine.policy
        self.tickets: dict[str, Ticket] = {}
        #: Tickets waiting for an agent (a subset of ``tickets``).
        self._queue: set[str] = set()
        self._escalations: OrderedDict[str, Escalation] = OrderedDict()
        self.escalations_seen = 0
        self.activities_seen = 0
        #: Shown priorities and tier (None: every tier); changed by ``press``.
        self.priorities: set[Priority] = set(Priority)
        self.tier: str | None = None
        self._tiers: set[str] = set()

    # --- feeding ------------------------------------------------------------------------------

    def feed(self, event: Event | None, now: datetime) -> Change | None:
        if isinstance(event, Ticket):
            return self.on_ticket(event, now)
        if isinstance(event, TicketActivity):
            return self.on_activity(event, now)
        if isinstance(event, Escalation):
            return self.on_escalation(event)
        return None

    def on_ticket(self, ticket: Ticket, now: datetime) -> Change | None:
        tid = ticket.ticket_id
        if tid in self.tickets:  # a redelivery: same id, nothing new
            return None
        self.tickets[tid] = ticket
        self._tiers.add(ticket.customer_tier or NO_TIER)
        self.engine.on_ticket(ticket, now)  # activities seen before it apply now
        if self._update(tid):
            return Change(ChangeKind.NEW, tid, ticket)
        return None

    def on_activity(self, activity: TicketActivity, now: datetime) -> Change | None:
        self.activities_seen += 1
        tid = activity.ticket_id
        was = tid in self._queue
        paused_before = self._pause_of(tid)
        self.engine.on_activity(activity, now)
        if tid not in self.tickets:
            return None  # kept by the engine until its ticket comes
        now_in = self._update(tid)
        if was == now_in:
            return self._pause_change(activity, paused_before)
        kind = ChangeKind.BACK if now_in else ChangeKind.LEFT
        return Change(kind, tid, self.tickets[tid], activity=activity)

    def _pause_of(self, ticket_id: str) -> tuple[str | None, datetime | None] | None:
        clock = self.engine.get(ticket_id)
        return None if clock is None else (clock.pause, clock.pause_changed_at)

    def _pause_change(
        self, activity: TicketActivity, before: tuple[str | None, datetime | None] | None
    ) -> Change | None:
        """A pause or resume that changed the ticket's clock (not a redelivery)."""
        after = self._pause_of(activity.ticket_id)
        if after is None or after == before:
            return None
        kind = ChangeKind.PAUSED if after[0] is not None else ChangeKind.RESUMED
        return Change(kind, activity.ticket_id, self.tickets[activity.ticket_id], activity=activity)

    def on_escalation(self, escalation: Escalation) -> Change | None:
        key = escalation.escalation_id
        if key in self._escalations:
            return None
        self._escalations[key] = escalation
        self.escalations_seen += 1
        while len(self._escalations) > MAX_ESCALATIONS:
            self._escalations.popitem(last=False)
        return Change(
            ChangeKind.ESCALATION,
            escalation.ticket_id,
            self.tickets.get(escalation.ticket_id),
            escalation=escalation,
        )

    def tick(self, now: datetime) -> None:
        """Move the clocks to ``now`` as the monitor's timer does (the ladder's steps), and
        forget what the monitor forgets (resolved tickets after a while)."""
        self.engine.fire_due(now)
        for tid in self.engine.expire(now):
            self.tickets.pop(tid, None)
            self._queue.discard(tid)
        self.engine.changed()  # nobody keeps a changelog here: drop what it would write
        self.engine.outcomes()

    def _update(self, tid: str) -> bool:
        clock = self.engine.get(tid)
        waiting = clock is not None and clock.status is Status.WAITING_FOR_AGENT
        if waiting:
            self._queue.add(tid)
        else:
            self._queue.discard(tid)
        return waiting

    # --- figures ------------------------------------------------------------------------------

    def row(self, ticket_id: str, now: datetime) -> QueueRow | None:
        """The ticket's row if it is open (waiting for an agent), else None."""
        clock = self.engine.get(ticket_id)
        if ticket_id not in self._queue or clock is None:
            return None
        reply = clock.reply
        # a paused clock stands still: the time left is what it was when the pause began
        left = (reply.due_at - (reply.paused_at or now)).total_seconds() if reply.running else None
        passed = [s for s in reply.emitted if s != "recovered"]
        return QueueRow(self.tickets[ticket_id], clock, left, passed[-1] if passed else None)

    def queue(self, now: datetime) -> list[QueueRow]:
        """Every open ticket, whatever the filters: overdue first (the most overdue on top),
        then by time to breach; tickets without a running clock last."""
        rows = [row for tid in self._queue if (row := self.row(tid, now)) is not None]
        rows.sort(
            key=lambda r: (
                r.seconds_left is None,
                r.seconds_left or 0.0,
                r.ticket.priority.rank,
                -r.ticket.severity,
                r.ticket.ticket_id,
            )
        )
        return rows

    def rows(self, now: datetime) -> list[QueueRow]:
        """The open tickets the filters show, by time to breach."""
        return [r for r in self.queue(now) if self.shows(r.ticket.priority, r.ticket)]

    def counts(self, now: datetime) -> dict[Priority, PriorityCount]:
        """Open and overdue tickets per priority, whatever the filters."""
        open_: dict[Priority, int] = dict.fromkeys(Priority, 0)
        overdue: dict[Priority, int] = dict.fromkeys(Priority, 0)
        for row in self.queue(now):
            open_[row.ticket.priority] += 1
            overdue[row.ticket.priority] += row.overdue
        return {p: PriorityCount(open_[p], overdue[p]) for p in Priority}

    def recent_escalations(self, limit: int | None = None) -> list[Escalation]:
        """The escalations the filters show, newest first."""
        out = []
        for esc in reversed(self._escalations.values()):
            ticket = self.tickets.get(esc.ticket_id)
            # the ticket's tier, else the one the escalation carries (when it has the field)
            tier = ticket.customer_tier if ticket else getattr(esc, "customer_tier", None)
            if self.shows(esc.priority, ticket, tier):
                out.append(esc)
                if limit is not None and len(out) >= limit:
                    break
        return out

    # --- filters ------------------------------------------------------------------------------

    def shows(self, priority: Priority, ticket: Ticket | None, tier: str | None = None) -> bool:
        """Whether the filters show a ticket (or an escalation: its ticket may not have
        been read yet, so its tier can come apart)."""
        if priority not in self.priorities:
            return False
        if self.tier is None:
            return True
        if ticket is not None:
            tier = ticket.customer_tier
        elif tier is None:
            return False  # nothing says which tier
        return (tier or NO_TIER) == self.tier

    def tiers(self) -> list[str]:
        """The tiers seen so far, in the filter's order."""
        known = [t.value for t in TIER_ORDER if t.value in self._tiers]
        other = sorted(t for t in self._tiers if t not in known and t != NO_TIER)
        return [*known, *other, *([NO_TIER] if NO_TIER in self._tiers else [])]

    def toggle_priority(self, priority: Priority) -> None:
        self.priorities ^= {priority}

    def cycle_tier(self) -> None:
        """Every tier → the first tier seen → the next … → every tier again."""
        order: list[str | None] = [None, *self.tiers()]
        at = order.index(self.tier) if self.tier in order else 0
        self.tier = order[(at + 1) % len(order)]

    def clear_filters(self) -> None:
        self.priorities = set(Priority)
        self.tier = None

    def filters(self) -> str:
        """The filters in words: ``all`` or ``P1 P2 · tier enterprise``."""
        parts = []
        if self.priorities != set(Priority):
            parts.append(" ".join(p.value for p in Priority if p in self.priorities) or "none")
        if self.tier is not None:
            parts.append(f"tier {self.tier}")
        return " · ".join(parts) or "all"

    def press(self, key: str) -> bool:
        """Apply one key: ``1``–``4`` toggle P1–P4, ``t`` cycles the tier, ``a`` shows all
        again. True when the key asks to quit (``q``)."""
        if key in ("q", "Q"):
            return True
        if key in ("1", "2", "3", "4"):
            self.toggle_priority(Priority.from_rank(int(key)))
        elif key in ("t", "T"):
            self.cycle_tier()
        elif key in ("a", "A", "0"):
            self.clear_filters()
        return False


KEYS_HELP = "1-4 priority · t tier · a all · q quit"


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
