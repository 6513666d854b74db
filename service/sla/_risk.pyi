"""Types of the compiled risk scan (``_risk.pyx``)."""

from collections.abc import Iterable

SOURCE_DIGEST: str

class Layout:
    head_size: int
    priority_at: int
    flags_at: int
    timer_size: int
    timer_flags_at: int
    due_at: int
    paused_at: int
    risk_at: int
    has_resolution: int
    has_update: int
    running: int
    none: int
    def __init__(
        self,
        head_size: int,
        priority_at: int,
        flags_at: int,
        timer_size: int,
        timer_flags_at: int,
        due_at: int,
        paused_at: int,
        risk_at: int,
        has_resolution: int,
        has_update: int,
        running: int,
        none: int,
    ) -> None: ...

def scan(
    clocks: Iterable[bytes], now_us: int, layout: Layout, priorities: int
) -> tuple[list[int], list[int], int | None]: ...
