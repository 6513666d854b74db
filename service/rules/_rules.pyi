"""Types of the compiled rule program (``_rules.pyx``)."""

from typing import Any

SOURCE_DIGEST: str
TRUE: int
RANGE: int
MEMBER: int
LEXICON: int
FLAG: int
FIRED: int
ANY: int
ALL: int
NOT: int
NPS: int
RATING: int
NEGATIVITY: int
CHANNEL: int
TIER: int
STAGE: int
LANGUAGE: int
HITS: int
STATED: int
HEDGED_ONLY: int
INTENSIFIED: int
TEXT_EMPTY: int
HAS_SCORE: int
SHOUTING: int
PUNCTUATION: int
REPEAT_CONTACT: int

class Program:
    def __init__(
        self,
        nodes: list[tuple[int, int, int, float, float, tuple[int, ...]]],
        roots: list[int],
        lexicons: dict[str, int],
        members: tuple[dict[str, int], ...],
        weights: list[int],
        min_ranks: list[int],
        max_ranks: list[int],
        category_ranks: list[int],
        management: list[bool],
        bands: list[tuple[int, int]],
        base: int,
        choices: int,
        shouting_at: float,
    ) -> None: ...
    def run(self, facts: Any) -> tuple[list[int], int, int, int, bool, list[int]]: ...
