from collections.abc import Sequence
from typing import Any

SOURCE_DIGEST: str
LONG_RUN: int
EOS: str

class CompiledTextModel:
    def __init__(
        self,
        words: Sequence[str],
        labels: Sequence[str],
        contributions: Any,
        logits: Any,
        minn: int,
        maxn: int,
        bucket: int,
        word_ngrams: int,
        label_prefix: str,
    ) -> None: ...
    def probabilities(self, prepared: str) -> tuple[float, ...]: ...
    def weight(self, token: str) -> tuple[float, int, str]: ...
    def explain(self, prepared: str, limit: int = 3) -> list[tuple[str, float]]: ...

SMILE: str
FROWN: str

def symbols(normalized: str, end: int, most: int) -> list[str]: ...
