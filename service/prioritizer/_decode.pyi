from typing import Any

from schemas.feedback import FeedbackEvent

SOURCE_DIGEST: str

def raw_counts(raw: bytes) -> tuple[int, int]: ...
def parsed_colons(document: Any) -> int: ...

EVENT_FIELDS: tuple[str, ...]
CUSTOMER_FIELDS: tuple[str, ...]
MAX_ID: int
MAX_TEXT: int
MAX_SUBJECT: int
MAX_NAME: int
MAX_BRAND: int
NPS_RANGE: tuple[int, int]
RATING_RANGE: tuple[int, int]
MAX_CHANNEL: int
MAX_SUBTAG: int
ENABLED: bool

def event_of(document: dict[str, Any]) -> FeedbackEvent | None: ...
def common_event(value: bytes | None, limits: Any, now: Any) -> FeedbackEvent | None: ...
