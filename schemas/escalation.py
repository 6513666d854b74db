"""Output: an escalation (``tickets.escalations``, key: ticket id).

Maps onto a pager: ``sla_warning``/``sla_breach``/``management_attention`` trigger an
incident with ``dedup_key``; ``sla_recovered`` resolves it.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import SCHEMA_VERSION, Priority, Timestamp


class EscalationKind(StrEnum):
    MANAGEMENT_ATTENTION = "management_attention"
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    SLA_RECOVERED = "sla_recovered"


class Escalation(BaseModel):
    model_config = ConfigDict(frozen=True)

    schema_version: str = SCHEMA_VERSION
    escalation_id: str = Field(description="Deterministic: <ticket_id>:<metric>:<step>.")
    dedup_key: str = Field(description="Pager dedup key: <ticket_id>:<metric>[:<cycle>].")
    ticket_id: str
    customer_id: str
    kind: EscalationKind
    level: int = Field(ge=0)
    priority: Priority
    metric: str = Field(description="first_response or next_reply.")
    due_at: Timestamp
    emitted_at: Timestamp
    overdue_seconds: float
    # Added within 1.x (optional; absent from escalations written before): what a pager's
    # routing and the people it wakes need to know about the ticket.
    category: str | None = Field(
        default=None, description="The ticket's category (e.g. churn_threat, frustrated)."
    )
    customer_tier: str | None = Field(
        default=None, description="The customer's tier, when the feedback named one."
    )
    rule_ids: list[str] = Field(
        default_factory=list,
        description="Ids of the rules that fired for the ticket (its reasons), in order.",
    )
