from typing import Any

SOURCE_DIGEST: str

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
