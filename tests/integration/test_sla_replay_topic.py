"""``triage sla replay --topic`` against the real broker: the tickets and activity topics
are read once, from the beginning to the end they had, and replayed under two policies.
Fresh topics per test; every wait is bounded."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from schemas.activity import ActivityKind, TicketActivity
from schemas.common import Priority
from schemas.ticket import Ticket
from service.config import Settings
from service.kafka.admin import ensure_topics
from service.kafka.clients import connection_kwargs
from service.kafka.replay_source import read_topics
from service.sla.policy import parse_policy
from service.sla.replay import replay
from tests.integration.kafka_helpers import service_env, unique_settings
from tests.tickets import make_ticket

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
P1_600 = parse_policy("version: p1-600\ntarget_seconds: {P1: 600}\n")
P1_900 = parse_policy("version: p1-900\ntarget_seconds: {P1: 900}\n")


def answer(t: Ticket, seconds: float) -> TicketActivity:
    return TicketActivity(
        ticket_id=t.ticket_id,
        kind=ActivityKind.FIRST_RESPONSE,
        occurred_at=t.occurred_at + timedelta(seconds=seconds),
        agent_id="agent-1",
    )


async def publish(s: Settings, topic: str, values: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(**connection_kwargs(s), acks="all")
    await producer.start()
    try:
        for key, value in values:
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def fill(s: Settings) -> list[Ticket]:
    """Three P1 tickets (answered after 700 s, 300 s, and one a day later), their answers
    and one record that is not an activity."""
    await ensure_topics(connection_kwargs(s), {s.topic_tickets: 3, s.topic_activity: 3})
    late = make_ticket("late", Priority.P1, T0)
    quick = make_ticket("quick", Priority.P1, T0 + timedelta(minutes=5))
    later = make_ticket("later", Priority.P1, T0 + timedelta(days=1))
    tickets = [late, quick, later]
    await publish(
        s, s.topic_tickets, [(t.ticket_id, t.model_dump_json().encode()) for t in tickets]
    )
    answers = [answer(late, 700), answer(quick, 300), answer(later, 100)]
    await publish(
        s,
        s.topic_activity,
        [(a.ticket_id, a.model_dump_json().encode()) for a in answers]
        + [("late", b'{"kind": "first_response"}')],
    )
    return tickets


async def test_read_the_topics_once_and_replay(bootstrap: str) -> None:
    s = unique_settings(bootstrap)
    await fill(s)
    data = await asyncio.wait_for(read_topics(s, timeout_s=30), 60)
    assert sorted(t.ticket_id for t in data.tickets) == ["late", "later", "quick"]
    assert len(data.activities) == 3
    assert data.bad == 1
    assert data.problems[0].startswith(f"{s.topic_activity}[")
    assert "not a valid TicketActivity" in data.problems[0]

    report = replay(data, [("current", P1_600, None), ("new", P1_900, None)])
    current, new = (p.rows[0] for p in report.policies)
    assert (current.tickets, current.fr_met, current.fr_missed, current.breaches) == (3, 2, 1, 1)
    assert (new.tickets, new.fr_met, new.fr_missed, new.breaches) == (3, 3, 0, 0)
    assert current.fr_median_seconds == 300.0

    # --since/--until bound the inputs by occurred_at: only the day-later ticket
    day_two = await asyncio.wait_for(
        read_topics(s, since=T0 + timedelta(hours=12), until=T0 + timedelta(days=2)), 60
    )
    assert [t.ticket_id for t in day_two.tickets] == ["later"]
    assert [a.ticket_id for a in day_two.activities] == ["later"]


async def test_an_empty_topic_pair_is_read_to_its_end_at_once(bootstrap: str) -> None:
    s = unique_settings(bootstrap)
    await ensure_topics(connection_kwargs(s), {s.topic_tickets: 2, s.topic_activity: 2})
    data = await asyncio.wait_for(read_topics(s, timeout_s=30), 60)
    assert (data.tickets, data.activities, data.bad) == ([], [], 0)


async def test_the_command_reads_the_topics(bootstrap: str, tmp_path: Path) -> None:
    s = unique_settings(bootstrap)
    await fill(s)
    env = service_env(s, 0)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # from --bootstrap
    env.pop("TRIAGE_SLA_POLICY_PATH", None)
    policy = tmp_path / "new.yaml"
    policy.write_text("version: p1-900\ntarget_seconds: {P1: 900}\n", encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service.cli",
        "sla",
        "replay",
        "--policy",
        str(policy),
        "--topic",
        "--bootstrap",
        bootstrap,
        "--json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["tickets"] == 3
    assert report["bad_lines"] == 1
    assert "1 bad records skipped" in err.decode()
    current, new = report["policies"]
    assert current["version"] == "default-1"  # the shipped policy: P1 600 s
    assert current["priorities"][0]["breaches"] == 1
    assert new["version"] == "p1-900"
    assert new["priorities"][0]["breaches"] == 0
