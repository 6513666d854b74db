"""The rule engine: a feedback event in, an explained assessment and a ticket out.

Every rule's condition is compiled once, when the engine is built, into a closure; per
event the facts (scores, channel, customer, lexicon hits with negation/hedging, shouting,
punctuation, earlier related tickets) are computed once in one pass over the text, then
the closures run in file order. A rule that fires adds its weight to the severity, may
bound the priority, and records its evidence.

Which rules fire depends only on a small signature of the facts (scores, channel,
customer, language, which lexicons matched and how, the tone flags); the outcome for a
signature (fired rules, severity, priority, category, actions) is computed once and kept,
so most events only gather the evidence — the words they said — of the fired rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from hashlib import sha1
from operator import attrgetter

from pydantic import BaseModel

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
#: Plans kept per engine (signatures repeat: few lexicon combinations × channels × tiers).
PLAN_CACHE_SIZE = 4096


_NAMESPACE_BYTES = TICKET_NAMESPACE.bytes


def ticket_id_for(event_id: str) -> str:
    """``str(uuid.uuid5(TICKET_NAMESPACE, event_id))``, without building a ``UUID``
    (the same SHA-1 and version/variant bits; a unit test holds the two equal)."""
    raw = bytearray(sha1(_NAMESPACE_BYTES + event_id.encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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
#: fired rules (index, evidence when it depends only on the signature), severity,
#: priority, category, actions, management attention
_Plan = tuple[tuple[tuple[int, Evidence | None], ...], int, Priority, str, tuple[str, ...], bool]
Holds = Callable[[Facts], bool]
Explain = Callable[[Facts], Evidence]


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    id: str
    #: A necessary condition: the rule can only hold when one of these atoms is present
    #: (None: no cheap guard). Lets most rules be skipped with one set test.
    guard: frozenset[str] | None
    holds: Holds
    explain: Explain
    #: indices of later rules whose guard is "this rule fired"
    dependents: tuple[int, ...]
    weight: int
    category: str | None
    actions: tuple[str, ...]
    min_priority: Priority | None
    max_priority: Priority | None
    management_attention: bool
    #: the evidence depends only on the facts' signature (see ``_pure``)
    pure: bool
    #: precomputed: ranks of the priority bounds (0: none) and of the category
    min_rank: int
    max_rank: int
    category_rank: int


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
            (b.min_severity, b.priority.rank)
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
        self._unguarded_flags = bytes(1 if g is None else 0 for g in guards)
        self._compiled = [
            _CompiledRule(
                id=r.id,
                guard=guards[i],
                holds=(compiled := _compile(r.when, self))[0],
                explain=compiled[1],
                pure=_pure(r.when),
                dependents=tuple(by_atom.get("rule:" + r.id, ())),
                weight=r.weight,
                category=r.category,
                actions=tuple(r.actions),
                min_priority=r.min_priority,
                max_priority=r.max_priority,
                management_attention=r.management_attention,
                min_rank=r.min_priority.rank if r.min_priority else 0,
                max_rank=r.max_priority.rank if r.max_priority else 0,
                category_rank=self._precedence.get(r.category, len(self._precedence))
                if r.category
                else _NO_RANK,
            )
            for i, r in enumerate(rules.rules)
        ]
        #: each rule's ``Reason`` fields but the evidence, by file position
        self._reason_fields: list[dict[str, object]] = [
            {"rule_id": c.id, "weight": c.weight, "evidence": None, "min_priority": c.min_priority}
            for c in self._compiled
        ]
        #: each rule's condition by file position (most candidates only need this)
        self._holds = [c.holds for c in self._compiled]
        self._by_rank = {p.rank: p for p in Priority}
        #: signature of the facts → plan (see ``assess``)
        self._plans: dict[tuple[object, ...], _Plan] = {}
        # the rules guarded by "this rule fired" come later (the rule-file validation
        # guarantees it), so one pass in file order sees them
        assert all(j > i for i, c in enumerate(self._compiled) for j in c.dependents)
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
        # the exact share of capitals matters only from the threshold on
        shouting = shouting_ratio(raw, at_least=SHOUTING_THRESHOLD)
        return Facts(event, language, signals, shouting, angry_punctuation(raw), related)

    def assess(
        self, event: FeedbackEvent, related: Sequence[str] = (), *, debug: bool = False
    ) -> Assessment:
        """Score one event. ``related``: ids of the customer's earlier tickets in the window."""
        facts = self.facts(event, related)
        # Which rules fire, and so severity, priority, category and actions, depend only on
        # the facts' signature; the plan for a signature is computed once and then only
        # the evidence of the fired rules is gathered (the words differ event to event).
        key = _signature(facts)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(facts)
            if len(self._plans) >= PLAN_CACHE_SIZE:
                self._plans.clear()
            self._plans[key] = plan
            facts.fired.clear()
        fired_ids, severity, priority, category, actions, manager = plan
        compiled = self._compiled
        templates = self._reason_fields
        fired = facts.fired
        reasons: list[Reason] = []
        # each reason as ``_reason`` builds it, inlined (a dozen per event)
        new, set_dict, set_fields_set, set_extra, set_private = _REASON_SETTERS
        for i, known in fired_ids:
            rule = compiled[i]
            # explained in file order, with exactly the earlier rules marked fired
            fields = templates[i].copy()
            fields["evidence"] = rule.explain(facts) if known is None else known.copy()
            reason = new(Reason)
            set_dict(reason, fields)
            set_fields_set(reason, set(_REASON_FIELDS))
            set_extra(reason, None)
            set_private(reason, None)
            reasons.append(reason)
            fired.add(rule.id)
        if debug:
            reasons.extend(_debug_reasons(facts))
        return Assessment(
            severity=severity,
            priority=priority,
            category=category,
            reasons=reasons,
            actions=list(actions),
            management_attention=manager,
            language=facts.language,
            sla_seconds=self._sla[priority],
            related_ticket_ids=list(related),
        )

    def _plan(self, facts: Facts) -> _Plan:
        """Run the rules' conditions: which fire (in file order) and what follows."""
        severity = self._base
        floor = 0  # most urgent min_priority rank of the fired rules (0: none)
        cap = 0  # least urgent max_priority rank (0: none)
        category: str | None = None
        category_rank = _NO_RANK
        actions: list[str] = []
        manager = False
        fired = facts.fired
        fired_ids: list[tuple[int, Evidence | None]] = []
        compiled = self._compiled
        by_atom = self._by_atom
        # Candidate rules (flags by file position): those whose guard meets an atom of
        # this event, plus unguarded ones, visited in file order; a rule that fires adds
        # the rules guarded by it (always later in the file, which the rule-file validation
        # guarantees).
        candidate = bytearray(self._unguarded_flags)
        for atom in _atoms(facts):
            idx = by_atom.get(atom)
            if idx:
                for j in idx:
                    candidate[j] = 1
        holds = self._holds
        find = candidate.find
        i = find(1)
        while i != -1:
            if holds[i](facts):
                rule = compiled[i]
                fired_ids.append((i, rule.explain(facts) if rule.pure else None))
                fired.add(rule.id)
                for j in rule.dependents:
                    candidate[j] = 1
                severity += rule.weight
                if rule.min_rank and (not floor or rule.min_rank < floor):
                    floor = rule.min_rank
                if rule.max_rank > cap:
                    cap = rule.max_rank
                if rule.category_rank < category_rank:
                    category, category_rank = rule.category, rule.category_rank
                if rule.actions:
                    actions.extend(rule.actions)
                if rule.management_attention:
                    manager = True
            i = find(1, i + 1)
        severity = 0 if severity < 0 else 100 if severity > 100 else severity
        rank = 4
        for min_severity, band_rank in self._bands:
            if severity >= min_severity:
                rank = band_rank
                break
        if cap and rank < cap:
            rank = cap
        if floor and rank > floor:
            rank = floor
        priority = self._by_rank[rank]
        defaults = self._actions_by_priority.get(priority, [])
        all_actions = tuple(dict.fromkeys([*defaults, *actions])) if actions else tuple(defaults)
        return (
            tuple(fired_ids),
            severity,
            priority,
            category or self.rules.default_category,
            all_actions,
            manager,
        )

    def describe_window(self) -> str:
        days = self._window_days
        return f"{int(days)} days" if days == int(days) else f"{days:g} days"


def _signature(f: Facts) -> tuple[object, ...]:
    """Everything a rule's ``holds`` can read (see ``_compile_key``): two events with the
    same signature fire the same rules. Keep in step with the condition keys."""
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


#: category rank of a rule without a category (never chosen)
_NO_RANK = 1 << 30
_new = object.__new__
# BaseModel's ``__dict__`` and slots, set through their descriptors (what
# ``object.__setattr__`` would find after a type lookup)
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


_REASON_FIELDS = frozenset({"rule_id", "weight", "evidence", "min_priority"})
_REASON_SETTERS = (_new, _set_dict, _set_fields_set, _set_extra, _set_private)


def _reason(
    rule_id: str, weight: int, evidence: list[str], min_priority: Priority | None
) -> Reason:
    """``Reason.model_construct`` without its per-field loop (the fields are trusted)."""
    reason: Reason = _new(Reason)
    _set_dict(
        reason,
        {"rule_id": rule_id, "weight": weight, "evidence": evidence, "min_priority": min_priority},
    )
    _set_fields_set(reason, set(_REASON_FIELDS))
    _set_extra(reason, None)
    _set_private(reason, None)
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


# --- conditions compiled into closures -----------------------------------------------
#
# Every condition becomes two closures: ``holds(facts) -> bool``, cheap and run for every
# candidate rule, and ``evidence(facts) -> list[str]``, run only for a rule that fired
# (right after ``holds``, on the same facts), so no evidence string is built in vain.
# The evidence is what the condition matched: the keys of a condition in sorted order,
# concatenated; for ``any`` the first alternative that holds; nothing for ``not``.


def _compile(cond: Condition, engine: RuleEngine) -> tuple[Holds, Explain]:
    keys = sorted(cond.model_fields_set)
    compiled = [_compile_key(key, cond, engine) for key in keys]
    if len(compiled) == 1:
        return compiled[0]
    preds = tuple(c[0] for c in compiled)
    explains = tuple(c[1] for c in compiled)
    if len(preds) == 2:
        p0, p1 = preds

        def holds2(f: Facts) -> bool:
            return p0(f) and p1(f)

        holds: Holds = holds2
    else:

        def holds(f: Facts) -> bool:
            return all(pred(f) for pred in preds)

    return holds, _concat(explains)


def _concat(explains: tuple[Explain, ...]) -> Explain:
    def evidence(f: Facts) -> Evidence:
        found: Evidence = []
        for explain in explains:
            found.extend(explain(f))
        return found

    return evidence


def _static(evidence: Evidence) -> Explain:
    def explain(f: Facts) -> Evidence:
        return list(evidence)

    return explain


def _range(name: str, rng: Range, attr: str) -> tuple[Holds, Explain]:
    lo = rng.min if rng.min is not None else float("-inf")
    hi = rng.max if rng.max is not None else float("inf")
    get = attrgetter(attr)

    def holds(f: Facts) -> bool:
        value = get(f)
        return value is not None and lo <= value <= hi

    def explain(f: Facts) -> Evidence:
        return [f"{name}={get(f)}"]

    return holds, explain


def _member(name: str, allowed: list[str], attr: str) -> tuple[Holds, Explain]:
    allowed_set = frozenset(allowed)
    get = attrgetter(attr)

    def holds(f: Facts) -> bool:
        return get(f) in allowed_set

    def explain(f: Facts) -> Evidence:
        return [f"{name}={get(f)}"]

    return holds, explain


def _flag(name: str, want: bool, pred: Holds, explain: Explain) -> tuple[Holds, Explain]:
    if want:
        return pred, explain

    def holds(f: Facts) -> bool:
        return not pred(f)

    return holds, _static([f"not {name}"])


def _lexicon_check(
    names: list[str], bucket: Callable[[TextSignals], dict[str, list[str]]]
) -> tuple[Holds, Explain]:
    wanted = tuple(names)
    wanted_set = frozenset(names)

    def holds(f: Facts) -> bool:
        # a lexicon is in a bucket only with at least one phrase
        return not wanted_set.isdisjoint(bucket(f.signals))

    def explain(f: Facts) -> Evidence:
        hits = bucket(f.signals)
        found: Evidence = []
        for name in wanted:
            words = hits.get(name)
            if words:
                found.extend([f"{name}: {w}" for w in words[:5]])
        return found

    return holds, explain


def _stated(names: list[str]) -> tuple[Holds, Explain]:
    wanted = tuple(names)
    wanted_set = frozenset(names)

    def holds(f: Facts) -> bool:
        # a stated lexicon always has hits
        return not wanted_set.isdisjoint(f.signals.stated)

    def explain(f: Facts) -> Evidence:
        sig = f.signals
        return [f"{name}: {w}" for name in wanted if name in sig.stated for w in sig.hits[name][:5]]

    return holds, explain


def _hedged(names: list[str]) -> tuple[Holds, Explain]:
    wanted = tuple(names)

    def holds(f: Facts) -> bool:
        sig = f.signals
        hedged = sig.hedged
        if not hedged:
            return False
        stated = sig.stated
        return any(name in hedged and name not in stated for name in wanted)

    def explain(f: Facts) -> Evidence:
        sig = f.signals
        return [
            f"{name}: {w} (hedged)"
            for name in wanted
            if name not in sig.stated
            for w in sig.hedged.get(name, ())[:5]
        ]

    return holds, explain


def _text_empty(f: Facts) -> bool:
    return f.text_empty


def _has_score(f: Facts) -> bool:
    return f.has_score


def _is_shouting(f: Facts) -> bool:
    return f.shouting >= SHOUTING_THRESHOLD


def _has_punctuation(f: Facts) -> bool:
    return bool(f.punctuation)


def _has_related(f: Facts) -> bool:
    return bool(f.related)


def _shouting(f: Facts) -> Evidence:
    return [f"capitals {f.shouting:.0%}"]


def _punctuation(f: Facts) -> Evidence:
    return [f"punctuation {' '.join(f.punctuation[:3])}"]


def _compile_key(key: str, cond: Condition, engine: RuleEngine) -> tuple[Holds, Explain]:
    if key == "nps":
        assert cond.nps is not None
        return _range("nps_score", cond.nps, "nps")
    if key == "rating":
        assert cond.rating is not None
        return _range("rating", cond.rating, "rating")
    if key == "channel":
        return _member("channel", cond.channel or [], "channel")
    if key == "tier":
        return _member("tier", cond.tier or [], "tier")
    if key == "lifecycle_stage":
        return _member("lifecycle_stage", cond.lifecycle_stage or [], "stage")
    if key == "language":
        return _member("language", cond.language or [], "language")
    if key == "text":
        return _lexicon_check(cond.text or [], attrgetter("hits"))
    if key == "stated":
        return _stated(cond.stated or [])
    if key == "hedged":
        return _hedged(cond.hedged or [])
    if key == "intensified":
        return _lexicon_check(cond.intensified or [], attrgetter("intensified"))
    if key == "text_empty":
        return _flag("text_empty", bool(cond.text_empty), _text_empty, _static(["no text"]))
    if key == "has_score":
        return _flag("has_score", bool(cond.has_score), _has_score, _static(["score given"]))
    if key == "shouting":
        return _flag("shouting", bool(cond.shouting), _is_shouting, _shouting)
    if key == "angry_punctuation":
        return _flag(
            "angry_punctuation", bool(cond.angry_punctuation), _has_punctuation, _punctuation
        )
    if key == "repeat_contact":
        window = engine.describe_window()

        def repeat(f: Facts) -> Evidence:
            n = len(f.related)
            shown = ", ".join(f.related[:5])
            return [f"{n} earlier ticket{'s' if n != 1 else ''} in {window}: {shown}"]

        return _flag("repeat_contact", bool(cond.repeat_contact), _has_related, repeat)
    if key == "fired":
        refs = tuple(cond.fired or ())
        after = _static([f"after {r}" for r in refs])
        if len(refs) == 1:
            (ref,) = refs

            def fired_one(f: Facts) -> bool:
                return ref in f.fired

            return fired_one, after
        ref_set = frozenset(refs)

        def fired(f: Facts) -> bool:
            return ref_set <= f.fired

        return fired, after
    if key == "any":
        subs = [_compile(c, engine) for c in cond.any or ()]
        preds = tuple(sub[0] for sub in subs)
        explains = tuple(sub[1] for sub in subs)
        single = [_single_fired(c) for c in cond.any or ()]
        if all(ref is not None for ref in single):
            # the common "any of these rules fired": one set test
            ref_set = frozenset(ref for ref in single if ref is not None)

            def any_fired(f: Facts) -> bool:
                return not ref_set.isdisjoint(f.fired)

            holds: Holds = any_fired
        else:

            def holds(f: Facts) -> bool:
                return any(pred(f) for pred in preds)

        def first(f: Facts) -> Evidence:
            for pred, explain in zip(preds, explains, strict=True):
                if pred(f):
                    return explain(f)
            raise AssertionError("explained an 'any' that does not hold")  # pragma: no cover

        return holds, first
    if key == "all":
        subs = [_compile(c, engine) for c in cond.all or ()]
        preds = tuple(sub[0] for sub in subs)

        def all_of(f: Facts) -> bool:
            return all(pred(f) for pred in preds)

        return all_of, _concat(tuple(sub[1] for sub in subs))
    if key == "not_":
        assert cond.not_ is not None
        inner = _compile(cond.not_, engine)[0]

        def not_(f: Facts) -> bool:
            return not inner(f)

        return not_, _static([])
    raise ValueError(f"unknown condition key {key!r}")  # pragma: no cover - model forbids it


#: condition keys whose evidence depends only on the facts' signature
_PURE_KEYS = frozenset(
    {"nps", "rating", "channel", "tier", "lifecycle_stage", "language", "text_empty"}
    | {"has_score", "fired", "not_"}
)
_FLAG_KEYS = ("shouting", "angry_punctuation", "repeat_contact")


def _pure(cond: Condition) -> bool:
    """True when the evidence of ``cond`` (when it holds) is a function of the facts'
    signature alone: no matched words, capitals share, punctuation or ticket ids."""
    for key in cond.model_fields_set:
        if key in _PURE_KEYS:
            continue
        if key in _FLAG_KEYS and getattr(cond, key) is False:
            continue  # "not shouting"
        if key in ("any", "all") and all(_pure(c) for c in getattr(cond, key) or ()):
            continue
        return False
    return True


def _single_fired(cond: Condition) -> str | None:
    """The rule id of a condition that is exactly ``{fired: [id]}``, else None."""
    if cond.model_fields_set == {"fired"} and cond.fired and len(cond.fired) == 1:
        return cond.fired[0]
    return None
