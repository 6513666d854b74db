"""Three SLA policy behaviours, shown on the real engine with simulated time.

Usage:  .venv/bin/python tools/sla_examples.py

1. business hours: a ticket created on Friday at 17:55 local under a Mon-Fri
   09:00-18:00 calendar with a 1-hour target is due on Monday at 09:55 local;
2. a pause: a 20-minute pause moves every later step of a P2 ticket by 20 minutes;
3. per-priority ladders: under ``deploy/examples/sla-policy-business-hours.yaml`` a P4
   ticket gets only the one quiet breach its ladder names, a P1 the full ladder.

Each prints what the engine emitted; ``tests/unit/test_sla_examples.py`` runs it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from schemas.activity import ActivityKind, TicketActivity
from schemas.common import Priority
from schemas.escalation import Escalation
from schemas.ticket import SlaInfo, Ticket
from service.sla.engine import SlaEngine
from service.sla.policy import SlaPolicy, load_policy, parse_policy

ROOT = Path(__file__).resolve().parents[1]
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = """
version: office
target_seconds: {P2: 3600}
calendars:
  office: {timezone: Europe/Berlin, hours: {mon-fri: "09:00-18:00"}}
calendar: office
"""


def ticket(tid: str, priority: Priority, at: datetime, policy: SlaPolicy) -> Ticket:
    """A ticket as the prioritizer publishes it under ``policy``."""
    target, due = policy.first_response_due(priority, at)
    return Ticket(
        ticket_id=tid,
        event_id=f"e-{tid}",
        customer_id=f"c-{tid}",
        priority=priority,
        severity=50,
        category="frustrated",
        reasons=[],
        language="en",
        sla=SlaInfo(target_seconds=target, first_response_due_at=due, policy_id=policy.version),
        actions=[],
        occurred_at=at,
        created_at=at,
        channel="email",
        text="",
        rules_version="example",
    )


def run(engine: SlaEngine, until: datetime) -> list[Escalation]:
    """Every escalation up to ``until``, each at its own due time."""
    out: list[Escalation] = []
    while (due := engine.next_due()) is not None and due <= until:
        out += engine.fire_due(due)
    return out


def business_hours() -> list[str]:
    policy = parse_policy(OFFICE, "office.yaml")
    friday = datetime(2026, 12, 4, 17, 55, tzinfo=BERLIN)
    _, due = policy.first_response_due(Priority.P2, friday)
    local = due.astimezone(BERLIN)
    return [
        "1. business hours (Mon-Fri 09:00-18:00 Europe/Berlin, P2 target 1 h)",
        f"   created {friday:%a %Y-%m-%d %H:%M %Z} -> due {local:%a %Y-%m-%d %H:%M %Z}",
    ]


def pause() -> list[str]:
    policy = SlaPolicy()
    start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    lines = ["2. a 20-minute pause (P2, target 1 h, pending at +10 min, resumed at +30 min)"]
    plain, paused = SlaEngine(policy), SlaEngine(policy)
    for engine in (plain, paused):
        engine.on_ticket(ticket("t2", Priority.P2, start, policy), start)
    pending, resumed = start + timedelta(minutes=10), start + timedelta(minutes=30)
    for kind, at in ((ActivityKind.PENDING, pending), (ActivityKind.RESUMED, resumed)):
        paused.on_activity(TicketActivity(ticket_id="t2", kind=kind, occurred_at=at), at)
    end = start + timedelta(hours=6)
    for a, b in zip(run(plain, end), run(paused, end), strict=True):
        step = a.escalation_id.rsplit(":", 1)[1]
        moved = (b.due_at - a.due_at).total_seconds() / 60
        lines.append(
            f"   {step:8} {a.due_at:%H:%M} -> {b.due_at:%H:%M} "
            f"(+{moved:.0f} min, paused_seconds {b.paused_seconds:.0f})"
        )
    return lines


def ladders() -> list[str]:
    policy = load_policy(ROOT / "deploy/examples/sla-policy-business-hours.yaml")
    start = datetime(2026, 12, 7, 9, 0, tzinfo=BERLIN)  # a Monday, office open
    lines = ["3. per-priority ladders (deploy/examples/sla-policy-business-hours.yaml)"]
    for prio in (Priority.P1, Priority.P4):
        engine = SlaEngine(policy)
        engine.on_ticket(ticket(f"t-{prio.value}", prio, start, policy), start)
        steps = [
            f"{e.metric}:{e.escalation_id.rsplit(':', 1)[1]}"
            + ("" if e.notify else " (notify: false)")
            for e in run(engine, start + timedelta(days=30))
        ]
        lines.append(f"   {prio.value}: {', '.join(steps)}")
    return lines


def main() -> int:
    for part in (business_hours, pause, ladders):
        print("\n".join(part()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
