"""The notify loop's handler (pure): an unreadable escalation becomes a dead letter.

Readable escalations produce no Kafka output: they go to Alertmanager in the loop's
delivery step (``service.notify.notifier.Notifier.deliver``), before the commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from schemas.escalation import Escalation
from service.clock import Clock
from service.dead_letters import invalid_record
from service.records import InRecord, OutRecord

#: CloudEvents source of the dead letters this role writes.
SOURCE_NOTIFY = "/triage/notify"


class EscalationInput:
    def __init__(self, dlq_topic: str, clock: Clock) -> None:
        self.dlq_topic = dlq_topic
        self.clock = clock

    def process(self, batch: Sequence[InRecord]) -> list[OutRecord]:
        out: list[OutRecord] = []
        for record in batch:
            try:
                Escalation.model_validate_json(record.value or b"")
            except ValidationError as exc:
                out.append(
                    invalid_record(record, exc, self.dlq_topic, self.clock.now(), SOURCE_NOTIFY)
                )
        return out
