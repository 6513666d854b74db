"""Plain records exchanged between the Kafka layer and the pipelines.

The Kafka layer turns broker messages into ``InRecord`` and publishes ``OutRecord``;
the pipelines never see a Kafka client.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class InRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
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
