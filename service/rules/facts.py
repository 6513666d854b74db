"""What the rules can see of one event, computed once, and what of it they depend on."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache

from schemas.feedback import FeedbackEvent
from service.rules.matcher import TextSignals
from service.rules.model import Condition, Range, RuleSet
from service.sentiment.model import NegativityModel, prepare

SHOUTING_THRESHOLD = 0.7


class Facts:
    """What the rules can see of one event, computed once."""

    __slots__ = (
        "channel",
        "event",
        "fired",
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
        self.fired: set[str] = set()
        #: the text model and what it read (for the evidence of ``negativity``)
        self.text_model = text_model
        self.model_input = prepare(signals.spaced) if text_model is not None else ""
        #: P(neg) from the text model; None without a model or without words
        self.negativity: float | None = (
            text_model.negativity(self.model_input)
            if text_model is not None and self.model_input
            else None
        )


Signature = Callable[[Facts], tuple[object, ...]]


def signature_for(rules: RuleSet) -> Signature:
    """The signature function of a rule set: two events with the same signature fire the
    same rules. It holds everything a rule's ``holds`` can read (see
    ``conditions.compile_key``; keep the two in step), coarsened to what this rule set
    tells apart: a channel, tier, lifecycle stage or language that no condition names
    is, to every condition, the same as none at all (a membership test fails for both,
    its negation holds for both, and evidence names a value only when it is a member),
    and a score (NPS, rating, the text model's negativity) is its class
    (``_score_classes``). So a stream of many channels, tiers, languages and scores
    reuses far fewer, far more often used plans (the shipped rules name only the nine
    languages of the text model's thresholds, and no channel a private message uses)."""
    named: dict[str, set[str]] = {
        "channel": set(),
        "tier": set(),
        "stage": set(),
        "language": set(),
    }
    conditions = list(_conditions(rule.when for rule in rules.rules))
    for cond in conditions:
        named["channel"].update(cond.channel or ())
        named["tier"].update(cond.tier or ())
        named["stage"].update(cond.lifecycle_stage or ())
        named["language"].update(cond.language or ())
    channels, tiers = frozenset(named["channel"]), frozenset(named["tier"])
    stages, languages = frozenset(named["stage"]), frozenset(named["language"])
    nps_class = _score_classes([c.nps for c in conditions if c.nps is not None])
    rating_class = _score_classes([c.rating for c in conditions if c.rating is not None])
    negativity_class = _score_classes(
        [c.negativity for c in conditions if c.negativity is not None], cache=False
    )

    def signature(f: Facts) -> tuple[object, ...]:
        sig = f.signals
        nps, rating, negativity = f.nps, f.rating, f.negativity
        return (
            None if negativity is None else negativity_class(negativity),
            None if nps is None else nps_class(nps),
            None if rating is None else rating_class(rating),
            f.channel if f.channel in channels else None,
            f.tier if f.tier in tiers else None,
            f.stage if f.stage in stages else None,
            f.language if f.language in languages else None,
            frozenset(sig.hits),
            frozenset(sig.stated),
            frozenset(sig.hedged),
            frozenset(sig.intensified),
            f.shouting >= SHOUTING_THRESHOLD,
            bool(f.punctuation),
            f.text_empty,
            bool(f.related),
        )

    return signature


def _score_classes(ranges: list[Range], *, cache: bool = True) -> Callable[[float], int]:
    """A score's class: which of ``ranges`` (every range the rule set compares that score
    with) contain it. Scores of one class pass and fail the same conditions, so they
    share a plan: with the shipped rules an NPS of 0–10 falls into 4 classes (0–3, 4–6,
    7–8, 9–10), which is what lets a survey mailing's events reuse plans. The class is an
    int, one bit per distinct range, remembered per value (scores are small integers;
    ``cache=False`` for a probability, which hardly ever repeats)."""
    distinct = list({(r.min, r.max): r for r in ranges}.values())

    def score_class(value: float) -> int:
        return sum(1 << i for i, r in enumerate(distinct) if r.contains(value))

    return lru_cache(maxsize=1024)(score_class) if cache else score_class


def _conditions(roots: Iterable[Condition]) -> Iterator[Condition]:
    """Every condition, nested ones (``any``, ``all``, ``not``) included."""
    stack = list(roots)
    while stack:
        cond = stack.pop()
        yield cond
        stack.extend(cond.any or ())
        stack.extend(cond.all or ())
        if cond.not_ is not None:
            stack.append(cond.not_)


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
    if f.negativity is not None:
        found.add("negativity")
    found.add("channel:" + f.channel)
    found.add("lang:" + f.language)
    if f.tier is not None:
        found.add("tier:" + f.tier)
    if f.stage is not None:
        found.add("stage:" + f.stage)
    return found
