"""``triage watch``'s state: the queue by time to breach, kept by the SLA monitor's engine.

Time is explicit (a fake clock); nothing sleeps and nothing talks to Kafka.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from schemas.activity import ActivityKind, TicketActivity
from schemas.common import Priority
from schemas.escalation import Escalation, EscalationKind
from schemas.ticket import SlaInfo, Ticket
from service.clock import FakeClock
from service.records import InRecord
from service.sla.policy import SlaPolicy, load_demo_policy
from service.watch.runner import parse_duration
from service.watch.state import ChangeKind, WatchState, WatchTopics, decode_event
from service.watch.view import change_line, clock_text, escalation_line, plain_counts, render
from tests.tickets import make_ticket

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOPICS = WatchTopics("tickets", "activity", "escalations")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ticket(
    tid: str,
    priority: Priority = Priority.P1,
    *,
    ago: float = 0,
    tier: str | None = None,
    severity: int = 80,
) -> Ticket:
    return make_ticket(tid, priority, at(-ago), tier=tier, severity=severity)


def act(kind: str, tid: str, seconds: float = 0, agent: str | None = None) -> TicketActivity:
    return TicketActivity(
        ticket_id=tid, kind=ActivityKind(kind), occurred_at=at(seconds), agent_id=agent
    )


def esc(tid: str, step: str = "breach1", priority: Priority = Priority.P1) -> Escalation:
    return Escalation(
        escalation_id=f"{tid}:first_response:{step}",
        dedup_key=f"{tid}:first_response",
        ticket_id=tid,
        customer_id=f"c-{tid}",
        kind=EscalationKind.SLA_BREACH,
        level=1,
        priority=priority,
        metric="first_response",
        due_at=T0,
        emitted_at=T0,
        overdue_seconds=0.0,
    )


def ids(state: WatchState, now: datetime) -> list[str]:
    return [r.ticket.ticket_id for r in state.rows(now)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def test_an_answered_ticket_leaves_the_queue_and_a_customer_reply_brings_it_back(
    clock: FakeClock,
) -> None:
    state = WatchState()
    assert state.feed(ticket("a", ago=500), clock.now()).kind is ChangeKind.NEW  # type: ignore[union-attr]
    state.feed(ticket("b", ago=100), clock.now())
    assert ids(state, clock.now()) == ["a", "b"]

    clock.advance(30)
    change = state.feed(act("first_response", "a", 30, "agent-7"), clock.now())
    assert change is not None
    assert change.kind is ChangeKind.LEFT
    assert ids(state, clock.now()) == ["b"]

    clock.advance(30)
    change = state.feed(act("customer_reply", "a", 60), clock.now())
    assert change is not None
    assert change.kind is ChangeKind.BACK
    row = state.row("a", clock.now())
    assert row is not None
    assert row.seconds_left == pytest.approx(600)
    assert row.policy == "reply 1 10m"

    state.feed(act("resolved", "a", 90), clock.now())
    assert ids(state, clock.now()) == ["b"]


def test_an_activity_before_its_ticket_applies_when_the_ticket_comes(clock: FakeClock) -> None:
    state = WatchState()
    assert state.feed(act("first_response", "a", -10), clock.now()) is None
    assert state.feed(ticket("a", ago=100), clock.now()) is None  # answered already: no row
    assert ids(state, clock.now()) == []
    assert state.tickets["a"].ticket_id == "a"


def test_rows_are_sorted_by_time_to_breach_overdue_first(clock: FakeClock) -> None:
    state = WatchState()
    state.feed(ticket("p2-late", Priority.P2, ago=4000), clock.now())  # 400 s overdue
    state.feed(ticket("p1-soon", Priority.P1, ago=590), clock.now())  # 10 s left
    state.feed(ticket("p1-late", Priority.P1, ago=700), clock.now())  # 100 s overdue
    state.feed(ticket("p3", Priority.P3, ago=0), clock.now())  # 4 h left
    state.feed(ticket("p2-fresh", Priority.P2, ago=0), clock.now())  # 1 h left
    now = clock.now()
    assert ids(state, now) == ["p2-late", "p1-late", "p1-soon", "p2-fresh", "p3"]
    rows = state.rows(now)
    assert [r.overdue for r in rows] == [True, True, False, False, False]
    assert rows[0].seconds_left == pytest.approx(-400)
    assert clock_text(rows[0].seconds_left) == "-06:40"
    assert clock_text(rows[-1].seconds_left) == "4h00m"

    # the deadlines are the tickets' own, as the monitor keeps them: a ticket shows the
    # due time of the policy the prioritizer applied, whatever the watcher's policy says
    policy = load_demo_policy()
    demo = WatchState(policy)
    demo.feed(ticket("x", Priority.P4, ago=0), now)
    target, due = policy.first_response_due(Priority.P4, now)
    sla = SlaInfo(target_seconds=target, first_response_due_at=due, policy_id=policy.version)
    demo.feed(ticket("y", Priority.P4, ago=0).model_copy(update={"sla": sla}), now)
    left = {r.ticket.ticket_id: r.seconds_left for r in demo.rows(now)}
    assert left == {"x": pytest.approx(86400), "y": pytest.approx(120)}


def test_the_clock_moves_with_time_and_steps_show(clock: FakeClock) -> None:
    state = WatchState(SlaPolicy())
    state.feed(ticket("a", ago=0), clock.now())
    clock.advance(500)
    state.tick(clock.now())
    row = state.rows(clock.now())[0]
    assert row.seconds_left == pytest.approx(100)
    assert row.step == "warn80"
    clock.advance(200)
    state.tick(clock.now())
    row = state.rows(clock.now())[0]
    assert row.overdue
    assert row.step == "breach1"


def test_a_paused_ticket_s_time_left_stands_still(clock: FakeClock) -> None:
    state = WatchState(SlaPolicy())
    state.feed(ticket("a", ago=0), clock.now())
    state.feed(act("pending", "a", 100), at(100))
    clock.advance(5000)
    state.tick(clock.now())
    row = state.rows(clock.now())[0]
    assert row.seconds_left == pytest.approx(500)  # as at the pause: 600 - 100
    assert not row.overdue
    state.feed(act("resumed", "a", 5000), clock.now())
    assert state.rows(clock.now())[0].seconds_left == pytest.approx(500)


def test_pauses_and_resumes_show_as_lines_once(clock: FakeClock) -> None:
    state = WatchState(SlaPolicy())
    state.feed(ticket("a", ago=0), clock.now())
    pending = act("pending", "a", 100, agent="ann")
    paused = state.feed(pending, at(100))
    assert paused is not None
    assert paused.kind is ChangeKind.PAUSED
    line = change_line(paused, state, at(100))
    assert line is not None
    assert line.plain.startswith("HOLD P1 ticket a (e-a) pending by ann: clock stopped")
    assert state.feed(pending, at(101)) is None  # a redelivery says nothing
    resumed = state.feed(act("resumed", "a", 400), at(400))
    assert resumed is not None
    assert resumed.kind is ChangeKind.RESUMED
    text = change_line(resumed, state, at(400))
    assert text is not None
    assert text.plain.endswith("clock running, due 08:20")  # 500 s left, as at the pause


def test_escalation_lines_name_the_metric_a_retarget_and_the_time_paused() -> None:
    base = esc("a")
    assert "paused" not in escalation_line(base, None)
    moved = base.model_copy(
        update={
            "kind": EscalationKind.SLA_RETARGETED,
            "previous_priority": Priority.P3,
            "paused_seconds": 1200.0,
            "metric": "resolution",
        }
    )
    assert escalation_line(moved, None).endswith("overdue +0 s (resolution) from P3, paused 1200 s")


def test_counts_per_priority_ignore_the_filters(clock: FakeClock) -> None:
    state = WatchState()
    state.feed(ticket("a", Priority.P1, ago=700), clock.now())
    state.feed(ticket("b", Priority.P1, ago=0), clock.now())
    state.feed(ticket("c", Priority.P3, ago=0), clock.now())
    state.feed(ticket("d", Priority.P3, ago=0), clock.now())
    state.feed(act("agent_reply", "d"), clock.now())
    state.toggle_priority(Priority.P1)
    counts = state.counts(clock.now())
    assert (counts[Priority.P1].open, counts[Priority.P1].overdue) == (2, 1)
    assert (counts[Priority.P2].open, counts[Priority.P3].open, counts[Priority.P4].open) == (
        0,
        1,
        0,
    )
    assert "P1 2 open (1 overdue)" in plain_counts(state, clock.now())


def test_keys_filter_by_priority_and_tier(clock: FakeClock) -> None:
    state = WatchState()
    state.feed(ticket("ent", Priority.P1, tier="enterprise"), clock.now())
    state.feed(ticket("free", Priority.P2, tier="free"), clock.now())
    state.feed(ticket("none", Priority.P3), clock.now())
    state.feed(ticket("prem", Priority.P4, tier="premium", ago=10), clock.now())
    now = clock.now()
    assert sorted(ids(state, now)) == ["ent", "free", "none", "prem"]

    assert state.press("1") is False
    assert "ent" not in ids(state, now)
    assert state.filters() == "P2 P3 P4"
    state.press("1")
    state.press("4")
    assert sorted(ids(state, now)) == ["ent", "free", "none"]
    state.press("a")
    assert state.filters() == "all"

    assert state.tiers() == ["enterprise", "premium", "free", "-"]
    seen = []
    for _ in range(5):
        state.press("t")
        seen.append((state.tier, ids(state, now)))
    assert seen == [
        ("enterprise", ["ent"]),
        ("premium", ["prem"]),
        ("free", ["free"]),
        ("-", ["none"]),
        (None, ids(state, now)),
    ]
    state.press("t")
    state.press("1")
    assert ids(state, now) == []
    assert state.filters() == "P2 P3 P4 · tier enterprise"
    assert state.press("x") is False
    assert state.press("q") is True


def test_escalations_newest_first_deduplicated_and_filtered(clock: FakeClock) -> None:
    state = WatchState()
    state.feed(ticket("a", Priority.P1, tier="enterprise"), clock.now())
    first = state.feed(esc("a", "warn50"), clock.now())
    assert first is not None
    assert first.kind is ChangeKind.ESCALATION
    assert first.ticket is not None
    assert state.feed(esc("a", "warn50"), clock.now()) is None  # a redelivery
    state.feed(esc("a", "breach1"), clock.now())
    state.feed(esc("z", "breach1", Priority.P2), clock.now())  # its ticket not seen (yet)
    assert state.escalations_seen == 3
    assert [e.escalation_id for e in state.recent_escalations()] == [
        "z:first_response:breach1",
        "a:first_response:breach1",
        "a:first_response:warn50",
    ]
    assert len(state.recent_escalations(limit=1)) == 1
    state.press("2")
    assert {e.ticket_id for e in state.recent_escalations()} == {"a"}
    state.press("a")
    state.press("t")  # enterprise: the escalation of an unknown ticket is not shown …
    assert {e.ticket_id for e in state.recent_escalations()} == {"a"}
    # … unless it says its customer's tier
    state.feed(esc("y").model_copy(update={"customer_tier": "enterprise"}), clock.now())
    assert {e.ticket_id for e in state.recent_escalations()} == {"a", "y"}


def test_resolved_tickets_are_forgotten_as_the_monitor_forgets_them(clock: FakeClock) -> None:
    state = WatchState(SlaPolicy(closed_retention_seconds=60))
    state.feed(ticket("a"), clock.now())
    state.feed(act("resolved", "a"), clock.now())
    clock.advance(61)
    state.tick(clock.now())
    assert "a" not in state.tickets
    assert state.engine.get("a") is None


def test_records_decode_by_topic_and_bad_bytes_are_skipped() -> None:
    value = ticket("a").model_dump_json().encode()
    assert isinstance(decode_event(TOPICS, InRecord("tickets", 0, 0, b"a", value)), Ticket)
    assert decode_event(TOPICS, InRecord("tickets", 0, 1, b"a", b"{not json")) is None
    assert decode_event(TOPICS, InRecord("activity", 0, 0, b"a", value)) is None  # wrong shape
    assert decode_event(TOPICS, InRecord("other", 0, 0, b"a", value)) is None
    raw = act("agent_reply", "a").model_dump_json().encode()
    assert isinstance(decode_event(TOPICS, InRecord("activity", 0, 0, b"a", raw)), TicketActivity)
    raw = esc("a").model_dump_json().encode()
    assert isinstance(decode_event(TOPICS, InRecord("escalations", 0, 0, b"a", raw)), Escalation)


def test_the_view_shows_the_queue_counts_escalations_and_lines(clock: FakeClock) -> None:
    state = WatchState()
    now = clock.now()
    state.feed(ticket("late", Priority.P1, ago=700, tier="enterprise"), now)
    state.feed(ticket("soon", Priority.P2, ago=0), now)
    state.feed(ticket("done", Priority.P1, ago=0), now)
    left = state.feed(act("first_response", "done", 0, "agent-7"), now)
    state.feed(esc("late"), now)
    console = Console(record=True, width=160, file=None, force_terminal=False)
    console.print(render(state, now, 160, 30, source="broker k:9092", keys=True))
    text = console.export_text()
    assert "c-late" in text
    assert "c-soon" in text
    assert "c-done" not in text
    assert text.index("c-late") < text.index("c-soon")
    assert "-01:40" in text
    assert "first 10m" in text
    assert "sla_breach level 1 P1 ticket late (e-late)" in text
    assert "P1 1 (1 overdue)" in text
    assert "P2 1" in text
    assert "1-4 priority" in text

    narrow = Console(record=True, width=80, force_terminal=False)
    narrow.print(render(state, now, 80, 12))
    assert "c-late" in narrow.export_text()

    assert left is not None
    line = change_line(left, state, now)
    assert line is not None
    assert "first_response by agent-7: left the queue" in line.plain


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("1.5d", 129600)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_a_bad_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")
