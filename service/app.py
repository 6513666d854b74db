"""Composition root: settings → rules → Kafka loops → HTTP endpoints.

``TriageApp`` is what ``triage run`` starts, what the demo embeds and what the
integration tests drive in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from aiokafka.errors import KafkaError

from service import __version__, gc_tuning
from service.clock import Clock, SystemClock
from service.config import Settings
from service.kafka.admin import ensure_topics
from service.kafka.clients import connection_kwargs
from service.kafka.loop import ConsumeLoop, LoopConfig
from service.kafka.notify_runtime import NotifyRuntime
from service.kafka.prioritizer_runtime import PrioritizerRuntime
from service.kafka.sla_runtime import SlaRuntime
from service.observability.http import HealthServer
from service.observability.logging import get_logger
from service.observability.metrics import Metrics
from service.rules.model import RuleSet, load_rules
from service.sentiment.model import TextModel, check_model_folder, load_model
from service.sla.policy import SlaPolicy, load_policy
from service.startup_errors import ConfigError, Problem, set_by

log = get_logger("triage.app")

#: notify (escalations → Alertmanager) is part of "all" when TRIAGE_ALERTMANAGER_URL is set.
ROLES = ("all", "prioritizer", "sla", "notify")


class TriageApp:
    def __init__(
        self,
        settings: Settings,
        *,
        role: str = "all",
        clock: Clock | None = None,
        rules: RuleSet | None = None,
        metrics: Metrics | None = None,
        sla_policy: SlaPolicy | None = None,
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        self.settings = settings
        self.role = role
        self.clock = clock or SystemClock()
        # every file is loaded (and refused, as a ConfigError) before any connection
        with set_by(settings.named_by("rules_path")):
            self.rules = rules or load_rules(settings.rules_path)
        with set_by(settings.named_by("sla_policy_path")):
            self.sla_policy = sla_policy or load_policy(settings.sla_policy_path)
        # the policy is the only source of targets: both roles get this one object
        if self.rules.sla_seconds is not None:
            log.warning(
                "rules_sla_seconds_ignored",
                detail=self.rules.sla_seconds_ignored(
                    self.sla_policy.version, self.sla_policy.target_seconds
                ),
            )
        self.text_model = self._load_text_model()
        self.sla: SlaRuntime | None = None
        self.prioritizer: PrioritizerRuntime | None = None
        self.notify: NotifyRuntime | None = None
        if role == "notify" and not settings.alertmanager_url:
            raise ConfigError(
                None,
                Problem(
                    "not set: the notify role sends escalations to it "
                    "(e.g. http://alertmanager:9093)",
                    "TRIAGE_ALERTMANAGER_URL",
                ),
            )
        self.metrics = metrics or Metrics()
        self.metrics.build_info.info({"version": __version__, "rules_version": self.rules.version})
        self.conn = connection_kwargs(settings)
        self.loops: list[ConsumeLoop] = []
        self.http: HealthServer | None = None
        self._broker_ok = False
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def _load_text_model(self) -> TextModel | None:
        """The text model the prioritizer's rules read, loaded now (a bad TRIAGE_MODEL_PATH
        stops start-up before any connection); a set path the rules do not need is still
        checked, not loaded."""
        if self.role not in ("all", "prioritizer"):
            return None
        path = self.settings.model_path
        with set_by(self.settings.named_by("model_path")):
            if self.rules.uses_negativity():
                return load_model(path)
            if path:
                check_model_folder(path)
        return None

    # --- readiness -------------------------------------------------------------------------

    def readiness(self) -> tuple[bool, str]:
        if self._stop.is_set():
            return False, "shutting down"
        if not self.loops:
            return False, "starting"
        waiting = [loop.name for loop in self.loops if not loop.joined]
        if waiting:
            return False, f"not yet in the consumer group: {', '.join(waiting)}"
        if not self._broker_ok:
            return False, "broker unreachable"
        return True, "ready"

    @property
    def ready(self) -> bool:
        return self.readiness()[0]

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        self.http = HealthServer(self.metrics.registry, self.readiness, s.http_host, s.http_port)
        await self.http.start()
        if s.create_topics:
            await self._ensure_topics()
        if self._stop.is_set():
            return
        self._broker_ok = True
        loop_config = LoopConfig.from_settings(s)  # one for every role of this process
        if self.role in ("all", "prioritizer"):
            self.prioritizer = PrioritizerRuntime(
                s,
                self.conn,
                self.rules,
                self.clock,
                self.metrics,
                loop_config,
                self.text_model,
                self.sla_policy,
            )
            self.loops.append(self.prioritizer.loop)
        if self.role in ("all", "sla"):
            self.sla = SlaRuntime(
                s, self.conn, self.sla_policy, self.clock, self.metrics, loop_config
            )
            # computed at scrape time, on the event loop that owns the monitor's state
            self.metrics.watch_sla_risk(self.sla.monitor.risk)
            self.loops.append(self.sla.loop)
        if self.role == "notify" or (self.role == "all" and s.alertmanager_url):
            self.notify = NotifyRuntime(s, self.conn, self.clock, self.metrics, loop_config)
            self.loops.append(self.notify.loop)
        for loop in self.loops:
            await loop.start()
        self._tasks.append(asyncio.create_task(self._probe_broker(), name="broker-probe"))
        for loop in self.loops:
            self._tasks.append(asyncio.create_task(self._run_loop(loop), name=f"loop-{loop.name}"))
        if self.sla is not None:
            self._tasks.append(asyncio.create_task(self._run_timers(self.sla), name="sla-timers"))
        if self.notify is not None:
            self._tasks.append(
                asyncio.create_task(self._run_timers(self.notify), name="alert-resends")
            )
        if self.prioritizer is not None and self.prioritizer.prioritizer.state is not None:
            self._tasks.append(
                asyncio.create_task(self._run_timers(self.prioritizer), name="customer-expiry")
            )
        log.info(
            "triage_started",
            role=self.role,
            version=__version__,
            rules=self.rules.version,
            sla_policy=self.sla_policy.version,
        )

    async def _ensure_topics(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                await self._create_topics()
                return
            except (KafkaError, OSError) as exc:
                log.warning("broker_unreachable", step="topics", error=str(exc), retry_in=delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                delay = min(delay * 2, 10.0)

    async def _create_topics(self) -> None:
        s = self.settings
        rf = s.topic_replication_factor
        names = [s.topic_feedback, s.topic_tickets, s.topic_dlq, s.topic_escalations]
        # A dead letter is its input plus headers: let the dead-letter topic take records as
        # large as triage may publish, so even an oversized input keeps its original bytes.
        dlq_config = {s.topic_dlq: {"max.message.bytes": str(s.producer_max_request_bytes)}}
        counts = await ensure_topics(
            self.conn, dict.fromkeys(names, s.topic_partitions), rf, configs=dlq_config
        )
        # Customer histories are per feedback partition (keyed by customer id): their
        # changelog is co-partitioned with the feedback topic.
        if self.role in ("all", "prioritizer") and s.repeat_contacts:
            feedback = counts[s.topic_feedback]
            name = s.topic_customer_changelog
            counts.update(await ensure_topics(self.conn, {name: feedback}, rf))
            if counts[name] != feedback:
                raise SystemExit(
                    f"{name} has {counts[name]} partitions but {s.topic_feedback} has "
                    f"{feedback}: repeat contacts need them co-partitioned (equal counts)"
                )
        # SLA state is per partition number: the activity topic and the SLA changelog are
        # co-partitioned with the tickets topic (all keyed by ticket id), so when triage
        # creates them it gives them the tickets topic's partition count.
        tickets = counts[s.topic_tickets]
        paired = [s.topic_activity]
        if self.role in ("all", "sla"):
            paired.append(s.topic_sla_changelog)
        counts.update(await ensure_topics(self.conn, dict.fromkeys(paired, tickets), rf))
        if self.role in ("all", "sla"):
            for name in paired:
                if counts[name] != tickets:
                    raise SystemExit(
                        f"{name} has {counts[name]} partitions but {s.topic_tickets} has "
                        f"{tickets}: the SLA monitor needs them co-partitioned (equal counts)"
                    )
        log.info("topics_ready", partitions=counts)

    async def _run_timers(self, runtime: SlaRuntime | PrioritizerRuntime | NotifyRuntime) -> None:
        try:
            await runtime.run_timers()
        except Exception:
            log.exception("timers_crashed", loop=runtime.loop.name)
            self.request_stop()

    async def _run_loop(self, loop: ConsumeLoop) -> None:
        try:
            await loop.run()
        except Exception:
            log.exception("loop_crashed", loop=loop.name)
            self.request_stop()

    async def _probe_broker(self) -> None:
        interval = self.settings.health_probe_interval_seconds
        while not self._stop.is_set():
            ok = False
            for loop in self.loops:
                if loop.producer is None:
                    continue
                try:
                    await asyncio.wait_for(loop.producer.client.fetch_all_metadata(), interval)
                    ok = True
                except (TimeoutError, KafkaError, OSError):
                    ok = False
                break
            if ok != self._broker_ok:
                log.warning("broker_reachability_changed", reachable=ok)
            self._broker_ok = ok
            self.metrics.broker_reachable.set(1 if ok else 0)
            self.metrics.ready.set(1 if self.ready else 0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval)

    def request_stop(self) -> None:
        self._stop.set()
        for loop in self.loops:
            loop.request_stop()

    async def wait_stopped(self) -> None:
        await self._stop.wait()

    async def stop(self) -> None:
        """Finish the batches in flight, commit, leave the group, flush; bounded in time."""
        self.request_stop()
        budget = self.settings.shutdown_timeout_seconds
        loop_tasks = [t for t in self._tasks if t.get_name().startswith("loop-")]
        if loop_tasks:
            _, late = await asyncio.wait(loop_tasks, timeout=budget / 2)
            for t in late:
                t.cancel()
        await asyncio.gather(*(loop.stop(timeout=budget / 4) for loop in self.loops))
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.notify is not None:
            await self.notify.close()
        if self.http is not None:
            await self.http.stop()
        log.info("triage_stopped")

    async def run_forever(self) -> None:
        """Start, serve until SIGTERM/SIGINT, then stop gracefully."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self.request_stop)
        try:
            await self.start()
            # this process is the service's own: tune its collector (not in start(),
            # which tests and the demo call inside processes of their own)
            gc_tuning.tune(self.settings.gc_gen0_threshold)
            await self.wait_stopped()
        finally:
            await self.stop()
