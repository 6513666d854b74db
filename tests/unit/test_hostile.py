"""Hostile input (tests/data/hostile/): every case is a dead letter with a precise reason and
its original bytes and headers, or — where that is the decision — a valid ticket."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from schemas.dead_letter import DeadLetter, DeadLetterReason
from schemas.ticket import Ticket
from service.clock import FakeClock
from service.prioritizer import decode
from service.prioritizer.decode import DecodeFailure, DecodeLimits, decode_feedback
from service.prioritizer.pipeline import Prioritizer, Topics
from service.records import InRecord
from service.rules.engine import RuleEngine
from service.rules.model import load_default_rules
from tests.data.hostile.corpus import Case, load_corpus, valid_event

NOW = datetime.now(UTC)
CORPUS = load_corpus(NOW)
LIMITS = DecodeLimits()


def outcome(value: bytes, headers: list[tuple[str, bytes]] | None = None, **limits: Any) -> str:
    try:
        decode_feedback(value, DecodeLimits(**limits) if limits else LIMITS, NOW, headers or [])
    except DecodeFailure as failure:
        return failure.reason.value if failure.detail else "(no detail)"
    return "ticket"


@pytest.fixture(scope="module")
def prioritizer() -> Prioritizer:
    return Prioritizer(
        RuleEngine(load_default_rules()), Topics("tickets", "dlq"), LIMITS, FakeClock(NOW)
    )


def test_corpus_covers_every_reason_the_decoder_gives() -> None:
    decoder_reasons = set(DeadLetterReason) - {DeadLetterReason.PROCESSING_ERROR}
    assert {c.expect for c in CORPUS} == {r.value for r in decoder_reasons} | {"ticket"}
    assert len({c.name for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_each_case_has_its_precise_outcome_quickly(case: Case) -> None:
    started = time.perf_counter()
    got = outcome(case.value, case.headers)
    elapsed = time.perf_counter() - started
    assert got == case.expect, case.note
    # Hostile input must not stall the consumer (bench/hostile.py measures the real cost;
    # the bound here is loose so a busy CI machine cannot make it flaky).
    assert elapsed < 5.0, f"{case.name} took {elapsed:.3f} s"


def test_the_pipeline_keeps_bytes_and_headers_of_every_dead_letter(
    prioritizer: Prioritizer,
) -> None:
    batch = [
        InRecord("feedback", 0, i, f"k{i}".encode(), c.value, tuple(c.headers), 1_700_000_000)
        for i, c in enumerate(CORPUS)
    ]
    out = prioritizer.process(batch)
    assert len(out) == len(CORPUS)
    for record, case, result in zip(batch, CORPUS, out, strict=True):
        if case.is_ticket:
            assert result.topic == "tickets", case.name
            ticket = Ticket.model_validate_json(result.value)  # valid JSON, valid ticket
            event = orjson.loads(case.value)
            assert ticket.text == event["text"], "the ticket keeps the text as written"
            assert ticket.event_id == event["event_id"]
            continue
        assert result.topic == "dlq", case.name
        letter = DeadLetter.from_record(result.key, result.value, result.headers)
        assert letter.reason.value == case.expect, case.name
        assert letter.value == case.value  # the original bytes, unchanged
        assert letter.key == record.key
        assert letter.headers == case.headers  # the original headers, unchanged
        assert letter.offset == record.offset
        # A hostile id is never copied into the dead letter's headers.
        assert letter.event_id is None or letter.event_id.isprintable()


def test_a_text_within_the_limit_is_kept_whole(prioritizer: Prioritizer) -> None:
    text = ("Η εφαρμογή κολλάει. " * 12_000)[:240_000]  # ~ 440 KB of UTF-8, under 512 KiB
    raw = orjson.dumps(valid_event("long-greek", NOW, text=text))
    assert len(raw) < LIMITS.max_bytes
    started = time.perf_counter()
    (out,) = prioritizer.process([InRecord("feedback", 0, 0, None, raw)])
    assert time.perf_counter() - started < 5.0  # no stall (measured: milliseconds)
    ticket = Ticket.model_validate_json(out.value)
    assert ticket.text == text  # not truncated
    assert len(out.value) < 1_000_000  # fits the producer's default 1 MiB request


def test_control_and_bidi_characters_survive_in_the_ticket_as_valid_json(
    prioritizer: Prioritizer,
) -> None:
    text = "a\x00b\x1b[31mc\u202ed\u2066e\u2069\u200bf\u2028g\x7f"
    (out,) = prioritizer.process(
        [InRecord("feedback", 0, 0, None, orjson.dumps(valid_event("ctl", NOW, text=text)))]
    )
    assert out.topic == "tickets"
    assert b"\x00" not in out.value  # escaped, not raw
    assert b"\x1b" not in out.value
    assert orjson.loads(out.value)["text"] == text


def test_a_text_longer_than_the_model_allows_is_a_schema_violation() -> None:
    raw = orjson.dumps(valid_event("too-long", NOW, text="a" * 1_000_001))
    assert outcome(raw, max_bytes=2 * 1024 * 1024) == "schema_violation"
    raw = orjson.dumps(valid_event("max-long", NOW, text="a" * 1_000_000))
    assert outcome(raw, max_bytes=2 * 1024 * 1024) == "ticket"


def test_the_duplicate_check_stays_off_the_slow_path_for_ordinary_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[bytes] = []
    real = decode._find_duplicate

    def spy(raw: bytes, event_id: str | None) -> None:
        calls.append(raw)
        real(raw, event_id)

    monkeypatch.setattr(decode, "_find_duplicate", spy)
    ordinary = [c for c in CORPUS if c.is_ticket and b"\\\\u003a" not in c.value]
    for case in ordinary:
        assert outcome(case.value, case.headers) == "ticket"
    assert calls == []
    assert outcome(next(c for c in CORPUS if c.name == "duplicate_nps_score").value) == (
        "duplicate_key"
    )
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"x": {"a": 1, "b": {"c": [{"d": 1}]}}}, "ticket"),
        ({"metadata": {"k": "v", "k2": "v"}}, "ticket"),
        ({"x": [{"a": 1}, {"a": 1}]}, "ticket"),  # the same key in two objects is fine
    ],
)
def test_repeated_keys_in_different_objects_are_not_duplicates(
    extra: dict[str, Any], expected: str
) -> None:
    assert outcome(orjson.dumps(valid_event("nested", NOW, **extra))) == expected


def test_duplicates_deep_inside_are_found() -> None:
    raw = orjson.dumps(valid_event("deep-dup", NOW, x=[{"a": [{"b": 1}]}]))
    assert outcome(raw.replace(b'{"b":1}', b'{"b":1,"b":2}')) == "duplicate_key"
    raw = orjson.dumps(valid_event("meta-dup", NOW, metadata={"k": "v"}))
    assert outcome(raw.replace(b'"k":"v"', b'"k":"v","k":"w"')) == "duplicate_key"


def test_structured_cloudevents_are_checked_like_plain_events() -> None:
    ce = [("content-type", b"application/cloudevents+json")]
    event = valid_event("ce", NOW)
    envelope = {"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "data": event}
    raw = orjson.dumps(envelope)
    assert outcome(raw, ce) == "ticket"
    assert outcome(raw.replace(b'"id":"1"', b'"id":"1","id":"2"'), ce) == "duplicate_key"
    inner = raw.replace(b'"channel":"email"', b'"channel":"email","channel":"chat"')
    assert outcome(inner, ce) == "duplicate_key"
    deep = dict(
        envelope,
        data=dict(event, x=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]),
    )
    assert outcome(orjson.dumps(deep), ce) == "too_deep"
    b64 = base64.b64encode(orjson.dumps(event).replace(b"{", b'{"text":"x",', 1)).decode()
    raw64 = orjson.dumps({k: v for k, v in envelope.items() if k != "data"} | {"data_base64": b64})
    assert outcome(raw64, ce) == "duplicate_key"
    empty64 = orjson.dumps({k: v for k, v in envelope.items() if k != "data"} | {"data_base64": ""})
    assert outcome(empty64, ce) == "empty"


def test_dead_letter_of_a_record_with_a_100_kb_header_fits_a_default_request() -> None:
    case = next(c for c in CORPUS if c.name == "big_header_on_bad_json")
    prioritizer = Prioritizer(
        RuleEngine(load_default_rules()), Topics("t", "dlq"), LIMITS, FakeClock(NOW)
    )
    (out,) = prioritizer.process(
        [InRecord("feedback", 0, 7, b"k", case.value, tuple(case.headers))]
    )
    size = len(out.value) + sum(len(n) + len(v) for n, v in out.headers)
    original = len(case.value) + sum(len(n) + len(v) for n, v in case.headers)
    assert out.headers[: len(case.headers)] == case.headers
    assert size - original < 1024  # a dead letter adds well under 1 KB to the input


@pytest.mark.parametrize(
    ("occurred_at", "expected"),
    [
        (NOW + timedelta(hours=23), "ticket"),
        (NOW + timedelta(days=2), "timestamp_out_of_range"),
        (NOW - timedelta(days=3649), "ticket"),
        (NOW - timedelta(days=3651), "timestamp_out_of_range"),
        # the exact edges (the window's bounds are inside it), in another offset too
        (NOW + timedelta(days=1), "ticket"),
        (NOW + timedelta(days=1, microseconds=1), "timestamp_out_of_range"),
        (NOW - timedelta(days=3650), "ticket"),
        (NOW - timedelta(days=3650, microseconds=1), "timestamp_out_of_range"),
        ((NOW + timedelta(days=1)).astimezone(timezone(timedelta(hours=-9))), "ticket"),
        (
            (NOW + timedelta(days=1, microseconds=1)).astimezone(timezone(timedelta(hours=14))),
            "timestamp_out_of_range",
        ),
    ],
)
def test_plausibility_window_edges(occurred_at: datetime, expected: str) -> None:
    raw = orjson.dumps(valid_event("window", NOW, occurred_at=occurred_at.isoformat()))
    assert outcome(raw) == expected


@pytest.mark.parametrize(
    ("event_id", "customer_id", "detail", "named"),
    [
        (
            "hostile-\u202eevil",
            "cust-ok",
            "event_id contains a non-printable character U+202E",
            None,
        ),
        (
            "hostile-ok",
            "cust\x1b[31m",
            "customer.id contains a non-printable character U+001B",
            "hostile-ok",
        ),
        ("a\u200bb", "c\x00d", "event_id contains a non-printable character U+200B", None),
    ],
)
def test_a_non_printable_id_names_its_field_and_first_bad_character(
    event_id: str, customer_id: str, detail: str, named: str | None
) -> None:
    """The event id is named in the failure only when it is not the bad id (a hostile id
    never reaches a dead letter's headers)."""
    event = valid_event("x", NOW, event_id=event_id, customer={"id": customer_id})
    with pytest.raises(DecodeFailure) as caught:
        decode_feedback(orjson.dumps(event), LIMITS, NOW)
    failure = caught.value
    assert failure.reason == DeadLetterReason.INVALID_ID
    assert (failure.detail, failure.event_id) == (detail, named)
