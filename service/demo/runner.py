"""``triage demo``: a broker, the service in-process, sample feedback in, tickets on screen.

Uses the broker named by ``KAFKA_BOOTSTRAP_SERVERS`` (with fresh topic names, so nothing
already there is touched) or starts an embedded one. Publishes the bundled sample events
(and three deliberately bad ones) a few per second and shows what comes back with the
view of ``triage watch`` (``service.watch``: open tickets by time to breach, escalations),
plus the dead letters and its own figures. It stops by itself
once every event came back (or after ``seconds``), or on Ctrl-C, and cleans up after itself.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from rich.console import Console, RenderableType

from schemas.common import rfc3339
from schemas.ticket import Ticket
from service.app import TriageApp
from service.clock import SystemClock
from service.config import Settings, load_settings
from service.demo.agent import answer_some
from service.demo.figures import DemoState, dead_letter_lines, progress, summary
from service.kafka.clients import writing
from service.kafka.embedded import EmbeddedBroker
from service.kafka.reader import reading
from service.observability.logging import configure_logging
from service.records import InRecord
from service.rules.model import load_default_rules
from service.sla.policy import SlaPolicy, load_demo_policy
from service.watch.runner import Watcher, show, stop_on_signals, topics_of
from service.watch.state import Event, WatchState
from service.watch.view import render

SAMPLES = "sample_events.jsonl"
PUBLISH_INTERVAL = 0.25  # seconds between events: a few per second, so the view fills in
READY_TIMEOUT = 60.0
MIN_RUN = 60.0  # default run: at least this long after the first publish (SLA breaches show) …
#: The demo runs SLA clocks fast: the demo policy's targets (P1 40 s, P2 60 s, P3 90 s,
#: P4 120 s) replace the rule set's, and sample ages shrink by P1's ratio (40 s / 600 s),
#: so a P1 whose customer wrote "9 min 48 s ago" breaches a few seconds into the demo.
DEMO_AGE_SCALE = 40 / 600
LINGER = 2.0  # … and this long after the last event came back
MAX_RUN = 90.0  # default safety cap


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to publish: a sample (timestamped when sent) or raw bytes."""

    event_id: str
    key: bytes
    sample: dict[str, Any] | None = None
    raw: bytes = b""

    def value(self, now: datetime) -> bytes:
        if self.sample is None:
            return self.raw
        return json.dumps(sample_to_event(self.sample, now), ensure_ascii=False).encode()


def load_samples() -> list[dict[str, Any]]:
    """The bundled sample events, each with its ``age_seconds`` helper field."""
    text = resources.files("service.demo").joinpath(SAMPLES).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def sample_to_event(sample: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Drop ``age_seconds`` and set ``occurred_at`` that long before ``now``."""
    event = {k: v for k, v in sample.items() if k != "age_seconds"}
    age = float(sample.get("age_seconds", 0)) * DEMO_AGE_SCALE
    event["occurred_at"] = rfc3339(now - timedelta(seconds=age))
    return event


def bad_events(now: datetime) -> list[Outgoing]:
    """Three events triage must dead-letter: not JSON, a missing field, NPS 11."""
    stamp = rfc3339(now)
    missing = {"event_id": "demo-bad-2", "occurred_at": stamp, "channel": "chat", "text": "hi?"}
    out_of_range = {
        "event_id": "demo-bad-3",
        "occurred_at": stamp,
        "channel": "nps_survey",
        "customer": {"id": "cus-9003"},
        "nps_score": 11,
        "text": "",
    }
    return [
        Outgoing("demo-bad-1", b"cus-9001", raw=b'{"event_id": "demo-bad-1", "text": "half a mess'),
        Outgoing("demo-bad-2", b"cus-9002", raw=json.dumps(missing).encode()),
        Outgoing("demo-bad-3", b"cus-9003", raw=json.dumps(out_of_range).encode()),
    ]


def outgoing(now: datetime) -> list[Outgoing]:
    """Sample events in file order, with the bad ones spread among them."""
    out = [
        Outgoing(str(s["event_id"]), str(s["customer"]["id"]).encode(), sample=s)
        for s in load_samples()
    ]
    for i, bad in enumerate(bad_events(now)):
        out.insert(min(len(out), 8 + i * 15), bad)
    return out


def demo_settings(base: Settings, bootstrap: str, shared_broker: bool) -> Settings:
    tag = uuid.uuid4().hex[:8]
    update: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "group_id": f"triage-demo-{tag}",
        "sla_group_id": f"triage-demo-sla-{tag}",
        "http_host": "127.0.0.1",
        "http_port": 0,
        "create_topics": True,
        "auto_offset_reset": "earliest",
        "fetch_timeout_ms": 100,
        "health_probe_interval_seconds": 1.0,
        "session_timeout_ms": 10_000,
        "shutdown_timeout_seconds": 5.0,
        "log_level": "WARNING",
        "log_format": "console",
    }
    if shared_broker:  # never touch the topics of a broker somebody else uses
        for name in (
            "feedback",
            "tickets",
            "activity",
            "escalations",
            "dlq",
            "customer_changelog",
            "sla_changelog",
        ):
            update[f"topic_{name}"] = f"{getattr(base, f'topic_{name}')}.demo-{tag}"
    return base.model_copy(update=update)


async def run_demo(seconds: float | None = None, live: bool = True) -> int:
    configure_logging("WARNING", "console")
    console = Console()
    live = live and console.is_terminal and sys.stdout.isatty()
    stop = asyncio.Event()
    base = load_settings()  # a bad setting: ConfigError, one line from `triage demo`
    broker: EmbeddedBroker | None = None
    started = time.monotonic()
    with stop_on_signals(stop):
        try:
            bootstrap = base.kafka_bootstrap_servers
            if not bootstrap:
                console.print("[dim]starting the embedded broker…[/dim]")
                broker = EmbeddedBroker()
                await broker.start()
                bootstrap = broker.bootstrap
            settings = demo_settings(base, bootstrap, shared_broker=broker is None)
            # one policy for both halves: the tickets show the demo targets their clocks keep
            policy = load_demo_policy()
            app = TriageApp(settings, role="all", rules=load_default_rules(), sla_policy=policy)
            try:
                return await _session(app, settings, policy, console, live, stop, seconds, started)
            finally:
                await app.stop()
        finally:
            if broker is not None:
                broker.stop()


async def _session(
    app: TriageApp,
    settings: Settings,
    policy: SlaPolicy,
    console: Console,
    live: bool,
    stop: asyncio.Event,
    seconds: float | None,
    started: float,
) -> int:
    deadline = started + (seconds if seconds is not None else MAX_RUN)
    console.print(f"[dim]starting triage on {settings.kafka_bootstrap_servers}…[/dim]")
    starting = asyncio.create_task(app.start())
    while not (starting.done() and app.ready):
        if starting.done() and starting.exception() is not None:
            await starting  # raises
        if stop.is_set() or time.monotonic() > min(deadline, started + READY_TIMEOUT):
            console.print(f"[red]triage did not become ready: {app.readiness()[1]}[/red]")
            app.request_stop()
            await asyncio.gather(starting, return_exceptions=True)
            return 130 if stop.is_set() else 1
        await asyncio.sleep(0.1)
    console.print(f"[dim]ready after {time.monotonic() - started:.1f} s; publishing…[/dim]")
    records = outgoing(datetime.now(UTC))
    state = DemoState(expected=len(records), broker=str(settings.kafka_bootstrap_servers))
    state.started = started
    # The view is triage watch's: its state keeps the SLA clocks with the monitor's engine
    # (and the demo policy), from tickets and activity, and the escalations published.
    watch = WatchState(policy)
    topics = topics_of(settings)
    printer = None if live else console

    def on_record(record: InRecord, event: Event | None) -> None:
        if isinstance(event, Ticket):
            state.add_ticket(event)
        elif record.topic == settings.topic_dlq:
            dead = state.add_dead_letter(record.key, list(record.headers))
            if printer is not None:
                printer.print(
                    f"[red]DLQ[/red] key {dead.key}: {dead.reason} — {dead.detail}",
                    soft_wrap=True,
                    highlight=False,
                )

    def draw(width: int, height: int, keys: bool) -> RenderableType:
        return render(
            watch,
            datetime.now(UTC),
            width,
            height,
            title="triage demo",
            source=f"broker {settings.kafka_bootstrap_servers}",
            elapsed=time.monotonic() - started,
            keys=keys,
            extra=progress(state),
            panels=[("dead letters", dead_letter_lines(state), "red")],
        )

    def until() -> bool:
        now = time.monotonic()
        if now >= deadline or app.readiness()[1] == "shutting down":
            return True
        return seconds is None and _finished(state, now)

    read = [*topics.names, settings.topic_dlq]
    async with reading(settings, read) as reader, writing(settings) as producer:
        watcher = Watcher(watch, topics, SystemClock(), printer, on_record)
        tasks = [
            asyncio.create_task(watcher.run(reader)),
            asyncio.create_task(_publish(producer, settings, records, state, stop)),
            asyncio.create_task(answer_some(producer, settings.topic_activity, state, stop)),
        ]
        try:
            outcome = await show(
                console, watch, SystemClock(), draw, live=live, stop=stop, until=until
            )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    sla = {p.value: s for p, s in policy.target_seconds.items()}
    console.print(summary(state, sla, watch.escalations_seen))
    if outcome == "stopped":
        console.print("[yellow]interrupted[/yellow]")
        return 130
    if outcome != "quit" and state.received < state.expected:
        console.print(f"[red]only {state.received} of {state.expected} events came back[/red]")
        return 1
    return 0


def _finished(state: DemoState, now: float) -> bool:
    """Every event came back, the run lasted ``MIN_RUN`` and the last lines were seen."""
    if state.completed_at is None or state.first_publish is None:
        return False
    return now - state.first_publish >= MIN_RUN and now - state.completed_at >= LINGER


async def _publish(
    producer: Any,
    settings: Settings,
    records: list[Outgoing],
    state: DemoState,
    stop: asyncio.Event,
) -> None:
    for record in records:
        if stop.is_set():
            return
        value = record.value(datetime.now(UTC))
        await producer.send_and_wait(settings.topic_feedback, value, key=record.key)
        state.sent(record.event_id)
        await asyncio.sleep(PUBLISH_INTERVAL)
