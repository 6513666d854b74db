"""One batch of feedback records → tickets and dead letters, in input order.

Every input record yields exactly one output record: a ticket on the tickets topic or
a dead letter carrying the original bytes. That one-to-one mapping is what lets the
Kafka loop commit an offset once its output is acknowledged.

Repeat contacts: with ``Topics.customer_changelog`` set, the prioritizer keeps one
``CustomerHistory`` per input partition (the feedback topic is keyed by customer id) and
returns, after the tickets and dead letters, the customer records the batch changed, for
the changelog partition with the input's number, plus a snapshot now and then — the
snapshot scheme of the SLA monitor (``service.changelog_state``).

Phases: the changed records go out with the tickets (phase 0, one round trip per batch).
Unlike the SLA monitor's state, which says an escalation *was sent*, a customer record
may safely get ahead of its ticket: if the ticket is lost in a crash, its event is
redelivered (its offset was not committed) and yields the same ticket id, which the
history already excludes from its own ``related_ticket_ids``. A snapshot (phase 1) goes
out only once the records before it are acknowledged, so its base never skips one.
The Kafka side (restore on assignment, expiry timer) is ``service.kafka.prioritizer_runtime``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from schemas.common import rfc3339
from schemas.dead_letter import DeadLetterReason
from service.changelog_state import ChangelogCursor
from service.clock import Clock
from service.cloudevents import ticket_headers
from service.dead_letters import dead_letter_record
from service.observability.logging import get_logger
from service.prioritizer.decode import DecodeFailure, DecodeLimits, decode_feedback
from service.prioritizer.history import CustomerHistory, CustomerRecord
from service.prioritizer.ticket_json import ticket_json
from service.records import InRecord, OutRecord
from service.rules.engine import RuleEngine, ticket_id_for

log = get_logger("triage.prioritizer")
_URGENT = frozenset({"P1", "P2"})


@dataclass(frozen=True, slots=True)
class Topics:
    tickets: str
    dlq: str
    #: Customer histories' changelog (co-partitioned with the feedback topic); None = off.
    customer_changelog: str | None = None


@dataclass(slots=True)
class CustomerPartition:
    """One input partition's customer histories and its changelog bookkeeping."""

    history: CustomerHistory
    cursor: ChangelogCursor = field(default_factory=ChangelogCursor)


class Prioritizer:
    """The pure pipeline behind ``triage run --role prioritizer``."""

    def __init__(
        self,
        engine: RuleEngine,
        topics: Topics,
        limits: DecodeLimits,
        clock: Clock,
        history: CustomerHistory | None = None,
    ) -> None:
        self.engine = engine
        self.topics = topics
        self.limits = limits
        self.clock = clock
        if history is not None and topics.customer_changelog is not None:
            raise ValueError("a single history or per-partition histories, not both")
        #: Optional single history shared by every partition; the caller owns its state.
        self.history = history
        #: Per input partition (with ``topics.customer_changelog``): histories + changelog.
        self.partitions: dict[int, CustomerPartition] = {}
        self._rules_version = engine.rules.version

    @property
    def histories(self) -> dict[int, CustomerHistory]:
        """The customer history of every owned input partition."""
        return {n: p.history for n, p in self.partitions.items()}

    # --- partition ownership (per-partition histories) -------------------------------------

    def new_history(self) -> CustomerHistory:
        return CustomerHistory(window=self.engine.repeat_window)

    def restore(
        self, partition: int, records: Iterable[tuple[bytes | None, bytes | None]], base: int = 0
    ) -> int:
        """Rebuild a partition's history from its changelog (from ``base``); returns records."""
        history = self.new_history()
        count = 0
        for key, value in records:
            if not value:  # tombstone
                if key is not None:
                    history.forget(key.decode())
                continue
            try:
                history.restore(CustomerRecord.from_json(value))
                count += 1
            except ValidationError:
                log.error("customer_changelog_record_unreadable", partition=partition)
        history.changed()  # restored state is already in the changelog
        self.partitions[partition] = CustomerPartition(history, ChangelogCursor(base=base))
        log.info(
            "customer_partition_restored",
            partition=partition,
            records=count,
            customers=len(history),
        )
        return count

    def _history_for(self, partition: int) -> CustomerHistory | None:
        if self.history is not None:
            return self.history
        if self.topics.customer_changelog is None:
            return None
        part = self.partitions.get(partition)
        if part is None:  # not restored (should not happen): start empty
            self.restore(partition, [])
            part = self.partitions[partition]
        return part.history

    def expire(self) -> list[OutRecord]:
        """Forget tickets older than the window; the changed records and tombstones."""
        now = self.clock.now()
        gone = 0
        for part in self.partitions.values():
            gone += len(part.history.expire(now))
        if gone:
            log.info("customers_expired", customers=gone)
        return self._changelog_records()

    def process(self, batch: Sequence[InRecord]) -> list[OutRecord]:
        """One output per input record, in input order (then changelog records).

        The hot path: per event, decode and validate, look up the customer's recent
        tickets, assess, write the ticket JSON (``ticket_json``). Nothing is logged per
        event at INFO (metrics count tickets per batch); ``ticket_created`` is DEBUG."""
        now = self.clock.now()
        created_at = rfc3339(now)
        out: list[OutRecord] = []
        append = out.append
        tickets_topic = self.topics.tickets
        engine = self.engine
        window = engine.repeat_window
        rules_version = self._rules_version
        # asked once per batch: the DEBUG line is not even built otherwise
        debug = log.is_enabled_for(logging.DEBUG)
        for record in batch:
            try:
                event = decode_feedback(record.value, self.limits, now, record.headers)
            except DecodeFailure as failure:
                append(self._dead_letter(record, failure, now))
                continue
            try:
                ticket_id = ticket_id_for(event.event_id)
                history = self._history_for(record.partition)
                related: list[str] = []
                if history is not None:
                    related = history.recent(
                        event.customer.id, event.occurred_at, window, exclude=ticket_id
                    )
                assessment = engine.assess(event, related)
                value = ticket_json(event, assessment, ticket_id, created_at, rules_version)
                priority = assessment.priority.value
                if history is not None:
                    history.record(
                        event.customer.id,
                        ticket_id,
                        event.occurred_at,
                        negative=priority in _URGENT,
                    )
            except Exception as exc:  # a rule bug must not stop the stream
                log.exception("scoring_failed", event_id=event.event_id, offset=record.offset)
                fault = DecodeFailure(
                    DeadLetterReason.PROCESSING_ERROR, f"{type(exc).__name__}", event.event_id
                )
                append(self._dead_letter(record, fault, now))
                continue
            if debug:
                log.debug(
                    "ticket_created",
                    event_id=event.event_id,
                    ticket_id=ticket_id,
                    priority=priority,
                    severity=assessment.severity,
                    category=assessment.category,
                    rules=[r.rule_id for r in assessment.reasons],
                    management_attention=assessment.management_attention,
                )
            append(
                OutRecord(
                    topic=tickets_topic,
                    key=ticket_id.encode(),
                    value=value,
                    headers=ticket_headers(ticket_id, created_at),
                    kind="ticket",
                    label=priority,
                    channel=event.channel,
                )
            )
        if self.partitions:
            out.extend(self._changelog_records())
        return out

    def _changelog_records(self) -> list[OutRecord]:
        topic = self.topics.customer_changelog
        if topic is None:
            return []
        out: list[OutRecord] = []
        for number, part in self.partitions.items():
            changes = part.history.changed()
            if not changes:
                continue
            headers = part.cursor.headers()
            out.extend(
                OutRecord(
                    topic=topic,
                    key=cid.encode(),
                    value=rec.to_json() if rec is not None else b"",
                    headers=headers,
                    kind="changelog",
                    partition=number,
                    phase=0,
                )
                for cid, rec in changes
            )
            if part.cursor.wrote(len(changes), len(part.history)):
                out.extend(self._snapshot(topic, number, part))
        return out

    def _snapshot(self, topic: str, number: int, part: CustomerPartition) -> list[OutRecord]:
        """Every live customer record again; the first one's offset becomes the base."""
        records = part.history.snapshot()
        headers = part.cursor.headers()

        def done(base: int) -> None:
            log.info(
                "customer_snapshot_written", partition=number, base=base, customers=len(records)
            )

        acked = part.cursor.begin_snapshot(len(records), done)
        return [
            OutRecord(
                topic=topic,
                key=r.customer_id.encode(),
                value=r.to_json(),
                headers=headers,
                kind="changelog",
                partition=number,
                phase=1,
                on_ack=acked,
            )
            for r in records
        ]

    def _dead_letter(self, record: InRecord, failure: DecodeFailure, now: datetime) -> OutRecord:
        return dead_letter_record(
            record, failure.reason, failure.detail, failure.event_id, self.topics.dlq, now
        )
