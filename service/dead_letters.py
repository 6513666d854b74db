"""Build a dead-letter record: the original bytes, key and headers, plus why.

Headers: the original ones, unchanged, then ``triage.dlq.*`` (why), then the CloudEvents
attributes of the dead letter itself (``ce_id`` = ``<topic>/<partition>/<offset>`` of the
input, ``ce_type`` = ``com.triage.feedback.dead_letter.v1``). No ``content-type`` is
added: the value is the original bytes, described by the original headers.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import ValidationError

from schemas.common import rfc3339
from schemas.dead_letter import DeadLetter, DeadLetterReason
from service import cloudevents
from service.observability.logging import get_logger
from service.records import InRecord, OutRecord

log = get_logger("triage.dead_letters")


def dead_letter_record(
    record: InRecord,
    reason: DeadLetterReason,
    detail: str,
    event_id: str | None,
    dlq_topic: str,
    now: datetime,
    source: str = cloudevents.SOURCE_PRIORITIZER,
) -> OutRecord:
    letter = DeadLetter(
        reason=reason,
        detail=detail,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp_ms,
        failed_at=rfc3339(now),
        event_id=event_id,
        key=record.key,
        value=record.value or b"",
        headers=list(record.headers),
    )
    log.warning(
        "dead_letter",
        reason=reason.value,
        detail=detail,
        event_id=event_id,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
    )
    value = record.value or b""
    omitted = [
        *letter.kafka_headers(),
        ("triage.dlq.value_omitted", b"too large to re-publish"),
        ("triage.dlq.value_bytes", str(len(value)).encode()),
        ("triage.dlq.value_sha256", hashlib.sha256(value).hexdigest().encode()),
    ]
    fallback = OutRecord(
        topic=dlq_topic,
        key=record.key,
        value=b"",
        headers=omitted,
        kind="dead_letter",
        label=reason.value,
    )
    return OutRecord(
        oversize_fallback=fallback,
        topic=dlq_topic,
        key=record.key,
        value=record.value or b"",
        headers=letter.kafka_headers()
        + cloudevents.output_headers(
            id=cloudevents.dead_letter_id(record.topic, record.partition, record.offset),
            type=cloudevents.TYPE_DEAD_LETTER,
            source=source,
            time=now,
            subject=event_id,
            content_type=None,
        ),
        kind="dead_letter",
        label=reason.value,
    )


def invalid_record(
    record: InRecord, exc: ValidationError, topic: str, now: datetime, source: str
) -> OutRecord:
    """The dead letter of an input that failed validation: ``invalid_json`` when it is not
    JSON, else ``schema_violation``, with the first error's place and message."""
    err = exc.errors(include_input=False, include_url=False)[0]
    reason = (
        DeadLetterReason.INVALID_JSON
        if err["type"].startswith("json")
        else DeadLetterReason.SCHEMA_VIOLATION
    )
    loc = ".".join(str(p) for p in err["loc"]) or "(root)"
    return dead_letter_record(
        record, reason, f"{loc}: {err['msg']}", None, topic, now, source=source
    )
