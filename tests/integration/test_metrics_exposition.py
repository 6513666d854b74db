"""The live /metrics output passes `promtool check metrics` (naming, units, _total)."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime

import orjson
import pytest

from tests.integration.kafka_helpers import (
    feedback,
    http_get,
    produce,
    read_topic,
    running_app,
    unique_settings,
    wait_for,
)

pytestmark = pytest.mark.integration
PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (`make tools` installs it)")
async def test_live_metrics_pass_promtool_check_metrics(bootstrap: str) -> None:
    assert PROMTOOL is not None
    s = unique_settings(bootstrap)
    now = datetime.now(UTC).isoformat()
    events = [feedback(f"m-{i}", "cancel my subscription!!!", occurred_at=now) for i in range(5)]
    records: list[tuple[bytes | None, bytes | None]] = [(b"c", orjson.dumps(e)) for e in events]
    records.append((b"c", b"{broken"))
    async with running_app(s) as app:
        await produce(
            bootstrap,
            s.topic_feedback,
            records,
        )
        await read_topic(bootstrap, s.topic_tickets, len(events), timeout=60)
        assert app.http is not None
        port = app.http.port

        def scraped_everything() -> bool:
            return (
                app.sla is not None and app.metrics.sla_open_tickets.labels("P1")._value.get() > 0
            )

        await wait_for(scraped_everything, 30, "the SLA monitor to count the open tickets")
        status, body = await http_get(port, "/metrics")
    assert status == 200
    for name in (
        "triage_events_consumed_total",
        "triage_tickets_total",
        "triage_dead_letters_total",
        "triage_processing_latency_seconds_bucket",
        "triage_consumer_lag_records",
        "triage_assigned_partitions",
        "triage_sla_open_tickets",
        "triage_sla_tickets_at_risk",
        "triage_sla_tickets_overdue",
        "triage_sla_next_breach_seconds",
        "triage_ready",
    ):
        assert f"\n{name}" in body, name
    proc = await asyncio.create_subprocess_exec(
        PROMTOOL,
        "check",
        "metrics",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate(body.encode())
    assert proc.returncode == 0, out.decode()
    assert out.strip() == b"", out.decode()  # no lint findings either
