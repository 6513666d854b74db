"""State kept per input partition and its changelog: one component for every role (pure).

The prioritizer's customer histories and the SLA monitor's clocks are both *partitioned
state*: the input topic is keyed so that everything about one customer (one ticket) lands
on one partition, the member that owns input partition *n* keeps the state of *n*, and
every change to it is written to partition *n* of a changelog topic, from which the next
owner rebuilds it. ``PartitionedState`` is that mechanism, once; what the state *is*
comes from a ``StateCodec``. The Kafka side (reading the changelog when partitions are
assigned) is ``service.kafka.partition_hooks``.

Ownership across a rebalance:

1. ``revoke(numbers)`` parks the revoked partitions' state: nothing reads or changes it
   (the SLA monitor's timers stop at once for them).
2. ``assign(numbers)`` keeps the parked state of every partition that comes back to this
   member (no other member can have written to its changelog in between), drops the rest
   of what was parked, and returns the numbers whose state must be read from the changelog.
3. ``restore(n, records, base)`` rebuilds one partition from its changelog, replayed from
   its ``base``. What was restored is already in the changelog and is not written again.

Replay is bounded without log compaction (``ChangelogCursor``):

* every record carries, in a ``triage.base`` header, the offset where the partition's
  latest complete snapshot starts (its *base*);
* when a partition has written more than max(``min_records``, ``factor`` x live states)
  records since its last snapshot, ``changelog_records`` writes every live state again (a
  snapshot, one phase after the ordinary changes); once all of its records are
  acknowledged, the lowest of their offsets becomes the new base;
* recovery reads the partition's last record, seeks to its base and replays from there.

A snapshot is written in chunks of ``snapshot_chunk`` entries, one chunk per call of
``changelog_records`` (so per batch or timer tick), not all at once: a million open SLA
clocks would otherwise stop the event loop for seconds and hold half a gigabyte of
encoded records. It is still a complete snapshot:

1. the keys live when it starts are listed once (``StateCodec.keys``);
2. each chunk encodes the **current** value of its keys that are still live
   (``StateCodec.encode``); a key forgotten since has its tombstone among the ordinary
   changes and is skipped;
3. the keys are listed after that call's ordinary changes were drained, so anything that
   changes later (a key that appears meanwhile too) is written as an ordinary change after
   the snapshot's first record: a replay from the snapshot's lowest offset sees every live
   key's latest value;
4. only when every chunk is written and every record acknowledged does the lowest offset
   become the base; until then records carry the old base, which stays valid (nothing is
   deleted without compaction). A crash mid-snapshot loses nothing but the work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from service.observability.logging import get_logger
from service.records import OutRecord, new_out_record

log = get_logger("triage.state")

BASE_HEADER = "triage.base"
#: Snapshot when a partition wrote more than max(MIN, FACTOR x live states) records.
SNAPSHOT_MIN_RECORDS = 10_000
SNAPSHOT_FACTOR = 2
#: Entries of a snapshot written per call of ``changelog_records`` and partition.
SNAPSHOT_CHUNK = 5_000

S = TypeVar("S")


@dataclass(slots=True)
class _Snapshot:
    """A snapshot being written: its keys, how far it got, and its acknowledgements."""

    keys: list[str]
    at: int = 0  # keys[:at] were handed out
    unacked: int = 0
    lowest: int | None = None


@dataclass(slots=True)
class ChangelogCursor:
    """Where a changelog partition's replay starts and how much was written since."""

    base: int = 0
    written: int = 0
    _snapshot: _Snapshot | None = None

    @property
    def snapshot_pending(self) -> bool:
        return self._snapshot is not None

    def headers(self) -> list[tuple[str, bytes]]:
        """The headers of a record written now (the current base)."""
        return [(BASE_HEADER, str(self.base).encode())]

    def wrote(self, count: int, live: int, min_records: int, factor: int) -> bool:
        """Count ``count`` records written; True when a snapshot of ``live`` states is due."""
        self.written += count
        return self._snapshot is None and self.written > max(min_records, factor * live)

    def begin_snapshot(self, keys: list[str]) -> None:
        """Start a snapshot of ``keys`` (the live ones now). With none, the counter simply
        restarts."""
        if not keys:
            self.written = 0
            return
        self._snapshot = _Snapshot(keys)

    def snapshot_keys(self, limit: int) -> list[str]:
        """The next (at most ``limit``) keys of the snapshot in progress to write."""
        snap = self._snapshot
        if snap is None:
            return []
        chunk = snap.keys[snap.at : snap.at + limit]
        snap.at += len(chunk)
        return chunk

    def snapshot_written(
        self, count: int, on_complete: Callable[[int], None] | None = None
    ) -> Callable[[int], None] | None:
        """``count`` records of the last chunk are on their way; returns their ``on_ack``.

        When every chunk is out and the last record is acknowledged the lowest
        acknowledged offset becomes the base and ``on_complete(base)`` is called (at once
        when nothing is left to acknowledge).
        """
        snap = self._snapshot
        if snap is None:
            return None
        snap.unacked += count

        def acked(offset: int) -> None:
            snap.lowest = offset if snap.lowest is None else min(snap.lowest, offset)
            snap.unacked -= 1
            self._complete_if_done(snap, on_complete)

        self._complete_if_done(snap, on_complete)
        return acked if count else None

    def _complete_if_done(self, snap: _Snapshot, on_complete: Callable[[int], None] | None) -> None:
        if snap.unacked or snap.at < len(snap.keys) or self._snapshot is not snap:
            return
        self._snapshot = None
        self.written = 0
        if snap.lowest is not None:  # else every key went meanwhile: keep the old base
            self.base = snap.lowest
            if on_complete is not None:
                on_complete(self.base)


class StateCodec(Protocol[S]):
    """What one kind of partition state is, as the changelog sees it."""

    #: A short name for log lines ("customers", "sla").
    name: str

    def new(self) -> S:
        """An empty state."""
        ...

    def load(self, state: S, value: bytes) -> None:
        """Apply one replayed changelog value; raises ``ValueError`` when it is unreadable
        (pydantic's ``ValidationError`` is one)."""
        ...

    def forget(self, state: S, key: str) -> None:
        """Apply a replayed tombstone."""
        ...

    def changes(self, state: S) -> list[tuple[str, bytes | None]]:
        """The changes since the last call, encoded (None: a tombstone), and forget them."""
        ...

    def keys(self, state: S) -> list[str]:
        """The key of every live entry (a snapshot starts)."""
        ...

    def encode(self, state: S, keys: list[str]) -> list[tuple[str, bytes]]:
        """The current value of each of ``keys`` still live, encoded (a snapshot's chunk)."""
        ...

    def size(self, state: S) -> int:
        """The number of live entries (what the snapshot threshold compares with)."""
        ...


@dataclass(slots=True)
class Owned(Generic[S]):
    """One owned partition: its state and its changelog bookkeeping."""

    state: S
    cursor: ChangelogCursor = field(default_factory=ChangelogCursor)


class PartitionedState(Generic[S]):
    """The state of every input partition this member owns, and its changelog records."""

    def __init__(
        self,
        codec: StateCodec[S],
        changelog_topic: str,
        *,
        phase: int = 0,
        min_records: int = SNAPSHOT_MIN_RECORDS,
        factor: int = SNAPSHOT_FACTOR,
        snapshot_chunk: int = SNAPSHOT_CHUNK,
    ) -> None:
        self.codec = codec
        self.topic = changelog_topic
        #: Changes are published in ``phase``, snapshots in ``phase + 1`` (after them).
        self.phase = phase
        self.min_records = min_records
        self.factor = factor
        self.snapshot_chunk = snapshot_chunk
        #: Owned partitions by number; read it, change it through the methods below.
        self.owned: dict[int, Owned[S]] = {}
        self._parked: dict[int, Owned[S]] = {}

    # --- ownership ------------------------------------------------------------------------

    def revoke(self, numbers: Iterable[int]) -> None:
        """Park the state of revoked partitions (kept if they come back to this member)."""
        for number in numbers:
            part = self.owned.pop(number, None)
            if part is not None:
                self._parked[number] = part

    def assign(self, numbers: Iterable[int]) -> list[int]:
        """Take ``numbers`` on; returns those whose state must be read from the changelog.

        Parked state of a partition assigned again is kept; other parked state is dropped.
        """
        wanted = sorted(set(numbers))
        kept = {n: self._parked.pop(n) for n in wanted if n in self._parked}
        self._parked.clear()
        self.owned.update(kept)
        return [n for n in wanted if n not in kept]

    def restore(
        self, number: int, records: Iterable[tuple[bytes | None, bytes | None]], base: int = 0
    ) -> int:
        """Rebuild a partition from its changelog records (replayed from ``base``);
        returns the number of records read. Unreadable records are logged and skipped."""
        codec = self.codec
        state = codec.new()
        count = 0
        for key, value in records:
            if not value:  # tombstone
                if key is not None:
                    codec.forget(state, key.decode())
                continue
            try:
                codec.load(state, value)
                count += 1
            except ValueError:
                log.error("changelog_record_unreadable", state=codec.name, partition=number)
        codec.changes(state)  # restored state is already in the changelog
        self.owned[number] = Owned(state, ChangelogCursor(base=base))
        log.info(
            "partition_state_restored",
            state=codec.name,
            partition=number,
            records=count,
            live=codec.size(state),
        )
        return count

    def get(self, number: int) -> S:
        """The state of an owned partition (empty when it was never restored: input that
        arrives for a partition before its assignment was announced)."""
        part = self.owned.get(number)
        if part is None:
            self.restore(number, [])
            part = self.owned[number]
        return part.state

    def states(self) -> list[S]:
        return [p.state for p in self.owned.values()]

    # --- the changelog --------------------------------------------------------------------

    def changelog_records(self) -> list[OutRecord]:
        """Every owned partition's changes since the last call, then the next chunk of the
        snapshot of each partition that has written enough since its last one."""
        out: list[OutRecord] = []
        codec = self.codec
        for number, part in self.owned.items():
            changes = codec.changes(part.state)
            if changes:
                headers = part.cursor.headers()
                topic, phase = self.topic, self.phase
                # positional, in the fields' order (one record per changed key; a unit
                # test holds the order): topic, key, value, headers, kind, label, channel,
                # partition, phase
                out.extend(
                    new_out_record(
                        topic,
                        key.encode(),
                        value if value is not None else b"",
                        headers,
                        "changelog",
                        "",
                        "",
                        number,
                        phase,
                    )
                    for key, value in changes
                )
                live = codec.size(part.state)
                if part.cursor.wrote(len(changes), live, self.min_records, self.factor):
                    part.cursor.begin_snapshot(codec.keys(part.state))
            if part.cursor.snapshot_pending:
                out.extend(self._snapshot_chunk(number, part))
        return out

    def _snapshot_chunk(self, number: int, part: Owned[S]) -> list[OutRecord]:
        """The snapshot's next entries, as they are now; the lowest acknowledged offset of
        the whole snapshot becomes the base."""
        keys = part.cursor.snapshot_keys(self.snapshot_chunk)
        entries = self.codec.encode(part.state, keys)
        headers = part.cursor.headers()
        name = self.codec.name

        def done(base: int) -> None:
            log.info(
                "changelog_snapshot_written",
                state=name,
                partition=number,
                base=base,
                live=self.codec.size(part.state),
            )

        acked = part.cursor.snapshot_written(len(entries), done)
        topic, phase = self.topic, self.phase + 1
        # positional, as ``changelog_records`` builds them, and then ``on_ack``
        return [
            new_out_record(
                topic, key.encode(), value, headers, "changelog", "", "", number, phase, acked
            )
            for key, value in entries
        ]
