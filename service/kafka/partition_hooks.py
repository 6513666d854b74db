"""Partitioned state on Kafka: the rebalance side of ``service.partition_state``.

``ChangelogRestore`` is the ``PartitionListener`` a role hands its ``ConsumeLoop``:

1. On revocation (after the loop committed the batches in flight) the revoked
   partitions' state is parked: nothing reads or changes it until they come back.
2. On assignment, before any input of the new partitions is fetched, parked state of a
   partition that came back is kept (no other member can have written to its changelog
   in between) and every other partition is rebuilt from its changelog partition, read
   from its base to its end (``service.kafka.changelog.read_changelog``).
3. ``on_ready`` then gets the partitions and the seconds the restore took (a role's log
   line, metric or timer wake-up); ``on_revoked`` gets the revoked partitions after
   step 1 (the SLA role's standby clocks start firing then).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from service.kafka.changelog import read_changelog
from service.observability.logging import get_logger
from service.partition_state import PartitionedState

log = get_logger("triage.state")

#: Called after an assignment with (the assigned partitions, seconds spent restoring).
ReadySink = Callable[[list[int], float], None]


class ChangelogRestore:
    """Keeps a ``PartitionedState`` in step with the partitions the group assigns."""

    def __init__(
        self,
        conn: dict[str, Any],
        state: PartitionedState[Any],
        on_ready: ReadySink | None = None,
        on_revoked: Callable[[list[int]], None] | None = None,
    ) -> None:
        self._conn = conn
        self._state = state
        self._on_ready = on_ready
        self._on_revoked = on_revoked

    async def revoked(self, partitions: list[int]) -> None:
        self._state.revoke(partitions)
        if self._on_revoked is not None:
            self._on_revoked(partitions)

    async def assigned(self, partitions: list[int]) -> None:
        started = time.perf_counter()
        missing = self._state.assign(partitions)
        for number in missing:
            base, records = await read_changelog(self._conn, self._state.topic, number)
            self._state.restore(number, records, base)
        seconds = time.perf_counter() - started
        log.info(
            "partition_state_ready",
            state=self._state.codec.name,
            partitions=partitions,
            restored=missing,
            seconds=round(seconds, 3),
        )
        if self._on_ready is not None:
            self._on_ready(partitions, seconds)
