"""The SLA monitor on Kafka: consumer group, state restore on assignment, timers.

* One consumer group (``TRIAGE_SLA_GROUP_ID``) reads the tickets and activity topics
  with the range assignor, so partition *n* of both goes to the same member, and that
  member owns changelog partition *n*.
* The engines are the monitor's ``PartitionedState``; ``ChangelogRestore``
  (``service.kafka.partition_hooks``) parks them on revocation (their timers stop at
  once), keeps those that come back and rebuilds the others from the changelog before
  their input is consumed.
* A timer task wakes at the next due step (or every ``sla_timer_max_sleep_seconds``)
  and publishes, under the loop's processing lock, the escalations that came due and
  then the state changes they made.
* With ``TRIAGE_SLA_STANDBY`` (on by default) a second task reads the changelog of every
  partition (from its base) and the last hour of escalations, outside the group, into the
  standby clocks (``service.sla.standby``), and while the group rebalances (from a
  revocation until the next assignment is restored) and the copy has read every
  partition to its end, publishes the steps a dead owner missed (its rule 3) through the
  loop's ``publish_exclusive``, as the owned timers do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from schemas.escalation import Escalation, EscalationKind
from service import cloudevents
from service.clock import Clock
from service.config import Settings
from service.kafka.changelog import changelog_bases
from service.kafka.loop import ConsumeLoop, LoopConfig
from service.kafka.partition_hooks import ChangelogRestore
from service.kafka.reader import reading
from service.observability.logging import get_logger
from service.observability.metrics import Metrics
from service.records import OutRecord
from service.sla.ladder import Outcome
from service.sla.monitor import SlaMonitor, SlaTopics, escalation_record
from service.sla.policy import SlaPolicy
from service.sla.standby import StandbyClocks

log = get_logger("triage.sla")
#: How far back the standby clocks read the escalations topic at start (rule 6 of
#: ``service.sla.standby``: a rebalance's steps are published again minutes later at most).
ESCALATIONS_LOOKBACK = timedelta(hours=1)
_TIMED = frozenset({EscalationKind.SLA_WARNING, EscalationKind.SLA_BREACH})


class SlaRuntime:
    def __init__(
        self,
        settings: Settings,
        conn: dict[str, Any],
        policy: SlaPolicy,
        clock: Clock,
        metrics: Metrics,
        loop_config: LoopConfig | None = None,
    ) -> None:
        self.settings = settings
        self.conn = conn
        self.clock = clock
        self.metrics = metrics
        self.topics = SlaTopics(
            tickets=settings.topic_tickets,
            activity=settings.topic_activity,
            escalations=settings.topic_escalations,
            changelog=settings.topic_sla_changelog,
            dlq=settings.topic_dlq,
        )
        self.monitor = SlaMonitor(
            policy=policy,
            topics=self.topics,
            clock=clock,
            on_escalation=self._observe_escalation,
            on_outcome=self._observe_outcome,
        )
        self._wake = asyncio.Event()
        self.standby: StandbyClocks | None = None
        if settings.sla_standby:
            grace = timedelta(seconds=settings.sla_standby_grace_seconds)
            self.standby = StandbyClocks(policy, grace)
        #: the loop's count of assignments at the last revocation (None: none yet), when
        #: it came, and the partitions it took
        self._revoked_at: int | None = None
        self._revoked_when = clock.now()
        self._revoked: frozenset[int] = frozenset()
        s = settings
        self.loop = ConsumeLoop(
            name="sla",
            conn=conn,
            topics=[s.topic_tickets, s.topic_activity],
            group_id=s.sla_group_id,
            handler=self,
            metrics=metrics,
            config=loop_config or LoopConfig.from_settings(s),
            partitions=ChangelogRestore(
                conn, self.monitor.state, self._restored, on_revoked=self._on_revoked
            ),
            on_published=metrics.count_outputs,
            co_partitioned=True,
        )

    # --- BatchHandler -------------------------------------------------------------------------

    def process(self, batch: Any) -> Any:
        out = self._unpublished(self.monitor.process(batch))
        self._wake.set()  # a new ticket may be due before the timer's current sleep ends
        return out

    def _fire_owned(self) -> list[OutRecord]:
        return self._unpublished(self.monitor.fire_due())

    def _unpublished(self, records: list[OutRecord]) -> list[OutRecord]:
        """``records`` less the escalations already on the topic (the standby's rule 6:
        after a takeover, the steps the standby clocks fired for a member that stopped)."""
        standby = self.standby
        if standby is None:
            return records
        return [
            r
            for r in records
            if r.kind != "escalation" or not standby.published(_escalation_id(r.headers))
        ]

    # --- partitions ---------------------------------------------------------------------------

    def _on_revoked(self, partitions: list[int]) -> None:
        self._revoked_at = self.loop.assignments_seen
        self._revoked_when = self.clock.now()
        self._revoked = frozenset(partitions)

    @property
    def rebalancing(self) -> bool:
        """Between a revocation and the end of the next assignment (whatever it holds)."""
        return self._revoked_at is not None and self.loop.assignments_seen == self._revoked_at

    def _restored(self, partitions: list[int], seconds: float) -> None:
        self.metrics.sla_restore.observe(seconds)
        self.monitor.restored(partitions, self.settings.sla_apply_policy_to_open)
        self._wake.set()  # the restored clocks may be due before the current sleep ends

    # --- timers -------------------------------------------------------------------------------

    async def run_timers(self) -> None:
        """The owned clocks' timers, and the standby clocks beside them."""
        if self.standby is None:
            await self._run_owned_timers()
            return
        await asyncio.gather(self._run_owned_timers(), self._run_standby(self.standby))

    async def _run_owned_timers(self) -> None:
        max_sleep = self.settings.sla_timer_max_sleep_seconds
        while not self.loop.stopping:
            nxt = self.monitor.next_due()
            now = self.clock.now()
            delay = max_sleep if nxt is None else min(max_sleep, (nxt - now).total_seconds())
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            if self.loop.producer is not None:
                await self.loop.publish_exclusive(self._fire_owned)
            self._update_gauges()

    # --- standby clocks ------------------------------------------------------------------

    async def _run_standby(self, standby: StandbyClocks) -> None:
        """Follow the changelog (each partition from its base: its latest complete
        snapshot, as a restore reads it) and the escalations (from ``ESCALATIONS_LOOKBACK``
        ago) into ``standby``; fire it while the group rebalances. A failure here ends the
        standby only: the owned clocks go on."""
        since = self.clock.now() - ESCALATIONS_LOOKBACK
        try:
            async with (
                reading(self.settings, [self.topics.changelog]) as clocks,
                reading(self.settings, [self.topics.escalations], since) as published,
            ):
                changelog = self.topics.changelog
                numbers = clocks.partitions(changelog)
                clocks.seek(changelog, await changelog_bases(self.conn, changelog, numbers))
                while not self.loop.stopping:
                    for record in await clocks.read(timeout_ms=50):
                        standby.apply(record.partition, record.key, record.value)
                    for record in await published.read(timeout_ms=50):
                        if escalation_id := _escalation_id(record.headers):
                            standby.saw(escalation_id)
                    if (
                        self.rebalancing
                        and not self.loop.stopping
                        and await clocks.caught_up()
                        and await published.caught_up()
                    ):
                        await self._fire_standby(standby)
        except Exception:
            log.exception("sla_standby_stopped", hint="the owned clocks still fire")

    async def _fire_standby(self, standby: StandbyClocks) -> None:
        """Publish what the standby clocks fire, through the loop like the owned timers
        (the processing lock is free while the group's join waits)."""

        def fired() -> list[OutRecord]:
            if not self.rebalancing:  # the assignment came while the lock was awaited
                return []
            now = self.clock.now()
            return [
                escalation_record(e, self.topics.escalations, self._observe_standby, standby=True)
                for e in standby.fire_due(now, self._revoked_when, self._revoked)
            ]

        await self.loop.publish_exclusive(fired)

    def _observe_standby(self, esc: Escalation) -> None:
        self.metrics.sla_standby_escalations.labels(esc.kind.value).inc()

    def _update_gauges(self) -> None:
        nxt = self.monitor.next_due()
        if nxt is not None:
            self.metrics.sla_next_step.set((nxt - self.clock.now()).total_seconds())
        counts = self.monitor.open_by_priority()
        for prio in ("P1", "P2", "P3", "P4"):
            self.metrics.sla_open_tickets.labels(prio).set(counts.get(prio, 0))

    # --- metrics sinks ------------------------------------------------------------------------

    def _observe_escalation(self, esc: Escalation) -> None:
        self.metrics.escalations.labels(esc.kind.value, str(esc.level)).inc()
        if esc.kind in _TIMED:
            lag = (esc.emitted_at - esc.due_at).total_seconds()
            self.metrics.sla_timer_lag.observe(max(0.0, lag))

    def _observe_outcome(self, outcome: Outcome) -> None:
        prio = outcome.priority.value
        self.metrics.sla_cycles.labels(
            prio, outcome.metric, "met" if outcome.met else "missed"
        ).inc()
        if outcome.metric == "first_response":
            self.metrics.sla_first_response.labels(prio).observe(outcome.response_seconds)


def _escalation_id(headers: Sequence[tuple[str, bytes]]) -> str:
    """An escalation record's id, from its CloudEvents ``ce_id`` header ("" without)."""
    return cloudevents.header_map(headers).get("ce_id", b"").decode(errors="replace")
