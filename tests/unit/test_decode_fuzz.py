"""Property-based fuzzing of ``decode_feedback`` (hypothesis).

Properties: for arbitrary bytes, arbitrary JSON-like documents, arbitrary headers and
mutations of a valid event, the decoder returns an event or raises ``DecodeFailure`` —
nothing else; a valid event always decodes; what it decodes agrees with the input.
Example counts and deadlines are bounded so the module stays well under 15 s.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from schemas.dead_letter import DeadLetterReason
from schemas.feedback import FeedbackEvent
from service.prioritizer.decode import DecodeFailure, DecodeLimits, decode_feedback

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
LIMITS = DecodeLimits(max_bytes=64 * 1024)
FUZZ = settings(
    max_examples=300,
    deadline=timedelta(milliseconds=500),
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,  # reproducible in CI; the corpus covers the known-bad cases
    database=None,  # no .hypothesis/ directory in the work tree
)


def attempt(value: bytes, headers: list[tuple[str, bytes]] | None = None) -> Any:
    """The decoded event or the DecodeFailure; any other exception fails the test."""
    try:
        return decode_feedback(value, LIMITS, NOW, headers or [])
    except DecodeFailure as failure:
        error = failure
    assert isinstance(error.reason, DeadLetterReason)
    assert error.detail
    assert error.event_id is None or error.event_id.isprintable()
    return error


def base_event(**extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "evt-1",
        "occurred_at": "2026-11-22T09:00:00+02:00",
        "channel": "email",
        "customer": {"id": "cust-1", "tier": "premium"},
        "text": "The export fails again!",
        "nps_score": 3,
    }
    event.update(extra)
    return event


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


_BEFORE_UTF8 = {DeadLetterReason.INVALID_UTF8, DeadLetterReason.EMPTY}


@FUZZ
@given(st.binary(max_size=2048))
@example(b"\xef\xbb\xbf{}")
@example(b"[" * 5000)
@example(b'{"a":' * 3000)
@example(b"\x00")
def test_arbitrary_bytes_never_raise_anything_else(value: bytes) -> None:
    result = attempt(value)
    if isinstance(result, DecodeFailure) and result.reason not in _BEFORE_UTF8:
        value.decode("utf-8")  # invalid UTF-8 is always reported as such


@settings(FUZZ, max_examples=200)
@given(json_values)
def test_arbitrary_json_documents_never_raise_anything_else(doc: Any) -> None:
    result = attempt(json.dumps(doc).encode())
    if not isinstance(doc, dict):
        assert isinstance(result, DecodeFailure)
        assert result.reason in {DeadLetterReason.NOT_AN_OBJECT, DeadLetterReason.TOO_DEEP}


@settings(FUZZ, max_examples=100)
@given(st.dictionaries(st.text(max_size=20), json_values, max_size=4))
def test_valid_events_with_unknown_fields_decode(extra: dict[str, Any]) -> None:
    known = set(FeedbackEvent.model_fields) | {"x"}
    extra = {f"x_{k}": v for k, v in extra.items() if k not in known}
    result = attempt(json.dumps(base_event(**extra), ensure_ascii=False).encode())
    if isinstance(result, DecodeFailure):
        # Only an unknown field nested too deep, or a number beyond a double, may fail.
        assert result.reason in {DeadLetterReason.TOO_DEEP, DeadLetterReason.INVALID_NUMBER}


@FUZZ
@given(
    event_id=st.text(min_size=1, max_size=60),
    customer_id=st.text(min_size=1, max_size=60),
    text=st.text(max_size=300),
    nps=st.none() | st.integers(min_value=0, max_value=10),
    minutes=st.integers(min_value=-60 * 24 * 365 * 9, max_value=60 * 23),
    offset_minutes=st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_a_valid_event_always_decodes(
    event_id: str, customer_id: str, text: str, nps: int | None, minutes: int, offset_minutes: int
) -> None:
    from datetime import timezone

    tz = timezone(timedelta(minutes=offset_minutes))
    occurred = (NOW + timedelta(minutes=minutes)).astimezone(tz)
    event = base_event(
        event_id=event_id,
        customer={"id": customer_id},
        text=text,
        nps_score=nps,
        occurred_at=occurred.isoformat(),
    )
    for raw in (orjson.dumps(event), json.dumps(event).encode()):  # raw UTF-8 and \u escapes
        result = attempt(raw)
        printable = all(
            s.strip(_WS) and s.strip(_WS).isprintable() for s in (event_id, customer_id)
        )
        if not printable:
            assert isinstance(result, DecodeFailure)
            assert result.reason in {DeadLetterReason.INVALID_ID, DeadLetterReason.SCHEMA_VIOLATION}
            continue
        assert isinstance(result, FeedbackEvent), result
        assert result.text == text
        assert result.event_id == event_id.strip(_WS)
        assert result.occurred_at == occurred


#: What pydantic's strip_whitespace trims (Unicode White_Space; not \x1c-\x1f as str.strip).
_WS = (
    " \t\n\x0b\x0c\r\x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)


def _mutations() -> st.SearchStrategy[bytes]:
    raw = orjson.dumps(base_event())
    positions = st.integers(min_value=0, max_value=len(raw))

    def flip(pos: int, byte: int) -> bytes:
        pos = min(pos, len(raw) - 1)
        return raw[:pos] + bytes([byte]) + raw[pos + 1 :]

    def insert(pos: int, chunk: bytes) -> bytes:
        return raw[:pos] + chunk + raw[pos:]

    def delete(pos: int, n: int) -> bytes:
        return raw[:pos] + raw[pos + n :]

    tokens = st.sampled_from(
        [
            b"NaN",
            b"1e400",
            b"-Infinity",
            b"\xef\xbb\xbf",
            b"\xc0\xaf",
            b"\xed\xa0\x80",
            b"\\u0000",
            b"\\ud800",
            b"\\u003a",
            b'"event_id":"x",',
            b'"nps_score":0,',
            b"[" * 40,
            b"\xe2\x80\xae",
            b":",
            b'"',
            b"\\",
            b"{}",
        ]
    )
    return (
        st.builds(flip, positions, st.integers(min_value=0, max_value=255))
        | st.builds(insert, positions, st.binary(min_size=1, max_size=8) | tokens)
        | st.builds(delete, positions, st.integers(min_value=1, max_value=12))
    )


@FUZZ
@given(_mutations())
def test_mutations_of_a_valid_event_never_raise_anything_else(value: bytes) -> None:
    result = attempt(value)
    if isinstance(result, FeedbackEvent):
        # Whatever decoded had no duplicate keys: orjson's last-wins hid nothing.
        pairs_seen: list[list[str]] = []

        def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            pairs_seen.append([k for k, _ in pairs])
            return dict(pairs)

        json.loads(value, object_pairs_hook=hook)
        assert all(len(keys) == len(set(keys)) for keys in pairs_seen)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ce_specversion", "ce_id", "ce_source", "ce_type", "content-type"])
            | st.text(max_size=12),
            st.binary(max_size=40),
        ),
        max_size=8,
    )
)
def test_arbitrary_headers_never_raise_anything_else(headers: list[tuple[str, bytes]]) -> None:
    attempt(orjson.dumps(base_event()), headers)
    attempt(orjson.dumps({"specversion": "1.0", "data": base_event()}), headers)
