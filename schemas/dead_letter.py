"""Output: a dead letter (``feedback.dlq``).

The record's **value is the original bytes, unchanged**, and its key is the original
key, so a dead letter can be replayed as-is once the cause is fixed. What happened is
told in headers, next to the original headers (kept as they were):

============================  ==============================================
``triage.dlq.reason``         machine-readable reason (see DeadLetterReason)
``triage.dlq.detail``         human-readable detail (no customer text)
``triage.dlq.topic``          topic the event was read from
``triage.dlq.partition``      its partition (decimal)
``triage.dlq.offset``         its offset (decimal)
``triage.dlq.timestamp``      its Kafka timestamp in ms (decimal)
``triage.dlq.failed_at``      when triage gave up on it (RFC 3339)
``triage.dlq.event_id``       the event id, when it could be read
============================  ==============================================

After them come the dead letter's own CloudEvents headers (``ce_specversion``, ``ce_id``
= ``<topic>/<partition>/<offset>``, ``ce_type`` = ``com.triage.feedback.dead_letter.v1``,
``ce_source``, ``ce_time``). The original headers are exactly those before the first
``triage.dlq.*`` header.

``DeadLetter`` is the parsed view of such a record, for tools and tests.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

HEADER_PREFIX = "triage.dlq."


class DeadLetterReason(StrEnum):
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    TOO_DEEP = "too_deep"
    TOO_LARGE = "too_large"
    EMPTY = "empty"
    MISSING_FIELD = "missing_field"
    OUT_OF_RANGE = "out_of_range"
    TIMESTAMP_WITHOUT_OFFSET = "timestamp_without_offset"
    SCHEMA_VIOLATION = "schema_violation"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
    PROCESSING_ERROR = "processing_error"
    #: An object repeats a key (last-wins would hide a tampered value).
    DUPLICATE_KEY = "duplicate_key"
    #: NaN/Infinity literals, or a number too large for a double (10^400, 1e400).
    INVALID_NUMBER = "invalid_number"
    #: ``event_id`` or ``customer.id`` holds a non-printable character (control, bidi
    #: override, zero-width, line separator, unassigned …).
    INVALID_ID = "invalid_id"


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    reason: DeadLetterReason
    detail: str
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None
    failed_at: str
    event_id: str | None = None
    key: bytes | None = Field(default=None, description="Original key, unchanged.")
    value: bytes = Field(description="Original value, unchanged.")
    headers: list[tuple[str, bytes]] = Field(
        default_factory=list, description="Original headers, unchanged."
    )

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        """Original headers followed by the ``triage.dlq.*`` headers."""
        extra = {
            "reason": self.reason.value,
            "detail": self.detail,
            "topic": self.topic,
            "partition": str(self.partition),
            "offset": str(self.offset),
            "failed_at": self.failed_at,
        }
        if self.timestamp_ms is not None:
            extra["timestamp"] = str(self.timestamp_ms)
        if self.event_id is not None:
            extra["event_id"] = self.event_id
        return [*self.headers, *((HEADER_PREFIX + k, v.encode()) for k, v in extra.items())]

    @classmethod
    def from_record(
        cls, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> DeadLetter:
        """Rebuild the view from a record read off the dead-letter topic."""
        meta: dict[str, str] = {}
        original: list[tuple[str, bytes]] = []
        seen_meta = False
        for name, raw in headers:
            if name.startswith(HEADER_PREFIX):
                meta[name.removeprefix(HEADER_PREFIX)] = raw.decode()
                seen_meta = True
            elif not seen_meta:  # after triage.dlq.*: the dead letter's own (ce_*) headers
                original.append((name, raw))
        ts = meta.get("timestamp")
        return cls(
            reason=DeadLetterReason(meta["reason"]),
            detail=meta.get("detail", ""),
            topic=meta["topic"],
            partition=int(meta["partition"]),
            offset=int(meta["offset"]),
            timestamp_ms=int(ts) if ts else None,
            failed_at=meta.get("failed_at", ""),
            event_id=meta.get("event_id"),
            key=key,
            value=value,
            headers=original,
        )
