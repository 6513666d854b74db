"""Repeat contacts' state: per-partition customer histories, their changelog records,
snapshots and restore (service/prioritizer/pipeline.py, service/changelog_state.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from schemas.ticket import Ticket
from service import changelog_state
from service.changelog_state import BASE_HEADER, ChangelogCursor
from service.clock import FakeClock
from service.prioritizer.decode import DecodeLimits
from service.prioritizer.history import CustomerHistory, CustomerRecord
from service.prioritizer.pipeline import Prioritizer, Topics
from service.records import InRecord, OutRecord
from service.rules.engine import RuleEngine, ticket_id_for
from service.rules.model import load_default_rules

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TOPICS = Topics("tickets", "dlq", customer_changelog="customers")
ENGINE = RuleEngine(load_default_rules())


def make(clock: FakeClock | None = None, topics: Topics = TOPICS) -> Prioritizer:
    return Prioritizer(ENGINE, topics, DecodeLimits(), clock or FakeClock(NOW))


def event(event_id: str, customer: str, minute: int, text: str, channel: str = "email") -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "occurred_at": (NOW - timedelta(minutes=60 - minute)).isoformat(),
            "channel": channel,
            "customer": {"id": customer},
            "text": text,
        }
    )


def rec(partition: int, offset: int, customer: str, value: bytes) -> InRecord:
    return InRecord("feedback", partition, offset, customer.encode(), value)


def tickets(out: list[OutRecord]) -> list[Ticket]:
    return [Ticket.model_validate_json(o.value) for o in out if o.topic == "tickets"]


def changelog(out: list[OutRecord]) -> list[tuple[bytes | None, bytes | None]]:
    return [(o.key, o.value) for o in out if o.topic == "customers"]


def ack_all(outputs: list[OutRecord], start: int = 0) -> None:
    for i, out in enumerate(outputs):
        if out.on_ack is not None:
            out.on_ack(start + i)


# --- ChangelogCursor ----------------------------------------------------------------------


def test_cursor_asks_for_a_snapshot_past_the_threshold_and_moves_the_base_when_acked() -> None:
    c = ChangelogCursor()
    assert c.headers() == [(BASE_HEADER, b"0")]
    assert not c.wrote(5, live=3, min_records=5, factor=2)  # 5 > max(5, 6)? no
    assert c.wrote(2, live=3, min_records=5, factor=2)  # 7 > 6
    acked = c.begin_snapshot(3)
    assert acked is not None
    assert c.snapshot_pending
    assert not c.wrote(100, live=3, min_records=5, factor=2)  # one snapshot at a time
    acked(12)
    acked(10)  # acknowledgements may come in any order: the lowest offset is the base
    assert c.base == 0
    acked(11)
    assert (c.base, c.written, c.snapshot_pending) == (10, 0, False)
    assert c.headers() == [(BASE_HEADER, b"10")]


def test_cursor_with_nothing_to_snapshot_restarts_the_count() -> None:
    c = ChangelogCursor(base=4, written=50)
    assert c.begin_snapshot(0) is None
    assert (c.base, c.written, c.snapshot_pending) == (4, 0, False)


# --- the prioritizer's per-partition histories ----------------------------------------------


def test_changed_customers_follow_the_tickets_on_the_input_partition() -> None:
    p = make()
    p.restore(0, [])
    p.restore(2, [], base=7)
    out = p.process(
        [
            rec(0, 0, "a", event("a-1", "a", 0, "The export is broken.")),
            rec(2, 0, "b", event("b-1", "b", 0, "The export is broken.")),
            rec(0, 1, "bad", b"{not json"),
        ]
    )
    assert [(o.topic, o.phase, o.partition) for o in out] == [
        ("tickets", 0, None),
        ("tickets", 0, None),
        ("dlq", 0, None),
        ("customers", 0, 0),
        ("customers", 0, 2),
    ]
    assert [o.key for o in out[3:]] == [b"a", b"b"]
    assert dict(out[3].headers)[BASE_HEADER] == b"0"
    assert dict(out[4].headers)[BASE_HEADER] == b"7"
    record = CustomerRecord.from_json(out[3].value)
    assert [t.ticket_id for t in record.tickets] == [ticket_id_for("a-1")]
    assert set(p.histories) == {0, 2}
    # nothing changed: no changelog records
    assert changelog(p.process([rec(0, 2, "bad", b"{not json")])) == []


def test_a_new_owner_restored_from_the_changelog_links_the_earlier_complaints() -> None:
    p = make()
    p.restore(1, [])
    first = p.process([rec(1, 0, "x", event("x-1", "x", 0, "The export is broken."))])
    second = p.process(
        [rec(1, 1, "x", event("x-2", "x", 5, "Still broken!!", channel="social_media"))]
    )
    assert tickets(second)[0].related_ticket_ids == [ticket_id_for("x-1")]
    other = make()
    other.restore(1, changelog(first) + changelog(second))
    assert other.histories[1].changed() == []  # restored state is already in the changelog
    third = other.process(
        [rec(1, 2, "x", event("x-3", "x", 9, "It is still broken.", channel="chat"))]
    )
    [t3] = tickets(third)
    assert t3.related_ticket_ids == [ticket_id_for("x-1"), ticket_id_for("x-2")]
    assert "repeat_contact" in {r.rule_id for r in t3.reasons}
    # a tombstone in the changelog forgets the customer
    forgetful = make()
    forgetful.restore(1, [*changelog(first), (b"x", b"")])
    [t] = tickets(forgetful.process([rec(1, 1, "x", event("x-2", "x", 5, "Still broken!!"))]))
    assert t.related_ticket_ids == []


def test_unreadable_changelog_records_are_skipped() -> None:
    p = make()
    assert p.restore(0, [(b"x", b"{not json"), (b"y", b'{"customer_id": "y"}')]) == 0
    assert len(p.histories[0]) == 0


def test_expiry_publishes_tombstones_of_customers_past_the_window() -> None:
    clock = FakeClock(NOW)
    p = make(clock)
    p.restore(0, [])
    p.process([rec(0, 0, "old", event("o-1", "old", 0, "The export is broken."))])
    assert p.expire() == []
    clock.set(NOW + timedelta(days=7))
    p.process([rec(0, 1, "new", _fresh("n-1", clock))])
    out = p.expire()
    assert [(o.key, o.value, o.partition, o.phase) for o in out] == [(b"old", b"", 0, 0)]
    assert len(p.histories[0]) == 1


def _fresh(event_id: str, clock: FakeClock) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "occurred_at": clock.now().isoformat(),
            "channel": "chat",
            "customer": {"id": "new"},
            "text": "The export is broken.",
        }
    )


def test_snapshot_moves_the_base_once_every_record_is_acknowledged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(changelog_state, "SNAPSHOT_MIN_RECORDS", 3)
    monkeypatch.setattr(changelog_state, "SNAPSHOT_FACTOR", 0)
    p = make()
    p.restore(0, [])
    batch = [rec(0, i, f"c{i}", event(f"e{i}", f"c{i}", i, "broken")) for i in range(4)]
    out = p.process(batch)
    snapshot = [o for o in out if o.phase == 1]
    assert sorted(o.key or b"" for o in snapshot) == [b"c0", b"c1", b"c2", b"c3"]
    ack_all(changelog_out([o for o in out if o.phase == 0]), start=0)
    ack_all(snapshot, start=4)
    later = p.process([rec(0, 4, "c9", event("e9", "c9", 9, "broken"))])
    assert dict(changelog_out(later)[0].headers)[BASE_HEADER] == b"4"


def changelog_out(out: list[OutRecord]) -> list[OutRecord]:
    return [o for o in out if o.topic == "customers"]


def test_stateless_and_single_history_modes_write_no_changelog() -> None:
    value = event("s-1", "s", 0, "The export is broken.")
    stateless = make(topics=Topics("tickets", "dlq"))
    assert [o.topic for o in stateless.process([rec(0, 0, "s", value)])] == ["tickets"]
    assert stateless.partitions == {}
    shared = Prioritizer(
        ENGINE, Topics("tickets", "dlq"), DecodeLimits(), FakeClock(NOW), CustomerHistory()
    )
    assert [o.topic for o in shared.process([rec(3, 0, "s", value)])] == ["tickets"]
    with pytest.raises(ValueError, match="not both"):
        Prioritizer(ENGINE, TOPICS, DecodeLimits(), FakeClock(NOW), CustomerHistory())
