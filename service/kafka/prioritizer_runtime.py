"""The prioritizer on Kafka: consumer group, customer-history restore, expiry timer.

* One consumer group (``TRIAGE_GROUP_ID``) reads the feedback topic (key: customer id),
  so all of a customer's feedback lands on one partition; the member that owns feedback
  partition *n* owns partition *n* of the customer changelog
  (``TRIAGE_TOPIC_CUSTOMER_CHANGELOG``, created with the feedback topic's partition count).
* On assignment, before any input of a new partition is consumed, its customer history is
  rebuilt from the changelog (from the partition's last snapshot). On revocation the
  histories are parked; a partition kept across a rebalance keeps its history (no other
  member can have written to its changelog in between), the others are dropped.
* For every batch the loop publishes tickets and dead letters (phase 0), then the changed
  customer records (phase 1, and a snapshot now and then, phase 2), then commits.
* A timer forgets customers past the repeat window every
  ``repeat_contacts_expire_interval_seconds`` and publishes their tombstones.

With ``TRIAGE_REPEAT_CONTACTS=false`` the prioritizer is stateless: no hooks, no timer.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from service.clock import Clock
from service.config import Settings
from service.kafka.changelog import read_changelog
from service.kafka.loop import ConsumeLoop, loop_options
from service.observability.logging import get_logger
from service.observability.metrics import Metrics
from service.prioritizer.decode import DecodeLimits
from service.prioritizer.pipeline import CustomerPartition, Prioritizer, Topics
from service.rules import language
from service.rules.engine import RuleEngine
from service.rules.model import RuleSet
from service.sentiment import load_model

log = get_logger("triage.prioritizer")


class PrioritizerRuntime:
    def __init__(
        self,
        settings: Settings,
        conn: dict[str, Any],
        rules: RuleSet,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        s = settings
        self.settings = settings
        self.conn = conn
        self.clock = clock
        self.stateful = s.repeat_contacts
        self.changelog = s.topic_customer_changelog if self.stateful else None
        self.prioritizer = Prioritizer(
            # the model is loaded only for rules that read it
            RuleEngine(
                rules, text_model=load_model(s.model_path) if rules.uses_negativity() else None
            ),
            Topics(tickets=s.topic_tickets, dlq=s.topic_dlq, customer_changelog=self.changelog),
            DecodeLimits(
                max_bytes=s.max_event_bytes,
                max_depth=s.max_json_depth,
                max_future_skew=timedelta(seconds=s.max_future_skew_seconds),
                max_age=timedelta(days=s.max_event_age_days),
            ),
            clock,
        )
        language.preload()  # before the group join, not inside the first batch
        self._parked: dict[int, CustomerPartition] = {}
        self.loop = ConsumeLoop(
            name="prioritizer",
            conn=conn,
            topics=[s.topic_feedback],
            group_id=s.group_id,
            handler=self.prioritizer,
            metrics=metrics,
            **loop_options(s),
            on_assigned=self._on_assigned if self.stateful else None,
            on_revoked=self._on_revoked if self.stateful else None,
        )

    # --- partitions ---------------------------------------------------------------------------

    async def _on_revoked(self, tps: list[tuple[str, int]]) -> None:
        for number in {p for _, p in tps}:
            part = self.prioritizer.partitions.pop(number, None)
            if part is not None:
                self._parked[number] = part  # kept if reassigned to us

    async def _on_assigned(self, tps: list[tuple[str, int]]) -> None:
        assert self.changelog is not None
        numbers = sorted({p for _, p in tps})
        kept = {n: self._parked.pop(n) for n in numbers if n in self._parked}
        self._parked.clear()
        self.prioritizer.partitions.update(kept)
        started = time.perf_counter()
        for number in numbers:
            if number in kept:
                continue
            base, records = await read_changelog(self.conn, self.changelog, number)
            self.prioritizer.restore(number, records, base)
        log.info(
            "customer_histories_ready",
            partitions=numbers,
            restored=[n for n in numbers if n not in kept],
            seconds=round(time.perf_counter() - started, 3),
        )

    # --- expiry -------------------------------------------------------------------------------

    async def run_timers(self) -> None:
        """Every interval, forget customers past the window and publish their tombstones."""
        if not self.stateful:
            return
        interval = self.settings.repeat_contacts_expire_interval_seconds
        due = time.monotonic() + interval
        while not self.loop.stopping:
            await asyncio.sleep(max(0.0, min(1.0, due - time.monotonic())))
            if time.monotonic() < due:
                continue
            due = time.monotonic() + interval
            if self.loop.producer is not None:
                await self.loop.publish_exclusive(self.prioritizer.expire)
