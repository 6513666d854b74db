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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from service.observability.logging import get_logger
from service.records import OutRecord

log = get_logger("triage.state")

BASE_HEADER = "triage.base"
#: Snapshot when a partition wrote more than max(MIN, FACTOR x live states) records.
SNAPSHOT_MIN_RECORDS = 10_000
SNAPSHOT_FACTOR = 2

S = TypeVar("S")


@dataclass(slots=True)
class ChangelogCursor:
    """Where a changelog partition's replay starts and how much was written since."""

    base: int = 0
    written: int = 0
    snapshot_pending: bool = False

    def headers(self) -> list[tuple[str, bytes]]:
        """The headers of a record written now (the current base)."""
        return [(BASE_HEADER, str(self.base).encode())]

    def wrote(self, count: int, live: int, min_records: int, factor: int) -> bool:
        """Count ``count`` records written; True when a snapshot of ``live`` states is due."""
        self.written += count
        return not self.snapshot_pending and self.written > max(min_records, factor * live)

    def begin_snapshot(
        self, count: int, on_complete: Callable[[int], None] | None = None
    ) -> Callable[[int], None] | None:
        """Start a snapshot of ``count`` records; returns the ``on_ack`` of each of them.

        When the last one is acknowledged the lowest acknowledged offset becomes the base
        and ``on_complete(base)`` is called. With nothing to write (``count == 0``) the
        counter simply restarts and None is returned.
        """
        if count == 0:
            self.written, self.snapshot_pending = 0, False
            return None
        self.snapshot_pending = True
        first: list[int] = []
        remaining = [count]

        def acked(offset: int) -> None:
            if not first:
                first.append(offset)
            first[0] = min(first[0], offset)
            remaining[0] -= 1
            if remaining[0] == 0:
                self.base, self.written, self.snapshot_pending = first[0], 0, False
                if on_complete is not None:
                    on_complete(self.base)

        return acked


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

    def snapshot(self, state: S) -> list[tuple[str, bytes]]:
        """Every live entry, encoded."""
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
    ) -> None:
        self.codec = codec
        self.topic = changelog_topic
        #: Changes are published in ``phase``, snapshots in ``phase + 1`` (after them).
        self.phase = phase
        self.min_records = min_records
        self.factor = factor
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
        """Every owned partition's changes since the last call, then a snapshot of each
        partition that has written enough since its last one."""
        out: list[OutRecord] = []
        codec = self.codec
        for number, part in self.owned.items():
            changes = codec.changes(part.state)
            if not changes:
                continue
            headers = part.cursor.headers()
            out.extend(
                OutRecord(
                    topic=self.topic,
                    key=key.encode(),
                    value=value if value is not None else b"",
                    headers=headers,
                    kind="changelog",
                    partition=number,
                    phase=self.phase,
                )
                for key, value in changes
            )
            live = codec.size(part.state)
            if part.cursor.wrote(len(changes), live, self.min_records, self.factor):
                out.extend(self._snapshot(number, part))
        return out

    def _snapshot(self, number: int, part: Owned[S]) -> list[OutRecord]:
        """Every live entry again; the lowest acknowledged offset becomes the base."""
        entries = self.codec.snapshot(part.state)
        headers = part.cursor.headers()
        name = self.codec.name

        def done(base: int) -> None:
            log.info(
                "changelog_snapshot_written",
                state=name,
                partition=number,
                base=base,
                live=len(entries),
            )

        acked = part.cursor.begin_snapshot(len(entries), done)
        return [
            OutRecord(
                topic=self.topic,
                key=key.encode(),
                value=value,
                headers=headers,
                kind="changelog",
                partition=number,
                phase=self.phase + 1,
                on_ack=acked,
            )
            for key, value in entries
        ]
