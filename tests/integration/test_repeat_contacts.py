"""Repeat and cross-channel contacts against a real broker: linking, and state that comes
back from the customer changelog after a restart (not from reprocessing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas.ticket import Ticket
from service.app import TriageApp
from service.clock import SystemClock
from service.kafka.admin import ensure_topics
from service.kafka.changelog import read_changelog
from service.prioritizer.decode import DecodeLimits
from service.prioritizer.history import CustomerRecord
from service.prioritizer.pipeline import Prioritizer, Topics
from service.records import InRecord
from service.rules.engine import RuleEngine, ticket_id_for
from service.rules.model import load_default_rules
from tests.integration.kafka_helpers import (
    committed_offsets,
    feedback,
    produce,
    read_topic,
    running_app,
    unique_settings,
)

pytestmark = pytest.mark.integration
CUSTOMER = "cust-repeat-x"
FIRST = "The export is broken."
SECOND = "The export is still not working."


def ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def complaint(event_id: str, text: str, minutes_ago: float, channel: str) -> tuple[bytes, bytes]:
    event = feedback(
        event_id, text, customer={"id": CUSTOMER}, occurred_at=ago(minutes_ago), channel=channel
    )
    return CUSTOMER.encode(), orjson.dumps(event)


async def tickets(bootstrap: str, topic: str, count: int) -> dict[str, Ticket]:
    records = await read_topic(bootstrap, topic, count, timeout=60)
    out = [Ticket.model_validate_json(r.value) for r in records]
    return {t.event_id: t for t in out}


async def test_repeat_contact_links_earlier_tickets_and_survives_a_restart(
    bootstrap: str,
) -> None:
    s = unique_settings(bootstrap)
    first, second = ticket_id_for("rc-1"), ticket_id_for("rc-2")
    async with running_app(s, role="prioritizer"):
        await produce(bootstrap, s.topic_feedback, [complaint("rc-1", FIRST, 10, "email")])
        await tickets(bootstrap, s.topic_tickets, 1)
        await produce(bootstrap, s.topic_feedback, [complaint("rc-2", SECOND, 5, "chat")])
        got = await tickets(bootstrap, s.topic_tickets, 2)
    assert got["rc-1"].related_ticket_ids == []
    t2 = got["rc-2"]
    assert t2.related_ticket_ids == [first]
    assert "repeat_contact" in {r.rule_id for r in t2.reasons}
    # the same complaint from a customer without history is scored lower (P2)
    stateless = Prioritizer(
        RuleEngine(load_default_rules()), Topics("t", "d"), DecodeLimits(), SystemClock()
    )
    _, raw = complaint("rc-2", SECOND, 5, "chat")
    [alone] = stateless.process([InRecord(s.topic_feedback, 0, 0, CUSTOMER.encode(), raw)])
    assert t2.priority.rank < Ticket.model_validate_json(alone.value).priority.rank
    # both inputs were committed, and the customer's state is in its changelog partition
    offsets = await committed_offsets(bootstrap, s.group_id, s.topic_feedback)
    [(partition, committed)] = [(p, o) for p, o in offsets.items() if o]
    assert committed == 2
    _, records = await read_changelog(
        {"bootstrap_servers": bootstrap}, s.topic_customer_changelog, partition
    )
    last = CustomerRecord.from_json(records[-1][1] or b"")
    assert [t.ticket_id for t in last.tickets] == [first, second]

    # A new instance with the same settings: the history comes back from the changelog.
    async with running_app(s, role="prioritizer") as app:
        await produce(bootstrap, s.topic_feedback, [complaint("rc-3", SECOND, 1, "social_media")])
        got = await tickets(bootstrap, s.topic_tickets, 3)
    # counted once its batch is committed, which may follow the ticket's arrival: read
    # after the stop, which waits for every commit in flight
    assert app.prioritizer is not None
    assert app.prioritizer.loop.processed == 1  # only rc-3: nothing was reprocessed
    t3 = got["rc-3"]
    assert t3.related_ticket_ids == [first, second]
    assert "repeat_contact" in {r.rule_id for r in t3.reasons}


async def test_switched_off_the_prioritizer_is_stateless_and_needs_no_changelog(
    bootstrap: str,
) -> None:
    s = unique_settings(bootstrap, repeat_contacts=False)
    async with running_app(s, role="prioritizer") as app:
        await produce(
            bootstrap,
            s.topic_feedback,
            [complaint("off-1", FIRST, 10, "email"), complaint("off-2", SECOND, 5, "chat")],
        )
        got = await tickets(bootstrap, s.topic_tickets, 2)
        assert app.prioritizer is not None
        assert app.prioritizer.prioritizer.state is None
    assert got["off-2"].related_ticket_ids == []
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        assert s.topic_customer_changelog not in await admin.list_topics()
    finally:
        await admin.close()


async def test_refuses_customer_changelog_not_co_partitioned_with_feedback(
    bootstrap: str,
) -> None:
    s = unique_settings(bootstrap)
    await ensure_topics({"bootstrap_servers": bootstrap}, {s.topic_feedback: 3})
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(s.topic_customer_changelog, 2, 1)])
    finally:
        await admin.close()
    app = TriageApp(s, role="prioritizer")
    with pytest.raises(SystemExit, match="co-partitioned"):
        await app.start()
    await app.stop()
