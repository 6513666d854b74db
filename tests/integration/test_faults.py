"""Faults: broker outages, graceful shutdown. Each test is bounded and stops by itself.

Durations default to fast versions for CI; set TRIAGE_FAULT_OUTAGE_SECONDS=30 (and
TRIAGE_FAULT_EVENTS) for full-size runs (docs/operations.md, Reliability).
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.ticket import Ticket
from service.kafka.embedded import EmbeddedBroker, free_port
from tests.integration.kafka_helpers import (
    committed_offsets,
    feedback,
    http_get,
    produce,
    read_topic,
    read_until,
    running_app,
    service_env,
    unique_settings,
    wait_for,
)
from tests.integration.proxy import TcpProxy

pytestmark = pytest.mark.integration
OUTAGE_SECONDS = float(os.environ.get("TRIAGE_FAULT_OUTAGE_SECONDS", "8"))
EVENTS = int(os.environ.get("TRIAGE_FAULT_EVENTS", "2000"))


@pytest.fixture
async def proxied_broker() -> AsyncIterator[tuple[str, TcpProxy]]:
    """A broker that tells clients to connect through a proxy we can cut."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("needs its own embedded broker behind a proxy")
    proxy_port = free_port()
    broker = EmbeddedBroker(advertised_port=proxy_port)
    await broker.start()
    proxy = TcpProxy(proxy_port, broker.port)
    await proxy.start()
    try:
        yield f"127.0.0.1:{proxy_port}", proxy
    finally:
        await proxy.stop()
        broker.stop()


async def test_broker_outage_readiness_flips_and_nothing_is_lost(
    proxied_broker: tuple[str, TcpProxy],
) -> None:
    bootstrap, proxy = proxied_broker
    s = unique_settings(bootstrap, session_timeout_ms=6_000)
    events = [
        feedback(f"out-{i}", "The app is down again!!", occurred_at=_now()) for i in range(EVENTS)
    ]
    async with running_app(s) as app:
        assert app.http is not None
        port = app.http.port
        await produce(bootstrap, s.topic_feedback, [(None, orjson.dumps(e)) for e in events])
        # Cut the link while the backlog is being worked through.
        await wait_for(lambda: app.loops[0].processed > 0, 30, "processing to start")
        await proxy.cut()
        cut_at = time.monotonic()
        await wait_for(lambda: not app.ready, 30, "/readyz to report the outage")
        assert (await http_get(port, "/readyz"))[0] == 503
        assert (await http_get(port, "/healthz"))[0] == 200  # the process stays up
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))
        await proxy.restore()
        restored_at = time.monotonic()
        await wait_for(lambda: app.ready, 60, "/readyz to recover")
        recovery = time.monotonic() - restored_at
        expected = {e["event_id"] for e in events}
        # every event's ticket (duplicates count towards no total: wait for the ids)
        records = await read_until(
            bootstrap, s.topic_tickets, lambda rs: _event_ids(rs) >= expected, timeout=120
        )
        assert (await http_get(port, "/readyz"))[0] == 200
    ids = collections.Counter(Ticket.model_validate_json(r.value).event_id for r in records)
    assert set(ids) == expected  # nothing lost
    duplicates = sum(ids.values()) - len(ids)
    print(
        f"\noutage {OUTAGE_SECONDS:.0f} s: {EVENTS} events, {len(ids)} tickets, "
        f"{duplicates} redelivered duplicates, ready again {recovery:.1f} s after restore"
    )


async def test_unreachable_broker_at_start_up_then_ready(
    proxied_broker: tuple[str, TcpProxy],
) -> None:
    bootstrap, proxy = proxied_broker
    await proxy.cut()
    s = unique_settings(bootstrap)
    from service.app import TriageApp

    app = TriageApp(s)
    start = asyncio.create_task(app.start())
    try:
        await wait_for(lambda: app.http is not None and app.http._server is not None, 10, "http")
        assert app.http is not None
        await asyncio.sleep(2)
        assert (await http_get(app.http.port, "/readyz"))[0] == 503
        assert (await http_get(app.http.port, "/healthz"))[0] == 200
        await proxy.restore()
        await asyncio.wait_for(start, 60)
        await wait_for(lambda: app.ready, 60, "ready once the broker is reachable")
        assert app.readiness() == (True, "ready")
        await produce(bootstrap, s.topic_feedback, [(None, orjson.dumps(feedback("late", "hi")))])
        assert len(await read_topic(bootstrap, s.topic_tickets, 1, timeout=30)) == 1
    finally:
        await app.stop()
        start.cancel()


def _event_ids(records: list[Any]) -> set[str]:
    return {Ticket.model_validate_json(r.value).event_id for r in records}


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


async def test_sigterm_drains_commits_and_leaves_nothing_to_redeliver(
    bootstrap: str, tmp_path: Path
) -> None:
    s = unique_settings(bootstrap)
    port = free_port()
    env = service_env(s, port, TRIAGE_LOG_LEVEL="INFO")
    log = tmp_path / "service.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:

        async def ready() -> bool:
            try:
                return (await http_get(port, "/readyz"))[0] == 200
            except OSError:
                return False

        deadline = time.monotonic() + 60
        while not await ready():
            assert time.monotonic() < deadline, "service not ready"
            await asyncio.sleep(0.2)
        n = 3000
        events = [feedback(f"term-{i}", "where is my order?", occurred_at=_now()) for i in range(n)]
        await produce(bootstrap, s.topic_feedback, [(None, orjson.dumps(e)) for e in events])
        await read_topic(bootstrap, s.topic_tickets, 1, timeout=30)  # work is under way
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = await asyncio.to_thread(proc.wait, 20)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert code == 0
    assert took < 12.0, f"graceful shutdown took {took:.1f} s (bound: 10 s + slack)"
    text = log.read_text()
    assert '"event":"triage_stopped"' in text.replace(" ", "")
    # Everything it consumed was published and committed: a restart redelivers nothing.
    tickets = await read_topic(bootstrap, s.topic_tickets, n + 1, timeout=3)
    produced = len({Ticket.model_validate_json(r.value).event_id for r in tickets})
    offsets = await committed_offsets(bootstrap, s.group_id, s.topic_feedback)
    assert sum(o or 0 for o in offsets.values()) == produced == len(tickets)
