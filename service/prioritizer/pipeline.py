"""One batch of feedback records → tickets and dead letters, in input order.

Every input record yields exactly one output record: a ticket on the tickets topic or
a dead letter carrying the original bytes. That one-to-one mapping is what lets the
Kafka loop commit an offset once its output is acknowledged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from schemas.dead_letter import DeadLetterReason
from service.clock import Clock
from service.dead_letters import dead_letter_record
from service.observability.logging import get_logger
from service.prioritizer.decode import DecodeFailure, DecodeLimits, decode_feedback
from service.records import InRecord, OutRecord
from service.rules.engine import RuleEngine, build_ticket

log = get_logger("triage.prioritizer")
_JSON = [("content-type", b"application/json")]
_URGENT = frozenset({"P1", "P2"})


@dataclass(frozen=True, slots=True)
class Topics:
    tickets: str
    dlq: str


class Prioritizer:
    """The pure pipeline behind ``triage run --role prioritizer``."""

    def __init__(
        self, engine: RuleEngine, topics: Topics, limits: DecodeLimits, clock: Clock
    ) -> None:
        self.engine = engine
        self.topics = topics
        self.limits = limits
        self.clock = clock
        self._rules_version = engine.rules.version

    def process(self, batch: Sequence[InRecord]) -> list[OutRecord]:
        now = self.clock.now()
        out: list[OutRecord] = []
        for record in batch:
            try:
                event = decode_feedback(record.value, self.limits, now)
            except DecodeFailure as failure:
                out.append(self._dead_letter(record, failure, now))
                continue
            try:
                assessment = self.engine.assess(event)
                ticket = build_ticket(event, assessment, now, self._rules_version)
                value = ticket.model_dump_json().encode()
            except Exception as exc:  # a rule bug must not stop the stream
                log.exception("scoring_failed", event_id=event.event_id, offset=record.offset)
                fault = DecodeFailure(
                    DeadLetterReason.PROCESSING_ERROR, f"{type(exc).__name__}", event.event_id
                )
                out.append(self._dead_letter(record, fault, now))
                continue
            priority = ticket.priority.value
            if priority in _URGENT:
                log.info(
                    "ticket_created",
                    event_id=ticket.event_id,
                    ticket_id=ticket.ticket_id,
                    priority=priority,
                    severity=ticket.severity,
                    category=ticket.category,
                    rules=[r.rule_id for r in ticket.reasons],
                    management_attention=ticket.management_attention,
                )
            out.append(
                OutRecord(
                    topic=self.topics.tickets,
                    key=ticket.ticket_id.encode(),
                    value=value,
                    headers=list(_JSON),
                    kind="ticket",
                    label=priority,
                    channel=ticket.channel,
                )
            )
        return out

    def _dead_letter(self, record: InRecord, failure: DecodeFailure, now: datetime) -> OutRecord:
        return dead_letter_record(
            record, failure.reason, failure.detail, failure.event_id, self.topics.dlq, now
        )
