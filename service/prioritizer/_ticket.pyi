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
def customer_record_bytes(customer_id: str, tickets: list[tuple[Any, str, bool]]) -> bytes: ...
def ticket_id_for(event_id: str) -> str: ...
