"""``triage watch`` and ``triage demo`` against the real broker: tickets, activity and
escalations written to fresh topics show in the view; an answered ticket leaves it.

Headless: the view goes to a recording ``rich`` console (or plain lines); every wait is on
a condition, bounded."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from rich.console import Console

from schemas.activity import ActivityKind, TicketActivity
from schemas.common import Priority
from schemas.escalation import Escalation, EscalationKind
from schemas.ticket import Ticket
from service.config import Settings
from service.demo import agent, runner
from service.kafka.admin import ensure_topics
from service.kafka.clients import connection_kwargs
from service.sla.policy import SlaPolicy
from service.watch.runner import run_watch
from service.watch.state import WatchState
from service.watch.view import render
from tests.integration.kafka_helpers import service_env, unique_settings, wait_for
from tests.tickets import make_ticket

pytestmark = pytest.mark.integration
POLICY = SlaPolicy()  # P1 10 min, P2 1 h: the tickets' own targets


def ticket(name: str, priority: Priority, ago: float, tier: str = "standard") -> Ticket:
    return make_ticket(
        f"tkt-{name}",
        priority,
        datetime.now(UTC) - timedelta(seconds=ago),
        event_id=f"evt-{name}",
        customer_id=f"cust-{name}",
        tier=tier,
        severity=70,
        text=f"feedback of {name}",
    )


def answer(t: Ticket) -> TicketActivity:
    return TicketActivity(
        ticket_id=t.ticket_id,
        kind=ActivityKind.FIRST_RESPONSE,
        occurred_at=datetime.now(UTC),
        agent_id="agent-7",
    )


def breach(t: Ticket) -> Escalation:
    now = datetime.now(UTC)
    return Escalation(
        escalation_id=f"{t.ticket_id}:first_response:breach1",
        dedup_key=f"{t.ticket_id}:first_response",
        ticket_id=t.ticket_id,
        customer_id=t.customer_id,
        kind=EscalationKind.SLA_BREACH,
        level=1,
        priority=t.priority,
        metric="first_response",
        due_at=t.sla.first_response_due_at,
        emitted_at=now,
        overdue_seconds=(now - t.sla.first_response_due_at).total_seconds(),
    )


async def topics(s: Settings) -> None:
    names = [s.topic_tickets, s.topic_activity, s.topic_escalations]
    await ensure_topics(connection_kwargs(s), dict.fromkeys(names, 3))


async def send(
    s: Settings,
    topic: str,
    items: list[Ticket | TicketActivity | Escalation],
    *,
    partition: int | None = None,
    timestamp_ms: int | None = None,
) -> None:
    producer = AIOKafkaProducer(**connection_kwargs(s), acks="all")
    await producer.start()
    try:
        for item in items:
            await producer.send_and_wait(
                topic,
                item.model_dump_json().encode(),
                key=item.ticket_id.encode(),
                partition=partition,
                timestamp_ms=timestamp_ms,
            )
    finally:
        await producer.stop()


def screen(state: WatchState, width: int = 200) -> str:
    """The live view of the state now, as text."""
    console = Console(record=True, width=width, file=io.StringIO(), force_terminal=False)
    console.print(render(state, datetime.now(UTC), width, 40, source="test"))
    return console.export_text()


async def test_open_tickets_escalations_and_answered_tickets_leave(bootstrap: str) -> None:
    s = unique_settings(bootstrap)
    await topics(s)
    late = ticket("late", Priority.P1, ago=700)  # 100 s past its deadline
    soon = ticket("soon", Priority.P2, ago=0, tier="enterprise")
    done = ticket("done", Priority.P1, ago=60)  # answered before the watch starts
    await send(s, s.topic_tickets, [late, soon, done])
    await send(s, s.topic_activity, [answer(done)])
    await send(s, s.topic_escalations, [breach(late)])

    lines = Console(record=True, width=250, file=io.StringIO(), force_terminal=False)
    state = WatchState(POLICY)
    stop = asyncio.Event()
    watching = asyncio.create_task(
        run_watch(s, POLICY, live=False, console=lines, stop=stop, state=state)
    )
    try:
        await wait_for(
            lambda: (
                (
                    len(state.tickets) == 3
                    and state.escalations_seen == 1
                    and state.activities_seen == 1
                )
                or watching.done()
            ),
            30,
            "the watch to read the three topics",
        )
        assert not watching.done(), lines.export_text()
        text = screen(state)
        assert "cust-late" in text
        assert "cust-soon" in text
        assert "cust-done" not in text  # answered: not in the queue
        assert text.index("cust-late") < text.index("cust-soon")  # by time to breach
        assert "sla_breach level 1 P1 ticket tkt-late (evt-late) cust-late" in text
        assert "P1 1 (1 overdue)" in text
        assert "P2 1" in text

        # an answer while watching: the ticket leaves the queue
        await send(s, s.topic_activity, [answer(soon)])
        await wait_for(
            lambda: state.row(soon.ticket_id, datetime.now(UTC)) is None,
            30,
            "the answered ticket to leave the queue",
        )
        text = screen(state)
        assert "cust-soon" not in text
        assert "cust-late" in text
    finally:
        stop.set()
        assert await asyncio.wait_for(watching, 30) == 0
    out = lines.export_text()
    assert "P1 due" in out
    assert "cust-late" in out
    assert "ESC sla_breach level 1 P1 ticket tkt-late" in out  # … per escalation …
    assert "tkt-soon (evt-soon) first_response by agent-7: left the queue" in out  # … per answer
    assert "queue: P1 1 open (1 overdue), P2 0 open (0 overdue)" in out


async def test_live_view_on_a_terminal_console(bootstrap: str) -> None:
    s = unique_settings(bootstrap)
    await topics(s)
    late = ticket("late", Priority.P1, ago=700)
    done = ticket("done", Priority.P2, ago=0)
    await send(s, s.topic_tickets, [late, done])
    await send(s, s.topic_activity, [answer(done)])
    console = Console(record=True, width=160, height=30, file=io.StringIO(), force_terminal=True)
    state = WatchState(POLICY)
    stop = asyncio.Event()
    watching = asyncio.create_task(
        run_watch(s, POLICY, live=True, console=console, stop=stop, state=state)
    )
    try:
        await wait_for(
            lambda: (len(state.tickets) == 2 and state.activities_seen == 1) or watching.done(),
            30,
            "the watch to read the tickets and the answer",
        )
    finally:
        stop.set()
        assert await asyncio.wait_for(watching, 30) == 0
    text = console.export_text()
    last = text[text.rindex("triage watch") :]  # the final frame
    assert "cust-late" in last
    assert "cust-done" not in last
    assert "from the beginning" in last


async def test_since_skips_older_records(bootstrap: str) -> None:
    s = unique_settings(bootstrap)
    await topics(s)
    hour_ago = int((time.time() - 3600) * 1000)
    # one partition, so the old record is read (or skipped) before the new one shows
    await send(
        s, s.topic_tickets, [ticket("old", Priority.P2, 3600)], partition=0, timestamp_ms=hour_ago
    )
    await send(s, s.topic_tickets, [ticket("new", Priority.P2, 0)], partition=0)
    state = WatchState(POLICY)
    stop = asyncio.Event()
    lines = Console(record=True, width=250, file=io.StringIO(), force_terminal=False)
    watching = asyncio.create_task(
        run_watch(
            s,
            POLICY,
            since=timedelta(minutes=10),
            live=False,
            console=lines,
            stop=stop,
            state=state,
        )
    )
    try:
        await wait_for(lambda: "tkt-new" in state.tickets or watching.done(), 30, "the new ticket")
    finally:
        stop.set()
        assert await asyncio.wait_for(watching, 30) == 0
    assert list(state.tickets) == ["tkt-new"], lines.export_text()
    assert "since " in lines.export_text()


async def test_triage_watch_command(bootstrap: str) -> None:
    """The console script: --bootstrap, plain lines on a pipe, Ctrl-C ends it."""
    s = unique_settings(bootstrap)
    await topics(s)
    await send(s, s.topic_tickets, [ticket("cli", Priority.P1, 0)])
    env = {**os.environ, **service_env(s, 0)}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # from --bootstrap
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service.cli",
        "watch",
        "--bootstrap",
        bootstrap,
        "--no-live",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any("cust-cli" in line for line in seen):
            left = deadline - time.monotonic()
            assert left > 0, seen
            line = await asyncio.wait_for(proc.stdout.readline(), left)
            assert line, seen  # it exited
            seen.append(line.decode())
        proc.send_signal(signal.SIGINT)
        rest = await asyncio.wait_for(proc.stdout.read(), 30)
        code = await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 130
    assert "watching" in seen[0]
    assert "from the beginning" in seen[0]
    assert "queue: P1 1 open" in rest.decode()


async def test_demo_shows_the_watch_view_and_answers_leave_the_queue(
    bootstrap: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``triage demo --no-live`` on the test broker (fresh topics), sped up: every event
    comes back, answered tickets leave the queue, exit 0."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    monkeypatch.setattr(runner, "PUBLISH_INTERVAL", 0.01)
    monkeypatch.setattr(runner, "MIN_RUN", 0.0)
    monkeypatch.setattr(runner, "LINGER", 4.0)
    monkeypatch.setattr(agent, "AFTER_SECONDS", 0.5)
    code = await asyncio.wait_for(runner.run_demo(seconds=None, live=False), 120)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "triage demo — summary" in out
    assert "DLQ key cus-9001: invalid_json" in out
    assert "first_response by demo-agent: left the queue" in out
