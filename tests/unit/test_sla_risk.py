"""Tickets at risk / overdue and the time to the next breach (gauges read at scrape time)."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import generate_latest

from schemas.activity import ActivityKind, TicketActivity
from schemas.common import Priority
from schemas.ticket import Ticket
from service.clock import FakeClock
from service.observability.metrics import Metrics
from service.records import InRecord
from service.sla.engine import SlaEngine
from service.sla.monitor import SlaMonitor, SlaTopics
from service.sla.policy import SlaPolicy
from tests.unit.test_sla_monitor import T0, ticket

TOPICS = SlaTopics("tickets", "activity", "escalations", "changelog", "dlq")


def engine_with(*tickets: tuple[str, int]) -> SlaEngine:
    engine = SlaEngine(SlaPolicy())
    for tid, target in tickets:
        engine.on_ticket(Ticket.model_validate_json(ticket(tid, T0, target)), T0)
    return engine


def test_risk_follows_the_clock() -> None:
    engine = engine_with(("a", 600), ("b", 3600))
    r = engine.risk(T0 + timedelta(seconds=100))
    assert r.at_risk_by_priority[Priority.P1] == 0
    assert r.overdue_by_priority[Priority.P1] == 0
    assert r.seconds_to_next_deadline == 500
    r = engine.risk(T0 + timedelta(seconds=300))  # a at 50 %: at risk
    assert r.at_risk_by_priority[Priority.P1] == 1
    r = engine.risk(T0 + timedelta(seconds=600))  # a at its deadline: overdue
    assert (r.at_risk_by_priority[Priority.P1], r.overdue_by_priority[Priority.P1]) == (0, 1)
    assert r.seconds_to_next_deadline == 3000  # b is next
    r = engine.risk(T0 + timedelta(seconds=1800))  # b at 50 %
    assert (r.at_risk_by_priority[Priority.P1], r.overdue_by_priority[Priority.P1]) == (1, 1)
    r = engine.risk(T0 + timedelta(seconds=4000))
    assert r.overdue_by_priority[Priority.P1] == 2
    assert r.next_deadline is None
    assert r.seconds_to_next_deadline is None


def test_a_response_takes_the_ticket_out_of_risk() -> None:
    engine = engine_with(("a", 600))
    now = T0 + timedelta(seconds=700)
    engine.on_activity(
        TicketActivity(ticket_id="a", kind=ActivityKind.FIRST_RESPONSE, occurred_at=now), now
    )
    r = engine.risk(now)
    assert sum(r.overdue_by_priority.values()) == sum(r.at_risk_by_priority.values()) == 0


def test_monitor_merges_partitions_and_metrics_export_the_gauges() -> None:
    clock = FakeClock(T0)
    mon = SlaMonitor(SlaPolicy(), TOPICS, clock)
    mon.state.restore(0, [])
    mon.state.restore(1, [])
    mon.process(
        [
            InRecord("tickets", 0, 0, b"a", ticket("a", T0, 600)),
            InRecord("tickets", 1, 0, b"b", ticket("b", T0, 1000)),
        ]
    )
    clock.advance(650)
    metrics = Metrics()
    text = generate_latest(metrics.registry).decode()
    assert "triage_sla_tickets_at_risk" not in text  # no SLA monitor in this process
    metrics.watch_sla_risk(mon.risk)
    metrics.watch_sla_risk(mon.risk)  # re-registering replaces, does not duplicate
    text = generate_latest(metrics.registry).decode()
    assert 'triage_sla_tickets_at_risk{priority="P1"} 1.0' in text
    assert 'triage_sla_tickets_overdue{priority="P1"} 1.0' in text
    assert 'triage_sla_tickets_overdue{priority="P4"} 0.0' in text
    assert "triage_sla_next_breach_seconds 350.0" in text
