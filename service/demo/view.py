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
from rich.cells import cell_len, set_cell_size
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
        row = Row(ticket, now - sent if sent is not None else None)
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
    """The first ``width`` terminal cells of the text (a CJK character takes two)."""
    flat = " ".join(text.split())
    if not flat:
        return "(score only)"
    if cell_len(flat) <= width:
        return flat
    return set_cell_size(flat, width - 1).rstrip() + "…"


def rules_summary(ticket: Ticket, top: int = 3) -> str:
    """The rules that weighed most, each with its most telling piece of evidence."""
    reasons = sorted((r for r in ticket.reasons if r.weight), key=lambda r: -abs(r.weight))
    parts = []
    for r in reasons[:top]:
        facts = [e for e in r.evidence if not e.startswith("after ")] or r.evidence
        parts.append(f"{r.rule_id} ({facts[0]})" if facts else r.rule_id)
    return " · ".join(parts) or "-"


def escalation_line(data: dict[str, Any], state: DemoState | None = None) -> str:
    """Shown generically from the JSON: kind, level, ticket (and its event), overdue."""
    ticket_id = str(data.get("ticket_id", "?"))
    row = state.tickets.get(ticket_id) if state else None
    event = f" ({row.ticket.event_id})" if row else ""
    overdue = data.get("overdue_seconds")
    over = f"{overdue:+.0f} s" if isinstance(overdue, int | float) else "?"
    return (
        f"{data.get('kind', '?')} level {data.get('level', '?')} {data.get('priority', '')} "
        f"ticket {ticket_id[:8]}{event} overdue {over}"
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
    head = Text("triage demo", style="bold", no_wrap=True, overflow="ellipsis")
    head.append(f" · broker {state.broker} · {now - state.started:.0f} s\n", style="dim")
    for p in PRIORITIES:
        head.append(f"{p} {counts[p]}", style=STYLES[p] or "bold")
        head.append("  ")
    end = state.last_ticket if state.completed_at else now
    head.append(f"· dead letters {len(state.dead)} · escalations {len(state.escalations)} ")
    head.append(f"· sent {state.published}/{state.expected} · ")
    head.append(f"{state.rate(end):.1f} events/s", style="cyan")
    return head


def live_view(state: DemoState, width: int, height: int) -> RenderableType:
    dead = state.dead[-4:]
    escalations = list(state.escalations.values())[-5:]
    panels: list[RenderableType] = []
    used = 2 + 3 + 2  # header; table head, rule and caption; a spare line
    if dead:
        lines = [f"{d.key:<9} {d.reason:<14} {d.detail}" for d in dead]
        panels.append(_panel("dead letters", lines, "red"))
        used += len(lines) + 2
    if escalations:
        lines = [escalation_line(e, state) for e in escalations]
        panels.append(_panel("escalations", lines, "magenta"))
        used += len(escalations) + 2
    rows = state.sorted_rows()
    room = max(3, height - used)
    hidden = max(0, len(rows) - room)
    return Group(header(state), ticket_table(rows[:room], width, hidden), *panels)


def _panel(title: str, lines: list[str], style: str) -> Panel:
    grid = Table.grid()
    grid.add_column(no_wrap=True, overflow="ellipsis")
    for line in lines:
        grid.add_row(line)
    return Panel(grid, title=title, title_align="left", border_style=style, box=box.ROUNDED)


TIERS = {"enterprise": "ent", "premium": "prem", "standard": "std", "free": "free"}


def ticket_table(rows: list[Row], width: int, hidden: int = 0) -> Table:
    """One line per ticket; on narrow terminals tier and channel are abbreviated."""
    wide = width >= 120
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True, padding=(0, 1, 0, 0)
    )
    table.caption = f"… and {hidden} more (lower priority)" if hidden else None
    columns: list[tuple[str, dict[str, Any]]] = [
        ("P", {"width": 2}),
        ("sev", {"justify": "right", "width": 3}),
        ("category", {"max_width": 18 if wide else 12}),
        ("lang", {"width": 4}),
        ("channel", {"max_width": 12 if wide else 8}),
        ("tier", {"max_width": 10 if wide else 4}),
        ("SLA in", {"justify": "right", "width": 6}),
        ("text", {"max_width": 51, "min_width": 10} if wide else {"ratio": 1}),
        ("rules (evidence)", {"ratio": 1, "min_width": 10}),
    ]
    for name, kw in columns:
        table.add_column(name, no_wrap=True, overflow="ellipsis", **kw)
    now = datetime.now(UTC)
    for row in rows:
        t = row.ticket
        overdue = t.sla.first_response_due_at <= now
        tier = t.customer_tier or "-"
        table.add_row(
            t.priority.value,
            str(t.severity),
            t.category,
            t.language,
            t.channel,
            tier if wide else TIERS.get(tier, tier),
            Text(due_in(t, now), style="bold red reverse" if overdue else ""),
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
