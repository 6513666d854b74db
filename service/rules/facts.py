"""What the rules can see of one event, computed once.

The rule set's native program reads it into a compact record (``service/rules/_rules.pyx``,
which lists what it reads); the evidence of the rules that fired reads it as it is
(``service/rules/conditions.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.feedback import FeedbackEvent
from service.rules.matcher import TextSignals
from service.sentiment.model import NegativityModel, prepare

SHOUTING_THRESHOLD = 0.7


class Facts:
    """What the rules can see of one event, computed once."""

    __slots__ = (
        "channel",
        "choices",
        "event",
        "has_score",
        "language",
        "model_input",
        "negativity",
        "nps",
        "punctuation",
        "rating",
        "related",
        "shouting",
        "signals",
        "stage",
        "text_empty",
        "text_model",
        "tier",
    )

    def __init__(
        self,
        event: FeedbackEvent,
        language: str,
        signals: TextSignals,
        shouting: float,
        punctuation: list[str],
        related: Sequence[str] = (),
        text_model: NegativityModel | None = None,
    ) -> None:
        customer = event.customer
        self.event = event
        self.language = language
        self.signals = signals
        self.shouting = shouting
        self.punctuation = punctuation
        self.related = related
        self.nps = event.nps_score
        self.rating = event.rating
        self.channel = event.channel
        tier = customer.tier
        stage = customer.lifecycle_stage
        self.tier = tier.value if tier is not None else None
        self.stage = stage.value if stage is not None else None
        self.text_empty = not event.text.strip()
        self.has_score = self.nps is not None or self.rating is not None
        #: each ``any`` node's first alternative that held (the program's run sets them)
        self.choices: list[int] = []
        #: the text model and what it read (for the evidence of ``negativity``)
        self.text_model = text_model
        self.model_input = (
            prepare(signals.spaced, signals.normalized) if text_model is not None else ""
        )
        #: negativity from the text model (service/sentiment/model.py, decision 2); None
        #: without a model or without words
        self.negativity: float | None = (
            text_model.negativity(self.model_input)
            if text_model is not None and self.model_input
            else None
        )
