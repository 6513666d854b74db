"""Helpers for integration tests: a running service, producing and reading topics."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from service.app import TriageApp
from service.config import Settings


def unique_settings(bootstrap: str, **overrides: Any) -> Settings:
    """Settings with fresh topic names and group id, so tests never share state."""
    tag = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "topic_feedback": f"feedback.events.{tag}",
        "topic_tickets": f"tickets.prioritized.{tag}",
        "topic_activity": f"tickets.activity.{tag}",
        "topic_escalations": f"tickets.escalations.{tag}",
        "topic_dlq": f"feedback.dlq.{tag}",
        "topic_sla_changelog": f"triage.sla.changelog.{tag}",
        "topic_customer_changelog": f"triage.customers.changelog.{tag}",
        "group_id": f"triage-test-{tag}",
        "sla_group_id": f"triage-sla-test-{tag}",
        "notify_group_id": f"triage-notify-test-{tag}",
        "topic_partitions": 3,
        "http_host": "127.0.0.1",
        "http_port": 0,
        "fetch_timeout_ms": 200,
        "health_probe_interval_seconds": 0.5,
        "session_timeout_ms": 10_000,
    }
    values.update(overrides)
    return Settings(**values)


async def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``predicate`` (plain or async) until true; fail with ``what`` after ``timeout``
    seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def wait_ready(
    proc: subprocess.Popen[bytes], port: int, timeout: float, log: Path | None = None
) -> float:
    """Poll a child's /readyz (200 once every loop joined its group with an assignment)
    until it answers 200; the monotonic time it did. Fails at once if the child exits
    (with the end of ``log`` when given)."""

    def why() -> str:
        return "" if log is None else ":\n" + log.read_text(errors="replace")[-3000:]

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the service exited" + why()
        try:
            if (await http_get(port, "/readyz"))[0] == 200:
                return time.monotonic()
        except OSError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"not ready within {timeout} s" + why())


@contextlib.asynccontextmanager
async def running_app(settings: Settings, role: str = "all", **kw: Any) -> AsyncIterator[TriageApp]:
    app = TriageApp(settings, role=role, **kw)
    await app.start()
    try:
        await wait_for(lambda: app.ready, 60, "the service to be ready")
        yield app
    finally:
        await app.stop()


async def produce(
    bootstrap: str,
    topic: str,
    records: list[tuple[bytes | None, bytes | None]],
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, key=key, headers=headers or [])
            for key, value in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, count: int, timeout: float = 60) -> list[Any]:
    """Read ``count`` records from the start of every partition of ``topic`` (no group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        parts: set[int] | None = None
        while parts is None and time.monotonic() < deadline:
            parts = consumer.partitions_for_topic(topic)
            if parts is None:
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.1)
        assert parts, f"topic {topic} has no partitions"
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while len(out) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                out.extend(messages)
        return out
    finally:
        await consumer.stop()


async def read_until(
    bootstrap: str, topic: str, done: Callable[[list[Any]], bool], timeout: float = 120
) -> list[Any]:
    """Read ``topic`` from the start, again and again, until ``done(records)`` holds (or
    the timeout; the caller's assertion then says what is missing). For at-least-once
    outputs, where a count reached early may still include duplicates and lack a record."""
    deadline = time.monotonic() + timeout
    records: list[Any] = []
    while True:
        left = deadline - time.monotonic()
        records = await read_topic(
            bootstrap, topic, len(records) + 1, timeout=max(1.0, min(5, left))
        )
        if done(records) or time.monotonic() >= deadline:
            return records


async def committed_offsets(bootstrap: str, group_id: str, topic: str) -> dict[int, int | None]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        return {p: await consumer.committed(TopicPartition(topic, p)) for p in sorted(parts)}
    finally:
        await consumer.stop()


async def http_get(port: int, path: str) -> tuple[int, str]:
    """GET http://127.0.0.1:port/path → (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body.decode()


def feedback(event_id: str, text: str = "", **fields: Any) -> dict[str, Any]:
    """A valid feedback event; keyword arguments override or add fields."""
    event: dict[str, Any] = {
        "event_id": event_id,
        "occurred_at": "2026-11-22T10:00:00Z",
        "channel": "email",
        "customer": {"id": f"cust-{event_id}"},
        "text": text,
    }
    event.update(fields)
    return event


async def metric_sum(port: int, name: str, label: str = "") -> float:
    """The sum of a child's ``name`` samples (those whose labels contain ``label``) on its
    /metrics; -1 while it does not answer."""
    try:
        status, text = await http_get(port, "/metrics")
    except OSError:
        return -1
    if status != 200:
        return -1
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and label in line
    )


def service_env(s: Settings, port: int, **extra: str) -> dict[str, str]:
    """The environment of ``triage run`` as a child process: the test's topics, groups and
    broker, its HTTP port on loopback, plus ``extra`` (``TRIAGE_…`` variables)."""
    assert s.kafka_bootstrap_servers
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
        "TRIAGE_TOPIC_FEEDBACK": s.topic_feedback,
        "TRIAGE_TOPIC_TICKETS": s.topic_tickets,
        "TRIAGE_TOPIC_ACTIVITY": s.topic_activity,
        "TRIAGE_TOPIC_ESCALATIONS": s.topic_escalations,
        "TRIAGE_TOPIC_DLQ": s.topic_dlq,
        "TRIAGE_TOPIC_SLA_CHANGELOG": s.topic_sla_changelog,
        "TRIAGE_TOPIC_CUSTOMER_CHANGELOG": s.topic_customer_changelog,
        "TRIAGE_GROUP_ID": s.group_id,
        "TRIAGE_SLA_GROUP_ID": s.sla_group_id,
        "TRIAGE_TOPIC_PARTITIONS": str(s.topic_partitions),
        "TRIAGE_HTTP_HOST": "127.0.0.1",
        "TRIAGE_HTTP_PORT": str(port),
    }
    return {**os.environ, **env, **extra}


def start_service(env: dict[str, str], log: Path, role: str = "all") -> subprocess.Popen[bytes]:
    """``triage run --role role`` as a child process, its log appended to ``log``."""
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "service.cli", "run", "--role", role],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
