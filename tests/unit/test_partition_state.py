"""The partition-state component both roles use (service/partition_state.py): the
changelog cursor, ownership across rebalances, restore and changelog records."""

from __future__ import annotations

from service.partition_state import BASE_HEADER, ChangelogCursor, PartitionedState


class Counts:
    """A toy state: a dict of counters, JSON-free (values are the decimal count)."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.dirty: set[str] = set()

    def bump(self, key: str) -> None:
        self.values[key] = self.values.get(key, 0) + 1
        self.dirty.add(key)

    def drop(self, key: str) -> None:
        self.values.pop(key, None)
        self.dirty.add(key)


class CountsCodec:
    name = "counts"

    def new(self) -> Counts:
        return Counts()

    def load(self, state: Counts, value: bytes) -> None:
        key, _, count = value.decode().partition("=")
        state.values[key] = int(count)  # ValueError when unreadable

    def forget(self, state: Counts, key: str) -> None:
        state.values.pop(key, None)

    def changes(self, state: Counts) -> list[tuple[str, bytes | None]]:
        out: list[tuple[str, bytes | None]] = [
            (k, f"{k}={state.values[k]}".encode() if k in state.values else None)
            for k in sorted(state.dirty)
        ]
        state.dirty.clear()
        return out

    def keys(self, state: Counts) -> list[str]:
        return sorted(state.values)

    def encode(self, state: Counts, keys: list[str]) -> list[tuple[str, bytes]]:
        return [(k, f"{k}={state.values[k]}".encode()) for k in keys if k in state.values]

    def size(self, state: Counts) -> int:
        return len(state.values)


def make(**kwargs: int) -> PartitionedState[Counts]:
    return PartitionedState(CountsCodec(), "changelog", **kwargs)


# --- ChangelogCursor ----------------------------------------------------------------------


def test_cursor_asks_for_a_snapshot_past_the_threshold_and_moves_the_base_when_acked() -> None:
    c = ChangelogCursor()
    assert c.headers() == [(BASE_HEADER, b"0")]
    assert not c.wrote(5, live=3, min_records=5, factor=2)  # 5 > max(5, 6)? no
    assert c.wrote(2, live=3, min_records=5, factor=2)  # 7 > 6
    c.begin_snapshot(["a", "b", "c"])
    assert c.snapshot_pending
    assert not c.wrote(100, live=3, min_records=5, factor=2)  # one snapshot at a time
    assert c.snapshot_keys(2) == ["a", "b"]
    acked = c.snapshot_written(2)
    assert acked is not None
    acked(12)
    acked(10)  # acknowledgements may come in any order: the lowest offset is the base
    assert (c.base, c.snapshot_pending) == (0, True)  # a chunk is still to come
    assert c.snapshot_keys(2) == ["c"]
    last = c.snapshot_written(1)
    assert last is not None
    last(11)
    assert (c.base, c.written, c.snapshot_pending) == (10, 0, False)
    assert c.headers() == [(BASE_HEADER, b"10")]


def test_cursor_with_nothing_to_snapshot_restarts_the_count() -> None:
    c = ChangelogCursor(base=4, written=50)
    c.begin_snapshot([])
    assert (c.base, c.written, c.snapshot_pending) == (4, 0, False)


def test_a_last_chunk_whose_keys_all_went_completes_the_snapshot_at_once() -> None:
    c = ChangelogCursor(base=4)
    c.begin_snapshot(["a", "b"])
    assert c.snapshot_keys(1) == ["a"]
    acked = c.snapshot_written(1)
    assert acked is not None
    acked(30)
    assert c.snapshot_keys(1) == ["b"]
    assert c.snapshot_written(0) is None  # "b" was forgotten meanwhile
    assert (c.base, c.snapshot_pending) == (30, False)


# --- ownership across rebalances ----------------------------------------------------------


def test_a_partition_that_comes_back_keeps_its_state_and_the_others_are_dropped() -> None:
    ps = make()
    assert ps.assign([0, 1, 2]) == [0, 1, 2]  # all must be read from the changelog
    for n in (0, 1, 2):
        ps.restore(n, [])
    ps.get(0).bump("a")
    ps.get(1).bump("b")
    ps.revoke([0, 1, 2])
    assert ps.owned == {}  # parked: nothing reads or changes it
    assert ps.assign([1, 3]) == [3]  # 1 comes back as it was; 3 is new
    assert ps.get(1).values == {"b": 1}
    assert sorted(ps.owned) == [1]
    ps.revoke([1])
    assert ps.assign([0]) == [0]  # 0 was dropped at the last assignment: read again


def test_restore_replays_values_and_tombstones_and_skips_what_it_cannot_read() -> None:
    ps = make()
    records: list[tuple[bytes | None, bytes | None]] = [
        (b"a", b"a=3"),
        (b"b", b"b=1"),
        (b"b", b""),  # tombstone
        (b"c", b"c=not a number"),
        (b"d", b"d=2"),
    ]
    assert ps.restore(5, records, base=40) == 3
    assert ps.get(5).values == {"a": 3, "d": 2}
    assert ps.owned[5].cursor.base == 40
    assert ps.changelog_records() == []  # what was restored is already in the changelog


def test_input_for_a_partition_never_restored_starts_empty() -> None:
    ps = make()
    ps.get(7).bump("x")
    assert [(o.partition, o.key) for o in ps.changelog_records()] == [(7, b"x")]


# --- changelog records --------------------------------------------------------------------


def test_changes_carry_the_base_and_a_snapshot_follows_past_the_threshold() -> None:
    ps = make(phase=1, min_records=2, factor=0)
    ps.restore(0, [], base=9)
    state = ps.get(0)
    state.bump("a")
    state.drop("gone")
    out = ps.changelog_records()
    assert [(o.key, o.value, o.phase, o.partition) for o in out] == [
        (b"a", b"a=1", 1, 0),
        (b"gone", b"", 1, 0),
    ]
    assert dict(out[0].headers)[BASE_HEADER] == b"9"
    state.bump("b")  # 3 written > max(2, 0): a snapshot of both live entries follows
    out = ps.changelog_records()
    snapshot = [o for o in out if o.phase == 2]
    assert [(o.key, o.value) for o in snapshot] == [(b"a", b"a=1"), (b"b", b"b=1")]
    for offset, record in zip((21, 20), snapshot, strict=True):
        assert record.on_ack is not None
        record.on_ack(offset)
    assert ps.owned[0].cursor.base == 20
    state.bump("c")
    assert dict(ps.changelog_records()[0].headers)[BASE_HEADER] == b"20"


def test_a_snapshot_in_chunks_replays_to_the_live_state() -> None:
    """Offsets as a broker gives them, each record acknowledged at once; keys change, go
    and appear while the snapshot is being written. A replay from the base it ends with
    rebuilds exactly the live state."""
    ps = make(min_records=3, factor=0, snapshot_chunk=2)
    ps.restore(0, [])
    state = ps.get(0)
    log: list[tuple[int, bytes, bytes]] = []

    def flush() -> None:
        for record in ps.changelog_records():
            log.append((len(log), record.key or b"", record.value or b""))
            if record.on_ack is not None:
                record.on_ack(len(log) - 1)

    for key in "abcde":
        state.bump(key)
    flush()  # 5 written > 3: the snapshot starts, chunk 1 (a, b)
    assert ps.owned[0].cursor.snapshot_pending
    state.bump("a")  # already written by chunk 1: changed again
    state.drop("c")  # not yet written: goes
    state.bump("f")  # appears meanwhile
    flush()  # chunk 2 (c gone, so only d)
    state.bump("e")
    flush()  # chunk 3 (e)
    cursor = ps.owned[0].cursor
    assert not cursor.snapshot_pending
    assert cursor.base > 0
    fresh = make()
    fresh.restore(0, [(k, v) for offset, k, v in log if offset >= cursor.base])
    assert fresh.get(0).values == state.values == {"a": 2, "b": 1, "d": 1, "e": 2, "f": 1}
