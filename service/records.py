"""Plain records exchanged between the Kafka layer and the pipelines.

The Kafka layer turns broker messages into ``InRecord`` and publishes ``OutRecord``;
the pipelines never see a Kafka client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from service.trusted import Slotted


# Plain (not frozen) slotted dataclasses: two are built per event, and a frozen
# dataclass's ``__init__`` sets every field through ``object.__setattr__`` (about three
# times slower). Treat them as immutable all the same.
@dataclass(slots=True)
class InRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int | None = None


# The prioritizer's tickets and the changelog records are built positionally (the
# hot paths): keep the order of the first ten fields (``tests/unit/test_records.py``).
@dataclass(slots=True)
class OutRecord:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    #: What the record is, for metrics: "ticket", "dead_letter", "escalation", …
    kind: str = ""
    #: A bounded label for metrics (priority, reason, …).
    label: str = ""
    channel: str = ""
    #: Explicit partition (changelogs are co-partitioned with their input); None = by key.
    partition: int | None = None
    #: Outputs are published phase by phase: every phase-0 output is acknowledged before
    #: any phase-1 output is sent (e.g. escalations before the state that says they were sent).
    phase: int = 0
    #: Called with the broker offset once the record is acknowledged.
    on_ack: Callable[[int], None] | None = None
    #: Published instead when the record is too large for the producer or the broker
    #: (a dead letter without its value); without one, an oversized record stops the loop.
    oversize_fallback: OutRecord | None = None


#: ``OutRecord(*values)`` without its Python ``__init__``, for the paths that build one
#: or two records an event (the prioritizer's tickets, the changelogs' records):
#: positional values in the fields' order, the rest at their defaults (about 0.17 µs a
#: record less; ``service.trusted.Slotted``). A record of inert values (no callback) is
#: left to reference counting, off the garbage collector's lists (``untracked``).
new_out_record: Slotted[OutRecord] = Slotted(OutRecord, untracked=True)

#: ``InRecord(*values)`` the same way, for the consume loop (one per input record).
new_in_record: Slotted[InRecord] = Slotted(InRecord, untracked=True)
