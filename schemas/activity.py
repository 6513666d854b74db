"""Input: what agents and customers did on a ticket (``tickets.activity``, key: ticket id)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.common import Priority, Timestamp


class ActivityKind(StrEnum):
    FIRST_RESPONSE = "first_response"
    AGENT_REPLY = "agent_reply"
    CUSTOMER_REPLY = "customer_reply"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    # Since 1.4: pauses (which clocks each stops: the SLA policy's ``pauses``) …
    PENDING = "pending"
    ON_HOLD = "on_hold"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    #: … and their end (a customer_reply also ends waiting_on_customer)
    RESUMED = "resumed"
    #: an agent set the ticket's priority (``priority``): its clocks are re-targeted
    PRIORITY_CHANGED = "priority_changed"
    #: the customer wrote again about it (``related_ticket_id``: the new ticket) with
    #: ``priority``; published by the SLA monitor, raises the priority, never lowers it
    REPEAT_CONTACT = "repeat_contact"


#: Activity kinds that pause clocks.
PAUSES = frozenset({ActivityKind.PENDING, ActivityKind.ON_HOLD, ActivityKind.WAITING_ON_CUSTOMER})


class TicketActivity(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    ticket_id: str = Field(min_length=1, max_length=256)
    kind: ActivityKind
    occurred_at: Timestamp
    agent_id: str | None = Field(default=None, max_length=256)
    activity_id: str | None = Field(
        default=None, max_length=256, description="Optional idempotency key of the activity."
    )
    priority: Priority | None = Field(
        default=None,
        description="priority_changed, repeat_contact: the new priority (since 1.4).",
    )
    related_ticket_id: str | None = Field(
        default=None,
        max_length=256,
        description="repeat_contact: the ticket of the customer's new message (since 1.4).",
    )

    @model_validator(mode="after")
    def _priority_given(self) -> TicketActivity:
        if self.kind in _NEEDS_PRIORITY and self.priority is None:
            raise ValueError(f"a {self.kind.value} activity needs priority")
        return self


_NEEDS_PRIORITY = frozenset({ActivityKind.PRIORITY_CHANGED, ActivityKind.REPEAT_CONTACT})
