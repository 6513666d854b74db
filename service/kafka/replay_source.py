"""``triage sla replay --topic``: the tickets and the activity topic, read once.

A :class:`~service.kafka.reader.TopicReader` (no group, no commits) reads every partition
of both topics from the beginning to the end each had when reading started, so the
replay sees a fixed set of records even while the service keeps publishing. Records are
decoded by topic (``service.sla.replay.parse_as``); undecodable ones are counted, as bad
lines of a file are. ``since``/``until`` bound the inputs by their ``occurred_at``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from aiokafka import TopicPartition

from schemas.activity import TicketActivity
from schemas.ticket import Ticket
from service.config import Settings
from service.kafka.reader import reading
from service.sla.replay import ReplayInput, parse_as

#: How long reading both topics to their end may take before giving up.
READ_TIMEOUT_S = 120.0


async def read_topics(
    settings: Settings,
    since: datetime | None = None,
    until: datetime | None = None,
    timeout_s: float = READ_TIMEOUT_S,
) -> ReplayInput:
    """Tickets (``topic_tickets``) and activities (``topic_activity``) from the beginning
    to the current end, with ``since <= occurred_at < until``. TimeoutError when the end
    is not reached within ``timeout_s``."""
    kinds: dict[str, type[Ticket] | type[TicketActivity]] = {
        settings.topic_tickets: Ticket,
        settings.topic_activity: TicketActivity,
    }
    out = ReplayInput()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with reading(settings, list(kinds)) as reader:
        ends = await reader.end_offsets()
        left = {tp for tp, end in ends.items() if await reader.position(tp) < end}
        while left:
            if loop.time() >= deadline:
                names = ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in left))
                raise TimeoutError(f"reading did not reach the end of {names} in {timeout_s} s")
            for record in await reader.read(timeout_ms=200):
                if record.offset >= ends.get(TopicPartition(record.topic, record.partition), 0):
                    continue  # published after reading started
                try:
                    out.add(parse_as(kinds[record.topic], record.value))
                except ValueError as exc:
                    out.reject(f"{record.topic}[{record.partition}]@{record.offset}", str(exc))
            left = {tp for tp in left if await reader.position(tp) < ends[tp]}
    return out.window(since, until)
