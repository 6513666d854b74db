"""Input: a customer's feedback, as published to ``feedback.events`` (key: customer id)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from schemas.common import SCHEMA_VERSION, ChannelName, LifecycleStage, Tier, Timestamp

Id = Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True)]


class Customer(BaseModel):
    """Who spoke. Only ``id`` is required; unknown fields are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: Id
    tier: Tier | None = None
    lifecycle_stage: LifecycleStage | None = None
    name: str | None = Field(default=None, max_length=512)


class FeedbackEvent(BaseModel):
    """One piece of customer feedback.

    ``event_id`` is the idempotency key: the same id always yields the same ticket id.
    Unknown fields are kept (and ignored by the rules), so publishers can add fields
    without coordinating a release of triage.
    """

    model_config = ConfigDict(
        extra="allow",
        frozen=True,
        json_schema_extra={"$comment": f"triage feedback event, schema {SCHEMA_VERSION}"},
    )

    schema_version: str | None = Field(
        default=None, description="Contract version the publisher wrote."
    )
    event_id: Id = Field(description="Idempotency key, unique per piece of feedback.")
    occurred_at: Timestamp = Field(description="When the customer spoke (RFC 3339 with offset).")
    channel: ChannelName = Field(
        description="nps_survey, review, email, chat, phone, social_media, in_app, app_store, forum, …"
    )
    customer: Customer
    text: str = Field(max_length=1_000_000, description="What the customer wrote; may be empty.")
    nps_score: int | None = Field(default=None, ge=0, le=10, strict=True)
    rating: int | None = Field(
        default=None, ge=1, le=5, strict=True, description="Star rating 1–5."
    )
    language: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$",
        description="BCP 47 tag; detected from the text when absent.",
    )
    subject: str | None = Field(default=None, max_length=2_000)
    metadata: dict[str, str] = Field(default_factory=dict)
    brand: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Brand or tenant id (schema 1.3); SLA policies can be chosen by it.",
    )
