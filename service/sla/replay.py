"""What-if for an SLA policy change: replay tickets and activities under two policies.

Pure domain code (no Kafka, no asyncio; ``triage sla replay`` reads a JSONL export or,
through ``service.kafka.replay_source``, the topics). For each policy one
:class:`~service.sla.engine.SlaEngine` runs on **simulated processing time**:

1. the inputs are sorted by ``occurred_at`` (a ticket before an activity at the same
   instant, else in input order);
2. before each input at time *t*, every step due **before** *t* is emitted at its own due
   time (``fire_due(next_due())`` while ``next_due() < t``), so each rung of the ladder
   counts once, as a live monitor whose timer is never late would emit it. A step due at
   exactly *t* comes after the input: an answer at the deadline is met
   (``at <= due_at``, ``service.sla.transitions.stop``) and breaches nothing;
3. the input is applied with ``now`` = its ``occurred_at``. A ticket's SLA is taken
   from the policy being evaluated, not from the ticket: ``sla`` is rebuilt with
   ``policy.select(facts).first_response_due(priority, occurred_at)`` and names the
   selected policy (``sla.policy_id`` = its ``version``), as the prioritizer would have
   published it under that policy;
4. at the end every step due up to ``end`` is emitted (:func:`default_end`: the latest
   first-response deadline of any ticket under either policy, at least the last input's
   time, so each unanswered ticket reaches its deadline under both).

From the escalations (``sla_warning``, ``sla_breach``: every metric and level; the ones
marked ``notify: false`` also counted apart) and the outcomes of ended cycles
(``SlaEngine.outcomes``) a :class:`ReplayReport` counts, per priority (the ticket's last
priority) and policy, the tickets, warnings, breaches, first responses met and missed,
tickets still unanswered at the end, and the median first response against the target;
next-reply, resolution and periodic-update cycles where any ended.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.activity import TicketActivity
from schemas.common import Priority, rfc3339
from schemas.escalation import Escalation, EscalationKind
from schemas.ticket import SlaInfo, Ticket
from service.sla.engine import SlaEngine, ticket_facts
from service.sla.ladder import Outcome
from service.sla.policy import SlaPolicy
from service.sla.state import FIRST_RESPONSE, METRICS

#: How many bad lines are described one by one (the rest are only counted).
MAX_PROBLEMS = 10
#: Metrics other than the first response whose met/missed the report shows when any ended.
OTHER_METRICS = tuple(m for m in METRICS if m != FIRST_RESPONSE)
_SHORT = {"next_reply": "nr", "resolution": "res", "periodic_update": "upd"}

Item = Ticket | TicketActivity


@dataclass(slots=True)
class ReplayInput:
    """What a replay reads: tickets, activities and the lines that were neither."""

    tickets: list[Ticket] = field(default_factory=list)
    activities: list[TicketActivity] = field(default_factory=list)
    #: lines or records that were not a valid ticket or activity
    bad: int = 0
    #: the first :data:`MAX_PROBLEMS` of them, described (``line 7: …``)
    problems: list[str] = field(default_factory=list)

    def add(self, item: Item) -> None:
        if isinstance(item, Ticket):
            self.tickets.append(item)
        else:
            self.activities.append(item)

    def reject(self, where: str, why: str) -> None:
        self.bad += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{where}: {why}")

    def window(self, since: datetime | None, until: datetime | None) -> ReplayInput:
        """The inputs with ``since <= occurred_at < until`` (either bound optional)."""

        def inside(at: datetime) -> bool:
            return (since is None or at >= since) and (until is None or at < until)

        return ReplayInput(
            [t for t in self.tickets if inside(t.occurred_at)],
            [a for a in self.activities if inside(a.occurred_at)],
            self.bad,
            list(self.problems),
        )


# -- reading -------------------------------------------------------------------------


def _why(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}" if loc else str(err["msg"])


def parse_item(line: str | bytes) -> Item:
    """One export line: a ticket (it has ``sla``/``event_id``) or an activity (it has
    ``kind``; priority_changed and repeat_contact activities have a ``priority`` too, so
    that is not what tells them apart). ValueError when it is neither."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    try:
        if "kind" in doc:
            return TicketActivity.model_validate(doc)
        if "sla" in doc or "event_id" in doc:
            return Ticket.model_validate(doc)
    except ValidationError as exc:
        what = "activity" if "kind" in doc else "ticket"
        raise ValueError(f"not a valid {what}: {_why(exc)}") from None
    raise ValueError("neither a ticket (sla, event_id) nor an activity (kind)")


def parse_as(kind: type[Ticket] | type[TicketActivity], value: bytes | None) -> Item:
    """A record of the tickets or the activity topic (ValueError when it is not one)."""
    if value is None:
        raise ValueError("no value (a tombstone)")
    try:
        return kind.model_validate_json(value)
    except ValidationError as exc:
        raise ValueError(f"not a valid {kind.__name__}: {_why(exc)}") from None


def read_jsonl(lines: Iterable[str | bytes]) -> ReplayInput:
    """Tickets and activities of a JSONL export; blank lines skipped, bad ones counted."""
    out = ReplayInput()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.add(parse_item(line))
        except ValueError as exc:
            out.reject(f"line {number}", str(exc))
    return out


# -- simulation ----------------------------------------------------------------------


def retarget(ticket: Ticket, policy: SlaPolicy) -> Ticket:
    """The ticket as the prioritizer would have published it under ``policy``: the SLA
    target and due time of the policy its facts select, which it names."""
    chosen = policy.select(ticket_facts(ticket))
    target, due = chosen.first_response_due(ticket.priority, ticket.occurred_at)
    sla = SlaInfo(target_seconds=target, first_response_due_at=due, policy_id=chosen.version)
    return ticket.model_copy(update={"sla": sla})


def default_end(inputs: ReplayInput, policies: Sequence[SlaPolicy]) -> datetime | None:
    """Where a replay stops by default: the latest first-response deadline of any ticket
    under any of ``policies``, and not before the last input (None: no input)."""
    times = [t.occurred_at for t in inputs.tickets] + [a.occurred_at for a in inputs.activities]
    if not times:
        return None
    end = max(times)
    for policy in policies:
        for ticket in inputs.tickets:
            chosen = policy.select(ticket_facts(ticket))
            _, due = chosen.first_response_due(ticket.priority, ticket.occurred_at)
            end = max(end, due)
    return end


@dataclass(slots=True)
class Simulation:
    """What one policy's engine emitted and measured over the inputs."""

    engine: SlaEngine
    escalations: list[Escalation] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    ticket_ids: dict[str, None] = field(default_factory=dict)


def _advance(sim: Simulation, until: datetime, *, inclusive: bool) -> None:
    """Emit, each at its own due time, every step due before ``until`` (or at it)."""
    engine = sim.engine
    while (due := engine.next_due()) is not None and (due < until or (inclusive and due <= until)):
        sim.escalations.extend(engine.fire_due(due))
        if engine.next_due() == due:  # pragma: no cover - the engine moves every clock on
            raise AssertionError(f"the engine's next step stays at {due}")


def _order(item: Item) -> tuple[datetime, int]:
    return item.occurred_at, 0 if isinstance(item, Ticket) else 1


def simulate(policy: SlaPolicy, inputs: ReplayInput, end: datetime | None) -> Simulation:
    """Run one engine under ``policy`` over the inputs in time order, to ``end``."""
    sim = Simulation(SlaEngine(policy))
    engine = sim.engine
    items: list[Item] = [*inputs.tickets, *inputs.activities]
    items.sort(key=_order)  # stable: input order among equals
    for item in items:
        at = item.occurred_at
        _advance(sim, at, inclusive=False)
        if isinstance(item, Ticket):
            sim.ticket_ids[item.ticket_id] = None
            sim.escalations.extend(engine.on_ticket(retarget(item, policy), at))
        else:
            sim.escalations.extend(engine.on_activity(item, at))
        sim.outcomes.extend(engine.outcomes())
    if end is not None:
        _advance(sim, end, inclusive=True)
    sim.outcomes.extend(engine.outcomes())
    return sim


# -- the report ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One priority (or ``all``) under one policy."""

    priority: str
    tickets: int
    warnings: int
    breaches: int
    #: warnings and breaches the policy's ladder marks ``notify: false`` (in the above too)
    silent: int
    fr_met: int
    fr_missed: int
    #: first response still due at the end of the replay
    fr_open: int
    #: median first response (seconds, in the clock's calendar; time paused excluded)
    fr_median_seconds: float | None
    #: the first-response target (the median of the tickets' targets)
    fr_target_seconds: float | None
    #: next_reply, resolution, periodic_update → (met, missed)
    other: dict[str, tuple[int, int]]
    #: metric → (warnings, breaches) of that metric's cycles (the JSON's split of the
    #: warnings and breaches above)
    by_metric: dict[str, tuple[int, int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "priority": self.priority,
            "tickets": self.tickets,
            "warnings": self.warnings,
            "breaches": self.breaches,
            "silent": self.silent,
            "first_response": {
                "met": self.fr_met,
                "missed": self.fr_missed,
                "open": self.fr_open,
                "median_seconds": self.fr_median_seconds,
                "target_seconds": self.fr_target_seconds,
            },
            **{m: {"met": met, "missed": missed} for m, (met, missed) in self.other.items()},
            "escalations_by_metric": {
                m: {"warnings": w, "breaches": b} for m, (w, b) in self.by_metric.items()
            },
        }


@dataclass(frozen=True, slots=True)
class PolicyReport:
    label: str
    version: str
    source: str | None
    rows: tuple[Row, ...]
    total: Row

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "version": self.version,
            "source": self.source,
            "priorities": [r.to_json() for r in self.rows],
            "total": self.total.to_json(),
        }


@dataclass(frozen=True, slots=True)
class ReplayReport:
    tickets: int
    activities: int
    bad: int
    #: first and last input time, and where the simulation stopped
    first: datetime | None
    last: datetime | None
    end: datetime | None
    policies: tuple[PolicyReport, ...]

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else rfc3339(value)

        return {
            "tickets": self.tickets,
            "activities": self.activities,
            "bad_lines": self.bad,
            "first": iso(self.first),
            "last": iso(self.last),
            "end": iso(self.end),
            "policies": [p.to_json() for p in self.policies],
        }


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _row(
    name: str,
    tickets: int,
    escalations: list[Escalation],
    outcomes: list[Outcome],
    fr_open: int,
    fallback_target: int | None,
) -> Row:
    """One row; the target shown is the median of the ended first-response cycles'
    targets, else ``fallback_target`` (None: no target, as for the totals)."""
    warnings = sum(1 for e in escalations if e.kind is EscalationKind.SLA_WARNING)
    breaches = sum(1 for e in escalations if e.kind is EscalationKind.SLA_BREACH)
    silent = sum(
        1
        for e in escalations
        if not e.notify and e.kind in (EscalationKind.SLA_WARNING, EscalationKind.SLA_BREACH)
    )
    first = [o for o in outcomes if o.metric == FIRST_RESPONSE]
    targets = [float(o.target_seconds) for o in first] if fallback_target is not None else []
    other: dict[str, tuple[int, int]] = {}
    for metric in OTHER_METRICS:
        ended = [o for o in outcomes if o.metric == metric]
        if ended:
            met = sum(1 for o in ended if o.met)
            other[metric] = (met, len(ended) - met)
    by_metric: dict[str, tuple[int, int]] = {}
    for e in escalations:
        w, b = by_metric.get(e.metric, (0, 0))
        if e.kind is EscalationKind.SLA_WARNING:
            by_metric[e.metric] = (w + 1, b)
        elif e.kind is EscalationKind.SLA_BREACH:
            by_metric[e.metric] = (w, b + 1)
    return Row(
        priority=name,
        tickets=tickets,
        warnings=warnings,
        breaches=breaches,
        silent=silent,
        fr_met=sum(1 for o in first if o.met),
        fr_missed=sum(1 for o in first if not o.met),
        fr_open=fr_open,
        fr_median_seconds=_median([o.response_seconds for o in first]),
        fr_target_seconds=_median(targets) if targets else fallback_target,
        other=other,
        by_metric=by_metric,
    )


def summarize(label: str, policy: SlaPolicy, sim: Simulation, source: str | None) -> PolicyReport:
    """Count one simulation per priority (the priority each ticket ended with)."""
    engine = sim.engine
    tickets: Counter[Priority] = Counter()
    unanswered: Counter[Priority] = Counter()
    for tid in sim.ticket_ids:
        clock = engine.get(tid)
        if clock is None:  # pragma: no cover - nothing is expired during a replay
            continue
        tickets[clock.priority] += 1
        if clock.reply.metric == FIRST_RESPONSE and clock.reply.running:
            unanswered[clock.priority] += 1
    rows = tuple(
        _row(
            prio.value,
            tickets[prio],
            [e for e in sim.escalations if e.priority is prio],
            [o for o in sim.outcomes if o.priority is prio],
            unanswered[prio],
            policy.target_seconds[prio],
        )
        for prio in Priority
    )
    # the targets of all priorities have no one median worth showing: none
    total = _row(
        "all", sum(tickets.values()), sim.escalations, sim.outcomes, sum(unanswered.values()), None
    )
    return PolicyReport(label, policy.version, source, rows, total)


def replay(
    inputs: ReplayInput,
    policies: Sequence[tuple[str, SlaPolicy, str | None]],
    end: datetime | None = None,
) -> ReplayReport:
    """Replay ``inputs`` under each ``(label, policy, source)`` up to ``end`` (None:
    :func:`default_end`; never before the last input, which is applied in any case)."""
    times = [t.occurred_at for t in inputs.tickets] + [a.occurred_at for a in inputs.activities]
    if end is None:
        end = default_end(inputs, [p for _, p, _ in policies])
    elif times:
        end = max(end, *times)
    reports = tuple(
        summarize(label, policy, simulate(policy, inputs, end), source)
        for label, policy, source in policies
    )
    return ReplayReport(
        tickets=len({t.ticket_id for t in inputs.tickets}),
        activities=len(inputs.activities),
        bad=inputs.bad,
        first=min(times, default=None),
        last=max(times, default=None),
        end=end,
        policies=reports,
    )


# -- rendering -------------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    """``45s``, ``11m40s``, ``2h05m``, ``1d04h``; ``-`` for None."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        m, r = divmod(s, 60)
        return f"{m}m{r:02d}s" if r else f"{m}m"
    if s < 86_400:
        h, r = divmod(s, 3600)
        return f"{h}h{r // 60:02d}m" if r // 60 else f"{h}h"
    d, r = divmod(s, 86_400)
    return f"{d}d{r // 3600:02d}h" if r // 3600 else f"{d}d"


def render(report: ReplayReport) -> str:
    """The report as a plain aligned table: one row per priority per policy, then the
    totals of each policy."""
    others = [
        m
        for m in OTHER_METRICS
        if any(m in r.other for p in report.policies for r in (*p.rows, p.total))
    ]
    header = [
        "priority",
        "policy",
        "tickets",
        "warnings",
        "breaches",
        "fr_met",
        "fr_missed",
        "fr_open",
        "fr_median",
        "fr_target",
    ]
    for m in others:
        header += [f"{_SHORT[m]}_met", f"{_SHORT[m]}_missed"]
    silent = any(r.silent for p in report.policies for r in p.rows)
    if silent:
        header.append("silent")

    def cells(p: PolicyReport, r: Row) -> list[str]:
        out = [
            r.priority,
            p.label,
            str(r.tickets),
            str(r.warnings),
            str(r.breaches),
            str(r.fr_met),
            str(r.fr_missed),
            str(r.fr_open),
            duration(r.fr_median_seconds),
            duration(r.fr_target_seconds),
        ]
        for m in others:
            met, missed = r.other.get(m, (0, 0))
            out += [str(met), str(missed)]
        if silent:
            out.append(str(r.silent))
        return out

    rows: list[list[str]] = []
    for i in range(len(Priority)):
        rows += [cells(p, p.rows[i]) for p in report.policies]
    rows += [cells(p, p.total) for p in report.policies]
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    left = {0, 1}  # text columns; numbers right-aligned

    def line(row: list[str]) -> str:
        return "  ".join(
            v.ljust(w) if c in left else v.rjust(w)
            for c, (v, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    span = (
        f"{rfc3339(report.first)} … {rfc3339(report.last)}, simulated to {rfc3339(report.end)}"
        if report.first is not None and report.last is not None and report.end is not None
        else "no input"
    )
    head = [
        f"SLA replay: {report.tickets} tickets, {report.activities} activities ({span})",
        *(
            f"  {p.label}: {p.version}" + (f" ({p.source})" if p.source else "")
            for p in report.policies
        ),
        "",
        line(header),
    ]
    return "\n".join([*head, *(line(r) for r in rows)])
