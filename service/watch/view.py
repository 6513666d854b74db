"""How ``triage watch`` (and ``triage demo``, which shows the same view) renders a
:class:`~service.watch.state.WatchState`: a live ``rich`` view — a header with the counts
per priority, the open tickets by time to breach, the latest escalations — or plain
lines, one per change, for logs and CI. Nothing here talks to Kafka or reads the clock:
``now`` comes in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich import box
from rich.cells import cell_len, set_cell_size
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from schemas.escalation import Escalation
from schemas.ticket import Ticket
from service.watch.state import KEYS_HELP, Change, ChangeKind, QueueRow, WatchState

STYLES = {"P1": "bold red", "P2": "yellow", "P3": "", "P4": "dim"}
TIERS = {"enterprise": "ent", "premium": "prem", "standard": "std", "free": "free"}
#: At most this many escalations in the live view's panel.
ESCALATION_LINES = 6

#: A panel under the table: title, lines, border style (the demo's dead letters).
PanelLines = tuple[str, list[str], str]


# --- formatting helpers ---------------------------------------------------------------------


def clock_text(seconds: float | None) -> str:
    """Seconds to a deadline as ``mm:ss`` or ``1h05m``; negative when overdue."""
    if seconds is None:
        return "-"
    sign, left = ("-", -seconds) if seconds < 0 else ("", seconds)
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


def customer(ticket: Ticket) -> str:
    return ticket.customer_name or ticket.customer_id


def escalation_line(esc: Escalation, ticket: Ticket | None, now: datetime | None = None) -> str:
    """Kind, level, priority, ticket (its event and customer when known), overdue."""
    event = f" ({ticket.event_id})" if ticket else ""
    who = f" {customer(ticket)}" if ticket else f" {esc.customer_id}"
    at = f"{esc.emitted_at.astimezone(now.tzinfo):%H:%M:%S} " if now is not None else ""
    extra = ""
    if esc.metric not in ("first_response", "next_reply"):
        extra += f" ({esc.metric.replace('_', ' ')})"
    if esc.previous_priority is not None:
        extra += f" from {esc.previous_priority.value}"
    if esc.paused_seconds:
        extra += f", paused {esc.paused_seconds:.0f} s"
    return (
        f"{at}{esc.kind.value} level {esc.level} {esc.priority.value} "
        f"ticket {esc.ticket_id[:8]}{event}{who} overdue {esc.overdue_seconds:+.0f} s{extra}"
    )


def ticket_line(row: QueueRow) -> Text:
    """One open ticket as a plain line."""
    t = row.ticket
    line = Text(f"{t.priority.value} ", style=STYLES[t.priority.value])
    line.append(
        f"due {clock_text(row.seconds_left):>7} {row.policy:<14} sev {t.severity:3d}  "
        f"{t.category:<18} {t.language:<3} {t.channel:<12} {t.customer_tier or '-':<10} "
        f"{customer(t)}  {t.event_id}  {excerpt(t.text, 40)!r}  [{rules_summary(t, 2)}]"
    )
    return line


def change_line(change: Change, state: WatchState, now: datetime) -> Text | None:
    """The plain line of one change (``--no-live``), or None."""
    ticket = change.ticket
    if change.kind is ChangeKind.ESCALATION and change.escalation is not None:
        line = Text("ESC ", style="magenta")
        return line.append(escalation_line(change.escalation, ticket))
    if ticket is None:
        return None
    if change.kind is ChangeKind.NEW:
        row = state.row(ticket.ticket_id, now)
        return ticket_line(row) if row is not None else None
    what = change.activity.kind.value if change.activity is not None else "?"
    agent = change.activity.agent_id if change.activity is not None else None
    head = f"{ticket.priority.value} ticket {ticket.ticket_id[:8]} ({ticket.event_id}) {what}"
    if agent:
        head += f" by {agent}"
    if change.kind is ChangeKind.LEFT:
        return Text("ANS ", style="green").append(f"{head}: left the queue")
    if change.kind is ChangeKind.PAUSED:
        return Text("HOLD ", style="yellow").append(f"{head}: clock stopped")
    if change.kind is ChangeKind.RESUMED:
        row = state.row(ticket.ticket_id, now)
        due = clock_text(row.seconds_left) if row is not None else "-"
        return Text("RUN ", style="cyan").append(f"{head}: clock running, due {due}")
    row = state.row(ticket.ticket_id, now)
    due = clock_text(row.seconds_left) if row is not None else "-"
    return Text("BACK ", style="cyan").append(f"{head}: back in the queue, due {due}")


def counts_text(state: WatchState, now: datetime) -> Text:
    """``P1 3 (1 overdue)  P2 5 …``: open tickets per priority; hidden priorities dim."""
    out = Text()
    for p, c in state.counts(now).items():
        style = STYLES[p.value] or "bold"
        if p not in state.priorities:
            style = "dim strike"
        out.append(f"{p.value} {c.open}", style=style)
        if c.overdue:
            out.append(f" ({c.overdue} overdue)", style="red")
        out.append("  ")
    return out


# --- live view ------------------------------------------------------------------------------


def header(
    state: WatchState,
    now: datetime,
    title: str,
    source: str,
    elapsed: float | None = None,
    keys: bool = False,
) -> Text:
    head = Text(title, style="bold", no_wrap=True, overflow="ellipsis")
    after = f" · {elapsed:.0f} s" if elapsed is not None else f" · {now:%H:%M:%S}"
    where = f" · {source}" if source else ""
    head.append(f"{where} · policy {state.policy.version}{after}\n", style="dim")
    head.append_text(counts_text(state, now))
    head.append(f"· escalations {state.escalations_seen} · showing {state.filters()}")
    if keys:
        head.append(f" · {KEYS_HELP}", style="dim")
    return head


def render(
    state: WatchState,
    now: datetime,
    width: int,
    height: int,
    *,
    title: str = "triage watch",
    source: str = "",
    elapsed: float | None = None,
    keys: bool = False,
    extra: Text | None = None,
    panels: Sequence[PanelLines] = (),
) -> RenderableType:
    """The whole view, fitted to ``height`` lines: the header (and ``extra``, a line of
    the caller's), the open tickets by time to breach, the latest escalations, ``panels``."""
    used = 2 + 3 + 1  # header; table head, rule and caption; a spare line
    parts: list[RenderableType] = [header(state, now, title, source, elapsed, keys)]
    if extra is not None:
        parts.append(extra)
        used += 1
    below: list[RenderableType] = []
    for name, lines, style in panels:
        if lines:
            below.append(_panel(name, lines, style))
            used += len(lines) + 2
    rows = state.rows(now)
    escalations = state.recent_escalations(ESCALATION_LINES)
    if escalations:
        lines = [escalation_line(e, state.tickets.get(e.ticket_id), now) for e in escalations]
        below.insert(
            0, _panel(f"escalations (latest of {state.escalations_seen})", lines, "magenta")
        )
        used += len(lines) + 2
    room = max(3, height - used)
    hidden = max(0, len(rows) - room)
    return Group(*parts, queue_table(rows[:room], width, hidden), *below)


def _panel(title: str, lines: list[str], style: str) -> Panel:
    grid = Table.grid()
    grid.add_column(no_wrap=True, overflow="ellipsis")
    for line in lines:
        grid.add_row(line)
    return Panel(grid, title=title, title_align="left", border_style=style, box=box.ROUNDED)


def queue_table(rows: Sequence[QueueRow], width: int, hidden: int = 0) -> Table:
    """One line per open ticket, by time to breach. The fixed columns take about 100 cells
    (80 on a narrow terminal, where tier and category are shortened and language, channel
    and policy left out); the text takes the rest, and shares it with the rules' evidence
    from 170 cells on."""
    wide, narrow = width >= 140, width < 100
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True, padding=(0, 1, 0, 0)
    )
    table.caption = f"… and {hidden} more (later deadlines)" if hidden else None
    columns: list[tuple[str, dict[str, Any]]] = [
        ("P", {"width": 2}),
        ("SLA in", {"justify": "right", "width": 7}),
        ("step", {"width": 7}),
        ("customer", {"max_width": 16 if wide else 10}),
        ("tier", {"max_width": 10 if wide else 4}),
        ("category", {"max_width": 18 if wide else 12}),
        ("sev", {"justify": "right", "width": 3}),
    ]
    if not narrow:
        columns += [
            ("policy", {"max_width": 11}),
            ("lang", {"width": 4}),
            ("channel", {"max_width": 12 if wide else 8}),
        ]
    columns.append(("text", {"ratio": 2, "min_width": 10}))
    if width >= 170:
        columns.append(("rules (evidence)", {"ratio": 1, "min_width": 10}))
    for name, kw in columns:
        table.add_column(name, no_wrap=True, overflow="ellipsis", **kw)
    for row in rows:
        t = row.ticket
        tier = t.customer_tier or "-"
        cells: list[RenderableType] = [
            t.priority.value,
            Text(clock_text(row.seconds_left), style="bold red reverse" if row.overdue else ""),
            Text(row.step or "", style="red" if (row.step or "").startswith("breach") else ""),
            customer(t),
            tier if wide else TIERS.get(tier, tier),
            t.category,
            str(t.severity),
        ]
        if not narrow:
            cells += [row.policy, t.language, t.channel]
        cells.append(excerpt(t.text, 200))
        if width >= 170:
            cells.append(rules_summary(t))
        table.add_row(*cells, style=STYLES[t.priority.value])
    return table


def plain_counts(state: WatchState, now: datetime) -> str:
    """One line of figures for the end of a plain run."""
    counts = state.counts(now)
    parts = [f"{p.value} {c.open} open ({c.overdue} overdue)" for p, c in counts.items()]
    return f"queue: {', '.join(parts)}; escalations seen {state.escalations_seen}"
