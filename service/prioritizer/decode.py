"""Decode and validate one feedback event, or say precisely why it cannot be.

Checks run cheapest first: size, UTF-8, JSON (numbers, duplicate keys), shape (object,
depth), schema, ids, then plausibility of the timestamp. A failure names a
``DeadLetterReason`` and a detail that never quotes the customer's text. Nothing but
``DecodeFailure`` ever leaves ``decode_feedback`` (tests/unit/test_decode_fuzz.py).

Hostile input (tests/data/hostile/) and the decisions taken:

* A UTF-8 byte order mark is rejected (``invalid_json``): RFC 8259 forbids sending one.
* ``NaN``/``Infinity`` literals and numbers that overflow a double (``1e400``, a 400-digit
  integer) are ``invalid_number``. Integers beyond 64 bits that still fit a double come out
  as floats, so a score written that way is a ``schema_violation`` (scores are strict ints).
* Duplicate keys anywhere are ``duplicate_key``: orjson keeps the last value, which would
  hide a tampered ``event_id`` or score. The check is nearly free on the common path: every
  key is followed by exactly one ``:`` outside strings, so the raw ``:`` count (plus escaped
  ``\\u003a`` colons) equals the colon count of ``orjson.dumps`` of the parse (its pairs
  plus the colons inside its strings) unless a pair was lost. Only when the counts differ
  is the document re-parsed with ``json.loads(object_pairs_hook=…)`` to find the
  duplicate (or clear a false alarm).
* Nesting deeper than the limit is ``too_deep`` whether orjson parses it (≤ 1024 levels)
  or refuses it (its own recursion limit); nothing recursive runs before the depth check.
* ``event_id`` and ``customer.id`` must be printable (``str.isprintable``): control
  characters, NUL, bidi overrides (U+202E …), zero-width characters, line separators and
  non-ASCII spaces are ``invalid_id``. The failure then carries no event id, so a hostile
  id is never copied into the dead letter's headers.
* Free text (``text``, ``subject``, names, metadata) is kept as written, NUL and bidi
  characters included: it is the customer's words, and the ticket is serialized JSON
  (``\\u0000``, ``\\u202e`` escapes or raw UTF-8), so it stays valid JSON.
* Timestamps: a leap second (``23:59:60``) cannot be represented and is a
  ``schema_violation``; year 1 / year 9999 and anything outside the plausible window
  (``max_age``, ``max_future_skew``) are ``timestamp_out_of_range``.

* Validation has two routes to one contract. An event in the common form (every field
  of the right type within its bounds, ids printable and not to strip, the time written
  ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)``: what publishers send) is checked and built
  by ``_decode.event_of``, compiled, without the validator; anything else goes to
  ``FeedbackEvent``'s own validator, which accepts it or says exactly why not. The
  compiled route only ever declines: tests hold what it builds equal to the validator's
  event, and its bounds to the contract's schema. Its events' times carry the shared
  ``datetime.timezone`` of their offset (``history.shared_timezone``) rather than
  pydantic's own zone object: the same instant and offset, compared and written without
  a call back into the zone. In the pipeline on public texts, decoding fell by about a
  third, and ``shared_zone`` after it to a type check (docs/performance.md).

CloudEvents (``service.cloudevents``): binary mode (``ce_*`` headers) and structured mode
(``content-type: application/cloudevents+json``, the event in ``data``) are accepted as
well as plain JSON; an invalid CloudEvent is a ``schema_violation``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.dead_letter import DeadLetterReason
from schemas.feedback import FeedbackEvent
from service import cloudevents
from service.prioritizer._decode import common_event, event_of, parsed_colons, raw_counts


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


#: The event model's validator, called directly: ``FeedbackEvent.model_validate`` is a
#: Python wrapper around this same call (0.35 of its 3.5 µs an event).
_validate_event = FeedbackEvent.__pydantic_validator__.validate_python

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
    """Return the event or raise ``DecodeFailure``.

    A record without headers whose event is in the common form and within the window
    takes one compiled call (``_decode.common_event``: these same steps, which declines
    at the first step that is not plain); any other record, or one it declines, takes
    the steps below from the start."""
    if not headers:
        plain = common_event(value, limits, now)
        if plain is not None:
            return plain
    headers = tuple(headers)
    if not value:
        raise DecodeFailure(DeadLetterReason.EMPTY, "empty value (or tombstone)")
    if len(value) > limits.max_bytes:
        raise DecodeFailure(
            DeadLetterReason.TOO_LARGE,
            f"{len(value)} bytes exceeds the limit of {limits.max_bytes}",
        )
    structured = False
    if headers:  # most publishers send none: both checks are about headers
        try:
            cloudevents.parse_binary(headers)
        except cloudevents.CloudEventError as exc:
            raise DecodeFailure(DeadLetterReason.SCHEMA_VIOLATION, f"CloudEvents: {exc}") from None
        structured = cloudevents.is_structured(headers)
    obj = _parse_json(value)
    if isinstance(obj, dict | list):  # depth first: a 1000-deep array is too_deep
        # (a failure names the event's id; the data's, not a structured envelope's)
        named = obj if isinstance(obj, dict) and not structured else None
        _check_tree(value, obj, limits.max_depth + structured, named)
    if structured:  # the envelope adds a level; the data was checked with it
        obj = _unwrap_structured(obj, limits.max_depth)
    if not isinstance(obj, dict):
        raise DecodeFailure(
            DeadLetterReason.NOT_AN_OBJECT, f"expected a JSON object, got {type(obj).__name__}"
        )
    event: FeedbackEvent | None = event_of(obj)
    if event is None:  # not the common form: the validator decides
        try:
            event = _validate_event(obj)
        except ValidationError as exc:
            raise _from_validation(exc, _id_of(obj)) from None
        if not (event.event_id.isprintable() and event.customer.id.isprintable()):
            raise _invalid_id(event)
    # The event's time against the plausible window, as one difference: an aware
    # difference never overflows (even year 1 at +14:00 or 9999 at -12:00), and it asks
    # the event's time zone for its offset once, where two comparisons asked twice each.
    age = event.occurred_at - now
    too_new = age > limits.max_future_skew
    too_old = age < -limits.max_age
    if too_new:
        raise DecodeFailure(
            DeadLetterReason.TIMESTAMP_OUT_OF_RANGE,
            f"occurred_at is more than {limits.max_future_skew} in the future",
            event.event_id,  # (valid: printable, stripped, at most 256 characters)
        )
    if too_old:
        raise DecodeFailure(
            DeadLetterReason.TIMESTAMP_OUT_OF_RANGE,
            f"occurred_at is older than {limits.max_age.days} days",
            event.event_id,
        )
    return event


def _invalid_id(event: FeedbackEvent) -> DecodeFailure:
    """The failure of an event whose ``event_id`` or ``customer.id`` has a non-printable
    character: the first such character of the first such id (the event id is named
    only when it is not the bad one)."""
    for field, raw_id in (("event_id", event.event_id), ("customer.id", event.customer.id)):
        bad = next((c for c in raw_id if not c.isprintable()), None)
        if bad is not None:
            return DecodeFailure(
                DeadLetterReason.INVALID_ID,
                f"{field} contains a non-printable character U+{ord(bad):04X}",
                event.event_id if field != "event_id" else None,
            )
    raise AssertionError("an id is printable")  # pragma: no cover - the caller checked


def _id_of(document: dict[str, Any] | None) -> str | None:
    """The id to name in the dead letter of ``document`` (an event that failed before it
    was valid), worked out only once it has failed."""
    return _safe_id(document.get("event_id")) if document is not None else None


def _safe_id(value: Any) -> str | None:
    """The event id to name in a dead letter: only a printable, non-empty string."""
    if not isinstance(value, str):
        return None
    value = value[:256].strip()
    return value if value and value.isprintable() else None


def _unwrap_structured(envelope: Any, max_depth: int) -> Any:
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
    if isinstance(data, bytes):
        raw = data
        if not raw:
            raise DecodeFailure(DeadLetterReason.EMPTY, "CloudEvents data_base64 is empty")
        data = _parse_json(raw)
        if isinstance(data, dict | list):
            _check_tree(raw, data, max_depth, None)
    return data


_NON_FINITE = ("NaN", "Infinity")


def _parse_json(value: bytes) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise DecodeFailure(
                DeadLetterReason.INVALID_UTF8,
                f"invalid UTF-8 at byte {uexc.start}: {uexc.reason}",
            ) from None
        message = str(exc)
        if "recursion" in message or "depth limit" in message:
            raise DecodeFailure(
                DeadLetterReason.TOO_DEEP, "nesting exceeds the parser's limit"
            ) from None
        if "infinity" in message or text.startswith(_NON_FINITE, exc.pos):
            raise DecodeFailure(
                DeadLetterReason.INVALID_NUMBER,
                f"NaN, Infinity or a number beyond a double's range at char {exc.pos}",
            ) from None
        raise DecodeFailure(DeadLetterReason.INVALID_JSON, _first_line(message)) from None


def _first_line(text: str) -> str:
    return text.splitlines()[0][:300] if text else "invalid JSON"


def _check_tree(
    raw: bytes, obj: dict[str, Any] | list[Any], limit: int, named: dict[str, Any] | None
) -> None:
    """Depth, then duplicate keys, of the document ``raw`` that parsed as ``obj``; a
    failure names the event id of ``named`` (looked up only then).

    Depth: a document cannot nest deeper than it has ``[`` and ``{`` bytes, so the
    (iterative, early-exit) walk only runs when there are more than ``limit`` of them.

    Duplicate keys: every pair in ``raw`` has exactly one ``:`` outside strings, and orjson
    writes a ``:`` only between a key and its value or inside a string (never escaped). So
    ``orjson.dumps(obj)`` has fewer colons than ``raw`` (plus its ``\\u003a`` escapes)
    exactly when a repeated key was dropped — or, rarely, when an escaped backslash
    precedes ``u003a``. Both counts run in C (``_decode.pyx``: one pass over the bytes,
    and a walk of the parsed document that counts what ``orjson.dumps`` would write
    without writing it); only a difference takes the slow path.
    """
    brackets, raw_colons = raw_counts(raw)
    if brackets > limit:
        stack: list[tuple[Any, int]] = [(obj, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > limit:
                raise DecodeFailure(
                    DeadLetterReason.TOO_DEEP, f"nesting deeper than {limit} levels", _id_of(named)
                )
            children = node.values() if isinstance(node, dict) else node
            stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    if raw_colons != parsed_colons(obj):
        _find_duplicate(raw, _id_of(named))


def _find_duplicate(raw: bytes, event_id: str | None) -> None:
    """Slow path: re-parse with the standard library, raising on the first repeated key."""

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                name = ascii(key[:64])
                raise DecodeFailure(
                    DeadLetterReason.DUPLICATE_KEY,
                    f"duplicate key {name} in an object",
                    None if key == "event_id" else event_id,  # which one would be a guess
                )
            seen.add(key)
        return dict(pairs)

    try:
        json.loads(raw.decode("utf-8"), object_pairs_hook=pairs_hook)
    except (ValueError, RecursionError):  # pragma: no cover - orjson accepted it already
        raise DecodeFailure(DeadLetterReason.INVALID_JSON, "invalid JSON") from None


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
