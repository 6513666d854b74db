from collections.abc import Sequence
from typing import Any

SOURCE_DIGEST: str

class NaiveBayesLanguages:
    languages: tuple[str, ...]
    dense_states: int
    def __init__(
        self,
        transitions: Any,
        row_starts: Sequence[int],
        emits: Sequence[int],
        weights: Any,
        priors: Sequence[float],
        languages: Sequence[str],
    ) -> None: ...
    def classify(self, text: str) -> str: ...
    def next_state(self, state: int, byte: int) -> int: ...
