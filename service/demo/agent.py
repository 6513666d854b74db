"""A demo support agent: acts on some tickets so the SLA features show live.

Which tickets get what is decided by the ticket id (so runs look alike), counted from
when the ticket's feedback was published:

* every third P1/P2 ticket gets a first response after ``AFTER_SECONDS``: its clock
  stops, and a ticket that had already warned or breached yields ``sla_recovered``;
* one P3/P4 ticket in four is put ``pending`` after ``PAUSE_AT`` seconds and
  ``resumed`` ``PAUSE_SECONDS`` later: its later steps come that much later and carry
  ``paused_seconds``;
* one other P3 ticket in four is raised to P2 by the agent (``priority_changed``) after
  ``RAISE_AT`` seconds: ``sla_retargeted``, then P2 steps from the ticket's start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from service.demo.figures import DemoState

AFTER_SECONDS = 12.0
EVERY = 3
PAUSE_AT = 5.0
PAUSE_SECONDS = 20.0
RAISE_AT = 10.0


def _hash(ticket_id: str) -> int:
    return int(ticket_id.replace("-", "")[:8], 16)


def should_answer(ticket_id: str, priority: str) -> bool:
    return priority in ("P1", "P2") and _hash(ticket_id) % EVERY == 0


def plan(ticket_id: str, priority: str) -> list[tuple[float, dict[str, Any]]]:
    """The agent's actions on a ticket: (seconds after its feedback was sent, activity)."""
    if should_answer(ticket_id, priority):
        return [(AFTER_SECONDS, {"kind": "first_response"})]
    h = _hash(ticket_id) % 4
    if priority in ("P3", "P4") and h == 1:
        return [(PAUSE_AT, {"kind": "pending"}), (PAUSE_AT + PAUSE_SECONDS, {"kind": "resumed"})]
    if priority == "P3" and h == 2:
        return [(RAISE_AT, {"kind": "priority_changed", "priority": "P2"})]
    return []


async def answer_some(producer: Any, topic: str, state: DemoState, stop: asyncio.Event) -> None:
    done: set[tuple[str, int]] = set()
    while not stop.is_set():
        now = time.monotonic()
        for ticket_id, row in list(state.tickets.items()):
            sent = state.sent_at.get(row.ticket.event_id)
            if sent is None:
                continue
            for i, (delay, action) in enumerate(plan(ticket_id, row.ticket.priority.value)):
                if (ticket_id, i) in done or now - sent < delay:
                    continue
                activity = {
                    "ticket_id": ticket_id,
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "agent_id": "demo-agent",
                    **action,
                }
                await producer.send_and_wait(
                    topic, json.dumps(activity).encode(), key=ticket_id.encode()
                )
                done.add((ticket_id, i))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
