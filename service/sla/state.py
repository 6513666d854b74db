"""Per-ticket SLA state: what the monitor remembers, and the changelog record format.

A ticket's state is a :class:`TicketClock` holding up to three :class:`Timer` s, one
per kind of target the policy sets:

* ``reply``: the first-response cycle (cycle 0, metric ``first_response``), then a
  next-reply cycle (1, 2, …, metric ``next_reply``) for each customer message after an
  agent's reply;
* ``resolution`` (when the policy has a resolution target for the priority): from the
  ticket's start to ``resolved``; a reopen starts cycle 1, 2, … from the reopen;
* ``update`` (when the policy has a periodic-update target): from each agent update
  (``first_response``, ``agent_reply``) to the next one, cycles 1, 2, …

A timer can be paused (``paused_at``); the time it spent paused, counted in its
business-hours calendar, is ``paused_us`` and pushes every later step and the deadline
back by as much (``service.sla.ladder``).

These are slotted dataclasses rather than pydantic models: a monitor keeps one per open
ticket (a million on a busy instance), so size and garbage-collection cost matter.

The monitor writes the records, keyed by ticket id, to the SLA changelog topic after
the escalations they led to were published, and the next owner of a partition replays
them after a restart or a rebalance (``service.partition_state``: snapshots bound the
replay; the topic needs no compaction). A record is one JSON object; ``record`` says
which kind it is:

``{"record": "ticket", "v": 2, "ticket_id": …, "reply": {…}, …}``  a :class:`TicketClock`
``{"record": "pending", "v": 1, "ticket_id": …, "activities": […], …}``  a
:class:`PendingActivities` (activities that arrived before their ticket)

Version 1 ticket records (one flat reply cycle, written before resolution and update
targets and pauses) are still read. A null value (tombstone) means the ticket was
forgotten. Datetimes are ISO 8601 with offset and microseconds, so a round trip is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, cast

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from schemas.activity import TicketActivity
from schemas.common import Priority

FIRST_RESPONSE: Literal["first_response"] = "first_response"
NEXT_REPLY: Literal["next_reply"] = "next_reply"
RESOLUTION: Literal["resolution"] = "resolution"
PERIODIC_UPDATE: Literal["periodic_update"] = "periodic_update"
Metric = Literal["first_response", "next_reply", "resolution", "periodic_update"]
METRICS: tuple[Metric, ...] = (FIRST_RESPONSE, NEXT_REPLY, RESOLUTION, PERIODIC_UPDATE)


class Status(StrEnum):
    WAITING_FOR_AGENT = "waiting_for_agent"
    WAITING_FOR_CUSTOMER = "waiting_for_customer"
    RESOLVED = "resolved"


@dataclass(slots=True, eq=True)
class Timer:
    """One running (or stopped) cycle of one metric. Mutable: the engine updates it."""

    metric: Metric
    #: first_response 0; next_reply 1, 2, …; resolution 0 (then 1, 2, … after reopens);
    #: periodic_update 1, 2, …
    cycle: int
    target_seconds: int
    #: start of the cycle
    started_at: datetime
    #: deadline of the cycle: start + target (+ the time paused), in its calendar
    due_at: datetime
    #: the cycle is open (not yet met by a response, an update or the resolution)
    running: bool = True
    #: steps of this cycle already emitted, in order
    emitted: tuple[str, ...] = ()
    #: a warning or breach of this cycle was emitted (a response then emits a recovery)
    escalated: bool = False
    #: paused since (None: not paused)
    paused_at: datetime | None = None
    #: time paused in this cycle before ``paused_at``, µs in the timer's calendar
    paused_us: int = 0

    @property
    def ticking(self) -> bool:
        return self.running and self.paused_at is None

    @property
    def dedup_base(self) -> str:
        """Names the cycle in ids: ``first_response``, ``next_reply.<n>``, ``resolution``
        (``resolution.<n>`` after a reopen), ``periodic_update.<n>``."""
        if self.cycle == 0:
            return self.metric
        return f"{self.metric}.{self.cycle}"

    def to_json(self) -> dict[str, Any]:
        """The record's fields; those at their default are left out (a smaller changelog).
        Datetimes stay datetimes: orjson writes them as ``isoformat`` does, faster."""
        return _compact(
            {
                "metric": self.metric,
                "cycle": self.cycle,
                "target_seconds": self.target_seconds,
                "started_at": self.started_at,
                "due_at": self.due_at,
                "running": self.running,
                "emitted": list(self.emitted),
                "escalated": self.escalated,
                "paused_at": self.paused_at,
                "paused_us": self.paused_us,
            },
            _TIMER_DEFAULTS,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timer:
        metric = data["metric"]
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}")
        return cls(
            metric=metric,
            cycle=int(data["cycle"]),
            target_seconds=_positive(data["target_seconds"]),
            started_at=_dt(data["started_at"]),
            due_at=_dt(data["due_at"]),
            running=bool(data.get("running", True)),
            emitted=tuple(str(s) for s in data.get("emitted", ())),
            escalated=bool(data.get("escalated", False)),
            paused_at=_opt_dt(data.get("paused_at")),
            paused_us=int(data.get("paused_us", 0)),
        )


@dataclass(slots=True, eq=True)
class TicketClock:
    """The SLA state of one known ticket. Mutable: the engine updates it in place."""

    ticket_id: str
    customer_id: str
    priority: Priority
    reply: Timer
    #: processing time of the last change
    touched_at: datetime
    resolution: Timer | None = None
    update: Timer | None = None
    management_emitted: bool = False
    status: Status = Status.WAITING_FOR_AGENT
    #: the pause in effect (an activity kind: pending, on_hold, waiting_on_customer)
    pause: str | None = None
    #: ``occurred_at`` of the activity that last paused or resumed the clocks: an older
    #: pause or resume (a redelivery after it) is stale and changes nothing
    pause_changed_at: datetime | None = None
    #: when the ticket started (its occurred_at): where a resolution timer starts
    opened_at: datetime | None = None
    #: how many times the priority changed (names the sla_retargeted events)
    retargets: int = 0
    first_response_at: datetime | None = None
    #: latest agent-side activity (stale customer replies are ignored)
    last_agent_at: datetime | None = None
    #: when it was resolved
    closed_at: datetime | None = None
    # What the escalations carry about the ticket for a pager's routing (absent from
    # records written before they were added: their escalations go without).
    category: str | None = None
    customer_tier: str | None = None
    rule_ids: tuple[str, ...] = ()
    #: the entry of the SLA policy's ``policies`` the clock counts in (None: the file's
    #: own; records from before have none)
    policy_id: str | None = None
    #: what the policy's conditions look at besides priority, tier and category (to
    #: choose the policy again when the priority changes)
    channel: str | None = None
    language: str | None = None
    brand: str | None = None
    record: Literal["ticket"] = field(default="ticket", repr=False)

    def timers(self) -> tuple[Timer, ...]:
        """The ticket's timers: reply, then resolution and update where the policy has them."""
        if self.resolution is None and self.update is None:
            return (self.reply,)
        return tuple(t for t in (self.reply, self.resolution, self.update) if t is not None)

    def to_json(self) -> dict[str, Any]:
        """The record's fields; those at their default are left out (a smaller changelog).
        Datetimes stay datetimes: orjson writes them as ``isoformat`` does, faster."""
        return _compact(
            {
                "record": "ticket",
                "v": 2,
                "ticket_id": self.ticket_id,
                "customer_id": self.customer_id,
                "priority": self.priority.value,
                "reply": self.reply.to_json(),
                "resolution": None if self.resolution is None else self.resolution.to_json(),
                "update": None if self.update is None else self.update.to_json(),
                "management_emitted": self.management_emitted,
                "status": self.status.value,
                "pause": self.pause,
                "pause_changed_at": self.pause_changed_at,
                "opened_at": self.opened_at,
                "retargets": self.retargets,
                "first_response_at": self.first_response_at,
                "last_agent_at": self.last_agent_at,
                "closed_at": self.closed_at,
                "touched_at": self.touched_at,
                "category": self.category,
                "customer_tier": self.customer_tier,
                "rule_ids": list(self.rule_ids),
                "policy_id": self.policy_id,
                "channel": self.channel,
                "language": self.language,
                "brand": self.brand,
            },
            _CLOCK_DEFAULTS,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TicketClock:
        version = int(data.get("v", 1))
        if version == 1:
            reply = _v1_reply(data)
        elif version == 2:
            reply = Timer.from_json(data["reply"])
        else:
            raise ValueError(f"unknown ticket record version {version}")
        return cls(
            ticket_id=_text(data["ticket_id"]),
            customer_id=_text(data["customer_id"]),
            priority=Priority(data["priority"]),
            reply=reply,
            touched_at=_dt(data["touched_at"]),
            resolution=_opt_timer(data.get("resolution")),
            update=_opt_timer(data.get("update")),
            management_emitted=bool(data.get("management_emitted", False)),
            status=Status(data.get("status", Status.WAITING_FOR_AGENT)),
            pause=_opt_text(data.get("pause")),
            pause_changed_at=_opt_dt(data.get("pause_changed_at")),
            opened_at=_opt_dt(data.get("opened_at")),
            retargets=int(data.get("retargets", 0)),
            first_response_at=_opt_dt(data.get("first_response_at")),
            last_agent_at=_opt_dt(data.get("last_agent_at")),
            closed_at=_opt_dt(data.get("closed_at")),
            category=_opt_text(data.get("category")),
            customer_tier=_opt_text(data.get("customer_tier")),
            rule_ids=tuple(str(r) for r in data.get("rule_ids") or ()),
            policy_id=_opt_text(data.get("policy_id")),
            channel=_opt_text(data.get("channel")),
            language=_opt_text(data.get("language")),
            brand=_opt_text(data.get("brand")),
        )


#: Fields left out of a record when they hold these values (``from_json`` reads them back).
_TIMER_DEFAULTS: dict[str, Any] = {
    "running": True,
    "emitted": [],
    "escalated": False,
    "paused_at": None,
    "paused_us": 0,
}
_CLOCK_DEFAULTS: dict[str, Any] = {
    "resolution": None,
    "update": None,
    "management_emitted": False,
    "status": Status.WAITING_FOR_AGENT.value,
    "retargets": 0,
    "rule_ids": [],
}


def _compact(doc: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in doc.items() if v is not None and (k not in defaults or v != defaults[k])
    }


def _v1_reply(data: dict[str, Any]) -> Timer:
    """The reply timer of a version 1 record (its cycle fields were at the top level)."""
    fields = {k: data[k] for k in _V1_TIMER_FIELDS if k in data}
    return Timer.from_json({"metric": FIRST_RESPONSE, "cycle": 0, **fields})


_V1_TIMER_FIELDS = (
    "metric",
    "cycle",
    "target_seconds",
    "started_at",
    "due_at",
    "running",
    "emitted",
    "escalated",
)


class PendingActivities(BaseModel):
    """Activities for a ticket the monitor has not seen yet; applied when it arrives."""

    model_config = ConfigDict(extra="ignore")

    record: Literal["pending"] = "pending"
    v: int = 1
    ticket_id: str
    activities: list[TicketActivity] = Field(default_factory=list)
    received_at: AwareDatetime = Field(description="When the first of them was received.")
    touched_at: AwareDatetime


_PENDING: TypeAdapter[PendingActivities] = TypeAdapter(PendingActivities)


def encode_record(record: TicketClock | PendingActivities) -> bytes:
    """The changelog value of a state record (UTF-8 JSON)."""
    if isinstance(record, TicketClock):
        return orjson.dumps(record.to_json())
    return record.model_dump_json().encode()


def decode_record(data: bytes | str) -> TicketClock | PendingActivities:
    """Parse a changelog value; raises ValueError when it is not one (pydantic's
    ValidationError is one)."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("a state record is a JSON object")
    kind = doc.get("record")
    if kind == "pending":
        return _PENDING.validate_python(doc)
    if kind != "ticket":
        raise ValueError(f"unknown state record {kind!r}")
    try:
        return TicketClock.from_json(doc)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"bad ticket record: {exc!r}") from None


def _dt(value: Any) -> datetime:
    parsed = datetime.fromisoformat(cast(str, value))
    if parsed.tzinfo is None:
        raise ValueError(f"datetime without offset: {value!r}")
    return parsed


def _opt_dt(value: Any) -> datetime | None:
    return None if value is None else _dt(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {value!r}")
    return value


def _opt_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _positive(value: Any) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(f"target must be positive, got {value!r}")
    return number


def _opt_timer(value: Any) -> Timer | None:
    return None if value is None else Timer.from_json(value)
