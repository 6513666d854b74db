"""The public message contract (schemas/)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import (
    SCHEMA_VERSION,
    ActivityKind,
    Channel,
    Customer,
    DeadLetter,
    DeadLetterReason,
    Escalation,
    EscalationKind,
    FeedbackEvent,
    LifecycleStage,
    Priority,
    Reason,
    SlaInfo,
    Ticket,
    TicketActivity,
    Tier,
)
from schemas.common import rfc3339
from schemas.dead_letter import HEADER_PREFIX


def feedback(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event_id": "evt-1",
        "occurred_at": "2026-03-02T09:15:00+02:00",
        "channel": "nps_survey",
        "customer": {"id": "cust-1"},
        "text": "It broke again.",
    }
    data.update(overrides)
    return data


def errors_at(exc: pytest.ExceptionInfo[ValidationError]) -> set[tuple[str | int, ...]]:
    return {tuple(e["loc"]) for e in exc.value.errors()}


# --- FeedbackEvent --------------------------------------------------------------------------


def test_minimal_feedback_event() -> None:
    ev = FeedbackEvent.model_validate(feedback())
    assert ev.event_id == "evt-1"
    assert ev.occurred_at == datetime(2026, 3, 2, 7, 15, tzinfo=UTC)
    assert ev.occurred_at.utcoffset() == timedelta(hours=2)
    assert ev.channel == "nps_survey"
    assert ev.customer.id == "cust-1"
    assert ev.customer.tier is None
    assert ev.nps_score is None
    assert ev.rating is None
    assert ev.language is None
    assert ev.subject is None
    assert ev.metadata == {}


def test_full_feedback_event_from_json() -> None:
    raw = json.dumps(
        feedback(
            schema_version="1.0",
            customer={
                "id": "cust-1",
                "tier": "enterprise",
                "lifecycle_stage": "onboarding",
                "name": "Αλέξης",
            },
            nps_score=3,
            rating=2,
            language="el-GR",
            subject="Πρόβλημα",
            metadata={"survey": "q1"},
            text="Δεν λειτουργεί",
        )
    )
    ev = FeedbackEvent.model_validate_json(raw)
    assert ev.customer.tier is Tier.ENTERPRISE
    assert ev.customer.lifecycle_stage is LifecycleStage.ONBOARDING
    assert ev.customer.name == "Αλέξης"
    assert ev.nps_score == 3
    assert ev.rating == 2
    assert ev.language == "el-GR"
    assert ev.metadata == {"survey": "q1"}


def test_empty_text_is_allowed_for_a_bare_score() -> None:
    ev = FeedbackEvent.model_validate(feedback(text="", nps_score=2))
    assert ev.text == ""


@pytest.mark.parametrize("field", ["event_id", "occurred_at", "channel", "customer", "text"])
def test_required_fields(field: str) -> None:
    data = feedback()
    del data[field]
    with pytest.raises(ValidationError) as exc:
        FeedbackEvent.model_validate(data)
    assert (field,) in errors_at(exc)


def test_customer_id_is_required() -> None:
    with pytest.raises(ValidationError) as exc:
        FeedbackEvent.model_validate(feedback(customer={"tier": "free"}))
    assert ("customer", "id") in errors_at(exc)


@pytest.mark.parametrize("event_id", ["", "   ", "x" * 257])
def test_event_id_must_be_a_real_id(event_id: str) -> None:
    with pytest.raises(ValidationError):
        FeedbackEvent.model_validate(feedback(event_id=event_id))


def test_event_id_is_stripped() -> None:
    assert FeedbackEvent.model_validate(feedback(event_id="  evt-9 ")).event_id == "evt-9"


def test_unknown_fields_are_kept_at_top_level_and_in_customer() -> None:
    data = feedback(source_system="zendesk", extra={"nested": [1, 2]})
    data["customer"] = {"id": "cust-1", "crm_id": "A-77", "tier": "free"}
    ev = FeedbackEvent.model_validate(data)
    assert ev.model_extra == {"source_system": "zendesk", "extra": {"nested": [1, 2]}}
    assert ev.customer.model_extra == {"crm_id": "A-77"}
    dumped = ev.model_dump(mode="json")
    assert dumped["source_system"] == "zendesk"
    assert dumped["extra"] == {"nested": [1, 2]}
    assert dumped["customer"]["crm_id"] == "A-77"


@pytest.mark.parametrize("score", [0, 6, 7, 10])
def test_nps_accepts_0_to_10(score: int) -> None:
    assert FeedbackEvent.model_validate(feedback(nps_score=score)).nps_score == score


@pytest.mark.parametrize("score", [11, -1, "5", 5.5, 5.0, True, False, [5]])
def test_nps_rejects_out_of_range_and_non_integers(score: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        FeedbackEvent.model_validate(feedback(nps_score=score))
    assert ("nps_score",) in errors_at(exc)


@pytest.mark.parametrize("raw", ['"5"', "5.5", "true", "11", "-1"])
def test_nps_strict_in_json_too(raw: str) -> None:
    text = json.dumps(feedback())[:-1] + f', "nps_score": {raw}}}'
    with pytest.raises(ValidationError):
        FeedbackEvent.model_validate_json(text)


@pytest.mark.parametrize("rating", [1, 3, 5])
def test_rating_accepts_1_to_5(rating: int) -> None:
    assert FeedbackEvent.model_validate(feedback(rating=rating)).rating == rating


@pytest.mark.parametrize("rating", [0, 6, -1, "4", 4.5, True])
def test_rating_rejects_out_of_range_and_non_integers(rating: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        FeedbackEvent.model_validate(feedback(rating=rating))
    assert ("rating",) in errors_at(exc)


@pytest.mark.parametrize(
    "ts",
    ["2026-03-02T09:15:00", "2026-03-02 09:15:00", "2026-03-02", "yesterday", "", None],
)
def test_timestamp_without_offset_is_rejected(ts: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        FeedbackEvent.model_validate(feedback(occurred_at=ts))
    assert ("occurred_at",) in errors_at(exc)


@pytest.mark.parametrize("ts", [1795000000, 1795000000.5, True, [], {"at": "now"}])
def test_a_timestamp_is_text_or_a_datetime_never_a_number(ts: Any) -> None:
    """pydantic's lax datetime would read a number as a Unix time; the contract's
    timestamps refuse anything but text (and a datetime, in code), with one message."""
    with pytest.raises(ValidationError) as exc:
        FeedbackEvent.model_validate(feedback(occurred_at=ts))
    (error,) = exc.value.errors()
    assert error["loc"] == ("occurred_at",)
    assert error["msg"] == "Value error, must be an RFC 3339 timestamp string with an offset"
    when = datetime(2026, 3, 2, 9, 15, tzinfo=timezone(timedelta(hours=2)))
    assert FeedbackEvent.model_validate(feedback(occurred_at=when)).occurred_at == when


def test_a_naive_datetime_in_code_is_rejected_too() -> None:
    with pytest.raises(ValidationError) as exc:
        FeedbackEvent.model_validate(feedback(occurred_at=datetime(2026, 3, 2, 9, 15)))
    assert exc.value.errors()[0]["type"] == "timezone_aware"


@pytest.mark.parametrize(
    ("ts", "utc"),
    [
        ("2026-03-02T07:15:00Z", datetime(2026, 3, 2, 7, 15, tzinfo=UTC)),
        ("2026-03-02T09:15:00+02:00", datetime(2026, 3, 2, 7, 15, tzinfo=UTC)),
        ("2026-03-02T02:15:00.250-05:00", datetime(2026, 3, 2, 7, 15, 0, 250000, tzinfo=UTC)),
    ],
)
def test_timestamp_with_offset_is_accepted(ts: str, utc: datetime) -> None:
    assert FeedbackEvent.model_validate(feedback(occurred_at=ts)).occurred_at == utc


@pytest.mark.parametrize("tag", ["en", "el", "zh-Hans-CN", "fi-FI", "ru", "yue"])
def test_language_tag_accepted(tag: str) -> None:
    assert FeedbackEvent.model_validate(feedback(language=tag)).language == tag


@pytest.mark.parametrize(
    "tag", ["english", "e", "en_US", "en-", "zh-Hans-CN-toolongsubtag", "", "1a"]
)
def test_bad_language_tag_rejected(tag: str) -> None:
    with pytest.raises(ValidationError) as exc:
        FeedbackEvent.model_validate(feedback(language=tag))
    assert ("language",) in errors_at(exc)


@pytest.mark.parametrize("channel", [*[c.value for c in Channel], "whatsapp", "kiosk_v2"])
def test_channel_accepts_known_and_new_ids(channel: str) -> None:
    assert FeedbackEvent.model_validate(feedback(channel=channel)).channel == channel


@pytest.mark.parametrize("channel", ["Email", "social media", "2fa", "", "chat!", "x" * 65])
def test_channel_must_look_like_an_id(channel: str) -> None:
    with pytest.raises(ValidationError) as exc:
        FeedbackEvent.model_validate(feedback(channel=channel))
    assert ("channel",) in errors_at(exc)


@pytest.mark.parametrize(
    "customer",
    [{"id": "c", "tier": "gold"}, {"id": "c", "lifecycle_stage": "dormant"}, "cust-1", None],
)
def test_bad_customer(customer: Any) -> None:
    with pytest.raises(ValidationError):
        FeedbackEvent.model_validate(feedback(customer=customer))


def test_metadata_is_a_string_map() -> None:
    with pytest.raises(ValidationError):
        FeedbackEvent.model_validate(feedback(metadata={"n": 1}))


def test_text_limit_is_one_million_characters() -> None:
    assert len(FeedbackEvent.model_validate(feedback(text="a" * 1_000_000)).text) == 1_000_000
    with pytest.raises(ValidationError):
        FeedbackEvent.model_validate(feedback(text="a" * 1_000_001))


def test_feedback_event_is_frozen() -> None:
    ev = FeedbackEvent.model_validate(feedback())
    with pytest.raises(ValidationError):
        ev.text = "changed"  # type: ignore[misc]


def test_feedback_json_schema_is_exported() -> None:
    schema = FeedbackEvent.model_json_schema()
    assert set(schema["required"]) == {"event_id", "occurred_at", "channel", "customer", "text"}
    assert schema["properties"]["nps_score"]["anyOf"][0]["maximum"] == 10


# --- TicketActivity ----------------------------------------------------------------------


def test_ticket_activity() -> None:
    act = TicketActivity.model_validate_json(
        '{"ticket_id": "t-1", "kind": "first_response", '
        '"occurred_at": "2026-03-02T09:20:00+02:00", "agent_id": "agent-7", "desk": "eu"}'
    )
    assert act.kind is ActivityKind.FIRST_RESPONSE
    assert act.occurred_at == datetime(2026, 3, 2, 7, 20, tzinfo=UTC)
    assert act.agent_id == "agent-7"
    assert act.activity_id is None
    assert act.model_extra == {"desk": "eu"}
    assert act.model_dump(mode="json")["occurred_at"] == "2026-03-02T07:20:00.000Z"


@pytest.mark.parametrize("kind", [k.value for k in ActivityKind])
def test_ticket_activity_kinds(kind: str) -> None:
    data = {"ticket_id": "t", "kind": kind, "occurred_at": "2026-03-02T07:20:00Z"}
    if kind in ("priority_changed", "repeat_contact"):
        with pytest.raises(ValidationError, match="needs priority"):
            TicketActivity.model_validate(data)
        data["priority"] = "P1"
    act = TicketActivity.model_validate(data)
    assert act.kind == kind


@pytest.mark.parametrize(
    "patch",
    [
        {"kind": "closed"},
        {"ticket_id": ""},
        {"occurred_at": "2026-03-02T07:20:00"},
        {"ticket_id": None},
    ],
)
def test_ticket_activity_rejects(patch: dict[str, Any]) -> None:
    data: dict[str, Any] = {
        "ticket_id": "t",
        "kind": "resolved",
        "occurred_at": "2026-03-02T07:20:00Z",
    }
    data.update(patch)
    with pytest.raises(ValidationError):
        TicketActivity.model_validate(data)


# --- Ticket --------------------------------------------------------------------------------


def make_ticket() -> Ticket:
    occurred = datetime(2026, 3, 2, 9, 15, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    return Ticket(
        ticket_id="t-1",
        event_id="evt-1",
        customer_id="cust-1",
        priority=Priority.P1,
        severity=80,
        category="churn_threat",
        reasons=[
            Reason(
                rule_id="text.churn_intent",
                weight=35,
                evidence=["churn: ακυρωση"],
                min_priority=Priority.P1,
            ),
            Reason(rule_id="negative", weight=0, evidence=["after text.churn_intent"]),
        ],
        language="el",
        sla=SlaInfo(
            target_seconds=600,
            first_response_due_at=occurred + timedelta(seconds=600),
            policy_id="default-1",
        ),
        actions=["auto_acknowledge", "retention_offer"],
        management_attention=True,
        occurred_at=occurred,
        created_at=datetime(2026, 3, 2, 7, 15, 1, tzinfo=UTC),
        channel="email",
        customer_tier="enterprise",
        text="Θέλω ακύρωση τώρα",
        rules_version="2026.11.1",
    )


def test_ticket_json_round_trip_with_z_timestamps() -> None:
    ticket = make_ticket()
    raw = ticket.model_dump_json()
    data = json.loads(raw)
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["occurred_at"] == "2026-03-02T07:15:00.123Z"
    assert data["created_at"] == "2026-03-02T07:15:01.000Z"
    assert data["sla"] == {
        "target_seconds": 600,
        "first_response_due_at": "2026-03-02T07:25:00.123Z",
        "policy_id": "default-1",
    }
    assert data["priority"] == "P1"
    assert data["reasons"][0] == {
        "rule_id": "text.churn_intent",
        "weight": 35,
        "evidence": ["churn: ακυρωση"],
        "min_priority": "P1",
    }
    assert data["text"] == "Θέλω ακύρωση τώρα"
    back = Ticket.model_validate_json(raw)
    # milliseconds are the contract's precision
    assert back.occurred_at == datetime(2026, 3, 2, 7, 15, 0, 123000, tzinfo=UTC)
    assert back.model_dump_json() == raw
    assert back.model_copy(update={"occurred_at": ticket.occurred_at, "sla": ticket.sla}) == ticket


def test_ticket_python_dump_keeps_datetimes() -> None:
    dumped = make_ticket().model_dump()
    assert isinstance(dumped["occurred_at"], datetime)


@pytest.mark.parametrize("severity", [-1, 101])
def test_ticket_severity_is_0_to_100(severity: int) -> None:
    data = make_ticket().model_dump()
    data["severity"] = severity
    with pytest.raises(ValidationError):
        Ticket.model_validate(data)


def test_rfc3339() -> None:
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000Z"
    cet = timezone(timedelta(hours=1))
    assert rfc3339(datetime(2026, 1, 2, 0, 30, tzinfo=cet)) == "2026-01-01T23:30:00.000Z"


def test_priority_rank() -> None:
    assert [p.rank for p in Priority] == [1, 2, 3, 4]
    assert Priority.from_rank(0) is Priority.P1
    assert Priority.from_rank(3) is Priority.P3
    assert Priority.from_rank(9) is Priority.P4


def test_public_channels() -> None:
    assert Channel.public() == {"review", "social_media", "app_store", "forum"}


# --- Escalation ---------------------------------------------------------------------------


def test_escalation_json() -> None:
    esc = Escalation(
        escalation_id="t-1:first_response:breach",
        dedup_key="t-1:first_response",
        ticket_id="t-1",
        customer_id="cust-1",
        kind=EscalationKind.SLA_BREACH,
        level=1,
        priority=Priority.P1,
        metric="first_response",
        due_at=datetime(2026, 3, 2, 7, 25, tzinfo=UTC),
        emitted_at=datetime(2026, 3, 2, 9, 25, 30, tzinfo=timezone(timedelta(hours=2))),
        overdue_seconds=30.0,
    )
    data = json.loads(esc.model_dump_json())
    assert data["kind"] == "sla_breach"
    assert data["due_at"] == "2026-03-02T07:25:00.000Z"
    assert data["emitted_at"] == "2026-03-02T07:25:30.000Z"
    assert Escalation.model_validate_json(esc.model_dump_json()) == esc


# --- DeadLetter -------------------------------------------------------------------------------


def make_dead_letter(**overrides: Any) -> DeadLetter:
    data: dict[str, Any] = {
        "reason": DeadLetterReason.INVALID_JSON,
        "detail": "Expecting value: line 1 column 1 (char 0)",
        "topic": "feedback.events",
        "partition": 3,
        "offset": 123456789,
        "timestamp_ms": 1772435700000,
        "failed_at": "2026-03-02T07:15:00.000Z",
        "event_id": "evt-1",
        "key": b"cust-1",
        "value": b"\xff\xfe{not json\x00",
        "headers": [
            ("traceparent", b"00-abc-def-01"),
            ("bin", b"\x00\x01\xff"),
            ("dup", b"1"),
            ("dup", b"2"),
        ],
    }
    data.update(overrides)
    return DeadLetter(**data)


def test_dead_letter_headers_keep_originals_first() -> None:
    dl = make_dead_letter()
    headers = dl.kafka_headers()
    assert headers[:4] == [
        ("traceparent", b"00-abc-def-01"),
        ("bin", b"\x00\x01\xff"),
        ("dup", b"1"),
        ("dup", b"2"),
    ]
    meta = dict(headers[4:])
    assert meta == {
        HEADER_PREFIX + "reason": b"invalid_json",
        HEADER_PREFIX + "detail": b"Expecting value: line 1 column 1 (char 0)",
        HEADER_PREFIX + "topic": b"feedback.events",
        HEADER_PREFIX + "partition": b"3",
        HEADER_PREFIX + "offset": b"123456789",
        HEADER_PREFIX + "failed_at": b"2026-03-02T07:15:00.000Z",
        HEADER_PREFIX + "timestamp": b"1772435700000",
        HEADER_PREFIX + "event_id": b"evt-1",
    }
    assert all(isinstance(v, bytes) for _, v in headers)


def test_dead_letter_round_trip_keeps_bytes_and_headers_intact() -> None:
    dl = make_dead_letter()
    back = DeadLetter.from_record(dl.key, dl.value, dl.kafka_headers())
    assert back == dl
    assert back.value == b"\xff\xfe{not json\x00"
    assert back.key == b"cust-1"
    assert back.headers == dl.headers


def test_dead_letter_round_trip_without_optional_parts() -> None:
    dl = make_dead_letter(
        reason=DeadLetterReason.INVALID_UTF8,
        timestamp_ms=None,
        event_id=None,
        key=None,
        headers=[],
        value=b"",
    )
    headers = dl.kafka_headers()
    names = [n for n, _ in headers]
    assert HEADER_PREFIX + "timestamp" not in names
    assert HEADER_PREFIX + "event_id" not in names
    back = DeadLetter.from_record(None, b"", headers)
    assert back == dl
    assert back.key is None


def test_dead_letter_detail_with_non_ascii_survives() -> None:
    dl = make_dead_letter(detail="поле «nps_score»: ожидалось целое число")
    back = DeadLetter.from_record(dl.key, dl.value, dl.kafka_headers())
    assert back.detail == dl.detail


@pytest.mark.parametrize("reason", list(DeadLetterReason))
def test_every_dead_letter_reason_round_trips(reason: DeadLetterReason) -> None:
    dl = make_dead_letter(reason=reason)
    assert DeadLetter.from_record(dl.key, dl.value, dl.kafka_headers()).reason is reason


def test_from_record_without_dlq_headers_fails() -> None:
    with pytest.raises(KeyError):
        DeadLetter.from_record(b"k", b"v", [("traceparent", b"x")])


def test_public_exports() -> None:
    assert Customer.model_fields["id"].is_required()
    assert SCHEMA_VERSION == "1.4"


def test_a_ticket_from_before_1_2_names_no_policy() -> None:
    data = json.loads(make_ticket().model_dump_json())
    del data["sla"]["policy_id"]
    data["schema_version"] = "1.1"
    assert Ticket.model_validate(data).sla.policy_id is None
