"""Per-customer contact history (service/prioritizer/history.py) and its pipeline hook."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, tzinfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.prioritizer.history import (
    CustomerHistory,
    CustomerRecord,
    PastTicket,
    shared_timezone,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_recent_returns_earlier_complaints_within_the_window_oldest_first() -> None:
    h = CustomerHistory(window=timedelta(days=7))
    h.record("c1", "t-old", T0 - timedelta(days=8), negative=True)
    h.record("c1", "t-2", T0 - timedelta(days=2), negative=True)
    h.record("c1", "t-1", T0 - timedelta(days=3), negative=True)
    h.record("c1", "t-praise", T0 - timedelta(days=1), negative=False)
    h.record("c2", "t-other", T0 - timedelta(days=1), negative=True)
    assert h.recent("c1", T0) == ["t-1", "t-2"]
    assert h.recent("c1", T0, negative_only=False) == ["t-1", "t-2", "t-praise"]
    assert h.recent("c1", T0, timedelta(days=30)) == ["t-old", "t-1", "t-2"]
    assert h.recent("nobody", T0) == []


def test_recent_excludes_the_ticket_itself_and_later_tickets() -> None:
    h = CustomerHistory()
    h.record("c1", "t-1", T0, negative=True)
    h.record("c1", "t-later", T0 + timedelta(hours=1), negative=True)
    assert h.recent("c1", T0, exclude="t-1") == []


def test_record_is_idempotent_and_bounded() -> None:
    h = CustomerHistory(max_per_customer=3)
    for i in range(5):
        h.record("c1", f"t-{i}", T0 + timedelta(minutes=i), negative=True)
    h.record("c1", "t-4", T0 + timedelta(minutes=4), negative=True)
    assert h.recent("c1", T0 + timedelta(hours=1)) == ["t-2", "t-3", "t-4"]


def test_changed_snapshot_restore_round_trip() -> None:
    h = CustomerHistory()
    h.record("c1", "t-1", T0, negative=True)
    h.record("c2", "t-2", T0, negative=False)
    changes = h.changed()
    assert [cid for cid, _ in changes] == ["c1", "c2"]
    assert h.changed() == []
    wire = [rec.to_json() for _, rec in changes if rec is not None]
    assert json.loads(wire[0])["record"] == "customer"
    fresh = CustomerHistory()
    for data in wire:
        fresh.restore(CustomerRecord.from_json(data))
    assert fresh.changed() == []  # restored state is already in the changelog
    assert fresh.recent("c1", T0 + timedelta(days=1)) == ["t-1"]
    assert {r.customer_id for r in fresh.snapshot()} == {"c1", "c2"}


def test_changed_is_in_the_order_customers_first_changed_and_json_matches() -> None:
    """``changed`` lists customers in the order they first changed (not sorted), and
    ``changed_json`` is the same list as the changelog writes it."""
    a, b = CustomerHistory(), CustomerHistory()
    for h in (a, b):
        h.record("c5", "t-0", T0, negative=True)
        h.changed()
        for n, cid in enumerate(("c9", "c1", "c5", "c1")):
            h.record(cid, f"t-{n + 1}", T0 + timedelta(minutes=n), negative=True)
        h.forget("c1")
    as_states = [(cid, s.to_json() if s else None) for cid, s in a.changed()]
    assert [cid for cid, _ in as_states] == ["c9", "c5"]
    assert b.changed_json() == as_states
    assert b.changed_json() == []


def test_expire_tombstones_customers_without_recent_tickets() -> None:
    h = CustomerHistory(window=timedelta(days=7))
    h.record("c1", "t-1", T0, negative=True)
    h.record("c2", "t-2", T0 + timedelta(days=6), negative=True)
    h.changed()
    assert h.expire(T0 + timedelta(days=8)) == ["c1"]
    assert h.changed() == [("c1", None)]
    assert len(h) == 1


def test_prioritizer_links_earlier_complaints_across_channels() -> None:
    import orjson

    from schemas.ticket import Ticket
    from service.clock import FakeClock
    from service.prioritizer.decode import DecodeLimits
    from service.prioritizer.pipeline import Prioritizer, Topics
    from service.records import InRecord
    from service.rules.engine import RuleEngine, ticket_id_for
    from service.rules.model import load_default_rules

    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def raw(event_id: str, channel: str, text: str, minute: int) -> bytes:
        return orjson.dumps(
            {
                "event_id": event_id,
                "occurred_at": f"2026-11-22T10:{minute:02d}:00Z",
                "channel": channel,
                "customer": {"id": "cust-7"},
                "text": text,
            }
        )

    p = Prioritizer(
        RuleEngine(load_default_rules()),
        Topics("tickets", "dlq", customer_changelog="customers"),
        DecodeLimits(),
        FakeClock(now),
    )
    assert p.state is not None
    batch = [
        raw("e-1", "email", "The export is broken.", 0),
        raw("e-2", "chat", "Thanks for the help!", 5),
        raw("e-3", "social_media", "Export STILL broken. Nobody answers.", 10),
    ]
    recs = [InRecord("feedback", 0, i, b"cust-7", v) for i, v in enumerate(batch)]
    published = p.process(recs)
    out = [Ticket.model_validate_json(o.value) for o in published if o.topic == "tickets"]
    assert [o.key for o in published if o.topic == "customers"] == [b"cust-7"]
    # every ticket links the customer's earlier complaints; only a complaint is raised
    first = ticket_id_for("e-1")
    assert [t.related_ticket_ids for t in out] == [[], [first], [first]]
    assert out[0].priority.value == "P2"
    assert out[1].priority.value == "P4"
    assert out[2].priority.value == "P1"
    assert "repeat_contact" in {r.rule_id for r in out[2].reasons}
    # redelivery yields the same links (the ticket itself is never its own relative)
    republished = p.process(recs)
    again = [Ticket.model_validate_json(o.value) for o in republished if o.topic == "tickets"]
    assert again[2].related_ticket_ids == [first]
    assert again[0].related_ticket_ids == []
    assert [o for o in republished if o.topic == "customers"] == []  # nothing changed


def test_the_changelog_json_reads_back_to_an_equal_record() -> None:
    """What the history writes (plain tuples, orjson) is what the model reads back."""
    from datetime import timezone

    h = CustomerHistory(window=timedelta(days=7))
    tickets = []
    for i, hours in enumerate((0, 2, -5, 14)):
        at = datetime(2026, 3, 1, 9, i, 30, 123456, tzinfo=timezone(timedelta(hours=hours)))
        h.record('c-ø "1"', f"t-{i}", at, negative=i % 2 == 0)
        tickets.append(PastTicket(ticket_id=f"t-{i}", occurred_at=at, negative=i % 2 == 0))
    ((cid, state),) = h.changed()
    assert state is not None
    assert cid == 'c-ø "1"'
    record = CustomerRecord(customer_id=cid, tickets=sorted(tickets, key=lambda t: t.occurred_at))
    again = CustomerRecord.from_json(state.to_json())
    assert [t.ticket_id for t in again.tickets] == ["t-3", "t-1", "t-0", "t-2"]  # by time
    assert again == record
    assert again.model_dump_json() == record.model_dump_json()
    # and what restore reads back is the same state
    fresh = CustomerHistory(window=timedelta(days=7))
    fresh.restore(again)
    (restored,) = fresh.snapshot()
    assert restored.to_json() == state.to_json()


def test_remembered_times_keep_instant_offset_and_json_and_nothing_for_the_collector() -> None:
    """The history keeps each time's instant and offset, packed: read back, a time is in
    the one shared ``datetime.timezone`` of its offset (``shared_timezone``), not the
    parsed time's own zone object, and the changelog's JSON has the offset as sent. Its
    state holds no object the garbage collector tracks."""
    import gc
    from datetime import timezone

    from schemas.feedback import FeedbackEvent

    h = CustomerHistory(window=timedelta(days=7))
    parsed = []
    for i, stamp in enumerate(
        ("2026-03-01T09:00:00.5+02:00", "2026-03-01T10:00:00+02:00", "2026-03-01T07:30:00Z")
    ):
        event = FeedbackEvent.model_validate_json(
            json.dumps(
                {
                    "event_id": f"e-{i}",
                    "occurred_at": stamp,
                    "channel": "email",
                    "customer": {"id": "c-1"},
                    "text": "x",
                }
            )
        )
        parsed.append(event.occurred_at)
        h.record("c-1", f"t-{i}", event.occurred_at, negative=True)
    assert any(gc.is_tracked(at.tzinfo) for at in parsed)  # what the history does not keep
    assert not gc.is_tracked(h._tickets)
    ((_, state),) = h.changed()
    assert state is not None
    kept = [at for at, _, _ in state.tickets]
    assert sorted(parsed) == kept  # the same instants
    assert sorted(str(at.utcoffset()) for at in parsed) == sorted(
        str(at.utcoffset()) for at in kept
    )
    assert all(type(at.tzinfo) is timezone and not gc.is_tracked(at.tzinfo) for at in kept)
    plus_two = [at.tzinfo for at in kept if at.utcoffset() == timedelta(hours=2)]
    assert len(plus_two) == 2
    assert plus_two[0] is plus_two[1] is shared_timezone(timedelta(hours=2))
    assert [t.occurred_at for t in CustomerRecord.from_json(state.to_json()).tickets] == kept
    assert b'"2026-03-01T09:00:00.500000+02:00"' in state.to_json()  # the offset as sent
    fresh = CustomerHistory(window=timedelta(days=7))
    fresh.restore(CustomerRecord.from_json(state.to_json()))
    (restored,) = fresh.snapshot()
    assert restored.to_json() == state.to_json()
    assert restored.tickets == state.tickets


@settings(max_examples=400, deadline=None)
@given(
    at=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
    minutes=st.integers(-14 * 60, 14 * 60),
    seconds=st.sampled_from([0, 0, 0, 1, 59]),
)
@example(at=datetime(1, 1, 1), minutes=14 * 60, seconds=0)  # UTC would be in year 0
@example(at=datetime(9999, 12, 31, 23, 59), minutes=-14 * 60, seconds=0)  # and in 10000
@example(at=datetime(1970, 1, 1), minutes=0, seconds=0)
@example(at=datetime(1969, 12, 31, 23, 59, 59, 999999), minutes=1, seconds=0)
@example(at=datetime(2000, 2, 29, 12), minutes=-1, seconds=0)
def test_a_packed_time_reads_back_with_its_wall_time_offset_and_instant(
    at: datetime, minutes: int, seconds: int
) -> None:
    """Packing keeps a time's wall time, offset and instant, even at the ends of the
    calendar (where its UTC instant is outside ``datetime``'s range), from pydantic's
    own time zone too; and the instant orders the tickets."""
    from datetime import timezone

    from pydantic_core import TzInfo

    from service.prioritizer._ticket import pack_tickets, unpack_tickets

    offset = timedelta(minutes=minutes, seconds=seconds)
    for zone in (timezone(offset), TzInfo(int(offset.total_seconds()))):
        aware = at.replace(tzinfo=zone)
        ((back, ticket_id, negative),) = unpack_tickets(
            pack_tickets([(aware, "t", True)]), shared_timezone
        )
        assert (ticket_id, negative) == ("t", True)
        assert back.replace(tzinfo=None) == at
        assert back.utcoffset() == offset
        assert back.tzinfo is shared_timezone(offset)
        assert back.isoformat() == aware.isoformat()


def _orjson_record(customer_id: str, tickets: list[tuple[datetime, str, bool]]) -> bytes:
    """The record as the history wrote it before its compiled writer: a dict of it,
    serialised by orjson (the oracle of ``customer_record_bytes``)."""
    import orjson

    return orjson.dumps(
        {
            "record": "customer",
            "v": 1,
            "customer_id": customer_id,
            "tickets": [
                {"ticket_id": ticket_id, "occurred_at": at, "negative": negative}
                for at, ticket_id, negative in tickets
            ],
        }
    )


def _zones() -> st.SearchStrategy[tzinfo | None]:
    """Every kind of zone a remembered time can carry: UTC, whole-minute and odd
    offsets (seconds, microseconds), a named zone with daylight saving, none."""
    from datetime import timezone
    from zoneinfo import ZoneInfo

    offsets = st.timedeltas(
        min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
    )
    return st.one_of(
        st.just(UTC),
        st.builds(timezone, offsets),
        st.integers(min_value=-1439, max_value=1439).map(lambda m: timezone(timedelta(minutes=m))),
        st.just(ZoneInfo("Europe/Helsinki")),
        st.just(None),
    )


_IDS = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=300)
@given(
    _IDS,
    st.lists(
        st.tuples(st.datetimes(timezones=_zones()), _IDS, st.booleans()),
        max_size=25,
    ),
)
def test_the_compiled_record_writes_what_orjson_wrote(
    customer_id: str, tickets: list[tuple[datetime, str, bool]]
) -> None:
    """Byte for byte, for any ids (quotes, control characters, any code point) and any
    aware time: any year and microsecond, any zone (offsets of seconds and microseconds
    too); records past the writer's first buffer. A naive time is refused."""
    import pytest

    from service.prioritizer._ticket import customer_record_bytes, pack_tickets

    if any(at.utcoffset() is None for at, _, _ in tickets):
        with pytest.raises(ValueError, match="aware"):
            pack_tickets(tickets)
        return
    packed = pack_tickets(tickets)
    assert customer_record_bytes(customer_id, packed) == _orjson_record(customer_id, tickets)


def test_a_history_writes_its_records_with_the_compiled_writer() -> None:
    """``changed_json`` and ``CustomerState.to_json`` give the oracle's bytes."""
    from datetime import timezone

    h = CustomerHistory()
    h.record("c1", "t-1", T0, negative=True)
    h.record("c1", "t-2", T0.astimezone(timezone(timedelta(hours=5, minutes=30))), negative=False)
    state = h.state_of("c1")
    assert state is not None
    expected = _orjson_record("c1", state.tickets)
    assert state.to_json() == expected
    assert h.changed_json() == [("c1", expected)]


class _TupleHistory:
    """The history as it was written before it packed its tickets (lists of
    ``(time, id, negative)`` tuples kept sorted): the oracle of the packed one."""

    def __init__(self, window: timedelta, max_per_customer: int) -> None:
        self.window = window
        self.max_per_customer = max_per_customer
        self.tickets: dict[str, list[tuple[datetime, str, bool]]] = {}

    def recent(self, cid: str, at: datetime, exclude: str | None, negative_only: bool) -> list[str]:
        since = at - self.window
        return [
            t
            for when, t, negative in self.tickets.get(cid, [])
            if since <= when <= at and t != exclude and (negative or not negative_only)
        ]

    def record(self, cid: str, ticket_id: str, at: datetime, negative: bool) -> bool:
        from bisect import insort

        tickets = self.tickets.setdefault(cid, [])
        if any(t == ticket_id for _, t, _ in tickets):
            return False
        insort(tickets, (at, ticket_id, negative))
        del tickets[: max(0, len(tickets) - self.max_per_customer)]
        return True

    def expire(self, before: datetime) -> list[str]:
        gone = []
        for cid, tickets in list(self.tickets.items()):
            keep = [t for t in tickets if t[0] >= before]
            if keep:
                self.tickets[cid] = keep
            else:
                del self.tickets[cid]
                gone.append(cid)
        return gone


_OPS = st.lists(
    st.tuples(
        st.sampled_from(["record", "record", "recent", "expire"]),
        st.sampled_from(["c1", "c2", "c-ø"]),
        st.integers(0, 12),  # a ticket id of few, so that some repeat
        st.integers(-20 * 24 * 60, 20 * 24 * 60),  # minutes from T0
        st.sampled_from([0, 60, -300, 330]),  # the time's offset, minutes
        st.booleans(),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_OPS, st.integers(1, 5))
def test_the_packed_history_answers_as_the_tuple_history_did(
    ops: list[tuple[str, str, int, int, int, bool]], limit: int
) -> None:
    """``recent``, ``record`` (idempotence and the bound), ``expire`` and the changelog's
    JSON, against the list of tuples they replaced, on random operations: times in
    several offsets, equal instants, repeated ids."""
    from datetime import timezone

    window = timedelta(days=7)
    h = CustomerHistory(window=window, max_per_customer=limit, retention=window)
    oracle = _TupleHistory(window, limit)
    for op, cid, n, minutes, offset, flag in ops:
        at = (T0 + timedelta(minutes=minutes)).astimezone(timezone(timedelta(minutes=offset)))
        ticket_id = f"t-{n}"
        if op == "record":
            h.record(cid, ticket_id, at, negative=flag)
            if oracle.record(cid, ticket_id, at, flag):
                assert [c for c, _ in h.changed_json()] == [cid]
            else:
                assert h.changed_json() == []
        elif op == "recent":
            exclude = ticket_id if flag else None
            for negative_only in (True, False):
                assert h.recent(
                    cid, at, exclude=exclude, negative_only=negative_only
                ) == oracle.recent(cid, at, exclude, negative_only)
        else:
            assert h.expire(at) == oracle.expire(at - window)
            h.changed_json()
        for c, tickets in oracle.tickets.items():
            state = h.state_of(c)
            assert state is not None
            assert state.tickets == tickets
            assert state.to_json() == _orjson_record(c, tickets)
        assert sorted(h.ids()) == sorted(oracle.tickets)
