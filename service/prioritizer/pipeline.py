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
from schemas.ticket import Ticket
from service import cloudevents
from service.clock import Clock
from service.dead_letters import dead_letter_record
from service.observability.logging import get_logger
from service.prioritizer.decode import DecodeFailure, DecodeLimits, decode_feedback
from service.prioritizer.history import CustomerHistory
from service.records import InRecord, OutRecord
from service.rules.engine import RuleEngine, build_ticket, ticket_id_for

log = get_logger("triage.prioritizer")
_URGENT = frozenset({"P1", "P2"})


@dataclass(frozen=True, slots=True)
class Topics:
    tickets: str
    dlq: str


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
        #: Optional per-customer history (repeat contacts); the caller owns its changelog.
        self.history = history
        self._rules_version = engine.rules.version

    def process(self, batch: Sequence[InRecord]) -> list[OutRecord]:
        now = self.clock.now()
        out: list[OutRecord] = []
        for record in batch:
            try:
                event = decode_feedback(record.value, self.limits, now, record.headers)
            except DecodeFailure as failure:
                out.append(self._dead_letter(record, failure, now))
                continue
            try:
                history = self.history
                related: list[str] = []
                if history is not None:
                    related = history.recent(
                        event.customer.id,
                        event.occurred_at,
                        self.engine.repeat_window,
                        exclude=ticket_id_for(event.event_id),
                    )
                assessment = self.engine.assess(event, related)
                ticket = build_ticket(event, assessment, now, self._rules_version)
                value = ticket.model_dump_json().encode()
                if history is not None:
                    history.record(
                        ticket.customer_id,
                        ticket.ticket_id,
                        ticket.occurred_at,
                        negative=ticket.priority.value in _URGENT,
                    )
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
                    headers=ticket_headers(ticket),
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


def ticket_headers(ticket: Ticket) -> list[tuple[str, bytes]]:
    """CloudEvents binary-mode headers of a ticket (``ce_id`` = the ticket id)."""
    return cloudevents.output_headers(
        id=ticket.ticket_id,
        type=cloudevents.TYPE_TICKET_CREATED,
        source=cloudevents.SOURCE_PRIORITIZER,
        time=ticket.created_at,
        subject=ticket.ticket_id,
        dataschema=cloudevents.schema_url("ticket"),
    )
