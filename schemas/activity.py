"""Input: what agents and customers did on a ticket (``tickets.activity``, key: ticket id)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import Timestamp


class ActivityKind(StrEnum):
    FIRST_RESPONSE = "first_response"
    AGENT_REPLY = "agent_reply"
    CUSTOMER_REPLY = "customer_reply"
    RESOLVED = "resolved"
    REOPENED = "reopened"


class TicketActivity(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    ticket_id: str = Field(min_length=1, max_length=256)
    kind: ActivityKind
    occurred_at: Timestamp
    agent_id: str | None = Field(default=None, max_length=256)
    activity_id: str | None = Field(
        default=None, max_length=256, description="Optional idempotency key of the activity."
    )
