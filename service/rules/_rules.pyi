"""Types of the compiled rule program (``_rules.pyx``)."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from schemas.feedback import FeedbackEvent
from service.rules._scan import TextSignals
from service.sentiment.model import NegativityModel

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
WORDS: int
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

class Facts:
    event: FeedbackEvent
    language: str
    signals: TextSignals
    shouting: float
    punctuation: list[str]
    related: Sequence[str]
    nps: int | None
    rating: int | None
    channel: str
    tier: str | None
    stage: str | None
    text_empty: bool
    has_score: bool
    words: int
    choices: list[int]
    text_model: NegativityModel | None
    def __init__(
        self,
        event: FeedbackEvent,
        language: str,
        signals: TextSignals,
        shouting: float,
        punctuation: list[str],
        related: Sequence[str] = (),
        text_model: NegativityModel | None = None,
    ) -> None: ...
    @property
    def model_input(self) -> str: ...
    @property
    def negativity(self) -> float | None: ...
    @property
    def negativity_words(self) -> list[tuple[str, float]]: ...

class FactReader:
    def __init__(
        self,
        *,
        scan: Callable[[str], TextSignals],
        stopword_votes: Callable[..., Mapping[str, int]],
        normalize: Callable[[str], str],
        model_language: Callable[[str], str],
        text_model: NegativityModel | None,
        shouting_at: float,
        max_chars: int,
    ) -> None: ...
    def read(self, event: FeedbackEvent, related: Sequence[str] = ()) -> Facts: ...

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

WORDS_HIT: int
WORDS_INTENSIFIED: int

class Evidence:
    def __call__(self, facts: Any) -> list[str]: ...

class Called(Evidence):
    def __init__(self, explain: Callable[[Any], list[str]]) -> None: ...

class Field(Evidence):
    def __init__(self, name: str, attr: str) -> None: ...

class Fixed(Evidence):
    def __init__(self, words: list[str]) -> None: ...

class Joined(Evidence):
    def __init__(self, parts: tuple[Evidence, ...]) -> None: ...

class Chosen(Evidence):
    def __init__(self, slot: int, alternatives: tuple[Evidence, ...]) -> None: ...

class Words(Evidence):
    def __init__(self, names: list[str], bucket: int) -> None: ...

class StatedWords(Words):
    def __init__(self, names: list[str]) -> None: ...

class HedgedWords(Evidence):
    def __init__(self, names: list[str]) -> None: ...

def explain_fired(
    fired: list[int],
    evidence: list[Evidence],
    reasons: list[dict[str, Any]],
    actions: list[tuple[str, ...]],
    facts: Any,
) -> tuple[list[dict[str, Any]], list[str]]: ...

class Assessor:
    def __init__(
        self,
        reader: FactReader,
        program: Program,
        evidence: list[Evidence],
        reasons: list[dict[str, Any]],
        actions: list[tuple[str, ...]],
        categories: list[str],
        priorities: Mapping[int, Any],
        defaults: Mapping[Any, tuple[str, ...]],
        new_assessment: Callable[..., Any],
        debug_reasons: Callable[[Facts], list[dict[str, Any]]],
    ) -> None: ...
    def assess(
        self, event: FeedbackEvent, related: Sequence[str] = (), debug: bool = False
    ) -> Any: ...
