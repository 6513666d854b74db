"""Escalation → Alertmanager alert (pure), the alert book, and the notifier's delivery
(retries, backoff, stopping) with a fake Alertmanager client. The real Alertmanager:
tests/integration/test_alertmanager.py."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.common import Priority
from schemas.escalation import Escalation, EscalationKind
from service.clock import Clock
from service.kafka.loop import ConsumeLoop
from service.notify.alertmanager import PostResult, alerts_endpoint, parse_urls
from service.notify.alerts import AlertBook, alert_for, duration, severity
from service.notify.handler import EscalationInput
from service.notify.notifier import Notifier
from service.observability.metrics import Metrics
from service.records import InRecord, OutRecord
from tests.unit.test_loop_pipelining import TP, FakeConsumer, FakePublisher, _until

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # the cycle starts
DEADLINE = T0 + timedelta(minutes=10)  # a P1: 600 s


class FakeClock(Clock):
    def __init__(self, now: datetime) -> None:
        self.t = now

    def now(self) -> datetime:
        return self.t


def esc(
    kind: EscalationKind,
    level: int,
    step: str,
    at: datetime,
    *,
    ticket: str = "t-1",
    priority: Priority = Priority.P1,
    cycle: str = "first_response",
    legacy: bool = False,
    **extra: Any,
) -> Escalation:
    """An escalation as the SLA monitor writes it (contract 1.4: a dedup key per step and
    the cycle's ``cycle_key``); ``legacy``: as written before 1.4 (the cycle's key)."""
    due = DEADLINE if kind in (EscalationKind.SLA_RECOVERED,) else at
    if kind is EscalationKind.MANAGEMENT_ATTENTION:
        cycle, due = "management", DEADLINE
    cycle_key = f"{ticket}:{cycle}"
    per_step = kind in (EscalationKind.SLA_WARNING, EscalationKind.SLA_BREACH)
    if not legacy:
        extra.setdefault("cycle_key", cycle_key)
    return Escalation(
        escalation_id=f"{ticket}:{cycle}:{step}",
        dedup_key=f"{cycle_key}:{step}" if per_step and not legacy else cycle_key,
        ticket_id=ticket,
        customer_id="c-1",
        kind=kind,
        level=level,
        priority=priority,
        metric="first_response",
        due_at=due,
        emitted_at=at,
        overdue_seconds=(at - DEADLINE).total_seconds(),
        **extra,
    )


BREACH1 = esc(
    EscalationKind.SLA_BREACH,
    1,
    "breach1",
    DEADLINE + timedelta(milliseconds=40),
    category="churn_threat",
    customer_tier="enterprise",
    rule_ids=["churn.cancel", "channel.public"],
)


# --- mapping -----------------------------------------------------------------------------------


def test_a_breach_maps_to_labels_that_route_and_annotations_for_people() -> None:
    alert = alert_for(BREACH1, "https://help.example/t/{ticket_id}")
    assert dict(alert.labels) == {
        "alertname": "TriageSlaBreach",
        "priority": "P1",
        "level": "1",
        "severity": "critical",
        "ticket_id": "t-1",
        "dedup_key": "t-1:first_response:breach1",
        "metric": "first_response",
        "category": "churn_threat",
        "tier": "enterprise",
    }
    notes = dict(alert.annotations)
    assert notes["summary"] == "P1 ticket t-1: first response overdue by 0s (breach level 1)"
    assert notes["reasons"] == "churn.cancel, channel.public"
    assert notes["deadline"] == "2026-11-22T10:10:00.000Z"
    assert notes["overdue_seconds"] == "0"
    assert notes["escalation_id"] == "t-1:first_response:breach1"
    # startsAt: the step's due time (the same for a repeat emitted later)
    assert alert.starts_at == DEADLINE + timedelta(milliseconds=40)
    payload = alert.payload(active_until=DEADLINE + timedelta(minutes=4))
    assert payload == {
        "labels": dict(alert.labels),
        "annotations": notes,
        "startsAt": "2026-11-22T10:10:00.040Z",
        "endsAt": "2026-11-22T10:14:00.000Z",
        "generatorURL": "https://help.example/t/t-1",
    }


def test_kinds_levels_and_severities() -> None:
    warn = alert_for(esc(EscalationKind.SLA_WARNING, 2, "warn80", T0 + timedelta(minutes=8)))
    assert warn.alertname == "TriageSlaWarning"
    assert warn.label("severity") == "warning"
    assert dict(warn.annotations)["summary"] == (
        "P1 ticket t-1: first response due in 2m00s (warning level 2)"
    )
    assert "category" not in dict(warn.labels)
    assert "reasons" not in dict(warn.annotations)
    p3 = esc(EscalationKind.SLA_BREACH, 3, "breach3", DEADLINE, priority=Priority.P3)
    assert severity(p3) == "warning"  # a P3/P4 breach does not page by its severity
    mgmt = alert_for(esc(EscalationKind.MANAGEMENT_ATTENTION, 0, "mgmt", T0))
    assert (mgmt.alertname, mgmt.label("severity"), mgmt.label("metric")) == (
        "TriageManagementAttention",
        "critical",
        "management",
    )
    assert mgmt.starts_at == T0  # when it was raised, not the (future) deadline
    with pytest.raises(ValueError, match="resolves"):
        alert_for(esc(EscalationKind.SLA_RECOVERED, 0, "recovered", DEADLINE))
    assert [duration(s) for s in (0.4, 59, 750, 7500, 2 * 86_400 + 4000)] == [
        "0s",
        "59s",
        "12m30s",
        "2h05m",
        "2d01h",
    ]


def test_endsat_is_never_before_startsat() -> None:
    alert = alert_for(BREACH1)
    early = alert.payload(active_until=alert.starts_at - timedelta(hours=1))
    assert early["endsAt"] > early["startsAt"]
    resolved = alert.resolve(alert.starts_at - timedelta(seconds=5))
    assert resolved.ends_at == alert.starts_at


# --- the book --------------------------------------------------------------------------------


def test_repeats_are_the_same_alert_and_recovery_resolves_the_whole_cycle() -> None:
    book = AlertBook()
    now = DEADLINE + timedelta(minutes=11)
    warn = esc(EscalationKind.SLA_WARNING, 2, "warn80", T0 + timedelta(minutes=8))
    [w] = book.apply(0, warn, now)
    [b1] = book.apply(0, BREACH1, now)
    repeat = BREACH1.model_copy(update={"emitted_at": now})  # re-emitted after a crash
    assert book.apply(0, repeat, now) == [b1]
    [b2] = book.apply(
        0, esc(EscalationKind.SLA_BREACH, 2, "breach2", DEADLINE + timedelta(minutes=10)), now
    )
    assert {a.label("level") for a in book.active()} == {"1", "2"}
    assert len(book.active()) == 3
    recovered = esc(EscalationKind.SLA_RECOVERED, 0, "recovered", now)
    resolved = book.apply(0, recovered, now)
    assert {a.labels for a in resolved} == {w.labels, b1.labels, b2.labels}
    assert all(a.ends_at == now for a in resolved)
    assert book.active() == []
    # a repeat from before the recovery does not open it again; the recovery again
    # re-sends the resolved alerts
    assert book.apply(0, repeat, now) == []
    assert book.apply(0, recovered, now) == resolved
    assert (
        book.apply(0, esc(EscalationKind.SLA_RECOVERED, 0, "recovered", now, ticket="x"), now) == []
    )


def test_every_level_is_its_own_alert_and_pre_1_4_escalations_still_group_by_cycle() -> None:
    now = DEADLINE + timedelta(minutes=11)
    b2_at = DEADLINE + timedelta(minutes=10)
    for legacy in (False, True):
        book = AlertBook()
        [b1] = book.apply(
            0, esc(EscalationKind.SLA_BREACH, 1, "breach1", DEADLINE, legacy=legacy), now
        )
        [b2] = book.apply(
            0, esc(EscalationKind.SLA_BREACH, 2, "breach2", b2_at, legacy=legacy), now
        )
        keys = {b1.label("dedup_key"), b2.label("dedup_key")}
        assert len(keys) == (1 if legacy else 2)  # 1.4: a pager sees a new incident per level
        recovered = esc(EscalationKind.SLA_RECOVERED, 0, "recovered", now, legacy=legacy)
        assert {a.labels for a in book.apply(0, recovered, now)} == {b1.labels, b2.labels}
        assert book.active() == []


def test_steps_the_policy_does_not_notify_and_retargets_raise_no_alert() -> None:
    book = AlertBook()
    quiet = esc(EscalationKind.SLA_WARNING, 1, "warn50", T0 + timedelta(minutes=5), notify=False)
    retarget = esc(EscalationKind.SLA_RETARGETED, 0, "retargeted", T0, notify=False)
    assert book.apply(0, quiet, DEADLINE) == []
    assert book.apply(0, retarget, DEADLINE) == []
    assert book.active() == []
    assert len(book) == 0


def test_lifetimes_old_escalations_and_forgetting() -> None:
    book = AlertBook(max_age=timedelta(hours=2), management_ttl=timedelta(hours=1))
    mgmt = esc(EscalationKind.MANAGEMENT_ATTENTION, 0, "mgmt", T0)
    book.apply(0, mgmt, T0)
    book.apply(0, BREACH1, T0 + timedelta(minutes=11))
    assert book.expire(T0 + timedelta(minutes=59)) == []
    [ended] = book.expire(T0 + timedelta(hours=1))
    assert ended.alertname == "TriageManagementAttention"
    assert ended.resolved
    assert book.active_by_alertname()["TriageSlaBreach"] == 1
    [aged] = book.expire(DEADLINE + timedelta(hours=2, seconds=1))
    assert aged.alertname == "TriageSlaBreach"
    assert book.active() == []
    assert len(book) == 2
    book.expire(DEADLINE + timedelta(hours=4, seconds=2))  # closed a window ago: forgotten
    assert len(book) == 0
    # too old to matter (it would have ended by now): ignored
    assert book.apply(0, BREACH1, DEADLINE + timedelta(hours=3)) == []


def test_revoked_partitions_are_dropped() -> None:
    book = AlertBook()
    book.apply(0, BREACH1, DEADLINE)
    book.apply(1, esc(EscalationKind.SLA_BREACH, 1, "breach1", DEADLINE, ticket="t-2"), DEADLINE)
    assert book.partitions() == {0, 1}
    assert [a.label("ticket_id") for a in book.active([1])] == ["t-2"]
    book.drop([1])
    assert [a.label("ticket_id") for a in book.active()] == ["t-1"]


# --- handler and URLs ------------------------------------------------------------------------


def _record(value: bytes, offset: int = 0, partition: int = 0) -> InRecord:
    return InRecord("tickets.escalations", partition, offset, b"t-1", value)


def test_unreadable_escalations_are_dead_lettered_and_readable_ones_produce_nothing() -> None:
    handler = EscalationInput("feedback.dlq", FakeClock(DEADLINE))
    out = handler.process(
        [_record(BREACH1.model_dump_json().encode()), _record(b"{oops", 1), _record(b"{}", 2)]
    )
    assert [(o.topic, o.label, o.value) for o in out] == [
        ("feedback.dlq", "invalid_json", b"{oops"),
        ("feedback.dlq", "schema_violation", b"{}"),
    ]


def test_urls() -> None:
    assert parse_urls(" http://a:9093 , https://b/am/ ") == ["http://a:9093", "https://b/am/"]
    assert alerts_endpoint("https://b/am/") == "https://b/am/api/v2/alerts"
    assert parse_urls(None) == []


# --- the notifier ----------------------------------------------------------------------------


class FakeClient:
    """Answers each POST with the next scripted result (then accepts); logs payloads."""

    def __init__(self, script: list[PostResult] | None = None) -> None:
        self.script = list(script or [])
        self.posts: list[list[dict[str, Any]]] = []

    async def post(self, alerts: list[dict[str, Any]]) -> PostResult:
        self.posts.append(alerts)
        return self.script.pop(0) if self.script else PostResult(accepted=True)

    async def close(self) -> None:
        pass


DOWN = PostResult(failures=[("connection", "refused")])


def make_notifier(
    client: FakeClient, stop_after: int | None = None
) -> tuple[Notifier, list[float], Metrics]:
    waits: list[float] = []

    async def wait_stopping(seconds: float) -> bool:
        waits.append(seconds)
        return stop_after is not None and len(waits) >= stop_after

    metrics = Metrics()
    notifier = Notifier(
        AlertBook(),
        client,  # type: ignore[arg-type]
        FakeClock(DEADLINE + timedelta(seconds=1)),
        metrics,
        resend_interval_s=60,
        retry_max_s=4,
        wait_stopping=wait_stopping,
    )
    return notifier, waits, metrics


async def test_a_failed_post_is_retried_with_backoff_until_accepted() -> None:
    client = FakeClient([DOWN] * 5)
    notifier, waits, metrics = make_notifier(client)
    assert await notifier.deliver([_record(BREACH1.model_dump_json().encode())])
    assert waits == [0.5, 1, 2, 4, 4]
    assert len(client.posts) == 6
    assert all(p == client.posts[0] for p in client.posts)
    assert client.posts[0][0]["endsAt"] == "2026-11-22T10:14:01.000Z"  # now + 4 x 60 s
    assert metrics.alertmanager_failures.labels("connection")._value.get() == 5
    assert metrics.alertmanager_sent.labels("firing")._value.get() == 1
    assert metrics.alertmanager_retrying._value.get() == 0


async def test_stopping_gives_up_so_the_batch_is_not_committed() -> None:
    notifier, _, metrics = make_notifier(FakeClient([DOWN] * 10), stop_after=2)
    assert not await notifier.deliver([_record(BREACH1.model_dump_json().encode())])
    assert metrics.alertmanager_retrying._value.get() == 1


async def test_a_rejection_is_not_retried() -> None:
    client = FakeClient([PostResult(rejected="HTTP 400: bad label")])
    notifier, waits, metrics = make_notifier(client)
    assert await notifier.deliver([_record(BREACH1.model_dump_json().encode())])
    assert waits == []
    assert len(client.posts) == 1
    assert metrics.alertmanager_failures.labels("rejected")._value.get() == 1


async def test_one_post_per_batch_with_each_alerts_latest_state_and_resends() -> None:
    client = FakeClient()
    notifier, _, metrics = make_notifier(client)
    recovered = esc(EscalationKind.SLA_RECOVERED, 0, "recovered", DEADLINE + timedelta(seconds=1))
    other = esc(EscalationKind.SLA_BREACH, 1, "breach1", DEADLINE, ticket="t-2")
    records = [
        _record(e.model_dump_json().encode(), i) for i, e in enumerate([BREACH1, other, recovered])
    ]
    assert await notifier.deliver([*records, _record(b"not json", 3)])
    [post] = client.posts
    states = {(a["labels"]["ticket_id"], a["endsAt"] <= "2026-11-22T10:10:01.000Z") for a in post}
    assert states == {("t-1", True), ("t-2", False)}  # t-1 resolved at once, t-2 firing
    assert metrics.alertmanager_active.labels("TriageSlaBreach")._value.get() == 1
    await notifier.resend()
    assert [a["labels"]["ticket_id"] for a in client.posts[-1]] == ["t-2"]
    await notifier.drop([0])
    assert await notifier.resend() is None  # nothing left to re-send


async def test_restore_rebuilds_without_sending() -> None:
    client = FakeClient()
    notifier, _, _ = make_notifier(client)
    values = [BREACH1.model_dump_json().encode(), b"junk", None]
    assert await notifier.restore(0, values) == 1
    assert client.posts == []
    await notifier.resend()
    assert [a["labels"]["alertname"] for a in client.posts[0]] == ["TriageSlaBreach"]


# --- the loop's delivery step ------------------------------------------------------------------


class LoggingHandler:
    def process(self, batch: Sequence[InRecord]) -> list[OutRecord]:
        return [OutRecord("dlq", b"k", str(r.offset).encode()) for r in batch]


class Delivery:
    def __init__(self, log: list[tuple[str, int]]) -> None:
        self.log = log
        self.gate = asyncio.Event()

    async def deliver(self, records: Sequence[InRecord]) -> bool:
        self.log.append(("deliver", records[0].offset))
        await self.gate.wait()
        self.log.append(("delivered", records[0].offset))
        return True


async def test_the_loop_commits_only_after_the_delivery_step() -> None:
    log: list[tuple[str, int]] = []
    delivery = Delivery(log)
    loop = ConsumeLoop(
        name="notify",
        conn={},
        topics=[TP.topic],
        group_id="g",
        handler=LoggingHandler(),
        metrics=Metrics(),
        deliver=delivery,
    )
    consumer = FakeConsumer(log, [[0, 1], [2]])
    publisher = FakePublisher(log)
    publisher.release(0)
    publisher.release(2)
    loop.consumer = consumer
    loop._publisher = publisher  # type: ignore[assignment]
    task = asyncio.create_task(loop.run())
    await _until(lambda: ("deliver", 0) in log)
    await asyncio.sleep(0.02)
    assert not [e for e in log if e[0] == "commit"]  # acknowledged, not yet delivered
    assert ("send", 2) not in log  # the next batch waits for this one's delivery
    delivery.gate.set()
    await _until(lambda: ("commit", 3) in log)
    loop.request_stop()
    await task
    assert log.index(("commit", 2)) > log.index(("delivered", 0))
    assert log.index(("send", 2)) > log.index(("delivered", 0))
    assert log.index(("commit", 3)) > log.index(("delivered", 2))


# --- settings ----------------------------------------------------------------------------------


def test_alertmanager_settings_and_the_notify_role_needs_a_url() -> None:
    from pydantic import ValidationError

    from service.app import TriageApp
    from service.config import Settings
    from service.startup_errors import ConfigError

    s = Settings(alertmanager_url="http://am-0:9093, http://am-1:9093")
    assert parse_urls(s.alertmanager_url) == ["http://am-0:9093", "http://am-1:9093"]
    assert s.notify_group_id == "triage-notify"
    with pytest.raises(ValidationError):
        Settings(alertmanager_url="am:9093")  # no scheme
    with pytest.raises(ConfigError, match="TRIAGE_ALERTMANAGER_URL"):
        TriageApp(Settings(), role="notify")
