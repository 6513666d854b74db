"""Per-ticket SLA state: what the monitor remembers, and the changelog record format.

The monitor writes these records, keyed by ticket id, to the SLA changelog topic after
the escalations they led to were published, and the next owner of a partition replays
them after a restart or a rebalance (``service.partition_state``: snapshots bound the
replay; the topic needs no compaction). A record is one JSON object; ``record`` says which kind it is:

``{"record": "ticket", "v": 1, "ticket_id": …, …}``  a :class:`TicketClock`
``{"record": "pending", "v": 1, "ticket_id": …, "activities": […], …}``  a
:class:`PendingActivities` (activities that arrived before their ticket)

A null value (tombstone) means the ticket was forgotten. Datetimes are ISO 8601 with
offset and microseconds, so a round trip is exact.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from schemas.activity import TicketActivity
from schemas.common import Priority

FIRST_RESPONSE: Literal["first_response"] = "first_response"
NEXT_REPLY: Literal["next_reply"] = "next_reply"
Metric = Literal["first_response", "next_reply"]


class Status(StrEnum):
    WAITING_FOR_AGENT = "waiting_for_agent"
    WAITING_FOR_CUSTOMER = "waiting_for_customer"
    RESOLVED = "resolved"


class TicketClock(BaseModel):
    """The SLA state of one known ticket. Mutable: the engine updates it in place."""

    model_config = ConfigDict(extra="ignore")

    record: Literal["ticket"] = "ticket"
    v: int = 1
    ticket_id: str
    customer_id: str
    priority: Priority
    target_seconds: int = Field(gt=0, description="Target of every cycle of this ticket.")
    metric: Metric = FIRST_RESPONSE
    cycle: int = Field(default=0, ge=0, description="0: first response; 1, 2, …: next reply.")
    started_at: AwareDatetime = Field(description="Start of the current cycle.")
    due_at: AwareDatetime = Field(description="Deadline of the current cycle.")
    running: bool = Field(default=True, description="The current cycle's clock is ticking.")
    emitted: list[str] = Field(
        default_factory=list, description="Steps of the current cycle already emitted."
    )
    escalated: bool = Field(
        default=False, description="A warning or breach was emitted in the current cycle."
    )
    management_emitted: bool = False
    status: Status = Status.WAITING_FOR_AGENT
    first_response_at: AwareDatetime | None = None
    last_agent_at: AwareDatetime | None = Field(
        default=None, description="Latest agent-side activity (stale customer replies are ignored)."
    )
    closed_at: AwareDatetime | None = Field(default=None, description="When it was resolved.")
    touched_at: AwareDatetime = Field(description="Processing time of the last change.")
    # What the escalations carry about the ticket for a pager's routing (absent from
    # records written before they were added: their escalations go without).
    category: str | None = None
    customer_tier: str | None = None
    rule_ids: tuple[str, ...] = ()
    policy_id: str | None = Field(
        default=None,
        description="The entry of the SLA policy's policies whose calendars the clock "
        "counts in (None: the policy file's own; records from before have none).",
    )

    @property
    def dedup_base(self) -> str:
        """``first_response`` or ``next_reply.<cycle>``: names the cycle in ids."""
        return FIRST_RESPONSE if self.cycle == 0 else f"{NEXT_REPLY}.{self.cycle}"


class PendingActivities(BaseModel):
    """Activities for a ticket the monitor has not seen yet; applied when it arrives."""

    model_config = ConfigDict(extra="ignore")

    record: Literal["pending"] = "pending"
    v: int = 1
    ticket_id: str
    activities: list[TicketActivity] = Field(default_factory=list)
    received_at: AwareDatetime = Field(description="When the first of them was received.")
    touched_at: AwareDatetime


StateRecord = Annotated[TicketClock | PendingActivities, Field(discriminator="record")]
_ADAPTER: TypeAdapter[TicketClock | PendingActivities] = TypeAdapter(StateRecord)


def encode_record(record: TicketClock | PendingActivities) -> bytes:
    """The changelog value of a state record (UTF-8 JSON)."""
    return record.model_dump_json().encode()


def decode_record(data: bytes | str) -> TicketClock | PendingActivities:
    """Parse a changelog value; raises pydantic.ValidationError when it is not one."""
    return _ADAPTER.validate_json(data)
