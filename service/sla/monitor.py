"""The SLA monitor across the partitions one instance owns: pure, no Kafka.

Inputs (tickets and activity, both keyed by ticket id and co-partitioned) are routed to
the engine of their partition number. Outputs come in two phases, so that a crash can
only ever repeat an escalation (same id: harmless), never lose one:

* phase 0 — escalations (and dead letters for unreadable input), and a
  ``repeat_contact`` activity for each earlier ticket a new ticket names in
  ``related_ticket_ids`` (the customer wrote again): published to the activity topic,
  keyed by the earlier ticket's id, so it reaches the engine that owns that ticket and
  raises its priority there when the new ticket's is higher (``SlaPolicy.
  retarget_on_repeat_contact``; deterministic ``activity_id``, so a repeat is a no-op);
* phase 1 — changelog records of the states those escalations changed, written to the
  changelog partition with the same number.

Each owned partition's ``SlaEngine`` lives in a ``PartitionedState``
(``service.partition_state``, the component the prioritizer's customer histories use
too): ownership across rebalances, restore from the changelog, changelog records and the
snapshots that bound replay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError

from schemas.activity import ActivityKind, TicketActivity
from schemas.escalation import Escalation
from schemas.ticket import Ticket
from service import cloudevents
from service.clock import Clock
from service.dead_letters import invalid_record
from service.observability.logging import get_logger
from service.partition_state import PartitionedState
from service.records import InRecord, OutRecord
from service.sla.engine import SlaEngine, SlaRisk
from service.sla.ladder import Outcome
from service.sla.policy import SlaPolicy
from service.sla.state import PendingActivities, TicketClock, decode_record, encode_record

log = get_logger("triage.sla")
EXPIRE_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SlaTopics:
    tickets: str
    activity: str
    escalations: str
    changelog: str
    dlq: str


class SlaCodec:
    """SLA state as the changelog sees it (``service.partition_state``): keyed by ticket
    id, JSON values (``service.sla.state``)."""

    name = "sla"

    def __init__(self, policy: SlaPolicy) -> None:
        self.policy = policy

    def new(self) -> SlaEngine:
        return SlaEngine(self.policy)

    def load(self, state: SlaEngine, value: bytes) -> None:
        state.restore(decode_record(value))

    def forget(self, state: SlaEngine, key: str) -> None:
        state.forget(key)

    def changes(self, state: SlaEngine) -> list[tuple[str, bytes | None]]:
        return [(tid, _encode(s)) for tid, s in state.changed()]

    def keys(self, state: SlaEngine) -> list[str]:
        return state.ids()

    def encode(self, state: SlaEngine, keys: list[str]) -> list[tuple[str, bytes]]:
        return [(k, encode_record(r)) for k in keys if (r := state.record(k)) is not None]

    def size(self, state: SlaEngine) -> int:
        return len(state)


def _encode(state: TicketClock | PendingActivities | None) -> bytes | None:
    return encode_record(state) if state is not None else None


#: Called for every escalation once the broker acknowledged it (metrics).
EscalationSink = Callable[[Escalation], None]
OutcomeSink = Callable[[Outcome], None]


class SlaMonitor:
    """Every owned partition's SLA engine: input in, escalations and state changes out."""

    def __init__(
        self,
        policy: SlaPolicy,
        topics: SlaTopics,
        clock: Clock,
        on_escalation: EscalationSink | None = None,
        on_outcome: OutcomeSink | None = None,
    ) -> None:
        self.policy = policy
        self.topics = topics
        self.clock = clock
        self.on_escalation: EscalationSink = on_escalation or (lambda e: None)
        self.on_outcome: OutcomeSink = on_outcome or (lambda o: None)
        #: The engines of the owned partitions; changes are phase 1, snapshots phase 2.
        self.state = PartitionedState(SlaCodec(policy), topics.changelog, phase=1)
        self._last_expire: datetime | None = None
        #: partitions whose open tickets get the current policy's targets at the next tick
        self._apply_policy: set[int] = set()
        self._expire_turn = -1

    # --- input --------------------------------------------------------------------------------

    def process(self, batch: Sequence[InRecord]) -> list[OutRecord]:
        now = self.clock.now()
        phase0: list[OutRecord] = []
        for record in batch:
            engine = self.state.get(record.partition)
            try:
                if record.topic == self.topics.tickets:
                    ticket = Ticket.model_validate_json(record.value or b"")
                    if engine.get(ticket.ticket_id) is None:
                        phase0.extend(self._repeat_contacts(ticket))
                    escalations = engine.on_ticket(ticket, now)
                else:
                    activity = TicketActivity.model_validate_json(record.value or b"")
                    escalations = engine.on_activity(activity, now)
            except ValidationError as exc:
                dlq = self.topics.dlq
                phase0.append(invalid_record(record, exc, dlq, now, cloudevents.SOURCE_SLA))
                continue
            phase0.extend(self._escalation_record(e) for e in escalations)
        return phase0 + self._state_records()

    def _repeat_contacts(self, ticket: Ticket) -> list[OutRecord]:
        """A ``repeat_contact`` activity for each earlier ticket the new one names."""
        if not self.policy.retarget_on_repeat_contact:
            return []
        return [
            OutRecord(
                topic=self.topics.activity,
                key=earlier.encode(),
                value=TicketActivity(
                    ticket_id=earlier,
                    kind=ActivityKind.REPEAT_CONTACT,
                    occurred_at=ticket.occurred_at,
                    priority=ticket.priority,
                    related_ticket_id=ticket.ticket_id,
                    activity_id=f"{ticket.ticket_id}:repeat_contact:{earlier}",
                )
                .model_dump_json(exclude_none=True)
                .encode(),
                kind="activity",
                label=ActivityKind.REPEAT_CONTACT.value,
                phase=0,
            )
            for earlier in ticket.related_ticket_ids
            if earlier != ticket.ticket_id
        ]

    # --- policy changes -------------------------------------------------------------------

    def restored(self, partitions: Sequence[int], apply_policy: bool) -> None:
        """After partitions were rebuilt from the changelog: with ``apply_policy``, mark
        them so the next ``fire_due`` gives their open tickets the current policy's
        targets; without, log how many open tickets run other targets (they keep them)."""
        for number in partitions:
            engine = self.state.get(number)
            differ = engine.differs_from_policy()
            if not differ:
                continue
            if apply_policy:
                self._apply_policy.add(number)
            else:
                log.warning(
                    "sla_open_tickets_keep_their_targets",
                    partition=number,
                    tickets=differ,
                    policy=self.policy.version,
                    hint="set TRIAGE_SLA_APPLY_POLICY_TO_OPEN=true to apply the policy to them",
                )

    def _apply_policy_now(self, now: datetime) -> list[Escalation]:
        out: list[Escalation] = []
        for number in sorted(self._apply_policy & set(self.state.owned)):
            changed, escalations = self.state.get(number).apply_policy(now)
            log.warning(
                "sla_policy_applied_to_open_tickets",
                partition=number,
                tickets=changed,
                policy=self.policy.version,
                escalations=len(escalations),
            )
            out += escalations
        self._apply_policy.clear()
        return out

    # --- timers -------------------------------------------------------------------------------

    def fire_due(self) -> list[OutRecord]:
        """Escalations whose time has come, plus the state they changed."""
        now = self.clock.now()
        phase0 = [self._escalation_record(e) for e in self._apply_policy_now(now)]
        for engine in self.state.states():
            phase0.extend(self._escalation_record(e) for e in engine.fire_due(now))
        # Forget old tickets one partition per tick, in turn, so each partition is swept
        # every EXPIRE_EVERY but no single tick scans every open clock (a sweep of a
        # million clocks takes a good half second, during which no timer fires).
        numbers = sorted(self.state.owned)
        if numbers:
            step = EXPIRE_EVERY / len(numbers)
            if self._last_expire is None or now - self._last_expire >= step:
                self._last_expire = now
                self._expire_turn = (self._expire_turn + 1) % len(numbers)
                self.state.get(numbers[self._expire_turn]).expire(now)
        return phase0 + self._state_records()

    def next_due(self) -> datetime | None:
        times = [t for e in self.state.states() if (t := e.next_due()) is not None]
        return min(times) if times else None

    def open_by_priority(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for engine in self.state.states():
            for prio, n in engine.stats().open_by_priority.items():
                totals[prio.value] = totals.get(prio.value, 0) + n
        return totals

    def risk(self) -> SlaRisk:
        """Tickets at risk / overdue and the next deadline, over every owned partition."""
        now = self.clock.now()
        return SlaRisk.merge([e.risk(now) for e in self.state.states()], now)

    # --- outputs ------------------------------------------------------------------------------

    def _escalation_record(self, esc: Escalation) -> OutRecord:
        return escalation_record(esc, self.topics.escalations, self.on_escalation)

    def _state_records(self) -> list[OutRecord]:
        """The cycles that ended (to the outcome sink), then the changelog records."""
        for engine in self.state.states():
            for outcome in engine.outcomes():
                self.on_outcome(outcome)
        return self.state.changelog_records()


def escalation_record(
    esc: Escalation, topic: str, sink: EscalationSink, *, standby: bool = False
) -> OutRecord:
    """An escalation as its record on ``topic``, keyed by ticket id; ``sink`` gets it once
    the broker acknowledged it. One home for the owner's and the standby clocks' records
    (``service.sla.standby``), so both publish the same bytes under the same id."""
    log.info(
        "escalation",
        escalation_id=esc.escalation_id,
        ticket_id=esc.ticket_id,
        kind=esc.kind.value,
        level=esc.level,
        priority=esc.priority.value,
        overdue_seconds=round(esc.overdue_seconds, 3),
        standby=standby,
    )
    return OutRecord(
        topic=topic,
        key=esc.ticket_id.encode(),
        value=esc.model_dump_json().encode(),
        headers=escalation_headers(esc),
        kind="escalation",
        label=esc.kind.value,
        phase=0,
        on_ack=lambda _offset: sink(esc),
    )


def escalation_headers(esc: Escalation) -> list[tuple[str, bytes]]:
    """CloudEvents binary-mode headers of an escalation (``ce_id`` = the escalation id)."""
    return cloudevents.output_headers(
        id=esc.escalation_id,
        type=cloudevents.escalation_type(esc.kind.value),
        source=cloudevents.SOURCE_SLA,
        time=esc.emitted_at,
        subject=esc.ticket_id,
        dataschema=cloudevents.schema_url("escalation"),
    )
