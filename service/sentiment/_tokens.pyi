from collections.abc import Sequence
from typing import Any

SOURCE_DIGEST: str
LONG_RUN: int
EOS: str

class TokenWeights:
    def __init__(
        self,
        words: Sequence[str],
        labels: Sequence[str],
        contributions: Any,
        minn: int,
        maxn: int,
        bucket: int,
    ) -> None: ...
    def weight(self, token: str) -> tuple[float, int, str]: ...
    def explain(self, prepared: str, limit: int = 3) -> list[tuple[str, float]]: ...
