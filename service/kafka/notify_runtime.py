"""The notify role on Kafka: escalations → Alertmanager (``service.notify``).

* One consumer group (``TRIAGE_NOTIFY_GROUP_ID``) reads the escalations topic. Its
  handler only dead-letters unreadable records; the escalations themselves are POSTed
  in the loop's delivery step (``Notifier.deliver``), after the (dead-letter) outputs
  are acknowledged and **before the offsets are committed**: an escalation is committed
  only once Alertmanager accepted its alert. During an outage the POST is retried with
  backoff and consumption waits; nothing is dropped.
* On assignment, each new partition's alerts are rebuilt from the escalations written
  in the last window (``EscalationRestore``, ``read_since``), so alerts stay active
  across restarts and rebalances; a re-send follows at once. On revocation they are
  dropped (the new owner keeps them firing).
* A timer re-sends the active alerts every ``TRIAGE_ALERTMANAGER_RESEND_INTERVAL_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta
from typing import Any

from service.clock import Clock
from service.config import Settings
from service.kafka.changelog import read_since
from service.kafka.loop import ConsumeLoop, LoopConfig
from service.notify.alertmanager import AlertmanagerClient, parse_urls
from service.notify.alerts import AlertBook
from service.notify.handler import EscalationInput
from service.notify.notifier import Notifier
from service.observability.logging import get_logger
from service.observability.metrics import Metrics

log = get_logger("triage.notify")


class EscalationRestore:
    """The notify loop's partition listener: rebuild alerts on assignment, drop on revoke."""

    def __init__(self, runtime: NotifyRuntime) -> None:
        self._runtime = runtime

    async def assigned(self, partitions: list[int]) -> None:
        rt = self._runtime
        started = time.perf_counter()
        known = rt.notifier.book.partitions()
        since = rt.clock.now() - rt.notifier.book.window
        since_ms = int(since.timestamp() * 1000)
        read = 0
        for number in partitions:
            if number in known:
                continue  # still ours since it was last assigned
            values = await read_since(rt.conn, rt.settings.topic_escalations, number, since_ms)
            read += await rt.notifier.restore(number, values)
        log.info(
            "notify_alerts_restored",
            partitions=partitions,
            escalations=read,
            active=len(rt.notifier.book.active()),
            seconds=round(time.perf_counter() - started, 3),
        )
        rt.wake()  # re-send the restored alerts now, not at the next interval

    async def revoked(self, partitions: list[int]) -> None:
        await self._runtime.notifier.drop(partitions)


class NotifyRuntime:
    def __init__(
        self,
        settings: Settings,
        conn: dict[str, Any],
        clock: Clock,
        metrics: Metrics,
        loop_config: LoopConfig | None = None,
    ) -> None:
        s = settings
        urls = parse_urls(s.alertmanager_url)
        if not urls:
            raise ValueError("the notify role needs TRIAGE_ALERTMANAGER_URL")
        self.settings = settings
        self.conn = conn
        self.clock = clock
        self.metrics = metrics
        self._wake = asyncio.Event()
        book = AlertBook(
            max_age=timedelta(seconds=s.alertmanager_alert_max_age_seconds),
            management_ttl=timedelta(seconds=s.alertmanager_management_alert_seconds),
            ticket_url=s.alertmanager_ticket_url,
        )
        self.notifier = Notifier(
            book,
            AlertmanagerClient(urls, s.alertmanager_timeout_seconds),
            clock,
            metrics,
            resend_interval_s=s.alertmanager_resend_interval_seconds,
            retry_max_s=s.alertmanager_retry_max_seconds,
            wait_stopping=lambda seconds: self.loop.wait_stopping(seconds),
        )
        self.loop = ConsumeLoop(
            name="notify",
            conn=conn,
            topics=[s.topic_escalations],
            group_id=s.notify_group_id,
            handler=EscalationInput(s.topic_dlq, clock),
            metrics=metrics,
            config=loop_config or LoopConfig.from_settings(s),
            partitions=EscalationRestore(self),
            on_published=metrics.count_outputs,
            deliver=self.notifier,
        )

    def wake(self) -> None:
        self._wake.set()

    async def run_timers(self) -> None:
        """Re-send the active alerts every interval (and at once after an assignment)."""
        interval = self.settings.alertmanager_resend_interval_seconds
        while not self.loop.stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            if self.loop.stopping:
                return
            await self.notifier.resend()

    async def close(self) -> None:
        await self.notifier.close()
