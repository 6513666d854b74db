"""The rule engine: a feedback event in, an explained assessment and a ticket out.

Every rule is evaluated in file order against facts computed once per event (scores,
channel, customer, lexicon hits, shouting, punctuation). A rule that fires adds its
weight to the severity, may bound the priority, and records its evidence.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.common import Priority
from schemas.feedback import FeedbackEvent
from schemas.ticket import Reason, SlaInfo, Ticket
from service.rules.language import detect_language
from service.rules.model import Condition, RuleSet
from service.rules.text import (
    MAX_ANALYSED_CHARS,
    LexiconMatcher,
    angry_punctuation,
    normalize,
    shouting_ratio,
)

#: Namespace of ticket ids: uuid5(TICKET_NAMESPACE, event_id). Never change it, or
#: redelivered events would get new ticket ids.
TICKET_NAMESPACE = uuid.UUID("6f1d3c1e-7a53-5b8e-9f0e-4c2b7d1a9e11")
SHOUTING_THRESHOLD = 0.7


def ticket_id_for(event_id: str) -> str:
    return str(uuid.uuid5(TICKET_NAMESPACE, event_id))


@dataclass(slots=True)
class Facts:
    """What the rules can see of one event, computed once."""

    event: FeedbackEvent
    language: str
    lexicon_hits: dict[str, list[str]]
    shouting: float
    punctuation: list[str]
    fired: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Assessment:
    severity: int
    priority: Priority
    category: str
    reasons: list[Reason]
    actions: list[str]
    management_attention: bool
    language: str
    sla_seconds: int


Evidence = list[str]


class RuleEngine:
    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self._matcher = LexiconMatcher(rules.lexicons)
        self._bands = sorted(rules.priorities, key=lambda b: b.min_severity, reverse=True)
        self._precedence = {name: i for i, name in enumerate(rules.category_precedence)}

    def facts(self, event: FeedbackEvent) -> Facts:
        raw = event.text[:MAX_ANALYSED_CHARS]
        if event.subject:
            raw = f"{event.subject[:MAX_ANALYSED_CHARS]}\n{raw}"
        language = (event.language or "").split("-")[0].lower() or detect_language(raw)
        return Facts(
            event=event,
            language=language,
            lexicon_hits=self._matcher.match(normalize(raw)) if raw else {},
            shouting=shouting_ratio(raw),
            punctuation=angry_punctuation(raw),
        )

    def assess(self, event: FeedbackEvent) -> Assessment:
        facts = self.facts(event)
        severity = self.rules.base_severity
        reasons: list[Reason] = []
        floor: Priority | None = None
        cap: Priority | None = None
        categories: list[str] = []
        actions: list[str] = []
        manager = False
        for rule in self.rules.rules:
            evidence = _evaluate(rule.when, facts)
            if evidence is None:
                continue
            facts.fired.add(rule.id)
            severity += rule.weight
            reasons.append(  # fields are already valid: skip re-validation on the hot path
                Reason.model_construct(
                    rule_id=rule.id,
                    weight=rule.weight,
                    evidence=evidence,
                    min_priority=rule.min_priority,
                )
            )
            if rule.min_priority and (floor is None or rule.min_priority.rank < floor.rank):
                floor = rule.min_priority
            if rule.max_priority and (cap is None or rule.max_priority.rank > cap.rank):
                cap = rule.max_priority
            if rule.category:
                categories.append(rule.category)
            actions.extend(rule.actions)
            manager = manager or rule.management_attention
        severity = max(0, min(100, severity))
        priority = self._band(severity)
        if cap is not None and priority.rank < cap.rank:
            priority = cap
        if floor is not None and priority.rank > floor.rank:
            priority = floor
        category = self._category(categories)
        all_actions = list(
            dict.fromkeys([*self.rules.actions_by_priority.get(priority, []), *actions])
        )
        return Assessment(
            severity=severity,
            priority=priority,
            category=category,
            reasons=reasons,
            actions=all_actions,
            management_attention=manager,
            language=facts.language,
            sla_seconds=self.rules.sla_seconds[priority],
        )

    def _band(self, severity: int) -> Priority:
        for band in self._bands:
            if severity >= band.min_severity:
                return band.priority
        return Priority.P4  # unreachable: a band with min_severity 0 is required

    def _category(self, categories: list[str]) -> str:
        if not categories:
            return self.rules.default_category
        last = len(self._precedence)
        return min(categories, key=lambda c: self._precedence.get(c, last))


def build_ticket(
    event: FeedbackEvent, assessment: Assessment, now: datetime, rules_version: str
) -> Ticket:
    """Assemble the ticket; the SLA clock starts when the customer spoke."""
    due = event.occurred_at + timedelta(seconds=assessment.sla_seconds)
    customer = event.customer
    # Everything below comes from a validated event and a validated rule set, so the
    # ticket is constructed without re-validation (it is the hot path).
    return Ticket.model_construct(
        ticket_id=ticket_id_for(event.event_id),
        event_id=event.event_id,
        customer_id=customer.id,
        priority=assessment.priority,
        severity=assessment.severity,
        category=assessment.category,
        reasons=assessment.reasons,
        language=assessment.language,
        sla=SlaInfo.model_construct(
            target_seconds=assessment.sla_seconds, first_response_due_at=due
        ),
        actions=assessment.actions,
        management_attention=assessment.management_attention,
        occurred_at=event.occurred_at,
        created_at=now,
        channel=event.channel,
        customer_tier=customer.tier.value if customer.tier else None,
        customer_lifecycle_stage=customer.lifecycle_stage.value
        if customer.lifecycle_stage
        else None,
        customer_name=customer.name,
        nps_score=event.nps_score,
        rating=event.rating,
        subject=event.subject,
        text=event.text,
        rules_version=rules_version,
    )


# --- condition evaluation: each returns the evidence when it holds, None when not ---


def _evaluate(cond: Condition, facts: Facts) -> Evidence | None:
    evidence: Evidence = []
    for key in cond.model_fields_set:
        check = _CHECKS[key]
        found = check(cond, facts)
        if found is None:
            return None
        evidence.extend(found)
    return evidence


def _nps(cond: Condition, f: Facts) -> Evidence | None:
    score = f.event.nps_score
    assert cond.nps is not None
    if score is None or not cond.nps.contains(score):
        return None
    return [f"nps_score={score}"]


def _rating(cond: Condition, f: Facts) -> Evidence | None:
    rating = f.event.rating
    assert cond.rating is not None
    if rating is None or not cond.rating.contains(rating):
        return None
    return [f"rating={rating}"]


def _member(
    attr: str, value: Callable[[Facts], str | None]
) -> Callable[[Condition, Facts], Evidence | None]:
    def check(cond: Condition, f: Facts) -> Evidence | None:
        allowed: list[str] = getattr(cond, attr)
        actual = value(f)
        if actual is None or actual not in allowed:
            return None
        return [f"{attr}={actual}"]

    return check


def _text(cond: Condition, f: Facts) -> Evidence | None:
    found: Evidence = []
    for name in cond.text or ():
        words = f.lexicon_hits.get(name)
        if words:
            found.extend(f"{name}: {w}" for w in words[:5])
    return found or None


def _flag(
    predicate: Callable[[Facts], Evidence | None], attr: str
) -> Callable[[Condition, Facts], Evidence | None]:
    def check(cond: Condition, f: Facts) -> Evidence | None:
        want: bool = getattr(cond, attr)
        ev = predicate(f)
        if want:
            return ev
        return [f"not {attr}"] if ev is None else None

    return check


def _text_empty(f: Facts) -> Evidence | None:
    return ["no text"] if not f.event.text.strip() else None


def _has_score(f: Facts) -> Evidence | None:
    return ["score given"] if f.event.nps_score is not None or f.event.rating is not None else None


def _shouting(f: Facts) -> Evidence | None:
    return [f"capitals {f.shouting:.0%}"] if f.shouting >= SHOUTING_THRESHOLD else None


def _punctuation(f: Facts) -> Evidence | None:
    return [f"punctuation {' '.join(f.punctuation[:3])}"] if f.punctuation else None


def _fired(cond: Condition, f: Facts) -> Evidence | None:
    refs = cond.fired or []
    return [f"after {r}" for r in refs] if all(r in f.fired for r in refs) else None


def _any(cond: Condition, f: Facts) -> Evidence | None:
    for sub in cond.any or ():
        ev = _evaluate(sub, f)
        if ev is not None:
            return ev
    return None


def _all(cond: Condition, f: Facts) -> Evidence | None:
    found: Evidence = []
    for sub in cond.all or ():
        ev = _evaluate(sub, f)
        if ev is None:
            return None
        found.extend(ev)
    return found


def _not(cond: Condition, f: Facts) -> Evidence | None:
    assert cond.not_ is not None
    return [] if _evaluate(cond.not_, f) is None else None


_CHECKS: dict[str, Callable[[Condition, Facts], Evidence | None]] = {
    "nps": _nps,
    "rating": _rating,
    "channel": _member("channel", lambda f: f.event.channel),
    "tier": _member("tier", lambda f: f.event.customer.tier),
    "lifecycle_stage": _member("lifecycle_stage", lambda f: f.event.customer.lifecycle_stage),
    "language": _member("language", lambda f: f.language),
    "text": _text,
    "text_empty": _flag(_text_empty, "text_empty"),
    "has_score": _flag(_has_score, "has_score"),
    "shouting": _flag(_shouting, "shouting"),
    "angry_punctuation": _flag(_punctuation, "angry_punctuation"),
    "fired": _fired,
    "any": _any,
    "all": _all,
    "not_": _not,
}
