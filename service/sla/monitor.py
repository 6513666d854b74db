"""The SLA monitor across the partitions one instance owns: pure, no Kafka.

Inputs (tickets and activity, both keyed by ticket id and co-partitioned) are routed to
the engine of their partition number. Outputs come in two phases, so that a crash can
only ever repeat an escalation (same id: harmless), never lose one:

* phase 0 — escalations (and dead letters for unreadable input);
* phase 1 — changelog records of the states those escalations changed, written to the
  changelog partition with the same number.

Changelog replay is bounded by snapshots: when a partition has written many records
since its last snapshot, every live state is written again; once all of them are
acknowledged, the offset of the first becomes the partition's *base*. Every changelog
record carries the base current when it was written in a ``triage.base`` header, so
recovery reads the last record, seeks to its base and replays from there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import ValidationError

from schemas.activity import TicketActivity
from schemas.common import rfc3339
from schemas.dead_letter import DeadLetterReason
from schemas.escalation import Escalation
from schemas.ticket import Ticket
from service import cloudevents
from service.changelog_state import BASE_HEADER as BASE_HEADER
from service.changelog_state import ChangelogCursor
from service.clock import Clock
from service.dead_letters import dead_letter_record
from service.observability.logging import get_logger
from service.records import InRecord, OutRecord
from service.sla.engine import SlaEngine, SlaRisk
from service.sla.ladder import Outcome
from service.sla.policy import SlaPolicy
from service.sla.state import decode_record, encode_record

log = get_logger("triage.sla")
#: Snapshot when a partition wrote more than max(MIN, FACTOR x live states) records.
SNAPSHOT_MIN_RECORDS = 10_000
SNAPSHOT_FACTOR = 2
EXPIRE_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SlaTopics:
    tickets: str
    activity: str
    escalations: str
    changelog: str
    dlq: str


@dataclass(slots=True)
class _Partition:
    engine: SlaEngine
    cursor: ChangelogCursor = field(default_factory=ChangelogCursor)

    @property
    def base(self) -> int:
        return self.cursor.base

    @base.setter
    def base(self, value: int) -> None:
        self.cursor.base = value


#: Called for every escalation once the broker acknowledged it (metrics).
EscalationSink = Callable[[Escalation], None]
OutcomeSink = Callable[[Outcome], None]


@dataclass
class SlaMonitor:
    policy: SlaPolicy
    topics: SlaTopics
    clock: Clock
    on_escalation: EscalationSink = field(default=lambda e: None)
    on_outcome: OutcomeSink = field(default=lambda o: None)
    partitions: dict[int, _Partition] = field(default_factory=dict)
    _last_expire: datetime | None = None
    _expire_turn: int = -1

    # --- partition ownership ----------------------------------------------------------------

    def restore(self, partition: int, records: Iterable[tuple[bytes | None, bytes | None]]) -> int:
        """Rebuild a partition's engine from its changelog (from its base); returns states."""
        engine = SlaEngine(self.policy)
        count = 0
        for key, value in records:
            if not value:  # tombstone
                if key is not None:
                    engine.forget(key.decode())
                continue
            try:
                engine.restore(decode_record(value))
                count += 1
            except ValidationError:
                log.error("changelog_record_unreadable", partition=partition)
        engine.changed()  # restored states are already in the changelog
        self.partitions[partition] = _Partition(engine)
        log.info("sla_partition_restored", partition=partition, records=count, tickets=len(engine))
        return count

    def set_base(self, partition: int, base: int) -> None:
        if partition in self.partitions:
            self.partitions[partition].base = base

    def drop(self, partition: int) -> None:
        self.partitions.pop(partition, None)

    # --- input --------------------------------------------------------------------------------

    def process(self, batch: Sequence[InRecord]) -> list[OutRecord]:
        now = self.clock.now()
        phase0: list[OutRecord] = []
        for record in batch:
            part = self.partitions.get(record.partition)
            if part is None:  # not restored (should not happen): build empty state
                self.restore(record.partition, [])
                part = self.partitions[record.partition]
            try:
                if record.topic == self.topics.tickets:
                    ticket = Ticket.model_validate_json(record.value or b"")
                    escalations = part.engine.on_ticket(ticket, now)
                else:
                    activity = TicketActivity.model_validate_json(record.value or b"")
                    escalations = part.engine.on_activity(activity, now)
            except ValidationError as exc:
                err = exc.errors(include_input=False, include_url=False)[0]
                reason = (
                    DeadLetterReason.INVALID_JSON
                    if err["type"].startswith("json")
                    else DeadLetterReason.SCHEMA_VIOLATION
                )
                loc = ".".join(str(p) for p in err["loc"]) or "(root)"
                phase0.append(
                    dead_letter_record(
                        record,
                        reason,
                        f"{loc}: {err['msg']}",
                        None,
                        self.topics.dlq,
                        now,
                        source=cloudevents.SOURCE_SLA,
                    )
                )
                continue
            phase0.extend(self._escalation_record(e) for e in escalations)
        return phase0 + self._state_records(now)

    # --- timers -------------------------------------------------------------------------------

    def fire_due(self) -> list[OutRecord]:
        """Escalations whose time has come, plus the state they changed."""
        now = self.clock.now()
        phase0: list[OutRecord] = []
        for part in self.partitions.values():
            phase0.extend(self._escalation_record(e) for e in part.engine.fire_due(now))
        # Forget old tickets one partition per tick, in turn, so each partition is swept
        # every EXPIRE_EVERY but no single tick scans every open clock (a sweep of a
        # million clocks takes a good half second, during which no timer fires).
        numbers = sorted(self.partitions)
        if numbers:
            step = EXPIRE_EVERY / len(numbers)
            if self._last_expire is None or now - self._last_expire >= step:
                self._last_expire = now
                self._expire_turn = (self._expire_turn + 1) % len(numbers)
                self.partitions[numbers[self._expire_turn]].engine.expire(now)
        return phase0 + self._state_records(now)

    def next_due(self) -> datetime | None:
        times = [t for p in self.partitions.values() if (t := p.engine.next_due()) is not None]
        return min(times) if times else None

    def open_by_priority(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for part in self.partitions.values():
            for prio, n in part.engine.stats().open_by_priority.items():
                totals[prio.value] = totals.get(prio.value, 0) + n
        return totals

    def risk(self) -> SlaRisk:
        """Tickets at risk / overdue and the next deadline, over every owned partition."""
        now = self.clock.now()
        return SlaRisk.merge([p.engine.risk(now) for p in self.partitions.values()], now)

    # --- outputs ------------------------------------------------------------------------------

    def _escalation_record(self, esc: Escalation) -> OutRecord:
        log.info(
            "escalation",
            escalation_id=esc.escalation_id,
            ticket_id=esc.ticket_id,
            kind=esc.kind.value,
            level=esc.level,
            priority=esc.priority.value,
            overdue_seconds=round(esc.overdue_seconds, 3),
        )
        sink = self.on_escalation
        return OutRecord(
            topic=self.topics.escalations,
            key=esc.ticket_id.encode(),
            value=esc.model_dump_json().encode(),
            headers=escalation_headers(esc),
            kind="escalation",
            label=esc.kind.value,
            phase=0,
            on_ack=lambda _offset: sink(esc),
        )

    def _state_records(self, now: datetime) -> list[OutRecord]:
        out: list[OutRecord] = []
        for number, part in self.partitions.items():
            for outcome in part.engine.outcomes():
                self.on_outcome(outcome)
            changes = part.engine.changed()
            header = part.cursor.headers()
            for ticket_id, state in changes:
                out.append(
                    OutRecord(
                        topic=self.topics.changelog,
                        key=ticket_id.encode(),
                        value=encode_record(state) if state is not None else b"",
                        headers=header,
                        kind="changelog",
                        partition=number,
                        phase=1,
                    )
                )
            if part.cursor.wrote(
                len(changes), len(part.engine), SNAPSHOT_MIN_RECORDS, SNAPSHOT_FACTOR
            ):
                out.extend(self._snapshot(number, part))
        return out

    def _snapshot(self, number: int, part: _Partition) -> list[OutRecord]:
        """Every live state again; the first one's offset becomes the new base."""
        states = part.engine.snapshot()
        header = part.cursor.headers()

        def done(base: int) -> None:
            log.info("sla_snapshot_written", partition=number, base=base, states=len(states))

        acked = part.cursor.begin_snapshot(len(states), done)
        return [
            OutRecord(
                topic=self.topics.changelog,
                key=s.ticket_id.encode(),
                value=encode_record(s),
                headers=header,
                kind="changelog",
                partition=number,
                phase=2,
                on_ack=acked,
            )
            for s in states
        ]


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


def describe_time(when: datetime | None) -> str:
    return rfc3339(when) if when else "-"
