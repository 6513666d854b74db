from __future__ import annotations

import orjson
import pytest

from tests.integration.kafka_helpers import produce, read_topic, running_app, unique_settings

pytestmark = pytest.mark.integration


async def test_smoke(bootstrap: str) -> None:
    s = unique_settings(bootstrap)
    async with running_app(s):
        ev = {
            "event_id": "e1",
            "occurred_at": "2026-11-22T10:00:00Z",
            "channel": "email",
            "customer": {"id": "c1"},
            "text": "I want to cancel my subscription!!",
        }
        await produce(
            bootstrap, s.topic_feedback, [(b"c1", orjson.dumps(ev)), (b"c2", b"not json")]
        )
        tickets = await read_topic(bootstrap, s.topic_tickets, 1, 30)
        dlq = await read_topic(bootstrap, s.topic_dlq, 1, 30)
    assert len(tickets) == 1 and len(dlq) == 1
    print(tickets[0].value, dlq[0].headers)
