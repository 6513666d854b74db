"""Decode and validate one feedback event, or say precisely why it cannot be.

Checks run cheapest first: size, UTF-8, JSON, shape (object, depth), schema, then
plausibility of the timestamp. A failure names a ``DeadLetterReason`` and a detail
that never quotes the customer's text.

CloudEvents (``service.cloudevents``): binary mode (``ce_*`` headers) and structured mode
(``content-type: application/cloudevents+json``, the event in ``data``) are accepted as
well as plain JSON; an invalid CloudEvent is a ``schema_violation``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.dead_letter import DeadLetterReason
from schemas.feedback import FeedbackEvent
from service import cloudevents


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    max_bytes: int = 512 * 1024
    max_depth: int = 32
    max_future_skew: timedelta = timedelta(days=1)
    max_age: timedelta = timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class DecodeFailure(Exception):
    reason: DeadLetterReason
    detail: str
    event_id: str | None = None


_FIELD_REASONS = {
    "missing": DeadLetterReason.MISSING_FIELD,
    "timezone_aware": DeadLetterReason.TIMESTAMP_WITHOUT_OFFSET,
    "greater_than_equal": DeadLetterReason.OUT_OF_RANGE,
    "less_than_equal": DeadLetterReason.OUT_OF_RANGE,
    "greater_than": DeadLetterReason.OUT_OF_RANGE,
    "less_than": DeadLetterReason.OUT_OF_RANGE,
}


def decode_feedback(
    value: bytes | None,
    limits: DecodeLimits,
    now: datetime,
    headers: Iterable[tuple[str, bytes]] = (),
) -> FeedbackEvent:
    """Return the event or raise ``DecodeFailure``."""
    headers = tuple(headers)
    if not value:
        raise DecodeFailure(DeadLetterReason.EMPTY, "empty value (or tombstone)")
    if len(value) > limits.max_bytes:
        raise DecodeFailure(
            DeadLetterReason.TOO_LARGE,
            f"{len(value)} bytes exceeds the limit of {limits.max_bytes}",
        )
    try:
        cloudevents.parse_binary(headers)
    except cloudevents.CloudEventError as exc:
        raise DecodeFailure(DeadLetterReason.SCHEMA_VIOLATION, f"CloudEvents: {exc}") from None
    obj = _parse_json(value)
    if cloudevents.is_structured(headers):
        obj = _unwrap_structured(obj)
    if not isinstance(obj, dict):
        raise DecodeFailure(
            DeadLetterReason.NOT_AN_OBJECT, f"expected a JSON object, got {type(obj).__name__}"
        )
    event_id = obj.get("event_id")
    event_id = event_id[:256] if isinstance(event_id, str) else None
    depth = _depth(obj, limits.max_depth)
    if depth > limits.max_depth:
        raise DecodeFailure(
            DeadLetterReason.TOO_DEEP, f"nesting deeper than {limits.max_depth} levels", event_id
        )
    try:
        event = FeedbackEvent.model_validate(obj)
    except ValidationError as exc:
        raise _from_validation(exc, event_id) from None
    occurred = event.occurred_at
    if occurred > now + limits.max_future_skew:
        raise DecodeFailure(
            DeadLetterReason.TIMESTAMP_OUT_OF_RANGE,
            f"occurred_at is more than {limits.max_future_skew} in the future",
            event_id,
        )
    if occurred < now - limits.max_age:
        raise DecodeFailure(
            DeadLetterReason.TIMESTAMP_OUT_OF_RANGE,
            f"occurred_at is older than {limits.max_age.days} days",
            event_id,
        )
    return event


def _unwrap_structured(envelope: Any) -> Any:
    """The ``data`` of a structured-mode CloudEvent (``data_base64``: decoded JSON)."""
    if not isinstance(envelope, dict):
        raise DecodeFailure(
            DeadLetterReason.NOT_AN_OBJECT,
            f"expected a CloudEvents JSON object, got {type(envelope).__name__}",
        )
    try:
        _, data = cloudevents.parse_structured(envelope)
    except cloudevents.CloudEventError as exc:
        raise DecodeFailure(DeadLetterReason.SCHEMA_VIOLATION, f"CloudEvents: {exc}") from None
    return _parse_json(data) if isinstance(data, bytes) else data


def _parse_json(value: bytes) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise DecodeFailure(
                DeadLetterReason.INVALID_UTF8, f"invalid UTF-8 at byte {uexc.start}"
            ) from None
        if "recursion" in str(exc):
            raise DecodeFailure(
                DeadLetterReason.TOO_DEEP, "nesting exceeds the parser's limit"
            ) from None
        raise DecodeFailure(DeadLetterReason.INVALID_JSON, _first_line(str(exc))) from None


def _first_line(text: str) -> str:
    return text.splitlines()[0][:300] if text else "invalid JSON"


def _depth(obj: Any, limit: int) -> int:
    """Depth of nested containers, stopping early once past ``limit``."""
    deepest = 1
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return deepest


def _from_validation(exc: ValidationError, event_id: str | None) -> DecodeFailure:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    reason = _FIELD_REASONS.get(first["type"], DeadLetterReason.SCHEMA_VIOLATION)
    parts = []
    for err in errors[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    if len(errors) > 3:
        parts.append(f"… {len(errors) - 3} more")
    return DecodeFailure(reason, "; ".join(parts), event_id)
