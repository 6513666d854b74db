"""A demo support agent: answers some urgent tickets, so SLA clocks stop and pages resolve.

Every third P1/P2 ticket (chosen by its id, so runs look alike) gets a first response
``AFTER_SECONDS`` after its feedback was published. A ticket that had already warned or
breached then yields ``sla_recovered``.
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


def should_answer(ticket_id: str, priority: str) -> bool:
    return priority in ("P1", "P2") and int(ticket_id.replace("-", "")[:8], 16) % EVERY == 0


async def answer_some(producer: Any, topic: str, state: DemoState, stop: asyncio.Event) -> None:
    answered: set[str] = set()
    while not stop.is_set():
        now = time.monotonic()
        for ticket_id, row in list(state.tickets.items()):
            ticket = row.ticket
            if ticket_id in answered or not should_answer(ticket_id, ticket.priority.value):
                continue
            sent = state.sent_at.get(ticket.event_id)
            if sent is None or now - sent < AFTER_SECONDS:
                continue
            reply = {
                "ticket_id": ticket_id,
                "kind": "first_response",
                "occurred_at": datetime.now(UTC).isoformat(),
                "agent_id": "demo-agent",
            }
            await producer.send_and_wait(topic, json.dumps(reply).encode(), key=ticket_id.encode())
            answered.add(ticket_id)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
