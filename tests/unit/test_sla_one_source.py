"""One source of truth for a ticket's target (issue 15): the SLA policy.

The prioritizer publishes ``sla.target_seconds``/``sla.first_response_due_at`` from
``SlaPolicy.first_response_due`` and names the policy (``sla.policy_id``); the monitor,
fed the same policy, keeps exactly that deadline for every priority — with the shipped
targets and with overridden ones. A ticket whose target another policy set keeps its own
(what it shows), and the disagreement is logged once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from structlog.testing import capture_logs

from schemas.common import Priority
from schemas.feedback import FeedbackEvent
from schemas.ticket import Ticket
from service.clock import FakeClock
from service.prioritizer.decode import DecodeLimits
from service.prioritizer.pipeline import Prioritizer, Topics
from service.records import InRecord
from service.rules import RuleEngine, load_default_rules
from service.sla.engine import SlaEngine
from service.sla.policy import SlaPolicy, load_demo_policy, load_policy

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ENGINE = RuleEngine(load_default_rules())

#: one event per priority under the shipped rules
EVENTS: dict[Priority, dict[str, Any]] = {
    Priority.P1: {"text": "I am furious, I will cancel my account"},
    Priority.P2: {"text": "", "nps_score": 2},
    Priority.P3: {"text": "How do I export a report?"},
    Priority.P4: {"text": "Great product", "nps_score": 10},
}
OVERRIDDEN = SlaPolicy(
    version="fast-7",
    target_seconds={Priority.P1: 120, Priority.P2: 300, Priority.P3: 900, Priority.P4: 7200},
)


def record(priority: Priority, offset: int) -> InRecord:
    event = {
        "event_id": f"evt-{priority.value}",
        "occurred_at": "2026-03-02T08:59:30.250Z",
        "channel": "email",
        "customer": {"id": f"cust-{priority.value}"},
        **EVENTS[priority],
    }
    FeedbackEvent.model_validate(event)
    return InRecord("feedback", 0, offset, f"cust-{priority.value}".encode(), orjson.dumps(event))


def published(policy: SlaPolicy) -> list[Ticket]:
    prioritizer = Prioritizer(
        ENGINE, Topics("tickets", "dlq"), DecodeLimits(), FakeClock(NOW), policy
    )
    out = prioritizer.process([record(p, i) for i, p in enumerate(Priority)])
    assert [r.topic for r in out] == ["tickets"] * 4
    return [Ticket.model_validate_json(r.value) for r in out if r.value is not None]


@pytest.mark.parametrize(
    "policy", [load_policy(), load_demo_policy(), OVERRIDDEN], ids=lambda p: p.version
)
def test_the_published_due_time_is_the_deadline_the_monitor_keeps(policy: SlaPolicy) -> None:
    tickets = published(policy)
    assert [t.priority for t in tickets] == list(Priority)
    monitor = SlaEngine(policy)
    with capture_logs() as logs:
        for ticket in tickets:
            monitor.on_ticket(ticket, NOW)
    assert not [e for e in logs if e["event"] == "sla_policy_mismatch"]
    for ticket in tickets:
        target = policy.target_seconds[ticket.priority]
        assert ticket.sla.policy_id == policy.version
        assert ticket.sla.target_seconds == target
        assert ticket.sla.first_response_due_at == ticket.occurred_at + timedelta(seconds=target)
        clock = monitor.get(ticket.ticket_id)
        assert clock is not None
        assert clock.reply.target_seconds == target
        assert clock.reply.due_at == ticket.sla.first_response_due_at


def test_a_policy_target_changes_the_published_due_time_too() -> None:
    shipped = {t.priority: t.sla for t in published(load_policy())}
    fast = {t.priority: t.sla for t in published(OVERRIDDEN)}
    assert shipped[Priority.P1].target_seconds == 600
    assert fast[Priority.P1].target_seconds == 120
    delta = shipped[Priority.P1].first_response_due_at - fast[Priority.P1].first_response_due_at
    assert delta == timedelta(seconds=480)


def test_a_ticket_from_another_policy_keeps_its_own_deadline_and_is_logged_once() -> None:
    tickets = published(load_policy())
    monitor = SlaEngine(OVERRIDDEN)
    with capture_logs() as logs:
        for ticket in (*tickets, *tickets):
            monitor.on_ticket(ticket, NOW)
    for ticket in tickets:
        clock = monitor.get(ticket.ticket_id)
        assert clock is not None
        assert clock.reply.due_at == ticket.sla.first_response_due_at
    mismatches = [e for e in logs if e["event"] == "sla_policy_mismatch"]
    assert [(e["priority"], e["ticket_policy"], e["policy"]) for e in mismatches] == [
        (p.value, "default-1", "fast-7") for p in Priority
    ]
    assert mismatches[0]["ticket_target_seconds"] == 600
    assert mismatches[0]["policy_target_seconds"] == 120


def test_the_prioritizer_runtime_takes_the_policy_it_is_given_or_the_configured_one(
    tmp_path: Path,
) -> None:
    from service.config import Settings
    from service.kafka.prioritizer_runtime import PrioritizerRuntime
    from service.observability.metrics import Metrics

    rules = load_default_rules()
    given = PrioritizerRuntime(
        Settings(kafka_bootstrap_servers="127.0.0.1:9"),
        {},
        rules,
        FakeClock(NOW),
        Metrics(),
        sla_policy=OVERRIDDEN,
    )
    assert given.prioritizer.policy is OVERRIDDEN
    path = tmp_path / "policy.yaml"
    path.write_text("version: file-3\ntarget_seconds: {P1: 60}\n", encoding="utf-8")
    configured = PrioritizerRuntime(
        Settings(kafka_bootstrap_servers="127.0.0.1:9", sla_policy_path=str(path)),
        {},
        rules,
        FakeClock(NOW),
        Metrics(),
    )
    assert configured.prioritizer.policy.version == "file-3"
    assert configured.prioritizer.policy.target_seconds[Priority.P1] == 60


def test_rule_files_with_sla_seconds_load_with_a_deprecation_warning() -> None:
    from service.app import TriageApp
    from service.config import Settings

    old = load_default_rules().model_copy(
        update={"sla_seconds": {Priority.P1: 600, Priority.P2: 3600}}
    )
    with capture_logs() as logs:
        app = TriageApp(
            Settings(kafka_bootstrap_servers="127.0.0.1:9"),
            role="sla",
            rules=old,
            sla_policy=OVERRIDDEN,
        )
    assert app.sla_policy is OVERRIDDEN
    warned = [e for e in logs if e["event"] == "rules_sla_seconds_ignored"]
    assert len(warned) == 1
    assert warned[0]["log_level"] == "warning"
    assert 'targets come from SLA policy "fast-7"' in warned[0]["detail"]
    assert "P1 600 s -> 120 s, P2 3600 s -> 300 s" in warned[0]["detail"]
    with capture_logs() as logs:
        TriageApp(
            Settings(kafka_bootstrap_servers="127.0.0.1:9"),
            role="sla",
            rules=load_default_rules(),
            sla_policy=OVERRIDDEN,
        )
    assert not [e for e in logs if e["event"] == "rules_sla_seconds_ignored"]
