"""Generate a month of tickets and their activities as JSONL, for ``triage sla replay``.

Usage:  .venv/bin/python tools/sla_month.py [--tickets 3000] [--start 2026-11-02]
                                            [--seed 7] [--out FILE]

Deterministic for a seed. Each line is a ``Ticket`` (as the prioritizer publishes it,
under the shipped SLA policy) or a ``TicketActivity``, in time order. The month:

* tickets over 30 days from ``--start`` (00:00 Europe/Berlin), more on weekdays and in
  business hours; P1 10 %, P2 30 %, P3 40 %, P4 20 %;
* a support desk open Mon–Fri 08:00–20:00 and Sat 10:00–14:00 (Berlin) answers P2–P4 in
  its own hours, with log-normal response times that miss some targets (a few tickets
  are never answered); P1 is answered around the clock, slower at night;
* customer replies and the desk's next replies, hourly updates on P1, resolutions and a
  few reopens, priority changes, and pauses (``on_hold`` before the first response,
  ``pending`` in a next-reply cycle) each ended by ``resumed``.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from schemas.activity import ActivityKind, TicketActivity
from schemas.common import Priority
from schemas.ticket import SlaInfo, Ticket
from service.sla.calendar import BusinessCalendar, build_calendar
from service.sla.policy import SlaPolicy, load_policy

BERLIN = ZoneInfo("Europe/Berlin")
DAYS = 30
PRIORITIES = (Priority.P1, Priority.P2, Priority.P3, Priority.P4)
PRIORITY_WEIGHTS = (0.10, 0.30, 0.40, 0.20)
#: The desk's first-response time per priority: median seconds and log-normal sigma (P1:
#: wall-clock seconds; P2–P4: seconds the desk is open).
RESPONSE = {
    Priority.P1: (300.0, 0.55),
    Priority.P2: (1800.0, 0.8),
    Priority.P3: (9000.0, 0.9),
    Priority.P4: (21600.0, 0.9),
}
CATEGORIES = {
    Priority.P1: ("churn_risk", "legal_threat", "outage"),
    Priority.P2: ("frustrated", "billing", "outage"),
    Priority.P3: ("complaint", "bug", "frustrated"),
    Priority.P4: ("feedback", "praise", "feature_request"),
}
SEVERITY = {
    Priority.P1: (80, 100),
    Priority.P2: (60, 79),
    Priority.P3: (35, 59),
    Priority.P4: (0, 34),
}
CHANNELS = ("email", "chat", "review", "app_store", "social_media", "phone", "in_app")
TIERS = (("free", 0.3), ("standard", 0.4), ("premium", 0.2), ("enterprise", 0.1))
LANGUAGES = (("en", 0.6), ("de", 0.3), ("fr", 0.1))
AGENTS = tuple(f"agent-{n:02d}" for n in range(1, 26))


class Month:
    def __init__(self, seed: int, start: date, policy: SlaPolicy) -> None:
        self.rng = random.Random(seed)
        self.start = datetime(start.year, start.month, start.day, tzinfo=BERLIN)
        self.policy = policy
        self.desk: BusinessCalendar = build_calendar(
            "desk", "Europe/Berlin", {"mon-fri": "08:00-20:00", "sat": "10:00-14:00"}
        )
        self.lines: list[tuple[datetime, int, int, str]] = []
        self.counts: dict[str, int] = {}

    # -- randomness ------------------------------------------------------------------
    def lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(self.rng.gauss(0.0, sigma))

    def pick(self, weighted: tuple[tuple[str, float], ...]) -> str:
        names = [name for name, _ in weighted]
        return self.rng.choices(names, [weight for _, weight in weighted])[0]

    def when(self) -> datetime:
        """A ticket's occurred_at: weekdays and business hours more often."""
        rng = self.rng
        days = [self.start + timedelta(days=d) for d in range(DAYS)]
        weights = [1.0 if d.weekday() < 5 else 0.4 if d.weekday() == 5 else 0.3 for d in days]
        day = rng.choices(days, weights)[0]
        if rng.random() < 0.7:
            seconds = rng.uniform(8 * 3600, 18 * 3600)
        else:
            seconds = rng.uniform(0, 24 * 3600)
        local = datetime.combine(day.date(), datetime.min.time(), BERLIN)
        return (local + timedelta(seconds=round(seconds))).astimezone(UTC)

    # -- time ------------------------------------------------------------------------
    def answer_after(self, priority: Priority, at: datetime, factor: float = 1.0) -> datetime:
        """When the desk answers something that came in at ``at``."""
        median, sigma = RESPONSE[priority]
        delay = self.lognormal(median * factor, sigma)
        if priority is Priority.P1:  # on call around the clock, slower at night
            if self.desk.elapsed(at, at + timedelta(seconds=1)) == 0:  # the desk is closed
                delay *= 1.5
            return _second(at + timedelta(seconds=delay))
        return _second(self.desk.add(at, delay))

    # -- output ----------------------------------------------------------------------
    def emit(self, item: Ticket | TicketActivity) -> None:
        order = 0 if isinstance(item, Ticket) else 1
        self.lines.append((item.occurred_at, order, len(self.lines), item.model_dump_json()))

    def activity(
        self,
        ticket_id: str,
        kind: ActivityKind,
        at: datetime,
        agent: str | None = None,
        priority: Priority | None = None,
    ) -> None:
        n = self.counts[ticket_id] = self.counts.get(ticket_id, 0) + 1
        self.emit(
            TicketActivity(
                ticket_id=ticket_id,
                kind=kind,
                occurred_at=at,
                agent_id=agent,
                activity_id=f"{ticket_id}:{n}",
                priority=priority,
            )
        )

    # -- one ticket ------------------------------------------------------------------
    def ticket(self, number: int) -> None:
        rng = self.rng
        priority = rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0]
        occurred = self.when()
        tid = f"tkt-month-{number:05d}"
        target, due = self.policy.first_response_due(priority, occurred)
        low, high = SEVERITY[priority]
        self.emit(
            Ticket(
                ticket_id=tid,
                event_id=f"evt-month-{number:05d}",
                customer_id=f"cust-{rng.randrange(1, 1500):04d}",
                priority=priority,
                severity=rng.randint(low, high),
                category=rng.choice(CATEGORIES[priority]),
                reasons=[],
                language=self.pick(LANGUAGES),
                sla=SlaInfo(
                    target_seconds=target,
                    first_response_due_at=due,
                    policy_id=self.policy.version,
                ),
                actions=[],
                management_attention=priority is Priority.P1 and rng.random() < 0.05,
                occurred_at=occurred,
                created_at=occurred + timedelta(milliseconds=rng.randint(20, 900)),
                channel=rng.choice(CHANNELS),
                customer_tier=self.pick(TIERS),
                text=f"feedback number {number}",
                rules_version="sla-month",
            )
        )
        agent = rng.choice(AGENTS)
        at = occurred
        if rng.random() < 0.03:  # an agent changes the priority, one step up or down
            at = _second(at + timedelta(seconds=rng.uniform(60, 900)))
            if priority.rank in (1, 4):
                rank = 2 if priority.rank == 1 else 3
            else:
                rank = priority.rank + rng.choice((-1, 1))
            priority = Priority.from_rank(rank)
            self.activity(tid, ActivityKind.PRIORITY_CHANGED, at, agent, priority)
        if rng.random() < 0.02:
            return  # never answered within the export
        if priority is not Priority.P1 and rng.random() < 0.04:  # waiting on a third party
            at = _second(at + timedelta(seconds=rng.uniform(120, 1200)))
            self.activity(tid, ActivityKind.ON_HOLD, at, agent)
            at = _second(self.desk.add(at, self.lognormal(5400, 0.8)))
            self.activity(tid, ActivityKind.RESUMED, at, agent)
        at = self.answer_after(priority, at)
        self.activity(tid, ActivityKind.FIRST_RESPONSE, at, agent)
        at = self.conversation(tid, priority, at, agent)
        if rng.random() < 0.1:
            return  # still open at the end of the export
        at = self.updates(tid, priority, at, agent, self.answer_after(priority, at, 2.0))
        self.activity(tid, ActivityKind.RESOLVED, at, agent)
        if rng.random() < 0.05:  # the customer was not satisfied
            at = _second(at + timedelta(seconds=self.lognormal(86_400, 0.6)))
            self.activity(tid, ActivityKind.REOPENED, at)
            at = self.answer_after(priority, at)
            self.activity(tid, ActivityKind.AGENT_REPLY, at, agent)
            at = self.answer_after(priority, at, 2.0)
            self.activity(tid, ActivityKind.RESOLVED, at, agent)

    def conversation(self, tid: str, priority: Priority, at: datetime, agent: str) -> datetime:
        """Customer replies and the desk's next replies; returns the last agent reply."""
        rng = self.rng
        rounds = 0
        while rounds < 3 and rng.random() < (0.45 if rounds == 0 else 0.3):
            rounds += 1
            at = _second(at + timedelta(seconds=self.lognormal(7200, 1.2)))
            self.activity(tid, ActivityKind.CUSTOMER_REPLY, at)
            start = at
            if rng.random() < 0.08:  # pending: waiting on the customer's bank, a carrier …
                at = _second(at + timedelta(seconds=rng.uniform(300, 3600)))
                self.activity(tid, ActivityKind.PENDING, at, agent)
                at = _second(at + timedelta(seconds=self.lognormal(14_400, 1.0)))
                self.activity(tid, ActivityKind.RESUMED, at, agent)
            at = max(self.answer_after(priority, start, 1.2), at + timedelta(seconds=60))
            self.activity(tid, ActivityKind.AGENT_REPLY, at, agent)
        return at

    def updates(
        self, tid: str, priority: Priority, at: datetime, agent: str, resolved: datetime
    ) -> datetime:
        """P1: an agent update about every 45 minutes until the resolution."""
        if priority is Priority.P1:
            while True:
                at = _second(at + timedelta(seconds=self.lognormal(2700, 0.5)))
                if at >= resolved:
                    break
                self.activity(tid, ActivityKind.AGENT_REPLY, at, agent)
        return max(resolved, at)

    def text(self) -> str:
        return "".join(line + "\n" for *_, line in sorted(self.lines))


def _second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def generate(tickets: int, start: date, seed: int) -> str:
    month = Month(seed, start, load_policy(None))
    for number in range(1, tickets + 1):
        month.ticket(number)
    return month.text()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--tickets", type=int, default=3000, help="how many tickets (default 3000)")
    p.add_argument(
        "--start",
        type=date.fromisoformat,
        default=date(2026, 11, 2),
        help="first day, Europe/Berlin (default 2026-11-02)",
    )
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--out", help="write here (default: stdout)")
    args = p.parse_args(argv)
    text = generate(args.tickets, args.start, args.seed)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
