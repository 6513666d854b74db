"""Rebalances under load and kill -9 mid-stream: nothing lost, no SLA step twice.

Fast versions by default; TRIAGE_FAULT_EVENTS / TRIAGE_FAULT_KILLS scale them up for the
full-size runs (docs/operations.md, Reliability).
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.escalation import Escalation
from schemas.ticket import Ticket
from service.config import Settings
from service.kafka.embedded import free_port
from service.sla.policy import SlaPolicy
from tests.integration.kafka_helpers import (
    committed_offsets,
    feedback,
    metric_sum,
    produce,
    read_topic,
    read_until,
    running_app,
    service_env,
    unique_settings,
    wait_for,
)

pytestmark = pytest.mark.integration
EVENTS = int(os.environ.get("TRIAGE_FAULT_EVENTS", "4000"))
KILLS = int(os.environ.get("TRIAGE_FAULT_KILLS", "2"))
TEXTS = ["Where is my parcel?", "Refund me now!!!", "Love it, thanks", "App crashes on login"]


def _event(i: int) -> dict[str, Any]:
    return feedback(f"ev-{i}", TEXTS[i % len(TEXTS)], occurred_at=datetime.now(UTC).isoformat())


async def _paced(bootstrap: str, topic: str, values: list[bytes], seconds: float) -> None:
    """Publish ``values`` evenly over about ``seconds`` (a steady flow, not one burst)."""
    chunks = 20
    size = max(1, len(values) // chunks)
    for start in range(0, len(values), size):
        await produce(bootstrap, topic, [(None, v) for v in values[start : start + size]])
        await asyncio.sleep(seconds / chunks)


async def test_instances_one_three_one_under_load(bootstrap: str) -> None:
    s = unique_settings(bootstrap, topic_partitions=6)
    policy = SlaPolicy.model_validate(
        {
            "version": "test",
            "warning_fractions": [0.5],
            "breach_multipliers": [1.0],
            "target_seconds": dict.fromkeys(("P1", "P2", "P3", "P4"), 16),
        }
    )
    n = min(EVENTS, 3000)
    values = [orjson.dumps(_event(i)) for i in range(n)]
    async with running_app(s, sla_policy=policy) as first:
        flow = asyncio.create_task(_paced(bootstrap, s.topic_feedback, values, seconds=8))
        others: list[Settings] = [s.model_copy(update={"http_port": 0}) for _ in range(2)]
        async with (
            running_app(others[0], sla_policy=policy) as second,
            running_app(others[1], sla_policy=policy) as third,
        ):

            def all_share() -> bool:
                return all(
                    loop.consumer is not None and bool(loop.consumer.assignment())
                    for app in (first, second, third)
                    for loop in app.loops
                )

            # Three instances share the partitions while the flow goes on.
            await wait_for(all_share, 60, "all three instances to own partitions")
        await flow  # back to one
        tickets = await read_topic(bootstrap, s.topic_tickets, n, timeout=120)
        # A warning and a breach per ticket, at most; wait until every breach is in.
        deadline = time.monotonic() + 60
        while True:
            more = await read_topic(bootstrap, s.topic_escalations, 2 * n, timeout=2)
            done = sum(1 for r in more if b":breach1" in r.value)
            if done >= n or time.monotonic() > deadline:
                break
        more = await read_topic(bootstrap, s.topic_escalations, len(more) + 1, timeout=2)
        await wait_for(lambda: first.loops[0].processed > 0, 5, "processing")

        def lag() -> float:
            return sum(
                sample.value
                for metric in first.metrics.consumer_lag.collect()
                for sample in metric.samples
            )

        await wait_for(lambda: lag() == 0, 30, "consumer lag back to zero")
    ids = collections.Counter(Ticket.model_validate_json(r.value).event_id for r in tickets)
    assert len(ids) == n  # nothing lost
    steps = collections.Counter(Escalation.model_validate_json(r.value).escalation_id for r in more)
    breaches = {k for k in steps if k.endswith(":breach1")}
    assert len(breaches) == n  # every ticket's deadline fired, whoever owned it then
    assert max(steps.values()) == 1  # each step once, across the rebalances
    # (a ticket that reached the monitor after its warning time, while partitions moved,
    # gets its breach only: late tickets escalate at the highest step passed)
    print(f"\n1→3→1: {n} events, {sum(ids.values()) - n} redelivered ticket duplicates")


async def test_kill_minus_nine_mid_stream_conserves_every_event(
    bootstrap: str, tmp_path: Path
) -> None:
    s = unique_settings(bootstrap)
    port = free_port()
    env = service_env(
        s,
        port,
        TRIAGE_SESSION_TIMEOUT_MS="6000",
        TRIAGE_MAX_BATCH_RECORDS="200",
        TRIAGE_LOG_LEVEL="WARNING",
    )
    rnd = random.Random(20261122)
    bad_every = 20
    values = [
        b"not json %d" % i if i % bad_every == 0 else orjson.dumps(_event(i)) for i in range(EVENTS)
    ]
    bad = sum(1 for i in range(EVENTS) if i % bad_every == 0)
    log = tmp_path / "service.log"

    def start() -> subprocess.Popen[bytes]:
        with log.open("ab") as sink:
            return subprocess.Popen(
                [sys.executable, "-m", "service.cli", "run"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )

    async def processed() -> float:
        return await metric_sum(port, "triage_events_consumed_total")

    proc = start()
    kills: list[float] = []
    recoveries: list[float] = []
    try:
        await produce(bootstrap, s.topic_feedback, [(None, v) for v in values])
        for _ in range(KILLS):
            target = rnd.uniform(0.05, 0.3) * EVENTS
            deadline = time.monotonic() + 90
            while await processed() < target:
                assert time.monotonic() < deadline, "no progress before the kill"
                await asyncio.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            proc.wait(5)
            kills.append(target)
            proc = start()
            # Recovery: until the new process publishes again (its own counter, from 0).
            while await processed() <= 0:
                assert time.monotonic() - killed_at < 90, "no recovery after kill -9"
                await asyncio.sleep(0.05)
            recoveries.append(time.monotonic() - killed_at)
        # until every event has its outcome (duplicates count towards no total)
        tickets = await read_until(
            bootstrap,
            s.topic_tickets,
            lambda rs: (
                len({Ticket.model_validate_json(r.value).event_id for r in rs}) >= EVENTS - bad
            ),
            timeout=180,
        )
        letters = await read_until(
            bootstrap, s.topic_dlq, lambda rs: len(_letter_ids(rs)) >= bad, timeout=60
        )
        await asyncio.sleep(2)
        tickets = await read_topic(bootstrap, s.topic_tickets, len(tickets) + 10**6, timeout=2)
        letters = await read_topic(bootstrap, s.topic_dlq, len(letters) + 10**6, timeout=2)
        escalations = await read_topic(bootstrap, s.topic_escalations, 10**6, timeout=2)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    distinct_tickets = {Ticket.model_validate_json(r.value).event_id for r in tickets}
    distinct_letters = _letter_ids(letters)
    # Conservation: every input has exactly one distinct outcome.
    assert len(distinct_tickets) + len(distinct_letters) == EVENTS
    assert len(distinct_tickets) == EVENTS - bad
    steps = collections.Counter(
        Escalation.model_validate_json(r.value).escalation_id for r in escalations
    )
    assert all(c == 1 for c in steps.values())  # no SLA step twice
    offsets = await committed_offsets(bootstrap, s.group_id, s.topic_feedback)
    assert sum(o or 0 for o in offsets.values()) == EVENTS
    duplicates = len(tickets) + len(letters) - EVENTS
    print(
        f"\nkill -9 x{KILLS}: {EVENTS} events in, {len(distinct_tickets)} tickets + "
        f"{len(distinct_letters)} dead letters, {duplicates} redelivered duplicates, "
        f"recovery after each kill (restart to publishing again) max {max(recoveries):.1f} s"
    )


def _letter_ids(records: list[Any]) -> set[bytes]:
    """A dead letter's identity: the input partition and offset it stands for."""
    return {
        dict(r.headers)["triage.dlq.partition"] + b"/" + dict(r.headers)["triage.dlq.offset"]
        for r in records
    }
