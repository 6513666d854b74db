"""What the rules can see of one event, computed once, and what of it they depend on."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.feedback import FeedbackEvent
from service.rules.matcher import TextSignals

SHOUTING_THRESHOLD = 0.7


class Facts:
    """What the rules can see of one event, computed once."""

    __slots__ = (
        "channel",
        "event",
        "fired",
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
        self.fired: set[str] = set()


def signature(f: Facts) -> tuple[object, ...]:
    """Everything a rule's ``holds`` can read (see ``conditions.compile_key``): two events
    with the same signature fire the same rules. Keep in step with the condition keys."""
    sig = f.signals
    return (
        f.nps,
        f.rating,
        f.channel,
        f.tier,
        f.stage,
        f.language,
        frozenset(sig.hits),
        frozenset(sig.stated),
        frozenset(sig.hedged),
        frozenset(sig.intensified),
        f.shouting >= SHOUTING_THRESHOLD,
        bool(f.punctuation),
        f.text_empty,
        bool(f.related),
    )


def atoms(f: Facts) -> set[str]:
    """The facts of an event as atoms that rule guards test (see ``conditions.guard``)."""
    found = {"lex:" + name for name in f.signals.hits}
    if f.nps is not None:
        found.add("nps")
    if f.rating is not None:
        found.add("rating")
    if f.related:
        found.add("related")
    if f.shouting >= SHOUTING_THRESHOLD:
        found.add("shouting")
    if f.punctuation:
        found.add("punct")
    if f.text_empty:
        found.add("empty")
    found.add("channel:" + f.channel)
    found.add("lang:" + f.language)
    if f.tier is not None:
        found.add("tier:" + f.tier)
    if f.stage is not None:
        found.add("stage:" + f.stage)
    return found
