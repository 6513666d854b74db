from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import Any
from uuid import UUID

SOURCE_DIGEST: str
TICKET_NAMESPACE: UUID

def ticket_bytes(
    event: Any,
    assessment: Any,
    ticket_id: str,
    created_at: str,
    rules_version: str,
    target_seconds: int,
    due_at: str,
    policy_id: str | None,
    occurred_at: str,
) -> bytes: ...
def pack_tickets(tickets: list[tuple[datetime, str, bool]]) -> bytes: ...
def unpack_tickets(
    packed: bytes, zone_of: Callable[[timedelta], tzinfo]
) -> list[tuple[datetime, str, bool]]: ...
def remember(
    packed: bytes | None, occurred_at: datetime, ticket_id: str, negative: bool, limit: int
) -> bytes | None: ...
def recent_ids(
    packed: bytes,
    occurred_at: datetime,
    window: timedelta,
    exclude: str | None,
    negative_only: bool,
) -> list[str]: ...
def forget_before(packed: bytes, before: datetime) -> bytes | None: ...
def customer_record_bytes(customer_id: str, packed: bytes) -> bytes: ...
def ticket_id_for(event_id: str) -> str: ...
