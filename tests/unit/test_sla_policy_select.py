"""SLA policies chosen by conditions (issue 15, point 2): ordered, first match wins.

A policy file's ``policies`` entries are matched on the ticket's priority, tier, channel,
category, language and brand (the event's, contract 1.3); no match: the file's own
policy. The prioritizer publishes the selected entry's target, due time and id; the
monitor looks the entry up by that id and keeps the same deadline (and its calendar).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from structlog.testing import capture_logs

from schemas.common import Priority, rfc3339
from schemas.feedback import FeedbackEvent
from schemas.ticket import Ticket
from service.clock import FakeClock
from service.prioritizer.decode import DecodeLimits
from service.prioritizer.pipeline import Prioritizer, Topics
from service.prioritizer.ticket_json import ticket_json
from service.records import InRecord
from service.rules import RuleEngine, load_default_rules
from service.rules.engine import build_ticket, ticket_id_for
from service.sla.engine import SlaEngine
from service.sla.policy import PolicyError, SlaPolicy, TicketFacts, load_policy, parse_policy
from tests.unit.test_sla_one_source import EVENTS

BERLIN = ZoneInfo("Europe/Berlin")
ENGINE = RuleEngine(load_default_rules())

POLICY = """
version: support-7
target_seconds: {P1: 600, P2: 3600, P3: 28800, P4: 172800}
calendars:
  office:
    timezone: Europe/Berlin
    hours: {mon-fri: "09:00-18:00"}
policies:
  - id: enterprise-urgent
    when: {tier: enterprise, priority: [P1, P2]}
    target_seconds: {P1: 300, P2: 1800}
  - id: enterprise
    when: {tier: enterprise}
    target_seconds: {P3: 7200}
  - id: acme-business-hours
    when: {brand: acme}
    calendar: {default: office, P1: 24x7}
  - id: german-reviews
    when: {language: de, channel: [review, app_store]}
    target_seconds: {P3: 14400}
  - id: billing
    when: {category: billing}
    target_seconds: {P4: 86400}
"""


@pytest.fixture(scope="module")
def policy() -> SlaPolicy:
    return parse_policy(POLICY, "policy.yaml")


def chosen(policy: SlaPolicy, priority: str = "P3", **facts: Any) -> str:
    return policy.select(TicketFacts(priority=priority, **facts)).version


def test_first_match_wins(policy: SlaPolicy) -> None:
    # enterprise P1 matches both enterprise entries: the first one applies
    assert chosen(policy, "P1", tier="enterprise") == "enterprise-urgent"
    assert chosen(policy, "P3", tier="enterprise") == "enterprise"
    # an enterprise ticket of brand acme: the enterprise entry comes first
    assert chosen(policy, "P3", tier="enterprise", brand="acme") == "enterprise"
    assert chosen(policy, "P3", tier="premium", brand="acme") == "acme-business-hours"


def test_each_condition_key(policy: SlaPolicy) -> None:
    assert chosen(policy, "P1", tier="enterprise") == "enterprise-urgent"  # priority + tier
    assert chosen(policy, brand="acme") == "acme-business-hours"  # brand
    assert chosen(policy, language="de", channel="review") == "german-reviews"  # language
    assert chosen(policy, language="de-AT", channel="review") == "german-reviews"  # subtag
    assert chosen(policy, category="billing") == "billing"  # category
    # every key given must match
    assert chosen(policy, language="de", channel="email") == "support-7"
    assert chosen(policy, language="en", channel="review") == "support-7"
    assert chosen(policy, language="deu", channel="review") == "support-7"


def test_lists_match_any_of_their_values(policy: SlaPolicy) -> None:
    assert chosen(policy, language="de", channel="app_store") == "german-reviews"
    assert chosen(policy, "P2", tier="enterprise") == "enterprise-urgent"
    assert chosen(policy, "P4", tier="enterprise") == "enterprise"


def test_no_match_is_the_default_policy(policy: SlaPolicy) -> None:
    assert policy.select(TicketFacts(priority="P3")) is policy
    assert chosen(policy, tier="premium", channel="chat", brand="globex") == "support-7"


def test_entries_inherit_the_file_and_change_only_what_they_name(policy: SlaPolicy) -> None:
    urgent = policy.by_id("enterprise-urgent")
    assert urgent is not None
    assert urgent.target_seconds == {
        Priority.P1: 300,
        Priority.P2: 1800,
        Priority.P3: 28800,
        Priority.P4: 172800,
    }
    assert urgent.steps() == policy.steps()
    acme = policy.by_id("acme-business-hours")
    assert acme is not None
    assert acme.calendar_for(Priority.P3).name == "office"
    assert acme.calendar_for(Priority.P1).always_open
    assert policy.calendar_for(Priority.P3).always_open  # the default stays 24/7
    assert policy.calendar_for(Priority.P3, policy_id="acme-business-hours").name == "office"
    assert policy.by_id("support-7") is policy
    assert policy.by_id("nope") is None


def test_a_policy_without_entries_is_one_policy_for_every_ticket() -> None:
    shipped = load_policy()
    assert shipped.policies is None
    assert shipped.select(TicketFacts("P1", "enterprise", "email", "x", "de", "acme")) is shipped


# --- the prioritizer publishes the selected policy; the monitor keeps it -----------------

MONDAY_17 = datetime(2026, 12, 7, 17, 0, tzinfo=BERLIN)


def record(priority: Priority, offset: int, **extra: Any) -> InRecord:
    event = {
        "event_id": f"evt-{priority.value}-{offset}",
        "occurred_at": rfc3339(MONDAY_17),
        "channel": "email",
        "customer": {"id": f"cust-{priority.value}-{offset}", **extra.pop("customer", {})},
        **EVENTS[priority],
        **extra,
    }
    FeedbackEvent.model_validate(event)
    key = f"cust-{priority.value}-{offset}".encode()
    return InRecord("feedback", 0, offset, key, orjson.dumps(event))


def published(policy: SlaPolicy, records: list[InRecord]) -> list[Ticket]:
    prioritizer = Prioritizer(
        ENGINE, Topics("tickets", "dlq"), DecodeLimits(), FakeClock(MONDAY_17), policy
    )
    out = prioritizer.process(records)
    assert [r.topic for r in out] == ["tickets"] * len(records)
    return [Ticket.model_validate_json(r.value) for r in out if r.value is not None]


def test_the_prioritizer_publishes_the_selected_policy_and_the_monitor_keeps_it(
    policy: SlaPolicy,
) -> None:
    records = [
        record(Priority.P1, 0, customer={"tier": "enterprise"}),
        record(Priority.P3, 1, customer={"tier": "enterprise"}),
        record(Priority.P3, 2, brand="acme"),
        record(Priority.P1, 3, brand="acme"),
        record(Priority.P3, 4, brand="globex"),
        record(Priority.P2, 5),
    ]
    tickets = published(policy, records)
    got = [(t.priority, t.sla.policy_id, t.sla.target_seconds, t.brand) for t in tickets]
    assert got == [
        (Priority.P1, "enterprise-urgent", 300, None),
        (Priority.P3, "enterprise", 7200, None),
        (Priority.P3, "acme-business-hours", 28800, "acme"),
        (Priority.P1, "acme-business-hours", 600, "acme"),
        (Priority.P3, "support-7", 28800, "globex"),
        (Priority.P2, "support-7", 3600, None),
    ]
    by_id = {t.sla.policy_id: t for t in tickets}
    urgent = by_id["enterprise-urgent"]
    assert urgent.sla.first_response_due_at == urgent.occurred_at + timedelta(seconds=300)
    # acme P3 counts office hours: 1 h on Monday, 7 h on Tuesday → Tuesday 16:00
    acme_p3 = tickets[2]
    assert acme_p3.sla.first_response_due_at == datetime(2026, 12, 8, 16, 0, tzinfo=BERLIN)
    monitor = SlaEngine(policy)
    now = MONDAY_17.astimezone(UTC)
    with capture_logs() as logs:
        for ticket in tickets:
            monitor.on_ticket(ticket, now)
    assert not [e for e in logs if e["event"] == "sla_policy_mismatch"]
    for ticket in tickets:
        clock = monitor.get(ticket.ticket_id)
        assert clock is not None
        assert clock.reply.target_seconds == ticket.sla.target_seconds
        assert clock.reply.due_at == ticket.sla.first_response_due_at
    # the acme clock's breach fires at its business-hours deadline, not 8 h of wall time
    fired: dict[str, datetime] = {}
    t = now
    while t < datetime(2026, 12, 9, tzinfo=UTC):
        t += timedelta(minutes=10)
        for esc in monitor.fire_due(t):
            fired[esc.escalation_id] = esc.due_at
    assert fired[f"{acme_p3.ticket_id}:first_response:breach1"] == acme_p3.sla.first_response_due_at
    assert fired[f"{tickets[4].ticket_id}:first_response:breach1"] == MONDAY_17 + timedelta(hours=8)


def test_a_ticket_naming_an_unknown_policy_is_selected_again_and_keeps_its_target(
    policy: SlaPolicy,
) -> None:
    [ticket] = published(policy, [record(Priority.P3, 0, brand="acme")])
    renamed = ticket.model_copy(
        update={"sla": ticket.sla.model_copy(update={"policy_id": "retired-entry"})}
    )
    monitor = SlaEngine(policy)
    with capture_logs() as logs:
        monitor.on_ticket(renamed, MONDAY_17)
    assert not [e for e in logs if e["event"] == "sla_policy_mismatch"]
    clock = monitor.get(ticket.ticket_id)
    assert clock is not None
    assert clock.policy_id == "acme-business-hours"
    assert clock.reply.due_at == ticket.sla.first_response_due_at


def test_ticket_json_with_a_brand_and_entries_is_byte_identical_to_the_model(
    policy: SlaPolicy,
) -> None:
    for data in (
        {"customer": {"id": "c", "tier": "enterprise"}, "brand": "acme"},
        {"customer": {"id": "c"}, "brand": "acme", "language": "de"},
        {"customer": {"id": "c"}},
    ):
        event = FeedbackEvent.model_validate(
            {
                "event_id": "e-1",
                "occurred_at": rfc3339(MONDAY_17),
                "channel": "review",
                "text": "Das ist schlecht",
                **data,
            }
        )
        assessment = ENGINE.assess(event, [])
        reference = build_ticket(event, assessment, MONDAY_17, "r", policy)
        fast = ticket_json(event, assessment, ticket_id_for("e-1"), rfc3339(MONDAY_17), "r", policy)
        assert fast == reference.model_dump_json().encode()


def test_brand_is_optional_and_at_most_100_characters() -> None:
    base: dict[str, Any] = {
        "event_id": "e",
        "occurred_at": "2026-03-02T09:00:00Z",
        "channel": "email",
        "customer": {"id": "c"},
        "text": "",
    }
    assert FeedbackEvent.model_validate(base).brand is None
    assert FeedbackEvent.model_validate({**base, "brand": "acme"}).brand == "acme"
    with pytest.raises(ValueError, match="brand"):
        FeedbackEvent.model_validate({**base, "brand": "x" * 101})


# --- validation names the policy ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("policies: []", "SLA policy: policies: must hold at least one policy"),
        (
            "policies: [{id: gold, when: {tier: gold}}]",
            'SLA policy "gold": policies[0].when.tier[0]: Input should be',
        ),
        (
            "policies: [{id: a, when: {priority: P5}}]",
            'SLA policy "a": policies[0].when.priority[0]: Input should be',
        ),
        (
            "policies: [{id: a, when: {channel: fax}}]",
            'SLA policy "a": policies[0].when.channel[0]: Input should be',
        ),
        ("policies: [{id: a, when: {colour: red}}]", 'SLA policy "a": policies[0].when.colour'),
        (
            "policies: [{id: a, when: {brand: []}}]",
            'SLA policy "a": policies[0].when.brand: must name at least one value',
        ),
        ("policies: [{id: a}, {id: a}]", "SLA policy \"a\": policies[1].id: duplicate id 'a'"),
        (
            "version: v1\npolicies: [{id: v1}]",
            "SLA policy \"v1\": policies[0].id: duplicate id 'v1' (the file's version)",
        ),
        (
            "policies: [{id: a, warning_fractions: [0.5]}]",
            'SLA policy "a": policies[0].warning_fractions: unknown key',
        ),
        (
            "policies: [{id: a, calendar: ofice}]",
            "SLA policy \"a\": policies[0].calendar.default: unknown calendar 'ofice'",
        ),
        (
            "policies: [{id: a, target_seconds: {P1: 0}}]",
            'SLA policy "a": policies[0].target_seconds.P1: must be positive',
        ),
        ("policies: [{when: {tier: free}}]", "policies[0].id: required"),
    ],
)
def test_validation_errors_name_the_file_and_the_policy(text: str, expected: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(text, "policy.yaml")
    line = str(err.value)
    assert line.startswith("policy.yaml: ")
    assert expected in line
    assert "\n" not in line
