"""The decoder's one-call route (``_decode.common_event``) against its whole route.

``common_event`` may decline any record (``decode_feedback`` then runs every step from
the start), but an event it returns must be the one the whole route returns for the
same bytes, limits and time — and it must decline every record the whole route turns
into a dead letter. Held here on the benchmarks' events, the hostile corpus, mutated
and generated documents, and at each step where it declines.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.feedback import FeedbackEvent
from service.prioritizer import decode
from service.prioritizer._decode import common_event
from service.prioritizer.decode import DecodeFailure, DecodeLimits, decode_feedback
from tests.data.hostile.corpus import load_corpus
from tests.unit.test_decode_fuzz import _mutations, base_event, json_values
from tests.unit.test_event_fast_path import PROPERTY  # the same settings as its sibling

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LIMITS = DecodeLimits()


def whole_route(value: bytes, limits: DecodeLimits = LIMITS) -> FeedbackEvent | DecodeFailure:
    """What ``decode_feedback`` gives without its one-call route."""
    with mock.patch.object(decode, "common_event", return_value=None):
        try:
            return decode_feedback(value, limits, NOW)
        except DecodeFailure as failure:
            return failure


def agrees(value: bytes, limits: DecodeLimits = LIMITS) -> FeedbackEvent | None:
    """``common_event`` of ``value`` declines, or gives the whole route's event."""
    fast = common_event(value, limits, NOW)
    reference = whole_route(value, limits)
    if fast is not None:
        assert isinstance(reference, FeedbackEvent)
        assert fast == reference
        assert fast.__pydantic_fields_set__ == reference.__pydantic_fields_set__
        assert fast.occurred_at.tzinfo is reference.occurred_at.tzinfo
    return fast


def test_every_benchmark_event_takes_the_one_call_route() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from throughput import make_events

        events = make_events(300)
    finally:
        sys.path.remove(str(ROOT / "bench"))
    now = datetime.now(UTC)
    for _, value in events:
        fast = common_event(value, LIMITS, now)
        assert fast is not None
        assert fast == decode_feedback(value, LIMITS, now)


def test_the_hostile_corpus_is_declined_or_decoded_alike() -> None:
    taken = 0
    for case in load_corpus(NOW):
        if agrees(case.value) is not None and not case.headers:
            taken += 1
            assert case.expect == "ticket", case.name
    assert taken  # the corpus has valid events in the common form too


def dumped(document: Any) -> bytes:
    """The JSON of ``document`` (integers beyond 64 bits too, which orjson does not write)."""
    return json.dumps(document, ensure_ascii=False).encode()


def nested(levels: int) -> list[Any]:
    inner: list[Any] = [1]
    for _ in range(levels - 1):
        inner = [inner]
    return inner


@pytest.mark.parametrize(
    ("value", "step"),
    [
        (b"", "empty"),
        (dumped(base_event()) + b" " * (LIMITS.max_bytes + 1), "size"),
        (b'{"event_id": "e-1",', "JSON"),
        (b"\xff" + dumped(base_event()), "UTF-8"),
        (b"[" + dumped(base_event()) + b"]", "not an object"),
        (dumped(base_event(metadata={"a": nested(40)})), "depth"),
        # more brackets than levels allowed, though shallow: the whole route's walk decides
        (dumped(base_event(metadata={"a": [[] for _ in range(40)]})), "depth (shallow)"),
        (dumped(base_event())[:-1] + b',"channel":"chat"}', "a repeated key"),
        (dumped(base_event(event_id=" e-1")), "the common form (an id to strip)"),
        (dumped(base_event(occurred_at="2026-11-24T12:00:01Z")), "the window (future)"),
        (dumped(base_event(occurred_at="2016-11-20T12:00:00Z")), "the window (past)"),
    ],
)
def test_each_step_declines_what_is_not_plain(value: bytes, step: str) -> None:
    assert common_event(value, LIMITS, NOW) is None, step
    agrees(value)


def test_the_limits_are_the_callers() -> None:
    value = dumped(base_event())  # two levels: the event and its customer
    assert common_event(value, LIMITS, NOW) is not None
    assert common_event(value, DecodeLimits(max_depth=2), NOW) is not None
    assert common_event(value, DecodeLimits(max_depth=1), NOW) is None
    assert common_event(value, DecodeLimits(max_bytes=len(value) - 1), NOW) is None
    assert common_event(value, DecodeLimits(max_age=timedelta(hours=1)), NOW) is None
    late = NOW - timedelta(days=2)
    assert common_event(value, LIMITS, late) is None  # a day and more in its future


def test_a_record_with_headers_takes_the_whole_route() -> None:
    value = dumped(base_event())
    with mock.patch.object(decode, "common_event") as one_call:
        one_call.return_value = None
        decode_feedback(value, LIMITS, NOW, [("trace", b"1")])
        assert not one_call.called
        decode_feedback(value, LIMITS, NOW)
        assert one_call.called


@PROPERTY
@given(_mutations())
def test_mutated_events_are_declined_or_decoded_alike(value: bytes) -> None:
    agrees(value)


@PROPERTY
@given(st.dictionaries(st.text(max_size=20), json_values, max_size=4))
def test_events_with_unknown_fields_are_declined_or_decoded_alike(extra: dict[str, Any]) -> None:
    agrees(dumped(base_event(**extra)))


@PROPERTY
@given(json_values)
def test_arbitrary_documents_are_declined_or_decoded_alike(document: Any) -> None:
    agrees(dumped(document))
