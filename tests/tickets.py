"""Tickets as the prioritizer publishes them, for tests of the SLA side and the watch view."""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.common import Priority
from schemas.ticket import SlaInfo, Ticket

#: Targets of the tests' tickets (P1 10 min, P2 1 h, P3 4 h, P4 1 day).
TARGETS = {Priority.P1: 600, Priority.P2: 3600, Priority.P3: 14400, Priority.P4: 86400}


def make_ticket(
    ticket_id: str,
    priority: Priority,
    occurred_at: datetime,
    *,
    event_id: str | None = None,
    customer_id: str | None = None,
    tier: str | None = None,
    severity: int = 80,
    text: str | None = None,
) -> Ticket:
    """A ``frustrated`` e-mail ticket due ``TARGETS[priority]`` after ``occurred_at``."""
    target = TARGETS[priority]
    return Ticket(
        ticket_id=ticket_id,
        event_id=event_id or f"e-{ticket_id}",
        customer_id=customer_id or f"c-{ticket_id}",
        priority=priority,
        severity=severity,
        category="frustrated",
        reasons=[],
        language="en",
        sla=SlaInfo(
            target_seconds=target, first_response_due_at=occurred_at + timedelta(seconds=target)
        ),
        actions=[],
        occurred_at=occurred_at,
        created_at=occurred_at,
        channel="email",
        customer_tier=tier,
        text=text or f"text of {ticket_id}",
        rules_version="test",
    )
