"""An escalation as an Alertmanager alert, and the book of alerts kept firing (pure).

**Mapping** (``alert_for``). Alertmanager identifies an alert by its label set, so the
labels are what stays fixed for one step of one cycle:

=============  ===========================================================================
label          value
=============  ===========================================================================
alertname      ``TriageSlaWarning``, ``TriageSlaBreach``, ``TriageManagementAttention``
priority       ``P1`` … ``P4``
level          the step's level (``1``, ``2``, ``3`` …; ``0`` for management attention)
severity       ``critical`` (a P1/P2 breach, management attention) or ``warning``
ticket_id      the ticket (group and inhibit on it)
dedup_key      the step's (since contract 1.4): ``<ticket>:first_response:warn50``,
               ``<ticket>:next_reply.<n>:breach2``, …; ``<ticket>:management``
metric         ``first_response``, ``next_reply``, ``resolution``, ``periodic_update``
               or ``management``
category       the ticket's category, when the escalation carries it
tier           the customer's tier, when the escalation carries it
=============  ===========================================================================

Annotations are for people: ``summary``, ``description``, ``reasons`` (the ids of the
rules that fired), ``deadline`` (the cycle's deadline), ``due_at`` (when this step was
due), ``overdue_seconds``, ``escalation_id``. ``startsAt`` is the step's due time (a
warning's or breach's ``due_at``; a management attention's ``emitted_at``), the same for
a repeated escalation, so a repeat is the same alert. ``endsAt`` is left open while the
alert is active (each POST sets it a few re-send intervals ahead) and set to the
recovery's time when ``sla_recovered`` comes.

**Book** (``AlertBook``). The alerts of each cycle (``cycle_key``; escalations from
before contract 1.4 have none and their ``dedup_key`` is the cycle's), kept per
escalations partition (every escalation of a ticket is on its ticket's partition):

* a step the SLA policy does not notify (``notify`` false) and ``sla_retargeted`` raise
  no alert;
* a warning or breach opens its cycle's alert for that step; the same step again is the
  same alert (a repeat changes nothing);
* ``sla_recovered`` resolves every alert of its cycle and closes it: a warning or breach
  of a closed cycle that comes later (a repeat) is ignored, the recovery again re-sends
  the resolved alerts;
* a management attention alert is resolved ``management_ttl`` after it started (no event
  resolves it; the pager incident is closed by a person); a warning or breach never
  recovered, ``max_age`` after it started;
* closed cycles are forgotten one ``window`` after they closed; escalations older than
  the window are ignored (their alerts would have ended by now).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from schemas.common import Priority, rfc3339
from schemas.escalation import Escalation, EscalationKind

#: ``alertname`` per escalation kind (``sla_recovered`` resolves, it has no alert).
ALERTNAMES: dict[EscalationKind, str] = {
    EscalationKind.SLA_WARNING: "TriageSlaWarning",
    EscalationKind.SLA_BREACH: "TriageSlaBreach",
    EscalationKind.MANAGEMENT_ATTENTION: "TriageManagementAttention",
}
#: An active alert's ``endsAt`` is this many re-send intervals after the POST: missing
#: up to three re-sends in a row does not resolve it.
LIFETIME_INTERVALS = 4
_URGENT = frozenset({Priority.P1, Priority.P2})
_METRIC_WORDS = {
    "first_response": "first response",
    "next_reply": "next reply",
    "periodic_update": "update",
}


def severity(esc: Escalation) -> str:
    """``critical`` pages (a P1/P2 breach, management attention), ``warning`` does not."""
    if esc.kind is EscalationKind.MANAGEMENT_ATTENTION:
        return "critical"
    if esc.kind is EscalationKind.SLA_BREACH and esc.priority in _URGENT:
        return "critical"
    return "warning"


def duration(seconds: float) -> str:
    """A short human duration: ``45s``, ``12m30s``, ``2h05m``, ``3d04h``."""
    s = round(abs(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86_400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86_400}d{s % 86_400 // 3600:02d}h"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as Alertmanager's v2 API takes it; ``ends_at`` None while active."""

    labels: tuple[tuple[str, str], ...]
    annotations: tuple[tuple[str, str], ...]
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str = ""

    @property
    def resolved(self) -> bool:
        return self.ends_at is not None

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)

    @property
    def alertname(self) -> str:
        return self.label("alertname") or ""

    def resolve(self, at: datetime) -> Alert:
        """This alert resolved at ``at`` (never before it started: Alertmanager refuses
        an ``endsAt`` before ``startsAt``)."""
        return replace(self, ends_at=max(at, self.starts_at))

    def payload(self, active_until: datetime) -> dict[str, Any]:
        """The JSON object for ``POST /api/v2/alerts``: an active alert ends at
        ``active_until`` unless re-sent, a resolved one at its own ``ends_at``."""
        ends = self.ends_at or max(active_until, self.starts_at + timedelta(seconds=1))
        out: dict[str, Any] = {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": rfc3339(self.starts_at),
            "endsAt": rfc3339(ends),
        }
        if self.generator_url:
            out["generatorURL"] = self.generator_url
        return out


def alert_for(esc: Escalation, ticket_url: str = "") -> Alert:
    """The alert of a warning, breach or management attention (active)."""
    if esc.kind is EscalationKind.SLA_RECOVERED:
        raise ValueError("sla_recovered resolves alerts; it has none of its own")
    mgmt = esc.kind is EscalationKind.MANAGEMENT_ATTENTION
    metric = "management" if mgmt else esc.metric
    labels = {
        "alertname": ALERTNAMES[esc.kind],
        "priority": esc.priority.value,
        "level": str(esc.level),
        "severity": severity(esc),
        "ticket_id": esc.ticket_id,
        "dedup_key": esc.dedup_key,
        "metric": metric,
    }
    if esc.category:
        labels["category"] = esc.category
    if esc.customer_tier:
        labels["tier"] = esc.customer_tier
    deadline = esc.emitted_at - timedelta(seconds=esc.overdue_seconds)
    words = _METRIC_WORDS.get(esc.metric, esc.metric.replace("_", " "))
    prio, tid = esc.priority.value, esc.ticket_id
    who = ", ".join(
        p
        for p in (
            esc.category and f"category {esc.category}",
            esc.customer_tier and f"{esc.customer_tier} customer",
        )
        if p
    )
    about = f" ({who})" if who else ""
    if mgmt:
        summary = f"{prio} ticket {tid}: a manager should reach out now"
        description = (
            f"A rule asked for a manager's attention on this {prio} ticket{about}. "
            f"Its first response is due at {rfc3339(deadline)}."
        )
    elif esc.kind is EscalationKind.SLA_BREACH:
        summary = (
            f"{prio} ticket {tid}: {words} overdue by {duration(esc.overdue_seconds)} "
            f"(breach level {esc.level})"
        )
        description = (
            f"No {words} yet on this {prio} ticket{about}; its deadline was {rfc3339(deadline)}."
        )
    else:
        summary = (
            f"{prio} ticket {tid}: {words} due in {duration(esc.overdue_seconds)} "
            f"(warning level {esc.level})"
        )
        description = (
            f"This {prio} ticket{about} has had no {words} yet; it is due at {rfc3339(deadline)}."
        )
    annotations = {
        "summary": summary,
        "description": description,
        "deadline": rfc3339(deadline),
        "due_at": rfc3339(esc.due_at),
        "overdue_seconds": str(round(esc.overdue_seconds)),
        "escalation_id": esc.escalation_id,
    }
    if esc.rule_ids:
        annotations["reasons"] = ", ".join(esc.rule_ids)
    return Alert(
        labels=tuple(sorted(labels.items())),
        annotations=tuple(sorted(annotations.items())),
        starts_at=esc.emitted_at if mgmt else min(esc.due_at, esc.emitted_at),
        generator_url=ticket_url.replace("{ticket_id}", tid) if ticket_url else "",
    )


def decode_escalation(value: bytes | None) -> Escalation | None:
    """The escalation in a record's value; None when it is not one."""
    try:
        return Escalation.model_validate_json(value or b"")
    except ValidationError:
        return None


@dataclass(slots=True)
class _Cycle:
    partition: int
    #: (kind, level) → its alert (resolved ones once the cycle closed)
    alerts: dict[tuple[EscalationKind, int], Alert] = field(default_factory=dict)
    closed_at: datetime | None = None


class AlertBook:
    """The alerts of the escalations partitions this instance owns. Not thread-safe."""

    def __init__(
        self,
        *,
        max_age: timedelta = timedelta(days=7),
        management_ttl: timedelta = timedelta(days=1),
        ticket_url: str = "",
    ) -> None:
        self.max_age = max_age
        self.management_ttl = management_ttl
        self.ticket_url = ticket_url
        self._cycles: dict[str, _Cycle] = {}

    @property
    def window(self) -> timedelta:
        """How far back an escalation can still matter: how far a new owner reads."""
        return max(self.max_age, self.management_ttl)

    def _ttl(self, alert: Alert) -> timedelta:
        mgmt = alert.alertname == ALERTNAMES[EscalationKind.MANAGEMENT_ATTENTION]
        return self.management_ttl if mgmt else self.max_age

    # --- input ------------------------------------------------------------------------------

    def apply(self, partition: int, esc: Escalation, now: datetime) -> list[Alert]:
        """Take one escalation; the alerts it concerns, as they are now (active or
        resolved), to be sent. A repeat yields the same alerts again."""
        if not esc.notify or esc.kind is EscalationKind.SLA_RETARGETED:
            return []  # dashboards only: the policy pages nobody for it
        cycle_key = esc.cycle_key or esc.dedup_key
        cycle = self._cycles.get(cycle_key)
        if esc.kind is EscalationKind.SLA_RECOVERED:
            if cycle is None:
                return []  # nothing of that cycle was alerted (or it is long gone)
            if cycle.closed_at is None:
                cycle.closed_at = esc.emitted_at
                cycle.alerts = {
                    k: a if a.resolved else a.resolve(esc.emitted_at)
                    for k, a in cycle.alerts.items()
                }
            return list(cycle.alerts.values())
        alert = alert_for(esc, self.ticket_url)
        if alert.starts_at < now - self._ttl(alert):
            return []  # it would have ended by now
        if cycle is None:
            cycle = self._cycles[cycle_key] = _Cycle(partition)
        if cycle.closed_at is not None:
            return []  # a repeat from before the recovery
        key = (esc.kind, esc.level)
        known = cycle.alerts.get(key)
        if known is not None:
            return [known]  # a repeat: the alert as first sent
        cycle.alerts[key] = alert
        return [alert]

    def expire(self, now: datetime) -> list[Alert]:
        """Resolve the alerts past their lifetime (returned, to be sent) and forget the
        cycles closed more than a window ago."""
        ended: list[Alert] = []
        forget: list[str] = []
        for key, cycle in self._cycles.items():
            if cycle.closed_at is not None:
                if cycle.closed_at < now - self.window:
                    forget.append(key)
                continue
            for k, alert in list(cycle.alerts.items()):
                if alert.starts_at + self._ttl(alert) <= now:
                    cycle.alerts[k] = alert.resolve(now)
                    ended.append(cycle.alerts[k])
            if cycle.alerts and all(a.resolved for a in cycle.alerts.values()):
                cycle.closed_at = now
        for key in forget:
            del self._cycles[key]
        return ended

    # --- partitions -------------------------------------------------------------------------

    def drop(self, partitions: Iterable[int]) -> None:
        """Forget the partitions' cycles (revoked: their new owner keeps them firing)."""
        gone = set(partitions)
        self._cycles = {k: c for k, c in self._cycles.items() if c.partition not in gone}

    def partitions(self) -> set[int]:
        return {c.partition for c in self._cycles.values()}

    # --- output -----------------------------------------------------------------------------

    def active(self, partitions: Collection[int] | None = None) -> list[Alert]:
        """Every alert still firing (of ``partitions``, when given)."""
        return [
            alert
            for cycle in self._cycles.values()
            if cycle.closed_at is None and (partitions is None or cycle.partition in partitions)
            for alert in cycle.alerts.values()
            if not alert.resolved
        ]

    def active_by_alertname(self) -> dict[str, int]:
        counts = dict.fromkeys(ALERTNAMES.values(), 0)
        for alert in self.active():
            counts[alert.alertname] = counts.get(alert.alertname, 0) + 1
        return counts

    def __len__(self) -> int:
        return len(self._cycles)
