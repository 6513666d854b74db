"""What the benchmarks that run the service (or a peer) as a child process share.

* ``broker()``: the broker named by ``KAFKA_BOOTSTRAP_SERVERS``, else an embedded one on
  loopback for the duration of the ``async with``.
* ``Child``: a process started with this interpreter and the project on ``PYTHONPATH``,
  its output sent to a log file, asked to stop with SIGTERM and killed if it does not
  exit in time. On Linux a child also gets SIGTERM when the benchmark dies (even by
  SIGKILL), so a crashed run leaves no service behind.
* ``start_triage``: ``triage run --role <role>`` as such a child, configured through
  ``TRIAGE_*`` variables (loopback HTTP on a free port), returned once ``/readyz``
  answers 200 — which the service only does when every consume loop has joined its
  group and has an assignment — so no measurement starts during the group join.
* ``preload``, ``ticket_ids``, ``stop_on_sigterm``: small helpers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO

import orjson
from aiokafka import AIOKafkaProducer

from service.kafka.embedded import EmbeddedBroker, free_port
from service.rules.engine import ticket_id_for

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 90.0
_PR_SET_PDEATHSIG = 1


@contextlib.asynccontextmanager
async def broker() -> AsyncIterator[str]:
    """Yield a bootstrap address: ``KAFKA_BOOTSTRAP_SERVERS`` or an embedded broker's."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    embedded = EmbeddedBroker()
    await embedded.start()
    try:
        yield embedded.bootstrap
    finally:
        embedded.stop()


def tag() -> str:
    """A short random suffix for fresh topic and group names."""
    return uuid.uuid4().hex[:8]


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    """A Python child process of the benchmark (see the module docstring)."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log: IO[bytes]) -> None:
        self.name = name
        self.proc = proc
        self._log = log
        self._final_log: str | None = None

    @classmethod
    async def start(
        cls, name: str, argv: list[str], env: dict[str, str], python: str | None = None
    ) -> Child:
        """Run ``python argv…`` from the project root (``python``: this interpreter unless
        given); stdout and stderr go to a log file."""
        log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log")  # noqa: SIM115
        full_env = {**os.environ, **env}
        path = full_env.get("PYTHONPATH")
        full_env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)
        proc = await asyncio.create_subprocess_exec(
            python or sys.executable,
            *argv,
            cwd=ROOT,
            env=full_env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        return cls(name, proc, log)

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    def log_tail(self, chars: int = 3000) -> str:
        """The end of what the child printed (for error messages), even once stopped."""
        if self._final_log is None:
            self._log.flush()
            text = Path(self._log.name).read_bytes().decode(errors="replace")
        else:
            text = self._final_log
        return text[-chars:]

    async def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL; the exit code (-9 if killed)."""
        try:
            if self.running:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(self.proc.wait(), timeout)
                except TimeoutError:
                    self.proc.kill()
                    await self.proc.wait()
            code = self.proc.returncode
            assert code is not None
            return code
        finally:
            if self._final_log is None:
                self._final_log = self.log_tail(100_000)
                self._log.close()


async def _http_status(host: str, port: int, path: str) -> int | None:
    """Status code of ``GET path``, or None when nothing answers."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, TimeoutError):
        return None
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 2.0)
        parts = line.split()
        return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    except (OSError, TimeoutError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def start_triage(
    bootstrap: str,
    topics: dict[str, str],
    group: str,
    partitions: int,
    role: str = "prioritizer",
    extra_env: dict[str, str] | None = None,
) -> Child:
    """``triage run --role role`` as a child, returned once ``/readyz`` answers 200.

    ``topics`` maps ``Settings`` topic fields (``topic_feedback``, ``topic_tickets`` …)
    to names; topics the caller did not create are created by the service with
    ``partitions`` partitions. Every ``TRIAGE_*`` variable of the benchmark's own
    environment reaches the service too (``extra_env`` wins over them).
    """
    port = free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TRIAGE_GROUP_ID": group,
        "TRIAGE_TOPIC_PARTITIONS": str(partitions),
        "TRIAGE_HTTP_HOST": "127.0.0.1",
        "TRIAGE_HTTP_PORT": str(port),
        "TRIAGE_LOG_LEVEL": os.environ.get("TRIAGE_LOG_LEVEL", "WARNING"),
        "TRIAGE_LOG_FORMAT": "console",
        **{f"TRIAGE_{field.upper()}": name for field, name in topics.items()},
        **(extra_env or {}),
    }
    child = await Child.start("triage", ["-m", "service.cli", "run", "--role", role], env)
    deadline = time.monotonic() + READY_TIMEOUT
    try:
        while True:
            if not child.running:
                raise RuntimeError(
                    f"triage exited with code {child.proc.returncode}:\n{child.log_tail()}"
                )
            if await _http_status("127.0.0.1", port, "/readyz") == 200:
                return child
            if time.monotonic() > deadline:
                raise TimeoutError(f"triage not ready after {READY_TIMEOUT} s:\n{child.log_tail()}")
            await asyncio.sleep(0.1)
    except BaseException:
        await child.stop()
        raise


#: A preload that takes longer has met a broker that stopped answering.
PRELOAD_TIMEOUT = 300.0


async def preload(bootstrap: str, topic: str, events: list[tuple[bytes, bytes]]) -> None:
    """Publish ``events`` (key, value) to ``topic`` and wait for every acknowledgement;
    bounded in time, so a broker that stops answering fails the run instead of hanging it."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1_048_576
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, v, key=k) for k, v in events]
        await asyncio.wait_for(asyncio.gather(*futures), PRELOAD_TIMEOUT)
    finally:
        await asyncio.wait_for(producer.stop(), 30)


def ticket_ids(events: list[tuple[bytes, bytes]]) -> list[bytes]:
    """The ticket id (the output record's key) each event will get, in order."""
    return [ticket_id_for(orjson.loads(value)["event_id"]).encode() for _, value in events]


def stop_on_sigterm() -> Callable[[], None]:
    """Make SIGTERM cancel the current task (so ``finally`` blocks stop the children).

    Returns a function that restores the default handling.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)

    def restore() -> None:
        loop.remove_signal_handler(signal.SIGTERM)

    return restore
