"""``triage watch``: the live terminal view of a deployment's open tickets and escalations.

A reader of its own (``service.kafka.reader``: no group, no commits, every partition)
reads the tickets, activity and escalation topics from the beginning (or ``--since``);
each record goes into a :class:`~service.watch.state.WatchState`, whose SLA clocks are
the monitor's engine; the view (``service.watch.view``) is redrawn a few times a second,
and keys filter it. ``triage demo`` runs the same :class:`Watcher` and :func:`show`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from rich.console import Console, RenderableType
from rich.live import Live
from rich.text import Text

from service.clock import Clock, SystemClock
from service.config import Settings
from service.kafka.reader import TopicReader, reading
from service.observability.logging import configure_logging
from service.records import InRecord
from service.sla.policy import PolicyError, SlaPolicy, load_policy
from service.watch.keys import keys
from service.watch.state import Event, WatchState, WatchTopics, decode_event
from service.watch.view import change_line, plain_counts, render

#: Seconds between redraws (and clock ticks) of the view.
PERIOD = 0.25
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

RecordHook = Callable[[InRecord, Event | None], None]


def parse_duration(text: str) -> timedelta:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d`` → a timedelta; ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (e.g. 90s, 15m, 2h, 1d)")
    return timedelta(seconds=float(match.group(1)) * _UNIT[match.group(2)])


def topics_of(settings: Settings) -> WatchTopics:
    return WatchTopics(settings.topic_tickets, settings.topic_activity, settings.topic_escalations)


class Watcher:
    """Decodes records into the state; prints a line per change when given a printer."""

    def __init__(
        self,
        state: WatchState,
        topics: WatchTopics,
        clock: Clock,
        printer: Console | None = None,
        on_record: RecordHook | None = None,
    ) -> None:
        self.state = state
        self.topics = topics
        self.clock = clock
        self.printer = printer
        self.on_record = on_record
        self.records = 0

    def handle(self, records: list[InRecord]) -> None:
        now = self.clock.now()
        for record in records:
            self.records += 1
            event = decode_event(self.topics, record)
            change = self.state.feed(event, now)
            if self.on_record is not None:
                self.on_record(record, event)
            if change is not None and self.printer is not None:
                line = change_line(change, self.state, now)
                if line is not None:
                    self.printer.print(line, soft_wrap=True, highlight=False)

    async def run(self, reader: TopicReader) -> None:
        while True:
            self.handle(await reader.read(timeout_ms=200))


async def show(
    console: Console,
    state: WatchState,
    clock: Clock,
    draw: Callable[[int, int, bool], RenderableType],
    *,
    live: bool,
    stop: asyncio.Event,
    until: Callable[[], bool] | None = None,
) -> str:
    """Tick the clocks and redraw (``draw(width, height, keys)``) until ``stop`` is set,
    ``until()`` holds or ``q`` is pressed: returns ``"stopped"``, ``"done"`` or ``"quit"``.
    Keys are read only with ``live`` on a terminal."""
    wake = asyncio.Event()
    quit_ = False

    def on_key(key: str) -> None:
        nonlocal quit_
        quit_ = state.press(key) or quit_
        wake.set()

    def loop(view: Live | None, reading_keys: bool) -> Iterator[str | None]:
        while True:
            state.tick(clock.now())
            if view is not None:
                view.update(draw(*console.size, reading_keys), refresh=True)
            if stop.is_set():
                yield "stopped"
            elif quit_:
                yield "quit"
            elif until is not None and until():
                yield "done"
            else:
                yield None

    if not live:
        for outcome in loop(None, False):
            if outcome is not None:
                return outcome
            await _pause(wake)
    try:
        with (
            keys(on_key) as reading_keys,
            Live(console=console, auto_refresh=False, transient=False) as view,
        ):
            configure_logging("WARNING", "console")  # log lines go above the view
            try:
                for outcome in loop(view, reading_keys):
                    if outcome is not None:
                        return outcome
                    await _pause(wake)
            finally:
                view.update(draw(*console.size, False), refresh=True)
    finally:
        configure_logging("WARNING", "console")  # and to the terminal again
    raise AssertionError("unreachable")  # pragma: no cover


async def _pause(wake: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), PERIOD)
    wake.clear()


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` while inside."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)


async def run_watch(
    settings: Settings,
    policy: SlaPolicy,
    *,
    since: timedelta | None = None,
    live: bool = True,
    seconds: float | None = None,
    console: Console | None = None,
    stop: asyncio.Event | None = None,
    state: WatchState | None = None,
    clock: Clock | None = None,
) -> int:
    """Watch until ``q``, Ctrl-C/SIGTERM (130), ``stop`` or ``seconds``. ``console``,
    ``stop`` and ``state`` are for tests (a recording console, an event to end it, the
    state to look at); with ``stop`` given no signal handler is installed."""
    console = console or Console()
    live = live and console.is_terminal
    clock = clock or SystemClock()
    state = state if state is not None else WatchState(policy)
    topics = topics_of(settings)
    started = time.monotonic()
    own_stop = stop is None
    stop = stop or asyncio.Event()
    source = f"broker {settings.kafka_bootstrap_servers}"
    since_at = datetime.now(UTC) - since if since is not None else None
    with stop_on_signals(stop) if own_stop else contextlib.nullcontext():
        try:
            async with reading(settings, topics.names, since=since_at) as reader:
                watcher = Watcher(state, topics, clock, printer=None if live else console)
                if not live:
                    console.print(
                        f"[dim]watching {', '.join(topics.names)} on "
                        f"{settings.kafka_bootstrap_servers}, {reader.start}[/dim]",
                        highlight=False,
                        soft_wrap=True,
                    )
                consuming = asyncio.create_task(watcher.run(reader))
                deadline = started + seconds if seconds is not None else None

                def draw(width: int, height: int, reading_keys: bool) -> RenderableType:
                    return render(
                        state,
                        clock.now(),
                        width,
                        height,
                        source=f"{source} · {reader.start}",
                        keys=reading_keys,
                    )

                def until() -> bool:
                    if consuming.done():
                        return True  # it failed: the outcome below says why
                    return deadline is not None and time.monotonic() >= deadline

                try:
                    outcome = await show(
                        console, state, clock, draw, live=live, stop=stop, until=until
                    )
                finally:
                    failed = _failure(consuming)
                    consuming.cancel()
                    await asyncio.gather(consuming, return_exceptions=True)
                if failed is not None:
                    raise failed
        except ValueError:
            raise  # a setting that cannot work (ConfigError): the command line reports it
        except Exception as exc:  # the broker or a topic is not there: say so, exit 1
            name = type(exc).__name__
            what = str(exc) if str(exc).startswith(name) else f"{name}: {exc}"
            console.print(
                Text(f"triage watch: {what}", style="red"),
                highlight=False,
                soft_wrap=True,
            )
            return 1
    if not live:
        console.print(plain_counts(state, clock.now()), highlight=False, soft_wrap=True)
    return 130 if outcome == "stopped" and own_stop else 0


def _failure(task: asyncio.Task[None]) -> BaseException | None:
    if not task.done() or task.cancelled():
        return None
    return task.exception()


def main(
    bootstrap: str | None,
    since: str | None,
    policy_path: str | None,
    live: bool,
    seconds: float | None,
) -> int:
    """``triage watch``: settings from the environment, ``--bootstrap`` over them."""
    configure_logging("WARNING", "console")
    settings = Settings()
    if bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap})
    if not settings.kafka_bootstrap_servers:
        print("triage watch: give --bootstrap or set KAFKA_BOOTSTRAP_SERVERS", file=sys.stderr)
        return 2
    try:
        window = parse_duration(since) if since else None
        policy = load_policy(policy_path or settings.sla_policy_path)
    except (ValueError, PolicyError) as exc:
        print(f"triage watch: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(
        run_watch(
            settings, policy, since=window, live=live and sys.stdout.isatty(), seconds=seconds
        )
    )
