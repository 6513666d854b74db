"""A real Alertmanager (Debian's prometheus-alertmanager binary) and a webhook receiver
on loopback, for tests/integration/test_alertmanager.py.

The Alertmanager runs the shipped example (deploy/alertmanager/escalations.yml) — its
routes, grouping and inhibition rules — with every receiver replaced by a webhook to
the test's receiver (``http://127.0.0.1:<port>/<receiver name>``), short group timings
and no quiet hours (they depend on the wall clock).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from service.kafka.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "alertmanager" / "escalations.yml"


def alertmanager_binary() -> str | None:
    """Debian names it prometheus-alertmanager; upstream's tarball, alertmanager."""
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


class Webhook:
    """Records every notification Alertmanager POSTs, by receiver (the URL's path)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{receiver}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, receiver: str) -> str:
        return f"http://127.0.0.1:{self.port}/{receiver}"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        async with self._changed:
            self.received.append((request.match_info["receiver"], body))
            self._changed.notify_all()
        return web.Response(text="ok")

    def of(self, receiver: str, ticket_id: str | None = None) -> list[dict[str, Any]]:
        """Notifications to ``receiver`` (for one ticket's group, when given)."""
        return [
            body
            for name, body in self.received
            if name == receiver
            and (ticket_id is None or body["groupLabels"].get("ticket_id") == ticket_id)
        ]

    async def wait(self, predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        """Until ``predicate`` holds, woken by each notification (no polling)."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what}; received: "
                    f"{[(n, b['status'], b['groupLabels']) for n, b in self.received]}"
                ) from None


def webhook_config(webhook: Webhook) -> dict[str, Any]:
    """The shipped example, every receiver a webhook, short timings, no quiet hours."""
    config: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    config["global"] = {"resolve_timeout": "5m"}
    config["receivers"] = [
        {"name": r["name"], "webhook_configs": [{"url": webhook.url(r["name"])}]}
        for r in config["receivers"]
    ]

    def shorten(route: dict[str, Any]) -> None:
        route.pop("mute_time_intervals", None)
        if "repeat_interval" in route:
            route["repeat_interval"] = "1h"
        for sub in route.get("routes", []):
            shorten(sub)

    route = config["route"]
    route.update(group_wait="200ms", group_interval="1s", repeat_interval="1h")
    shorten(route)
    return config


class Alertmanager:
    """One Alertmanager process on a loopback port; ``stop``/``start`` keep its storage."""

    def __init__(self, binary: str, workdir: Path, config: dict[str, Any]) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = workdir / "alertmanager.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        self.log_path = workdir / "alertmanager.log"
        self._proc: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 20.0) -> None:
        (self.workdir / "data").mkdir(exist_ok=True)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self.config_path}",
                    f"--storage.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "TZ": "UTC"},
            )
        await self._wait_ready(timeout)

    async def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
            while time.monotonic() < deadline:
                if self._proc is not None and self._proc.poll() is not None:
                    break
                try:
                    async with session.get(f"{self.url}/-/ready") as resp:
                        if resp.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(
            f"Alertmanager not ready on {self.url}: {self.log_path.read_text()[-2000:]}"
        )

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)
        self._proc = None

    async def alerts(self) -> list[dict[str, Any]]:
        """What Alertmanager holds now (GET /api/v2/alerts)."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.url}/api/v2/alerts") as resp,
        ):
            assert resp.status == 200
            data: list[dict[str, Any]] = await resp.json()
            return data

    async def received(self, status: str) -> float:
        """Alerts of ``status`` (firing, resolved) it received since it started, by its own
        ``alertmanager_alerts_received_total``."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.url}/metrics") as resp,
        ):
            text = await resp.text()
        prefix = "alertmanager_alerts_received_total{"
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(prefix) and f'status="{status}"' in line
        )
