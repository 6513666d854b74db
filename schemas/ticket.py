"""Output: a prioritized ticket (``tickets.prioritized``, key: ticket id)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import SCHEMA_VERSION, Priority, Timestamp


class Reason(BaseModel):
    """One rule that fired: why the ticket has the severity and priority it has."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    weight: int = Field(description="Points the rule added to (or removed from) the severity.")
    evidence: list[str] = Field(description="The words or facts that made the rule fire.")
    min_priority: Priority | None = Field(
        default=None, description="Priority the rule forces at least, if any."
    )


class SlaInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    target_seconds: int = Field(
        description="First-response target for this priority, from the SLA policy."
    )
    first_response_due_at: Timestamp = Field(
        description="occurred_at + target_seconds: the deadline the SLA monitor keeps."
    )
    policy_id: str | None = Field(
        default=None,
        description="The SLA policy the target came from (the file's version, or the id of "
        "the entry of its policies the ticket matched); absent on "
        "tickets published before schema 1.2 (their target came from the rule set).",
    )


class Ticket(BaseModel):
    """One ticket per valid feedback event. ``ticket_id`` is derived from ``event_id``."""

    model_config = ConfigDict(frozen=True)

    schema_version: str = SCHEMA_VERSION
    ticket_id: str
    event_id: str
    customer_id: str
    priority: Priority
    severity: int = Field(ge=0, le=100)
    category: str
    reasons: list[Reason]
    language: str
    sla: SlaInfo
    actions: list[str]
    management_attention: bool = Field(
        default=False, description="A rule asked for a manager to reach out now."
    )
    occurred_at: Timestamp
    created_at: Timestamp
    channel: str
    customer_tier: str | None = None
    customer_lifecycle_stage: str | None = None
    customer_name: str | None = None
    nps_score: int | None = None
    rating: int | None = None
    subject: str | None = None
    text: str
    rules_version: str = Field(description="Version of the rule set that scored the ticket.")
    related_ticket_ids: list[str] = Field(
        default_factory=list,
        description="Earlier tickets of the same customer within the repeat-contact window "
        "(any channel), oldest first.",
    )
    brand: str | None = Field(
        default=None,
        max_length=100,
        description="The feedback event's brand or tenant id, if it had one (schema 1.3).",
    )
