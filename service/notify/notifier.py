"""Deliver escalations to Alertmanager: before the commit, until accepted (async, no Kafka).

* ``deliver(records)`` is the notify loop's delivery step (``BatchDelivery``): the batch's
  escalations go through the book (``service.notify.alerts``) and the alerts they concern
  are POSTed; a failed POST is retried with exponential backoff (0.5 s doubling up to
  ``retry_max_s``) for as long as it takes — the loop commits the batch only when this
  returns True, so an outage loses nothing, it only holds the escalations back (and the
  batches after them: consumption waits). False only when the service is stopping.
* ``resend()`` POSTs every active alert once (``endsAt`` = now + 4 re-send intervals),
  and the alerts that reached their lifetime as resolved. A failed re-send waits for the
  next one: the alerts stay active in Alertmanager meanwhile.
* ``restore(partition, values)`` and ``drop(partitions)`` follow the assignment.

One lock orders every POST: an alert's resolution is never overtaken by an older,
still-active copy of it in a re-send.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta

from service.clock import Clock
from service.notify.alertmanager import AlertmanagerClient, PostResult
from service.notify.alerts import LIFETIME_INTERVALS, Alert, AlertBook, decode_escalation
from service.observability.logging import get_logger
from service.observability.metrics import Metrics
from service.records import InRecord

log = get_logger("triage.notify")

#: Waits up to the given seconds for a stop request; True when the service is stopping.
StopWait = Callable[[float], Awaitable[bool]]


class Notifier:
    def __init__(
        self,
        book: AlertBook,
        client: AlertmanagerClient,
        clock: Clock,
        metrics: Metrics,
        *,
        resend_interval_s: float = 60.0,
        retry_max_s: float = 30.0,
        wait_stopping: StopWait | None = None,
    ) -> None:
        self.book = book
        self.client = client
        self.clock = clock
        self.metrics = metrics
        self.resend_interval_s = resend_interval_s
        self.retry_max_s = retry_max_s
        self._wait_stopping = wait_stopping or _never_stopping
        self._lock = asyncio.Lock()
        self.posts = 0  # accepted POSTs (tests)

    # --- the loop's delivery step -----------------------------------------------------------

    async def deliver(self, records: Sequence[InRecord]) -> bool:
        escalations = [
            (r.partition, e) for r in records if (e := decode_escalation(r.value)) is not None
        ]
        if not escalations:
            return True  # unreadable records were dead-lettered by the handler
        async with self._lock:
            now = self.clock.now()
            alerts: dict[tuple[tuple[str, str], ...], Alert] = {}
            for partition, esc in escalations:
                for alert in self.book.apply(partition, esc, now):
                    alerts[alert.labels] = alert  # the latest state of each alert
            self._update_gauges()
            if not alerts:
                return True
            return await self._post_until_accepted(list(alerts.values()), len(escalations))

    async def _post_until_accepted(self, alerts: list[Alert], held: int) -> bool:
        delay = 0.5
        while True:
            result = await self._post(alerts)
            if result.done:
                self.metrics.alertmanager_retrying.set(0)
                return True
            self.metrics.alertmanager_retrying.set(held)
            log.warning(
                "alertmanager_post_failed",
                alerts=len(alerts),
                escalations=held,
                retry_in=delay,
                errors=[detail for _, detail in result.failures],
            )
            if await self._wait_stopping(delay):
                return False  # not committed: redelivered to whoever runs next
            delay = min(delay * 2, self.retry_max_s)

    # --- re-sends ---------------------------------------------------------------------------

    async def resend(self) -> PostResult | None:
        """POST every active alert (and those that just reached their lifetime, resolved)."""
        async with self._lock:
            now = self.clock.now()
            alerts = self.book.expire(now) + self.book.active()
            self._update_gauges()
            if not alerts:
                return None
            result = await self._post(alerts)
            if not result.done:
                log.warning(
                    "alertmanager_resend_failed",
                    alerts=len(alerts),
                    errors=[detail for _, detail in result.failures],
                )
            return result

    # --- partitions -------------------------------------------------------------------------

    async def restore(self, partition: int, values: Iterable[bytes | None]) -> int:
        """Rebuild a partition's alerts from its escalations (nothing is sent here: the
        next re-send sends the active ones). The number of escalations read."""
        async with self._lock:
            now = self.clock.now()
            n = 0
            for value in values:
                esc = decode_escalation(value)
                if esc is not None:
                    self.book.apply(partition, esc, now)
                    n += 1
            self._update_gauges()
            return n

    async def drop(self, partitions: list[int]) -> None:
        async with self._lock:  # a re-send in flight finishes first
            self.book.drop(partitions)
            self._update_gauges()

    async def close(self) -> None:
        await self.client.close()

    # --- internals --------------------------------------------------------------------------

    async def _post(self, alerts: list[Alert]) -> PostResult:
        until = self.clock.now() + timedelta(seconds=LIFETIME_INTERVALS * self.resend_interval_s)
        result = await self.client.post([a.payload(until) for a in alerts])
        m = self.metrics
        for reason, _ in result.failures:
            m.alertmanager_failures.labels(reason).inc()
        if result.rejected is not None:
            m.alertmanager_failures.labels("rejected").inc()
            log.error("alertmanager_rejected_alerts", alerts=len(alerts), detail=result.rejected)
        if result.accepted:
            self.posts += 1
            resolved = sum(1 for a in alerts if a.resolved)
            if resolved:
                m.alertmanager_sent.labels("resolved").inc(resolved)
            if len(alerts) > resolved:
                m.alertmanager_sent.labels("firing").inc(len(alerts) - resolved)
        return result

    def _update_gauges(self) -> None:
        for name, count in self.book.active_by_alertname().items():
            self.metrics.alertmanager_active.labels(name).set(count)


async def _never_stopping(seconds: float) -> bool:
    await asyncio.sleep(seconds)
    return False
