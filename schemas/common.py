"""Types shared by several messages."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

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


_NOT_A_TIMESTAMP = "Value error, must be an RFC 3339 timestamp string with an offset"


class _TextOrDatetime:
    """Accept RFC 3339 text (or a datetime in code), never a bare number of seconds,
    which pydantic's lax datetime would read as a Unix time.

    A chain of pydantic-core's own validators: first the value must be a string or a
    datetime (strictly: no number, no bool), then the aware datetime parses it. It runs
    in pydantic-core alone; the Python ``BeforeValidator`` it replaced cost 0.8 µs an
    event, a quarter of validating one. The errors are the same, message included
    (``tests/unit/test_schemas.py``, and the hostile corpus's ``epoch_seconds``); the
    published JSON schemas are as before: the aware datetime's for input, the
    serializer's string for output."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.chain_schema(
            [
                core_schema.union_schema(
                    [core_schema.str_schema(strict=True), core_schema.datetime_schema(strict=True)],
                    custom_error_type="timestamp_type",
                    custom_error_message=_NOT_A_TIMESTAMP,
                ),
                handler(source),
            ]
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        if handler.mode == "validation":  # (serialized, it is the serializer's string)
            return handler(core_schema.datetime_schema())
        return handler(schema)


#: An RFC 3339 timestamp that must carry a UTC offset ("Z" or "+02:00"); written
#: back out in UTC with millisecond precision.
Timestamp = Annotated[
    AwareDatetime,
    _TextOrDatetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
]

#: Channel names are open-ended (publishers add new ones) but must look like an id.
ChannelName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
