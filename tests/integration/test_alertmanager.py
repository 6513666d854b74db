"""Escalations → a real Alertmanager → a webhook receiver on loopback.

The Alertmanager runs the shipped example's routes, grouping and inhibition
(deploy/alertmanager/escalations.yml) with webhook receivers of the same names; the
broker is the suite's real Kafka-protocol broker. Each notification received is written
to ``<tmp_path>/notifications.json`` (examples for docs/operations.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.common import Priority
from schemas.escalation import Escalation, EscalationKind
from service.config import Settings
from service.rules.engine import ticket_id_for
from tests.integration.alertmanager_helpers import (
    Alertmanager,
    Webhook,
    alertmanager_binary,
    webhook_config,
)
from tests.integration.kafka_helpers import (
    committed_offsets,
    feedback,
    produce,
    running_app,
    unique_settings,
    wait_for,
)

pytestmark = pytest.mark.integration

BINARY = alertmanager_binary()
if BINARY is None:  # `make tools` installs it (Debian's prometheus-alertmanager)
    pytest.skip("no alertmanager binary (make tools)", allow_module_level=True)

PAGER = "oncall-pagerduty"
CHAT = "support-chat"


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()
    await hook.start()
    try:
        yield hook
    finally:
        await hook.stop()


@pytest.fixture
async def alertmanager(webhook: Webhook, tmp_path: Path) -> AsyncIterator[Alertmanager]:
    assert BINARY is not None
    am = Alertmanager(BINARY, tmp_path, webhook_config(webhook))
    await am.start()
    try:
        yield am
    finally:
        am.stop()
        (tmp_path / "notifications.json").write_text(
            json.dumps([{"receiver": n, "body": b} for n, b in webhook.received], indent=2)
        )


def notify_settings(bootstrap: str, am: Alertmanager, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "alertmanager_url": am.url,
        "alertmanager_resend_interval_seconds": 2.0,
        "alertmanager_retry_max_seconds": 0.5,
        "alertmanager_ticket_url": "https://help.example/tickets/{ticket_id}",
        # one partition: the escalations of different tickets keep their order
        "topic_partitions": 1,
    }
    values.update(overrides)
    return unique_settings(bootstrap, **values)


#: A P1 cycle that started 25 minutes ago: 80 % warning 17 minutes ago, deadline (breach
#: level 1) 15 minutes ago, level 2 (2 x the target) 5 minutes ago; the answer comes now.
TARGET_S = 600
STEP_DUE_S = {"warn80": 0.8 * TARGET_S, "breach1": TARGET_S, "breach2": 2 * TARGET_S}


def esc(
    ticket: str,
    kind: EscalationKind,
    level: int,
    step: str,
    *,
    start: datetime | None = None,
    priority: Priority = Priority.P1,
) -> Escalation:
    """An escalation as the SLA monitor writes it at the step's due time (the recovery:
    now), of the first-response cycle of ``ticket`` that started at ``start`` (default:
    25 minutes ago)."""
    now = datetime.now(UTC)
    start = start or now - timedelta(minutes=25)
    deadline = start + timedelta(seconds=TARGET_S)
    if kind is EscalationKind.SLA_RECOVERED:
        due, emitted = deadline, now
    else:
        due = emitted = start + timedelta(seconds=STEP_DUE_S[step])
    cycle_key = f"{ticket}:first_response"
    recovered = kind is EscalationKind.SLA_RECOVERED
    return Escalation(
        escalation_id=f"{cycle_key}:{step}",
        # contract 1.4: a dedup key per step; the recovery's is the cycle's
        dedup_key=cycle_key if recovered else f"{cycle_key}:{step}",
        cycle_key=cycle_key,
        resolves=[f"{cycle_key}:{s}" for s in STEP_DUE_S] if recovered else [],
        ticket_id=ticket,
        customer_id=f"cust-{ticket}",
        kind=kind,
        level=level,
        priority=priority,
        metric="first_response",
        due_at=due,
        emitted_at=emitted,
        overdue_seconds=(emitted - deadline).total_seconds(),
        category="churn_threat",
        customer_tier="enterprise",
        rule_ids=["churn.cancel", "tier.key_account"],
    )


async def send(bootstrap: str, s: Settings, *escalations: Escalation) -> None:
    await produce(
        bootstrap,
        s.topic_escalations,
        [(e.ticket_id.encode(), e.model_dump_json().encode()) for e in escalations],
    )


def firing(body: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(
        (a["labels"]["alertname"], a["labels"]["level"])
        for a in body["alerts"]
        if a["status"] == "firing"
    )


async def test_breach_notifies_repeats_do_not_level_two_does_recovery_resolves(
    bootstrap: str, alertmanager: Alertmanager, webhook: Webhook
) -> None:
    s = notify_settings(bootstrap, alertmanager)
    t, u = "ticket-t", "ticket-u"
    start = datetime.now(UTC) - timedelta(minutes=25)  # ticket-t's cycle
    async with running_app(s, role="notify") as app:
        # a warning (80 %) goes to the team's channel
        await send(bootstrap, s, esc(t, EscalationKind.SLA_WARNING, 2, "warn80", start=start))
        await webhook.wait(lambda: len(webhook.of(CHAT, t)) == 1, "the warning")
        assert firing(webhook.of(CHAT, t)[0]) == [("TriageSlaWarning", "2")]

        # a P1 breach pages
        breach1 = esc(t, EscalationKind.SLA_BREACH, 1, "breach1", start=start)
        await send(bootstrap, s, breach1)
        await webhook.wait(lambda: len(webhook.of(PAGER, t)) == 1, "the breach page")
        page = webhook.of(PAGER, t)[0]
        assert page["status"] == "firing"
        [alert] = page["alerts"]
        assert alert["labels"] == {
            "alertname": "TriageSlaBreach",
            "priority": "P1",
            "level": "1",
            "severity": "critical",
            "ticket_id": t,
            "dedup_key": f"{t}:first_response:breach1",
            "metric": "first_response",
            "category": "churn_threat",
            "tier": "enterprise",
        }
        assert alert["annotations"]["reasons"] == "churn.cancel, tier.key_account"
        assert alert["annotations"]["escalation_id"] == f"{t}:first_response:breach1"
        assert alert["generatorURL"] == f"https://help.example/tickets/{t}"

        # the same breach again (a repeat after a crash, or a redelivery), then another
        # ticket's breach: that one pages, the repeat does not
        await send(bootstrap, s, breach1, esc(u, EscalationKind.SLA_BREACH, 1, "breach1"))
        await webhook.wait(lambda: len(webhook.of(PAGER, u)) == 1, "the other ticket's page")
        # nothing more for ticket-t within two group intervals (and a half): the repeat is
        # the same alert, and the warning is now inhibited by the breach
        with pytest.raises(AssertionError, match="timed out"):
            await webhook.wait(
                lambda: len(webhook.of(PAGER, t)) > 1 or len(webhook.of(CHAT, t)) > 1,
                "a second notification for ticket-t",
                timeout=2.5,
            )

        # level 2 pages again, on the same group (one incident); level 1 is inhibited
        await send(bootstrap, s, esc(t, EscalationKind.SLA_BREACH, 2, "breach2", start=start))
        await webhook.wait(lambda: len(webhook.of(PAGER, t)) == 2, "the level-2 page")
        second = webhook.of(PAGER, t)[1]
        assert second["groupKey"] == page["groupKey"]
        assert firing(second) == [("TriageSlaBreach", "2")]

        # the answer comes: every alert of the cycle resolves, page and chat alike
        recovered = esc(t, EscalationKind.SLA_RECOVERED, 0, "recovered", start=start)
        await send(bootstrap, s, recovered)
        await webhook.wait(
            lambda: any(b["status"] == "resolved" for b in webhook.of(PAGER, t)), "the resolve"
        )
        resolved = webhook.of(PAGER, t)[-1]
        assert {(a["labels"]["level"], a["status"]) for a in resolved["alerts"]} == {
            ("1", "resolved"),
            ("2", "resolved"),
        }
        await webhook.wait(
            lambda: any(b["status"] == "resolved" for b in webhook.of(CHAT, t)),
            "the warning resolved in the chat",
        )
        assert app.notify is not None
        held = await alertmanager.alerts()
        active = {(a["labels"]["ticket_id"], a["labels"]["level"]) for a in held}
        assert active == {(u, "1")}  # only the other ticket still fires
        await wait_for(
            lambda: app.metrics.alertmanager_active.labels("TriageSlaBreach")._value.get() == 1,
            5,
            "the active-alerts gauge",
        )
    offsets = await committed_offsets(bootstrap, s.notify_group_id, s.topic_escalations)
    assert offsets == {0: 6}


async def _eventually(read: Any, expected: object, what: str, timeout: float = 20) -> None:
    """Poll the async ``read()`` until it returns ``expected`` (the last value in the error)."""
    deadline = asyncio.get_running_loop().time() + timeout
    got: object = None
    while asyncio.get_running_loop().time() < deadline:
        got = await read()
        if got == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: {got!r} != {expected!r}")


async def test_an_outage_holds_escalations_back_and_loses_none(
    bootstrap: str, alertmanager: Alertmanager, webhook: Webhook
) -> None:
    s = notify_settings(bootstrap, alertmanager)
    tickets = [f"outage-{i}" for i in range(3)]
    async with running_app(s, role="notify") as app:
        await send(bootstrap, s, esc("before", EscalationKind.SLA_BREACH, 1, "breach1"))
        await webhook.wait(lambda: len(webhook.of(PAGER, "before")) == 1, "the first page")

        alertmanager.stop()
        await send(
            bootstrap, s, *(esc(t, EscalationKind.SLA_BREACH, 1, "breach1") for t in tickets)
        )
        await send(bootstrap, s, esc("before", EscalationKind.SLA_RECOVERED, 0, "recovered"))
        retrying = app.metrics.alertmanager_retrying
        await wait_for(lambda: retrying._value.get() > 0, 20, "the POST to be retried")
        failures = app.metrics.alertmanager_failures.labels("connection")
        await wait_for(lambda: failures._value.get() >= 2, 20, "a second try")
        # nothing after the page is committed while Alertmanager is away (the page's own
        # commit may land a moment after its notification)
        await _eventually(
            lambda: committed_offsets(bootstrap, s.notify_group_id, s.topic_escalations),
            {0: 1},
            "the page committed, and nothing after it",
        )

        await alertmanager.start()
        await webhook.wait(
            lambda: all(len(webhook.of(PAGER, t)) == 1 for t in tickets), "the held-back pages"
        )
        sent_resolved = app.metrics.alertmanager_sent.labels("resolved")
        await wait_for(lambda: sent_resolved._value.get() >= 1, 10, "the recovery accepted")
        await wait_for(lambda: retrying._value.get() == 0, 10, "the retries to end")
        # the recovery that came during the outage reached the restarted Alertmanager (whether
        # it notifies "resolved" for an alert it lost with its memory depends on the
        # notification log it saved at shutdown: docs/operations.md)
        assert await alertmanager.received("resolved") >= 1

        async def held() -> set[str]:
            return {a["labels"]["ticket_id"] for a in await alertmanager.alerts()}

        await _eventually(held, set(tickets), "Alertmanager to hold the three pages")
    offsets = await committed_offsets(bootstrap, s.notify_group_id, s.topic_escalations)
    assert offsets == {0: 5}


async def test_a_restart_keeps_alerts_active_without_paging_again(
    bootstrap: str, alertmanager: Alertmanager, webhook: Webhook
) -> None:
    # a short session: the second instance joins the group without waiting long for the
    # first one's session to end
    s = notify_settings(bootstrap, alertmanager, session_timeout_ms=3000)
    t = "restarted"
    async with running_app(s, role="notify"):
        await send(bootstrap, s, esc(t, EscalationKind.SLA_BREACH, 1, "breach1"))
        await webhook.wait(lambda: len(webhook.of(PAGER, t)) == 1, "the page")
    [before] = await alertmanager.alerts()
    async with running_app(s, role="notify") as app:
        # the new instance rebuilt the alert from the escalations topic and re-sent it
        assert app.notify is not None
        await wait_for(lambda: len(app.notify.notifier.book.active()) == 1, 20, "the restore")
        await wait_for(lambda: app.notify.notifier.posts >= 1, 20, "the re-send")
        [after] = await alertmanager.alerts()
        assert after["fingerprint"] == before["fingerprint"]
        assert after["endsAt"] > before["endsAt"]
        assert after["startsAt"] == before["startsAt"]
        # and it still knows the alert, so the recovery resolves it
        await send(bootstrap, s, esc(t, EscalationKind.SLA_RECOVERED, 0, "recovered"))
        await webhook.wait(
            lambda: [b["status"] for b in webhook.of(PAGER, t)] == ["firing", "resolved"],
            "the resolve (and no second page)",
        )


async def test_role_all_pages_the_sla_monitors_breach_with_ticket_labels(
    bootstrap: str, alertmanager: Alertmanager, webhook: Webhook
) -> None:
    s = notify_settings(bootstrap, alertmanager, topic_partitions=3)
    late = feedback(
        "am-late",
        "I am cancelling my subscription.",
        customer={"id": "c-am", "tier": "premium"},
        occurred_at=(datetime.now(UTC) - timedelta(minutes=11)).isoformat(),
    )
    async with running_app(s) as app:
        assert app.notify is not None  # TRIAGE_ALERTMANAGER_URL set: notify is part of all
        await produce(bootstrap, s.topic_feedback, [(b"c-am", orjson.dumps(late))])
        t = ticket_id_for("am-late")
        await webhook.wait(lambda: len(webhook.of(PAGER, t)) == 1, "the breach page", 60)
    labels = webhook.of(PAGER, t)[0]["alerts"][0]["labels"]
    assert labels["alertname"] == "TriageSlaBreach"
    assert labels["priority"] == "P1"
    assert labels["tier"] == "premium"
    assert labels["category"]
    annotations = webhook.of(PAGER, t)[0]["alerts"][0]["annotations"]
    assert annotations["reasons"]
    assert int(annotations["overdue_seconds"]) >= 60
