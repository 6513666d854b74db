"""What the demo has seen so far, and how it is shown: a live ``rich`` view or plain lines.

Nothing here talks to Kafka: the runner feeds records in, the view renders the state.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from schemas.dead_letter import HEADER_PREFIX
from schemas.ticket import Ticket

STYLES = {"P1": "bold red", "P2": "yellow", "P3": "", "P4": "dim"}
PRIORITIES = ("P1", "P2", "P3", "P4")


@dataclass(slots=True)
class Row:
    ticket: Ticket
    received: float  # monotonic
    latency: float | None  # seconds from publish to the ticket reaching the demo


@dataclass(slots=True)
class DeadRow:
    key: str
    reason: str
    detail: str


@dataclass(slots=True)
class DemoState:
    expected: int
    broker: str
    started: float = field(default_factory=time.monotonic)
    published: int = 0
    first_publish: float | None = None
    sent_at: dict[str, float] = field(default_factory=dict)
    tickets: dict[str, Row] = field(default_factory=dict)
    dead: list[DeadRow] = field(default_factory=list)
    escalations: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_ticket: float | None = None
    completed_at: float | None = None

    # --- feeding ---------------------------------------------------------------------------

    def sent(self, event_id: str) -> None:
        now = time.monotonic()
        self.first_publish = self.first_publish or now
        self.sent_at[event_id] = now
        self.published += 1

    def add_ticket(self, value: bytes) -> Row | None:
        ticket = Ticket.model_validate_json(value)
        if ticket.ticket_id in self.tickets:  # a redelivery: same id, nothing new
            return None
        now = time.monotonic()
        sent = self.sent_at.get(ticket.event_id)
        row = Row(ticket, now, now - sent if sent is not None else None)
        self.tickets[ticket.ticket_id] = row
        self.last_ticket = now
        self._check_complete(now)
        return row

    def add_dead_letter(self, key: bytes | None, headers: list[tuple[str, bytes]]) -> DeadRow:
        meta = {
            k.removeprefix(HEADER_PREFIX): v.decode(errors="replace")
            for k, v in headers
            if k.startswith(HEADER_PREFIX)
        }
        row = DeadRow(
            key=key.decode(errors="replace") if key else "-",
            reason=meta.get("reason", "?"),
            detail=meta.get("detail", ""),
        )
        self.dead.append(row)
        self._check_complete(time.monotonic())
        return row

    def add_escalation(self, value: bytes) -> dict[str, Any] | None:
        try:
            data = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        key = str(data.get("escalation_id") or len(self.escalations))
        if key in self.escalations:
            return None
        self.escalations[key] = data
        return data

    def _check_complete(self, now: float) -> None:
        if self.completed_at is None and self.received >= self.expected:
            self.completed_at = now

    # --- figures ---------------------------------------------------------------------------

    @property
    def received(self) -> int:
        return len(self.tickets) + len(self.dead)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(PRIORITIES, 0)
        for row in self.tickets.values():
            out[row.ticket.priority.value] = out.get(row.ticket.priority.value, 0) + 1
        return out

    def rate(self, now: float | None = None) -> float:
        """Tickets per second, from the first publish to the last ticket (or now)."""
        if self.first_publish is None or not self.tickets:
            return 0.0
        end = self.last_ticket if now is None else now
        span = (end or self.first_publish) - self.first_publish
        return len(self.tickets) / span if span > 0 else 0.0

    def latencies(self) -> list[float]:
        return sorted(r.latency for r in self.tickets.values() if r.latency is not None)

    def sorted_rows(self) -> list[Row]:
        return sorted(
            self.tickets.values(),
            key=lambda r: (
                r.ticket.priority.rank,
                r.ticket.sla.first_response_due_at,
                -r.ticket.severity,
            ),
        )


# --- formatting helpers ----------------------------------------------------------------


def due_in(ticket: Ticket, now: datetime | None = None) -> str:
    left = (ticket.sla.first_response_due_at - (now or datetime.now(UTC))).total_seconds()
    sign, left = ("-", -left) if left < 0 else ("", left)
    if left >= 3600:
        return f"{sign}{int(left // 3600)}h{int(left % 3600 // 60):02d}m"
    return f"{sign}{int(left // 60):02d}:{int(left % 60):02d}"


def excerpt(text: str, width: int = 50) -> str:
    flat = " ".join(text.split())
    if not flat:
        return "(score only)"
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def rules_summary(ticket: Ticket, top: int = 3) -> str:
    reasons = sorted((r for r in ticket.reasons if r.weight), key=lambda r: -abs(r.weight))
    parts = [f"{r.rule_id} ({r.evidence[0]})" if r.evidence else r.rule_id for r in reasons]
    return " · ".join(parts[:top]) or "-"


def escalation_line(data: dict[str, Any]) -> str:
    ticket_id = str(data.get("ticket_id", "?"))
    overdue = data.get("overdue_seconds")
    over = f"{overdue:+.0f} s" if isinstance(overdue, int | float) else "?"
    return (
        f"{data.get('kind', '?')} level {data.get('level', '?')} "
        f"{data.get('priority', '')} ticket {ticket_id[:8]} overdue {over}"
    )


def ticket_line(row: Row) -> Text:
    t = row.ticket
    line = Text(f"{t.priority.value} ", style=STYLES[t.priority.value])
    line.append(
        f"sev {t.severity:3d}  {t.category:<18} {t.language:<3} {t.channel:<12} "
        f"{t.customer_tier or '-':<10} due {due_in(t):>7}  {t.event_id}  "
        f"{excerpt(t.text, 40)!r}  [{rules_summary(t, 2)}]"
    )
    return line


# --- live view -------------------------------------------------------------------------


def header(state: DemoState) -> Text:
    now = time.monotonic()
    counts = state.counts()
    head = Text("triage demo ", style="bold")
    head.append(f"· broker {state.broker} · {now - state.started:4.0f} s\n", style="dim")
    for p in PRIORITIES:
        head.append(f"{p} {counts[p]:>3}   ", style=STYLES[p] or "bold")
    head.append(f"dead letters {len(state.dead)}   escalations {len(state.escalations)}   ")
    head.append(f"published {state.published}/{state.expected}   ")
    end = state.last_ticket if state.completed_at else now
    head.append(f"{state.rate(end):.1f} events/s", style="cyan")
    return head


def live_view(state: DemoState, height: int) -> RenderableType:
    parts: list[RenderableType] = [header(state)]
    extra = 0
    if state.dead:
        body = "\n".join(f"{d.key:<10} {d.reason:<15} {d.detail}" for d in state.dead[-4:])
        parts_dead = Panel(body, title="dead letters", border_style="red", box=box.ROUNDED)
        extra += min(len(state.dead), 4) + 2
    else:
        parts_dead = None
    escalations = list(state.escalations.values())[-5:]
    parts_esc = None
    if escalations:
        body = "\n".join(escalation_line(e) for e in escalations)
        parts_esc = Panel(body, title="escalations", border_style="magenta", box=box.ROUNDED)
        extra += len(escalations) + 2
    rows = state.sorted_rows()
    room = max(3, height - 7 - extra)
    parts.append(ticket_table(rows[:room], hidden=max(0, len(rows) - room)))
    parts.extend(p for p in (parts_dead, parts_esc) if p is not None)
    return Group(*parts)


def ticket_table(rows: list[Row], hidden: int = 0) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True, padding=(0, 1))
    caption = f"… and {hidden} more" if hidden else None
    table.caption = caption
    for name, kw in (
        ("P", {"width": 2}),
        ("sev", {"justify": "right", "width": 3}),
        ("category", {"max_width": 18}),
        ("lang", {"width": 4}),
        ("channel", {"max_width": 12}),
        ("tier", {"max_width": 10}),
        ("SLA in", {"justify": "right", "width": 7}),
        ("text", {"ratio": 3, "min_width": 12}),
        ("rules (evidence)", {"ratio": 2, "min_width": 12}),
    ):
        table.add_column(name, no_wrap=True, overflow="ellipsis", **kw)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    for row in rows:
        t = row.ticket
        overdue = t.sla.first_response_due_at <= now
        table.add_row(
            t.priority.value,
            str(t.severity),
            t.category,
            t.language,
            t.channel,
            t.customer_tier or "-",
            Text(due_in(t, now), style="bold red" if overdue else ""),
            excerpt(t.text),
            rules_summary(t),
            style=STYLES[t.priority.value],
        )
    return table


# --- final summary ---------------------------------------------------------------------


def summary(state: DemoState, sla_seconds: dict[str, int]) -> Table:
    table = Table(title="triage demo — summary", box=box.ROUNDED, show_header=True)
    table.add_column("")
    table.add_column("count", justify="right")
    table.add_column("first response within", justify="right")
    for p, n in state.counts().items():
        target = sla_seconds.get(p)
        table.add_row(Text(p, style=STYLES[p]), str(n), _duration(target) if target else "-")
    table.add_row("tickets", str(len(state.tickets)), "", end_section=True)
    table.add_row("dead letters", str(len(state.dead)), "")
    table.add_row("escalations seen", str(len(state.escalations)), "")
    table.add_row("events published", str(state.published), "")
    table.add_row("pipeline events/s", f"{state.rate():.1f}", "tickets / first publish→last")
    lat = state.latencies()
    if lat:
        p50, worst = statistics.median(lat) * 1000, lat[-1] * 1000
        table.add_row("latency p50", f"{p50:.0f} ms", f"max {worst:.0f} ms, publish → ticket seen")
    return table


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
