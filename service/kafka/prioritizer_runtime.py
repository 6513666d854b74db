"""The prioritizer on Kafka: consumer group, customer-history restore, expiry timer.

* One consumer group (``TRIAGE_GROUP_ID``) reads the feedback topic (key: customer id),
  so all of a customer's feedback lands on one partition; the member that owns feedback
  partition *n* owns partition *n* of the customer changelog
  (``TRIAGE_TOPIC_CUSTOMER_CHANGELOG``, created with the feedback topic's partition count).
* The histories are the pipeline's ``PartitionedState``; ``ChangelogRestore``
  (``service.kafka.partition_hooks``) parks them on revocation, keeps those that come
  back and rebuilds the others from the changelog before their input is consumed.
* For every batch the loop publishes what ``Prioritizer.process`` returns (tickets, dead
  letters and the changed customer records in phase 0, a snapshot now and then in
  phase 1), then commits; tickets and dead letters are counted once committed.
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
from service.kafka.loop import ConsumeLoop, LoopConfig
from service.kafka.partition_hooks import ChangelogRestore
from service.observability.metrics import Metrics
from service.prioritizer.decode import DecodeLimits
from service.prioritizer.pipeline import Prioritizer, Topics
from service.rules import language
from service.rules.engine import RuleEngine
from service.rules.model import RuleSet
from service.sentiment import NegativityModel, load_model
from service.sla.policy import SlaPolicy, load_policy


class PrioritizerRuntime:
    def __init__(
        self,
        settings: Settings,
        conn: dict[str, Any],
        rules: RuleSet,
        clock: Clock,
        metrics: Metrics,
        loop_config: LoopConfig | None = None,
        text_model: NegativityModel | None = None,
        sla_policy: SlaPolicy | None = None,
    ) -> None:
        s = settings
        # the model is loaded only for rules that read it (the app loads it at start-up)
        if text_model is None and rules.uses_negativity():
            text_model = load_model(s.model_path)
        # the tickets' SLA targets come from the policy the monitor keeps (the app loads
        # it once at start-up and passes it to both roles)
        if sla_policy is None:
            sla_policy = load_policy(s.sla_policy_path)
        self.settings = settings
        changelog = s.topic_customer_changelog if s.repeat_contacts else None
        self.prioritizer = Prioritizer(
            RuleEngine(rules, text_model=text_model),
            Topics(tickets=s.topic_tickets, dlq=s.topic_dlq, customer_changelog=changelog),
            DecodeLimits(
                max_bytes=s.max_event_bytes,
                max_depth=s.max_json_depth,
                max_future_skew=timedelta(seconds=s.max_future_skew_seconds),
                max_age=timedelta(days=s.max_event_age_days),
            ),
            clock,
            sla_policy,
        )
        language.preload()  # before the group join, not inside the first batch
        state = self.prioritizer.state
        self.loop = ConsumeLoop(
            name="prioritizer",
            conn=conn,
            topics=[s.topic_feedback],
            group_id=s.group_id,
            handler=self.prioritizer,
            metrics=metrics,
            config=loop_config or LoopConfig.from_settings(s),
            partitions=ChangelogRestore(conn, state) if state is not None else None,
            on_published=metrics.count_outputs,
        )

    async def run_timers(self) -> None:
        """Every interval, forget customers past the window and publish their tombstones."""
        if self.prioritizer.state is None:
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
