"""Snapshot and base bookkeeping of one changelog partition (pure, no Kafka).

Shared by the SLA monitor and the prioritizer's customer histories. Replay of a
changelog partition is bounded without log compaction:

* every record carries, in a ``triage.base`` header, the offset where the latest
  complete snapshot starts (the partition's *base*);
* when a partition has written more than max(``min_records``, ``factor`` x live states)
  records since its last snapshot, the owner writes every live state again (a snapshot,
  published after the ordinary changes); once all of its records are acknowledged, the
  lowest of their offsets becomes the new base;
* recovery reads the partition's last record, seeks to its base and replays from there
  (``service.kafka.changelog.read_changelog``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

BASE_HEADER = "triage.base"
#: Snapshot when a partition wrote more than max(MIN, FACTOR x live states) records.
SNAPSHOT_MIN_RECORDS = 10_000
SNAPSHOT_FACTOR = 2


@dataclass(slots=True)
class ChangelogCursor:
    """Where a changelog partition's replay starts and how much was written since."""

    base: int = 0
    written: int = 0
    snapshot_pending: bool = False

    def headers(self) -> list[tuple[str, bytes]]:
        """The headers of a record written now (the current base)."""
        return [(BASE_HEADER, str(self.base).encode())]

    def wrote(
        self,
        count: int,
        live: int,
        min_records: int | None = None,
        factor: int | None = None,
    ) -> bool:
        """Count ``count`` records written; True when a snapshot of ``live`` states is due.

        The thresholds default to this module's ``SNAPSHOT_MIN_RECORDS``/``SNAPSHOT_FACTOR``.
        """
        self.written += count
        if min_records is None:
            min_records = SNAPSHOT_MIN_RECORDS
        if factor is None:
            factor = SNAPSHOT_FACTOR
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
