"""Output: an escalation (``tickets.escalations``, key: ticket id).

Maps onto a pager: ``sla_warning``/``sla_breach``/``management_attention`` trigger an
incident with ``dedup_key`` (one per step since 1.4, so every level notifies);
``sla_recovered`` resolves every key in ``resolves``. ``sla_retargeted`` says an open
ticket's clocks moved to a new priority's targets; it pages nobody (``notify`` false).
Escalations with ``notify`` false are for dashboards only.
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
    SLA_RETARGETED = "sla_retargeted"


class Escalation(BaseModel):
    model_config = ConfigDict(frozen=True)

    schema_version: str = SCHEMA_VERSION
    escalation_id: str = Field(description="Deterministic: <ticket_id>:<cycle>:<step>.")
    dedup_key: str = Field(
        description="Pager dedup key. A warning or breach: its step, <ticket_id>:<cycle>:"
        "<step> (since 1.4; before, the cycle's key); sla_recovered: the cycle's key; "
        "management attention: <ticket_id>:management."
    )
    ticket_id: str
    customer_id: str
    kind: EscalationKind
    level: int = Field(ge=0)
    priority: Priority
    metric: str = Field(
        description="first_response, next_reply, resolution (since 1.4) or periodic_update "
        "(since 1.4)."
    )
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
    # Added in 1.4: per-step paging, pauses, re-targeting.
    cycle_key: str | None = Field(
        default=None,
        description="The cycle the step belongs to, <ticket_id>:<cycle> (what dedup_key "
        "was before 1.4): groups a cycle's steps.",
    )
    resolves: list[str] = Field(
        default_factory=list,
        description="sla_recovered: the dedup keys of the cycle's steps, each to resolve.",
    )
    notify: bool = Field(
        default=True,
        description="False: the SLA policy says this step pages nobody (dashboards only).",
    )
    paused_seconds: float = Field(
        default=0.0,
        ge=0,
        description="Time the cycle spent paused (pending, on hold, waiting on the "
        "customer), excluded from it: every step after a pause moved by as much.",
    )
    previous_priority: Priority | None = Field(
        default=None, description="sla_retargeted: the priority before the change."
    )
