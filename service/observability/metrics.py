"""Prometheus metrics. One registry per service instance (tests run several).

Label values are bounded sets: priorities, known channels (others become ``other``),
dead-letter reasons, outcomes, topics and partitions. Never a customer or ticket id.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import attrgetter

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from schemas.common import Channel, Priority
from service.records import OutRecord
from service.sla.engine import SlaRisk

_KNOWN_CHANNELS = frozenset(c.value for c in Channel)
_KIND_LABEL_CHANNEL = attrgetter("kind", "label", "channel")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


def channel_label(channel: str) -> str:
    return channel if channel in _KNOWN_CHANNELS else "other"


class BatchHistogram(Histogram):
    """A ``Histogram`` that also takes a batch's observations at once.

    ``observe`` takes one lock per observation and walks the buckets in Python: for the
    processing latency of every record of a 2,000-record batch that was about 3 ms a
    batch. ``observe_many`` counts the batch into its buckets first (by bisection: an
    amount goes in the first bucket whose bound is not below it, as ``observe`` puts it),
    then adds each bucket's count and the sum once. It reads the parent's bucket and sum
    values, which are not public: ``tests/unit/test_metrics.py`` holds it to ``observe``
    on the exposition, so a release of prometheus-client that moves them fails there.
    """

    def observe_many(self, amounts: Sequence[float]) -> None:
        """``observe`` of every amount (none is NaN), counted once per bucket; the sum
        is the batch's sum added once (the same up to floating-point rounding)."""
        if not amounts:
            return
        self._raise_if_not_observable()  # type: ignore[no-untyped-call]
        bounds = self._upper_bounds
        counts = [0] * len(bounds)
        for amount in amounts:
            counts[bisect_left(bounds, amount)] += 1
        self._sum.inc(sum(amounts))
        for bucket, count in zip(self._buckets, counts, strict=True):
            if count:
                bucket.inc(count)


class SlaRiskCollector(Collector):
    """Gauges computed at scrape time from the SLA monitor's clocks (no stale values).

    * ``triage_sla_tickets_at_risk{priority}``: running cycles past their first warning
      (50 % of the target by default) and before their deadline — about to breach;
    * ``triage_sla_tickets_overdue{priority}``: running cycles past their deadline —
      breached now, no response yet;
    * ``triage_sla_next_breach_seconds``: until the earliest deadline still ahead
      (absent when no running cycle is before its deadline).
    """

    def __init__(self, source: Callable[[], SlaRisk]) -> None:
        self._source = source

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        risk = self._source()
        at_risk = GaugeMetricFamily(
            "triage_sla_tickets_at_risk",
            "Open tickets past their first SLA warning and before their deadline, by priority.",
            labels=["priority"],
        )
        overdue = GaugeMetricFamily(
            "triage_sla_tickets_overdue",
            "Open tickets past their SLA deadline without a response, by priority.",
            labels=["priority"],
        )
        for prio in Priority:
            at_risk.add_metric([prio.value], risk.at_risk_by_priority.get(prio, 0))
            overdue.add_metric([prio.value], risk.overdue_by_priority.get(prio, 0))
        yield at_risk
        yield overdue
        seconds = risk.seconds_to_next_deadline
        if seconds is not None:
            yield GaugeMetricFamily(
                "triage_sla_next_breach_seconds",
                "Seconds until the earliest SLA deadline of an open ticket not yet breached.",
                value=seconds,
            )


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.build_info = Info("triage_build", "Version of triage and of its rule set.", registry=r)
        self.events_consumed = Counter(
            "triage_events_consumed_total",
            "Feedback events consumed, by outcome (ticket or dead_letter).",
            ["outcome"],
            registry=r,
        )
        self.tickets = Counter(
            "triage_tickets_total",
            "Tickets published, by priority and channel.",
            ["priority", "channel"],
            registry=r,
        )
        self.dead_letters = Counter(
            "triage_dead_letters_total",
            "Dead letters published, by reason.",
            ["reason"],
            registry=r,
        )
        self.processing_latency = BatchHistogram(
            "triage_processing_latency_seconds",
            "From the feedback event's Kafka timestamp to its ticket or dead letter being acknowledged.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_duration = Histogram(
            "triage_batch_duration_seconds",
            "Time to score, publish and commit one batch.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "triage_batch_records",
            "Records per processed batch.",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
            registry=r,
        )
        self.consumer_lag = Gauge(
            "triage_consumer_lag_records",
            "Records between the committed position and the end of the partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.assigned_partitions = Gauge(
            "triage_assigned_partitions",
            "Partitions assigned to this instance.",
            ["topic"],
            registry=r,
        )
        self.commits = Counter(
            "triage_offset_commits_total", "Offset commits, by result.", ["result"], registry=r
        )
        self.rebalances = Counter(
            "triage_rebalances_total",
            "Partition assignments and revocations.",
            ["kind"],
            registry=r,
        )
        # --- SLA monitor ---
        self.sla_open_tickets = Gauge(
            "triage_sla_open_tickets",
            "Open tickets (not resolved) owned by this instance, by priority.",
            ["priority"],
            registry=r,
        )
        self.sla_first_response = Histogram(
            "triage_sla_first_response_seconds",
            "Time from the customer's feedback to the first response, by priority.",
            ["priority"],
            buckets=(60, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800),
            registry=r,
        )
        self.sla_cycles = Counter(
            "triage_sla_cycles_total",
            "Response cycles ended, by priority, metric and result (met or missed).",
            ["priority", "metric", "result"],
            registry=r,
        )
        self.escalations = Counter(
            "triage_escalations_total",
            "Escalations published, by kind and level.",
            ["kind", "level"],
            registry=r,
        )
        self.sla_next_step = Gauge(
            "triage_sla_next_step_seconds",
            "Seconds until the next escalation step of the most urgent open ticket "
            "(negative: overdue, about to fire).",
            registry=r,
        )
        self.sla_standby_escalations = Counter(
            "triage_sla_standby_escalations_total",
            "Escalations the standby clocks published while the group rebalanced, by kind: "
            "steps a dead member missed.",
            ["kind"],
            registry=r,
        )
        self.sla_timer_lag = Histogram(
            "triage_sla_timer_lag_seconds",
            "How late warnings and breaches are emitted after their due time.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=r,
        )
        self.sla_restore = Histogram(
            "triage_sla_restore_seconds",
            "Time to rebuild the SLA state of newly assigned partitions from the changelog.",
            buckets=(0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        # --- notify: escalations → Alertmanager ---
        self.alertmanager_sent = Counter(
            "triage_alertmanager_alerts_sent_total",
            "Alerts Alertmanager accepted, by state (firing or resolved): escalations and "
            "re-sends of active alerts.",
            ["state"],
            registry=r,
        )
        self.alertmanager_failures = Counter(
            "triage_alertmanager_post_failures_total",
            "POSTs to an Alertmanager that failed, by reason (connection, timeout, "
            "http_5xx, http_4xx, rejected).",
            ["reason"],
            registry=r,
        )
        self.alertmanager_retrying = Gauge(
            "triage_alertmanager_retrying",
            "Escalations consumed but not yet accepted by Alertmanager, waiting for a retry "
            "(their offsets are not committed).",
            registry=r,
        )
        self.alertmanager_active = Gauge(
            "triage_alertmanager_active_alerts",
            "Alerts this instance keeps firing (re-sends), by alertname.",
            ["alertname"],
            registry=r,
        )
        self._sla_risk: SlaRiskCollector | None = None
        self.ready = Gauge("triage_ready", "1 when /readyz answers 200.", registry=r)
        self.broker_reachable = Gauge(
            "triage_broker_reachable", "1 when the last broker probe succeeded.", registry=r
        )

    def count_outputs(self, outputs: Iterable[OutRecord]) -> None:
        """Count a published batch's tickets (by priority and channel) and dead letters
        (by reason): the roles hand this to their loop as its ``on_published`` sink."""
        # counted in C: ``attrgetter`` of three fields gives each record's tuple
        counts = Tally(map(_KIND_LABEL_CHANNEL, outputs))
        for (kind, label, channel), n in counts.items():
            if kind == "ticket":
                self.events_consumed.labels("ticket").inc(n)
                self.tickets.labels(label, channel_label(channel)).inc(n)
            elif kind == "dead_letter":
                self.events_consumed.labels("dead_letter").inc(n)
                self.dead_letters.labels(label).inc(n)

    def watch_sla_risk(self, source: Callable[[], SlaRisk]) -> None:
        """Export the at-risk / overdue / next-breach gauges computed by ``source``."""
        if self._sla_risk is not None:
            self.registry.unregister(self._sla_risk)
        self._sla_risk = SlaRiskCollector(source)
        self.registry.register(self._sla_risk)
