from collections.abc import Sequence
from typing import Any

SOURCE_DIGEST: str

class NaiveBayesLanguages:
    languages: tuple[str, ...]
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
