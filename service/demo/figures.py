"""What the demo measures besides the watch view: events sent, tickets and dead letters
back, latency, rate; its header line, dead-letter panel and final summary.

The open tickets, their SLA clocks and the escalations are the watch's
(``service.watch``): the demo shows the same view as ``triage watch``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

from rich import box
from rich.table import Table
from rich.text import Text

from schemas.dead_letter import HEADER_PREFIX
from schemas.ticket import Ticket
from service.watch.view import STYLES

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
    last_ticket: float | None = None
    completed_at: float | None = None

    # --- feeding ---------------------------------------------------------------------------

    def sent(self, event_id: str) -> None:
        now = time.monotonic()
        self.first_publish = self.first_publish or now
        self.sent_at[event_id] = now
        self.published += 1

    def add_ticket(self, ticket: Ticket) -> Row | None:
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


# --- shown with the watch view ------------------------------------------------------------


def progress(state: DemoState) -> Text:
    """The demo's line under the watch header: sent, back, dead letters, rate."""
    now = time.monotonic()
    end = state.last_ticket if state.completed_at else now
    line = Text(f"sent {state.published}/{state.expected} · tickets {len(state.tickets)} · ")
    line.append(f"dead letters {len(state.dead)}", style="red" if state.dead else "")
    line.append(" · ")
    line.append(f"{state.rate(end):.1f} events/s", style="cyan")
    return line


def dead_letter_lines(state: DemoState, last: int = 4) -> list[str]:
    return [f"{d.key:<9} {d.reason:<14} {d.detail}" for d in state.dead[-last:]]


# --- final summary ---------------------------------------------------------------------


def summary(state: DemoState, sla_seconds: dict[str, int], escalations: int) -> Table:
    table = Table(title="triage demo — summary", box=box.ROUNDED, show_header=True)
    table.add_column("")
    table.add_column("count", justify="right")
    table.add_column("first response within", justify="right")
    for p, n in state.counts().items():
        target = sla_seconds.get(p)
        table.add_row(Text(p, style=STYLES[p]), str(n), _duration(target) if target else "-")
    table.add_row("tickets", str(len(state.tickets)), "", end_section=True)
    table.add_row("dead letters", str(len(state.dead)), "")
    table.add_row("escalations seen", str(escalations), "")
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
