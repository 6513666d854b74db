"""The decoder's common form of an event (``_decode.event_of``) against the validator.

``event_of`` may decline any document (the validator then decides), but an event it
builds must be the validator's event: equal fields (times equal as instants and in their
offsets), the same names set, the same extra fields, ids printable. Held here on every
event of the labelled corpus and of the benchmarks' public texts, on the hostile corpus,
and on hypothesis-generated documents near every bound; its bounds are compared with the
contract's JSON schema, so a changed contract fails here until the path follows.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from schemas.common import LifecycleStage, Tier
from schemas.feedback import Customer, FeedbackEvent
from service.prioritizer import _decode
from service.prioritizer._decode import event_of
from service.prioritizer.decode import DecodeFailure, DecodeLimits, decode_feedback
from service.prioritizer.history import shared_timezone
from service.sentiment.corpus import default_data_dir
from tests.data.hostile.corpus import load_corpus
from tests.unit.test_decode_fuzz import base_event

ROOT = Path(__file__).resolve().parents[2]
_validate = FeedbackEvent.__pydantic_validator__.validate_python
PROPERTY = settings(
    max_examples=400,
    deadline=timedelta(milliseconds=500),
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)


def same(fast: FeedbackEvent, document: dict[str, Any]) -> None:
    """``fast`` is the validator's event of ``document``."""
    ref = _validate(document)
    assert fast == ref
    assert fast.__dict__ == ref.__dict__
    assert fast.__pydantic_fields_set__ == ref.__pydantic_fields_set__
    assert fast.__pydantic_extra__ == ref.__pydantic_extra__
    assert fast.customer.__dict__ == ref.customer.__dict__
    assert fast.customer.__pydantic_fields_set__ == ref.customer.__pydantic_fields_set__
    assert fast.customer.__pydantic_extra__ == ref.customer.__pydantic_extra__
    assert type(fast.customer.tier) is type(ref.customer.tier)
    assert type(fast.customer.lifecycle_stage) is type(ref.customer.lifecycle_stage)
    # the same instant, the same wall time and offset; the zone is the shared one
    assert fast.occurred_at.utcoffset() == ref.occurred_at.utcoffset()
    assert fast.occurred_at.replace(tzinfo=None) == ref.occurred_at.replace(tzinfo=None)
    assert fast.occurred_at.tzinfo is shared_timezone(ref.occurred_at.utcoffset() or timedelta())
    assert fast.event_id.isprintable()
    assert fast.customer.id.isprintable()


def check(document: dict[str, Any]) -> FeedbackEvent | None:
    """``event_of(document)``, held to the validator when it gives an event."""
    fast = event_of(document)
    if fast is not None:
        same(fast, document)
    return fast


def test_the_path_knows_the_contract_it_was_written_for() -> None:
    schema = FeedbackEvent.model_json_schema()
    props, customer = schema["properties"], schema["$defs"]["Customer"]["properties"]

    def bound(prop: dict[str, Any], key: str) -> Any:
        return prop.get(key, next((a[key] for a in prop.get("anyOf", ()) if key in a), None))

    assert _decode.ENABLED
    assert tuple(FeedbackEvent.model_fields) == _decode.EVENT_FIELDS
    assert tuple(Customer.model_fields) == _decode.CUSTOMER_FIELDS
    assert (bound(props["event_id"], "minLength"), bound(props["event_id"], "maxLength")) == (
        1,
        _decode.MAX_ID,
    )
    assert bound(customer["id"], "maxLength") == _decode.MAX_ID
    assert bound(props["text"], "maxLength") == _decode.MAX_TEXT
    assert bound(props["subject"], "maxLength") == _decode.MAX_SUBJECT
    assert bound(customer["name"], "maxLength") == _decode.MAX_NAME
    assert (bound(props["brand"], "minLength"), bound(props["brand"], "maxLength")) == (
        1,
        _decode.MAX_BRAND,
    )
    assert (bound(props["nps_score"], "minimum"), bound(props["nps_score"], "maximum")) == (
        _decode.NPS_RANGE
    )
    assert (bound(props["rating"], "minimum"), bound(props["rating"], "maximum")) == (
        _decode.RATING_RANGE
    )
    assert props["channel"]["pattern"] == f"^[a-z][a-z0-9_]{{0,{_decode.MAX_CHANNEL - 1}}}$"
    assert bound(props["language"], "pattern") == (
        f"^[A-Za-z]{{2,3}}(-[A-Za-z0-9]{{1,{_decode.MAX_SUBTAG}}})*$"
    )
    # the fields this path checks only for their type carry no constraint of their own
    for constraint in ("maxLength", "minLength", "pattern"):
        assert constraint not in json.dumps(props["schema_version"])
    assert props["metadata"]["additionalProperties"] == {"type": "string"}
    # the enums' tables are built from the contract's own enums
    assert Customer.model_fields["tier"].annotation == Tier | None
    assert Customer.model_fields["lifecycle_stage"].annotation == LifecycleStage | None


def _labelled() -> list[dict[str, Any]]:
    lines = (ROOT / "tests/data/labelled_events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["event"] for line in lines if line.strip()]


def test_every_labelled_event_takes_the_path_and_is_the_validators() -> None:
    events = _labelled()
    assert len(events) > 100
    for document in events:
        assert check(document) is not None, document["event_id"]


@pytest.mark.parametrize("public", [False, True])
def test_every_benchmark_event_takes_the_path(public: bool) -> None:
    if public and default_data_dir() is None:
        pytest.skip("no public data folder (TRIAGE_DATA_DIR or ../shared/data)")
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from throughput import make_events, public_texts

        events = make_events(500, texts=public_texts() if public else None)
    finally:
        sys.path.remove(str(ROOT / "bench"))
    for _, value in events:
        assert check(orjson.loads(value)) is not None


def test_the_hostile_corpus_is_declined_or_decoded_alike() -> None:
    now = datetime.now(UTC)
    limits = DecodeLimits()
    taken = 0
    for case in load_corpus(now):
        try:
            document = orjson.loads(case.value)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(document, dict):
            continue
        fast = event_of(document)
        if fast is None:
            continue
        same(fast, document)
        taken += 1
        # and the decoder, which takes this path, gives what the case expects
        if not case.headers:
            try:
                decode_feedback(case.value, limits, now)
                outcome = "ticket"
            except DecodeFailure as failure:
                outcome = failure.reason.value
            assert outcome == case.expect, case.name
    assert taken > 3  # the corpus has valid events and late failures (time, size)


def base(**fields: Any) -> dict[str, Any]:
    """The decoder's fuzzing base event, its time with a fraction of a second."""
    return base_event(**{"occurred_at": "2026-11-22T09:00:00.250+02:00", **fields})


@pytest.mark.parametrize(
    "document",
    [
        base(event_id=" evt-1"),  # stripped by the contract
        base(event_id="evt-1 "),
        base(event_id=""),
        base(event_id="e" * 257),
        base(event_id="evt\u202e1"),  # not printable
        base(event_id=None),
        base(event_id=7),
        base(customer={"id": "c\u200b"}),
        base(customer={"tier": "premium"}),
        base(customer={"id": "c", "tier": "Premium"}),
        base(customer={"id": "c", "lifecycle_stage": "gone"}),
        base(customer={"id": "c", "name": "n" * 513}),
        base(customer=None),
        base(occurred_at="2026-11-22T09:00:00"),  # no offset
        base(occurred_at="2026-11-22 09:00:00Z"),
        base(occurred_at="2026-11-22T09:00:60Z"),  # a leap second
        base(occurred_at="2026-02-29T09:00:00Z"),
        base(occurred_at="2026-11-22T09:00:00.1234567Z"),
        base(occurred_at="2026-11-22T09:00:00+0200"),
        base(occurred_at="2026-11-22T09:00:00z"),
        base(occurred_at="2026-11-22T09:00:00+24:00"),
        base(occurred_at=1_700_000_000),
        base(channel="Email"),
        base(channel="e" * 65),
        base(channel="email\n"),
        base(text=None),
        base(nps_score=True),
        base(nps_score=11),
        base(nps_score=3.0),
        base(rating=0),
        base(language="english"),
        base(language="en-"),
        base(language="en-abcdefghi"),
        base(subject="s" * 2001),
        base(metadata={"a": 1}),
        base(metadata=None),
        base(brand=""),
        base(brand="b" * 101),
        base(schema_version=1.4),
        {k: v for k, v in base().items() if k != "text"},
    ],
)
def test_what_the_path_declines(document: dict[str, Any]) -> None:
    assert event_of(document) is None


def test_what_the_path_takes_at_its_bounds() -> None:
    for document in (
        base(event_id="e" * 256, customer={"id": "é" * 256, "x": [1]}, zz={"a": None}),
        base(occurred_at="0001-01-01T00:00:00+00:00"),
        base(occurred_at="9999-12-31T23:59:59.999999-23:59"),
        base(occurred_at="2024-02-29T12:00:00-00:00"),
        base(channel="a" + "_9" * 31 + "z", nps_score=0, rating=5, brand="b" * 100),
        base(language="zh-Hant-TW", subject="", metadata={"k": "v"}, schema_version="1.4"),
        base(customer={"id": "c", "tier": None, "lifecycle_stage": "churned", "name": None}),
        base(nps_score=None, rating=None, language=None, subject=None, brand=None),
    ):
        assert check(document) is not None, document


def test_the_defaults_are_fresh_per_event() -> None:
    one, two = event_of(base()), event_of(base())
    assert one is not None
    assert two is not None
    assert one.metadata == {}
    assert one.metadata is not two.metadata
    assert one.__pydantic_extra__ is not two.__pydantic_extra__


_WHEN = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
_OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1)


@PROPERTY
@given(when=_WHEN, offset=_OFFSETS, digits=st.integers(min_value=0, max_value=6))
def test_common_timestamps_take_the_path(when: datetime, offset: int, digits: int) -> None:
    local = when.astimezone(timezone(timedelta(minutes=offset)))
    text = local.replace(tzinfo=None).isoformat(timespec="seconds")
    if digits:
        text += "." + f"{local.microsecond:06d}"[:digits]
    sign, minutes = ("-" if offset < 0 else "+"), abs(offset)
    text += "Z" if offset == 0 and digits % 2 else f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    assert check(base(occurred_at=text)) is not None


_TIMESTAMP_CHARS = st.sampled_from("0123456789-:T.Z+ zt,")


@PROPERTY
@given(st.text(_TIMESTAMP_CHARS, min_size=18, max_size=34))
@example("2026-11-22T09:00:00.5+05:30")
@example("2026-11-22T09:00:00.+05:30")
@example("2026-11-22T09:00:00+05:3")
def test_any_timestamp_it_takes_is_the_validators(text: str) -> None:
    check(base(occurred_at=text))


_IDS = st.sampled_from(
    ["evt-1", "c-1", "é", "a b", " a", "a ", "\u00a0a", "a\u2028", "", "x" * 257]
)
_FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "schema_version": st.sampled_from([None, "1.4", "", 1.4]),
    "event_id": _IDS | st.text(max_size=6),
    "occurred_at": st.sampled_from(
        [
            "2026-11-22T09:00:00Z",
            "2026-11-22T09:00:00.5-03:30",
            "2026-11-22T09:00:00+0530",
            "2026-11-22 09:00:00Z",
            "2026-02-30T09:00:00Z",
            "2026-11-22T09:00:00",
            1_700_000_000,
        ]
    ),
    "channel": st.sampled_from(["email", "e_9", "Email", "", "e" * 64, "e" * 65, 3]),
    "customer": st.fixed_dictionaries(
        {"id": _IDS},
        optional={
            "tier": st.sampled_from([None, "free", "Premium", 1]),
            "lifecycle_stage": st.sampled_from([None, "churned", "gone"]),
            "name": st.none() | st.text(max_size=4) | st.just("n" * 513),
            "crm": st.integers(),
        },
    )
    | st.none(),
    "text": st.text(max_size=12) | st.none(),
    "nps_score": st.none() | st.integers(min_value=-1, max_value=11) | st.booleans() | st.floats(),
    "rating": st.none() | st.integers(min_value=0, max_value=6) | st.booleans(),
    "language": st.sampled_from([None, "en", "en-GB", "zh-Hant-TW", "english", "en-", "e"]),
    "subject": st.none() | st.text(max_size=5) | st.just("s" * 2001),
    "metadata": st.dictionaries(
        st.text(max_size=3), st.text(max_size=3) | st.integers(), max_size=2
    )
    | st.none(),
    "brand": st.sampled_from([None, "", "b", "b" * 100, "b" * 101]),
}


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with a few fields replaced by values valid or not, some dropped,
    maybe one unknown field added (about half of them take the path)."""
    document = base()
    for name in draw(st.lists(st.sampled_from(_decode.EVENT_FIELDS), max_size=3)):
        document[name] = draw(_FIELD_VALUES[name])
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        document.pop(draw(st.sampled_from(_decode.EVENT_FIELDS)), None)
    if draw(st.booleans()):
        document[draw(st.text(max_size=5))] = draw(st.integers() | st.text(max_size=3))
    return document


@PROPERTY
@given(documents())
def test_any_document_it_takes_is_the_validators(document: dict[str, Any]) -> None:
    check(document)
