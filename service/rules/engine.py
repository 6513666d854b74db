"""The rule engine: a feedback event in, an explained assessment and a ticket out.

Every rule's condition is compiled once, when the engine is built, into a closure; per
event the facts (scores, channel, customer, lexicon hits with negation/hedging, shouting,
punctuation, earlier related tickets) are computed once in one pass over the text, then
the closures run in file order. A rule that fires adds its weight to the severity, may
bound the priority, and records its evidence.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from heapq import heappop, heappush

from schemas.common import Priority
from schemas.feedback import FeedbackEvent
from schemas.ticket import Reason, SlaInfo, Ticket
from service.rules.language import decide
from service.rules.model import Condition, Range, RuleSet, load_default_rules
from service.rules.text import (
    MAX_ANALYSED_CHARS,
    LexiconMatcher,
    TextSignals,
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
    related_ticket_ids: list[str] = field(default_factory=list)


Evidence = list[str]
Check = Callable[[Facts], Evidence | None]


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    id: str
    #: A necessary condition: the rule can only hold when one of these atoms is present
    #: (None: no cheap guard). Lets most rules be skipped with one set test.
    guard: frozenset[str] | None
    check: Check
    #: indices of later rules whose guard is "this rule fired"
    dependents: tuple[int, ...]
    weight: int
    category: str | None
    actions: tuple[str, ...]
    min_priority: Priority | None
    max_priority: Priority | None
    management_attention: bool


@lru_cache(maxsize=1)
def default_matcher() -> LexiconMatcher:
    """The matcher of the shipped rules (used by ``detect_language`` on its own)."""
    return RuleEngine(load_default_rules()).matcher


class RuleEngine:
    """Rules compiled once into closures; ``assess`` runs them in file order."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        ta = rules.text_analysis
        self.matcher = LexiconMatcher(
            rules.lexicons,
            negatable=ta.negatable,
            negation_window=ta.negation_window,
            hedge_window=ta.hedge_window,
            intensifier_window=ta.intensifier_window,
        )
        self._matcher = self.matcher
        self._bands = [
            (b.min_severity, b.priority)
            for b in sorted(rules.priorities, key=lambda b: b.min_severity, reverse=True)
        ]
        self._precedence = {name: i for i, name in enumerate(rules.category_precedence)}
        self._window_days = rules.repeat_contact_window_days
        self._window = _days(rules.repeat_contact_window_days)
        guards = [_guard(r.when) for r in rules.rules]
        by_atom: dict[str, list[int]] = {}
        for i, guard in enumerate(guards):
            for atom in guard or ():
                by_atom.setdefault(atom, []).append(i)
        self._by_atom = {a: tuple(ix) for a, ix in by_atom.items() if not a.startswith("rule:")}
        self._unguarded = tuple(i for i, g in enumerate(guards) if g is None)
        self._compiled = [
            _CompiledRule(
                id=r.id,
                guard=guards[i],
                check=_compile(r.when, self),
                dependents=tuple(by_atom.get("rule:" + r.id, ())),
                weight=r.weight,
                category=r.category,
                actions=tuple(r.actions),
                min_priority=r.min_priority,
                max_priority=r.max_priority,
                management_attention=r.management_attention,
            )
            for i, r in enumerate(rules.rules)
        ]
        self._base = rules.base_severity
        self._sla = dict(rules.sla_seconds)
        self._actions_by_priority = {p: list(a) for p, a in rules.actions_by_priority.items()}

    @property
    def repeat_window(self) -> timedelta:
        """Earlier tickets of the same customer within this window are related."""
        return self._window

    def facts(self, event: FeedbackEvent, related: Sequence[str] = ()) -> Facts:
        raw = event.text
        if len(raw) > MAX_ANALYSED_CHARS:
            raw = raw[:MAX_ANALYSED_CHARS]
        if event.subject:
            raw = f"{event.subject[:MAX_ANALYSED_CHARS]}\n{raw}"
        signals = self._matcher.scan(normalize(raw)) if raw else TextSignals()
        if event.language:
            language = event.language.split("-")[0].lower()
        elif raw:
            matcher = self._matcher
            language = decide(raw, signals.votes, lambda: matcher.stopword_votes(signals.spaced))
        else:
            language = "und"
        return Facts(event, language, signals, shouting_ratio(raw), angry_punctuation(raw), related)

    def assess(
        self, event: FeedbackEvent, related: Sequence[str] = (), *, debug: bool = False
    ) -> Assessment:
        """Score one event. ``related``: ids of the customer's earlier tickets in the window."""
        facts = self.facts(event, related)
        severity = self._base
        reasons: list[Reason] = []
        floor: Priority | None = None
        cap: Priority | None = None
        category: str | None = None
        category_rank = 1 << 30
        precedence = self._precedence
        actions: list[str] = []
        manager = False
        fired = facts.fired
        compiled = self._compiled
        by_atom = self._by_atom
        # Candidate rules: those whose guard meets an atom of this event (plus unguarded
        # ones), visited in file order; a rule that fires adds the rules guarded by it
        # (always later in the file, which the rule-file validation guarantees).
        candidates = set(self._unguarded)
        for atom in _atoms(facts):
            idx = by_atom.get(atom)
            if idx:
                candidates.update(idx)
        heap = sorted(candidates)
        while heap:
            rule = compiled[heappop(heap)]
            evidence = rule.check(facts)
            if evidence is None:
                continue
            fired.add(rule.id)
            for j in rule.dependents:
                if j not in candidates:
                    candidates.add(j)
                    heappush(heap, j)
            severity += rule.weight
            reasons.append(_reason(rule.id, rule.weight, evidence, rule.min_priority))
            if rule.min_priority and (floor is None or rule.min_priority.rank < floor.rank):
                floor = rule.min_priority
            if rule.max_priority and (cap is None or rule.max_priority.rank > cap.rank):
                cap = rule.max_priority
            if rule.category:
                rank = precedence.get(rule.category, len(precedence))
                if rank < category_rank:
                    category, category_rank = rule.category, rank
            if rule.actions:
                actions.extend(rule.actions)
            if rule.management_attention:
                manager = True
        if debug:
            reasons.extend(_debug_reasons(facts))
        severity = 0 if severity < 0 else 100 if severity > 100 else severity
        priority = Priority.P4
        for min_severity, band in self._bands:
            if severity >= min_severity:
                priority = band
                break
        if cap is not None and priority.rank < cap.rank:
            priority = cap
        if floor is not None and priority.rank > floor.rank:
            priority = floor
        defaults = self._actions_by_priority.get(priority, [])
        all_actions = list(dict.fromkeys([*defaults, *actions])) if actions else list(defaults)
        return Assessment(
            severity=severity,
            priority=priority,
            category=category or self.rules.default_category,
            reasons=reasons,
            actions=all_actions,
            management_attention=manager,
            language=facts.language,
            sla_seconds=self._sla[priority],
            related_ticket_ids=list(related),
        )

    def describe_window(self) -> str:
        days = self._window_days
        return f"{int(days)} days" if days == int(days) else f"{days:g} days"


_object_setattr = object.__setattr__


def _reason(
    rule_id: str, weight: int, evidence: list[str], min_priority: Priority | None
) -> Reason:
    """``Reason.model_construct`` without its per-field loop (the fields are trusted)."""
    reason: Reason = object.__new__(Reason)
    _object_setattr(
        reason,
        "__dict__",
        {"rule_id": rule_id, "weight": weight, "evidence": evidence, "min_priority": min_priority},
    )
    _object_setattr(
        reason, "__pydantic_fields_set__", {"rule_id", "weight", "evidence", "min_priority"}
    )
    _object_setattr(reason, "__pydantic_extra__", None)
    _object_setattr(reason, "__pydantic_private__", None)
    return reason


def _atoms(f: Facts) -> set[str]:
    """The facts of an event as atoms that rule guards test (see ``_guard``)."""
    atoms = {"lex:" + name for name in f.signals.hits}
    if f.nps is not None:
        atoms.add("nps")
    if f.rating is not None:
        atoms.add("rating")
    if f.related:
        atoms.add("related")
    if f.shouting >= SHOUTING_THRESHOLD:
        atoms.add("shouting")
    if f.punctuation:
        atoms.add("punct")
    if f.text_empty:
        atoms.add("empty")
    atoms.add("channel:" + f.channel)
    atoms.add("lang:" + f.language)
    if f.tier is not None:
        atoms.add("tier:" + f.tier)
    if f.stage is not None:
        atoms.add("stage:" + f.stage)
    return atoms


def _guard(cond: Condition) -> frozenset[str] | None:
    """Atoms of which at least one must be present for ``cond`` to hold, or None."""
    options: list[frozenset[str]] = []
    for key in cond.model_fields_set:
        g: frozenset[str] | None = None
        if key in ("text", "stated", "hedged", "intensified"):
            g = frozenset("lex:" + n for n in getattr(cond, key) or ())
        elif key == "nps":
            g = frozenset({"nps"})
        elif key == "rating":
            g = frozenset({"rating"})
        elif key == "has_score" and cond.has_score:
            g = frozenset({"nps", "rating"})
        elif key == "repeat_contact" and cond.repeat_contact:
            g = frozenset({"related"})
        elif key == "shouting" and cond.shouting:
            g = frozenset({"shouting"})
        elif key == "angry_punctuation" and cond.angry_punctuation:
            g = frozenset({"punct"})
        elif key == "text_empty" and cond.text_empty:
            g = frozenset({"empty"})
        elif key == "fired" and cond.fired:
            g = frozenset({"rule:" + cond.fired[-1]})
        elif key == "channel":
            g = frozenset("channel:" + c for c in cond.channel or ())
        elif key == "language":
            g = frozenset("lang:" + c for c in cond.language or ())
        elif key == "tier":
            g = frozenset("tier:" + c for c in cond.tier or ())
        elif key == "lifecycle_stage":
            g = frozenset("stage:" + c for c in cond.lifecycle_stage or ())
        elif key == "any":
            subs = [_guard(c) for c in cond.any or ()]
            if subs and all(sub is not None for sub in subs):
                g = frozenset().union(*(sub for sub in subs if sub is not None))
        elif key == "all":
            for sub in (_guard(c) for c in cond.all or ()):
                if sub is not None:
                    options.append(sub)
        if g is not None:
            options.append(g)
    if not options:
        return None
    return min(options, key=len)  # any one is necessary; the smallest is the sharpest


def _days(days: float) -> timedelta:
    return timedelta(days=days)


def _debug_reasons(facts: Facts) -> list[Reason]:
    sig = facts.signals
    out: list[Reason] = []
    for rule_id, bucket in (
        ("debug.negated", sig.negated),
        ("debug.hedged", sig.hedged),
        ("debug.intensified", sig.intensified),
    ):
        if bucket:
            evidence = [f"{name}: {w}" for name, words in bucket.items() for w in words]
            out.append(_reason(rule_id, 0, evidence, None))
    return out


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
        related_ticket_ids=assessment.related_ticket_ids,
    )


# --- conditions compiled into closures: each returns the evidence when it holds, None when not


def _compile(cond: Condition, engine: RuleEngine) -> Check:
    checks = [_compile_key(key, cond, engine) for key in sorted(cond.model_fields_set)]
    if len(checks) == 1:
        return checks[0]
    parts = tuple(checks)

    def all_keys(f: Facts) -> Evidence | None:
        evidence: Evidence = []
        for check in parts:
            found = check(f)
            if found is None:
                return None
            evidence.extend(found)
        return evidence

    return all_keys


def _range(name: str, rng: Range, get: Callable[[Facts], int | None]) -> Check:
    lo = rng.min if rng.min is not None else float("-inf")
    hi = rng.max if rng.max is not None else float("inf")

    def check(f: Facts) -> Evidence | None:
        value = get(f)
        if value is None or not lo <= value <= hi:
            return None
        return [f"{name}={value}"]

    return check


def _member(name: str, allowed: list[str], get: Callable[[Facts], str | None]) -> Check:
    allowed_set = frozenset(allowed)

    def check(f: Facts) -> Evidence | None:
        value = get(f)
        if value is None or value not in allowed_set:
            return None
        return [f"{name}={value}"]

    return check


def _flag(name: str, want: bool, predicate: Callable[[Facts], Evidence | None]) -> Check:
    negative = [f"not {name}"]

    def check(f: Facts) -> Evidence | None:
        ev = predicate(f)
        if want:
            return ev
        return list(negative) if ev is None else None

    return check


def _lexicon_check(
    names: list[str], bucket: Callable[[TextSignals], dict[str, list[str]]]
) -> Check:
    wanted = tuple(names)

    def check(f: Facts) -> Evidence | None:
        hits = bucket(f.signals)
        if not hits:
            return None
        found: Evidence | None = None
        for name in wanted:
            words = hits.get(name)
            if words:
                if found is None:
                    found = []
                found.extend(f"{name}: {w}" for w in words[:5])
        return found

    return check


def _stated(names: list[str]) -> Check:
    wanted = tuple(names)

    def check(f: Facts) -> Evidence | None:
        sig = f.signals
        found = [
            f"{name}: {w}" for name in wanted if name in sig.stated for w in sig.hits[name][:5]
        ]
        return found or None

    return check


def _hedged(names: list[str]) -> Check:
    wanted = tuple(names)

    def check(f: Facts) -> Evidence | None:
        sig = f.signals
        if not sig.hedged:
            return None
        found = [
            f"{name}: {w} (hedged)"
            for name in wanted
            if name not in sig.stated
            for w in sig.hedged.get(name, ())[:5]
        ]
        return found or None

    return check


def _text_empty(f: Facts) -> Evidence | None:
    return ["no text"] if f.text_empty else None


def _has_score(f: Facts) -> Evidence | None:
    return ["score given"] if f.has_score else None


def _shouting(f: Facts) -> Evidence | None:
    return [f"capitals {f.shouting:.0%}"] if f.shouting >= SHOUTING_THRESHOLD else None


def _punctuation(f: Facts) -> Evidence | None:
    return [f"punctuation {' '.join(f.punctuation[:3])}"] if f.punctuation else None


def _compile_key(key: str, cond: Condition, engine: RuleEngine) -> Check:
    if key == "nps":
        assert cond.nps is not None
        return _range("nps_score", cond.nps, lambda f: f.nps)
    if key == "rating":
        assert cond.rating is not None
        return _range("rating", cond.rating, lambda f: f.rating)
    if key == "channel":
        return _member("channel", cond.channel or [], lambda f: f.channel)
    if key == "tier":
        return _member("tier", cond.tier or [], lambda f: f.tier)
    if key == "lifecycle_stage":
        return _member("lifecycle_stage", cond.lifecycle_stage or [], lambda f: f.stage)
    if key == "language":
        return _member("language", cond.language or [], lambda f: f.language)
    if key == "text":
        return _lexicon_check(cond.text or [], lambda s: s.hits)
    if key == "stated":
        return _stated(cond.stated or [])
    if key == "hedged":
        return _hedged(cond.hedged or [])
    if key == "intensified":
        return _lexicon_check(cond.intensified or [], lambda s: s.intensified)
    if key == "text_empty":
        return _flag("text_empty", bool(cond.text_empty), _text_empty)
    if key == "has_score":
        return _flag("has_score", bool(cond.has_score), _has_score)
    if key == "shouting":
        return _flag("shouting", bool(cond.shouting), _shouting)
    if key == "angry_punctuation":
        return _flag("angry_punctuation", bool(cond.angry_punctuation), _punctuation)
    if key == "repeat_contact":
        window = engine.describe_window()

        def repeat(f: Facts) -> Evidence | None:
            n = len(f.related)
            if not n:
                return None
            shown = ", ".join(f.related[:5])
            return [f"{n} earlier ticket{'s' if n != 1 else ''} in {window}: {shown}"]

        return _flag("repeat_contact", bool(cond.repeat_contact), repeat)
    if key == "fired":
        refs = tuple(cond.fired or ())
        after = [f"after {r}" for r in refs]

        def fired(f: Facts) -> Evidence | None:
            done = f.fired
            for r in refs:
                if r not in done:
                    return None
            return list(after)

        return fired
    if key == "any":
        subs = tuple(_compile(c, engine) for c in cond.any or ())

        def any_of(f: Facts) -> Evidence | None:
            for sub in subs:
                ev = sub(f)
                if ev is not None:
                    return ev
            return None

        return any_of
    if key == "all":
        subs = tuple(_compile(c, engine) for c in cond.all or ())

        def all_of(f: Facts) -> Evidence | None:
            found: Evidence = []
            for sub in subs:
                ev = sub(f)
                if ev is None:
                    return None
                found.extend(ev)
            return found

        return all_of
    if key == "not_":
        assert cond.not_ is not None
        inner = _compile(cond.not_, engine)

        def not_(f: Facts) -> Evidence | None:
            return [] if inner(f) is None else None

        return not_
    raise ValueError(f"unknown condition key {key!r}")  # pragma: no cover - model forbids it
