"""Repeat contacts' state: per-partition customer histories, their changelog records,
snapshots and restore (service/prioritizer/pipeline.py on service/partition_state.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from schemas.ticket import Ticket
from service.clock import FakeClock
from service.partition_state import BASE_HEADER
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


def histories(p: Prioritizer) -> dict[int, CustomerHistory]:
    assert p.state is not None
    return {n: owned.state for n, owned in p.state.owned.items()}


def restore(
    p: Prioritizer, n: int, records: list[tuple[bytes | None, bytes | None]], base: int = 0
) -> int:
    assert p.state is not None
    return p.state.restore(n, records, base)


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


# --- the prioritizer's per-partition histories ----------------------------------------------


def test_changed_customers_follow_the_tickets_on_the_input_partition() -> None:
    p = make()
    restore(p, 0, [])
    restore(p, 2, [], base=7)
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
    assert set(histories(p)) == {0, 2}
    # nothing changed: no changelog records
    assert changelog(p.process([rec(0, 2, "bad", b"{not json")])) == []


def test_a_new_owner_restored_from_the_changelog_links_the_earlier_complaints() -> None:
    p = make()
    restore(p, 1, [])
    first = p.process([rec(1, 0, "x", event("x-1", "x", 0, "The export is broken."))])
    second = p.process(
        [rec(1, 1, "x", event("x-2", "x", 5, "Still broken!!", channel="social_media"))]
    )
    assert tickets(second)[0].related_ticket_ids == [ticket_id_for("x-1")]
    other = make()
    restore(other, 1, changelog(first) + changelog(second))
    assert histories(other)[1].changed() == []  # restored state is already in the changelog
    third = other.process(
        [rec(1, 2, "x", event("x-3", "x", 9, "It is still broken.", channel="chat"))]
    )
    [t3] = tickets(third)
    assert t3.related_ticket_ids == [ticket_id_for("x-1"), ticket_id_for("x-2")]
    assert "repeat_contact" in {r.rule_id for r in t3.reasons}
    # a tombstone in the changelog forgets the customer
    forgetful = make()
    restore(forgetful, 1, [*changelog(first), (b"x", b"")])
    [t] = tickets(forgetful.process([rec(1, 1, "x", event("x-2", "x", 5, "Still broken!!"))]))
    assert t.related_ticket_ids == []


def test_unreadable_changelog_records_are_skipped() -> None:
    p = make()
    assert restore(p, 0, [(b"x", b"{not json"), (b"y", b'{"customer_id": "y"}')]) == 0
    assert len(histories(p)[0]) == 0


def test_expiry_publishes_tombstones_of_customers_past_the_window() -> None:
    clock = FakeClock(NOW)
    p = make(clock)
    restore(p, 0, [])
    p.process([rec(0, 0, "old", event("o-1", "old", 0, "The export is broken."))])
    assert p.expire() == []
    clock.set(NOW + timedelta(days=7))
    p.process([rec(0, 1, "new", _fresh("n-1", clock))])
    out = p.expire()
    assert [(o.key, o.value, o.partition, o.phase) for o in out] == [(b"old", b"", 0, 0)]
    assert len(histories(p)[0]) == 1


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


def test_snapshot_moves_the_base_once_every_record_is_acknowledged() -> None:
    p = make()
    assert p.state is not None
    p.state.min_records, p.state.factor = 3, 0
    restore(p, 0, [])
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


def test_without_repeat_contacts_the_prioritizer_keeps_no_state() -> None:
    value = event("s-1", "s", 0, "The export is broken.")
    stateless = make(topics=Topics("tickets", "dlq"))
    assert stateless.state is None
    assert [o.topic for o in stateless.process([rec(0, 0, "s", value)])] == ["tickets"]
    assert stateless.expire() == []
