"""Types shared by several messages."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator, PlainSerializer, StringConstraints

# Every timestamp of the contract is written by this one function (compiled: it runs
# twice per ticket): an aware datetime as RFC 3339 in UTC with millisecond precision.
from schemas._rfc3339 import rfc3339 as rfc3339

#: Version of the message contract. Changes are additive within a major version.
SCHEMA_VERSION = "1.4"


class Priority(StrEnum):
    """Ticket priority, P1 (urgent) to P4 (low)."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def rank(self) -> int:
        """1 for P1 … 4 for P4; a smaller rank is more urgent."""
        return int(self.value[1])

    @classmethod
    def from_rank(cls, rank: int) -> Priority:
        return cls(f"P{min(4, max(1, rank))}")


class Channel(StrEnum):
    """Channels the default rules know. Publishers may send others (see ChannelName)."""

    NPS_SURVEY = "nps_survey"
    REVIEW = "review"
    EMAIL = "email"
    CHAT = "chat"
    PHONE = "phone"
    SOCIAL_MEDIA = "social_media"
    IN_APP = "in_app"
    APP_STORE = "app_store"
    FORUM = "forum"

    @classmethod
    def public(cls) -> frozenset[str]:
        """Channels where other prospective customers can read what was said."""
        return frozenset({cls.REVIEW, cls.SOCIAL_MEDIA, cls.APP_STORE, cls.FORUM})


class Tier(StrEnum):
    FREE = "free"
    STANDARD = "standard"
    PREMIUM = "premium"
    ENTERPRISE = "enterprise"


class LifecycleStage(StrEnum):
    TRIAL = "trial"
    ONBOARDING = "onboarding"
    ACTIVE = "active"
    RENEWAL = "renewal"
    CHURNED = "churned"


def _text_or_datetime(value: object) -> object:
    """Accept RFC 3339 text (or a datetime in code), never a bare number of seconds."""
    if isinstance(value, str | datetime):
        return value
    raise ValueError("must be an RFC 3339 timestamp string with an offset")


#: An RFC 3339 timestamp that must carry a UTC offset ("Z" or "+02:00"); written
#: back out in UTC with millisecond precision.
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_text_or_datetime),
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
]

#: Channel names are open-ended (publishers add new ones) but must look like an id.
ChannelName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
