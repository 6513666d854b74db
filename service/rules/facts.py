"""What the rules can see of one event, computed once.

The rule set's native program reads it into a compact record (``service/rules/_rules.pyx``,
which lists what it reads); the evidence of the rules that fired reads it as it is
(``service/rules/conditions.py``). The text model's reading (``negativity``, and the
``model_input`` it reads) is the one fact computed on first use: the program asks for it
only when a rule's outcome depends on it, which most events never do (a lexicon or score
rule has already decided: 90 % of the bench mix, 17 % of the public review and post
lines), and the model's prediction is the dearest fact of all."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.feedback import FeedbackEvent
from service.rules.matcher import TextSignals
from service.sentiment.model import NegativityModel, prepare

SHOUTING_THRESHOLD = 0.7


class Facts:
    """What the rules can see of one event, computed once."""

    __slots__ = (
        "_model_input",
        "_negativity",
        "_negativity_read",
        "channel",
        "choices",
        "event",
        "has_score",
        "language",
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
        # ``_value_``: an enum's ``value`` property costs three times the attribute
        self.tier = tier._value_ if tier is not None else None
        self.stage = stage._value_ if stage is not None else None
        text = event.text
        self.text_empty = not text or text.isspace()  # (``strip`` would copy the text)
        self.has_score = self.nps is not None or self.rating is not None
        #: each ``any`` node's first alternative that held (the program's run sets them)
        self.choices: list[int] = []
        #: the text model (what ``negativity`` reads; None: the rules read none)
        self.text_model = text_model
        self._model_input: str | None = None
        self._negativity: float | None = None
        self._negativity_read = False

    @property
    def model_input(self) -> str:
        """What the text model reads of the text (``prepare``), made on first use; empty
        without a model."""
        if self._model_input is None:
            signals = self.signals
            self._model_input = (
                prepare(signals.spaced, signals.normalized) if self.text_model is not None else ""
            )
        return self._model_input

    @property
    def negativity(self) -> float | None:
        """The text model's negativity (service/sentiment/model.py, decision 2), predicted
        on first use and kept; None without a model or without words."""
        if not self._negativity_read:
            model, prepared = self.text_model, self.model_input
            self._negativity = (
                model.negativity(prepared) if model is not None and prepared else None
            )
            self._negativity_read = True  # only once it is known: an error is raised again
        return self._negativity
