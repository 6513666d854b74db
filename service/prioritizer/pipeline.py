"""One batch of feedback records → tickets and dead letters, in input order.

Every input record yields exactly one output record: a ticket on the tickets topic or
a dead letter carrying the original bytes. That one-to-one mapping is what lets the
Kafka loop commit an offset once its output is acknowledged.

Repeat contacts: with ``Topics.customer_changelog`` set, the prioritizer keeps one
``CustomerHistory`` per input partition (the feedback topic is keyed by customer id) in
a ``PartitionedState`` (``service.partition_state``: ownership, restore, changelog
records and snapshots, the same component as the SLA monitor's) and returns, after the
tickets and dead letters, the customer records the batch changed, for the changelog
partition with the input's number, plus a snapshot now and then.

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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from schemas.common import rfc3339
from schemas.dead_letter import DeadLetterReason
from service.clock import Clock
from service.cloudevents import ticket_headers
from service.dead_letters import dead_letter_record
from service.observability.logging import get_logger
from service.partition_state import PartitionedState
from service.prioritizer.decode import DecodeFailure, DecodeLimits, decode_feedback
from service.prioritizer.history import CustomerCodec, CustomerHistory
from service.prioritizer.ticket_json import ticket_json
from service.records import InRecord, OutRecord, new_out_record
from service.rules.engine import RuleEngine, ticket_id_for
from service.sla.policy import SlaPolicy, load_policy

log = get_logger("triage.prioritizer")
_URGENT = frozenset({"P1", "P2"})


@dataclass(frozen=True, slots=True)
class Topics:
    tickets: str
    dlq: str
    #: Customer histories' changelog (co-partitioned with the feedback topic); None = off.
    customer_changelog: str | None = None


class Prioritizer:
    """The pure pipeline behind ``triage run --role prioritizer``."""

    def __init__(
        self,
        engine: RuleEngine,
        topics: Topics,
        limits: DecodeLimits,
        clock: Clock,
        policy: SlaPolicy | None = None,
    ) -> None:
        """``policy``: the SLA policy whose targets the tickets get (the one the monitor
        keeps); the shipped default when None."""
        self.engine = engine
        self.policy = policy or load_policy()
        self.topics = topics
        self.limits = limits
        self.clock = clock
        #: Customer histories per owned input partition; None without repeat contacts.
        self.state: PartitionedState[CustomerHistory] | None = None
        if topics.customer_changelog is not None:
            self.state = PartitionedState(
                CustomerCodec(engine.repeat_window), topics.customer_changelog, phase=0
            )
        self._rules_version = engine.rules.version

    def expire(self) -> list[OutRecord]:
        """Forget tickets older than the window; the changed records and tombstones."""
        if self.state is None:
            return []
        now = self.clock.now()
        gone = sum(len(history.expire(now)) for history in self.state.states())
        if gone:
            log.info("customers_expired", customers=gone)
        return self.state.changelog_records()

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
        policy = self.policy
        # asked once per batch: the DEBUG line is not even built otherwise
        debug = log.is_enabled_for(logging.DEBUG)
        state = self.state
        for record in batch:
            try:
                event = decode_feedback(record.value, self.limits, now, record.headers)
            except DecodeFailure as failure:
                append(self._dead_letter(record, failure, now))
                continue
            try:
                ticket_id = ticket_id_for(event.event_id)
                history = state.get(record.partition) if state is not None else None
                related: list[str] = []
                if history is not None:
                    related = history.recent(
                        event.customer.id, event.occurred_at, window, exclude=ticket_id
                    )
                assessment = engine.assess(event, related)
                value = ticket_json(event, assessment, ticket_id, created_at, rules_version, policy)
                priority = assessment.priority._value_  # (``value`` is a slow property)
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
                    rules=[r["rule_id"] for r in assessment.reason_fields],
                    management_attention=assessment.management_attention,
                )
            # positional, in the fields' order (a unit test holds the order): topic, key,
            # value, headers, kind, label, channel
            append(
                new_out_record(
                    tickets_topic,
                    ticket_id.encode(),
                    value,
                    ticket_headers(ticket_id, created_at),
                    "ticket",
                    priority,
                    event.channel,
                )
            )
        if state is not None:
            out.extend(state.changelog_records())
        return out

    def _dead_letter(self, record: InRecord, failure: DecodeFailure, now: datetime) -> OutRecord:
        return dead_letter_record(
            record, failure.reason, failure.detail, failure.event_id, self.topics.dlq, now
        )
