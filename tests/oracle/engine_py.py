# mypy: disable-error-code="attr-defined, no-any-return"
"""ORACLE — the rule engine with its plans (a signature of the facts → the rules that
fire, computed by the conditions' Python closures), as it ran before rule evaluation
moved to native code (``service/rules/_rules.pyx``); kept unchanged but for this
paragraph, its imports, the facts it builds (``_Facts``: the facts with the set of
fired rules they then carried) and the helpers it shares with the engine, imported from
``service.rules.engine`` (``Assessment``, the reasons, the ticket's id and its build), as
the reference that ``tests/unit/test_native_rules.py`` compares the engine with. Nothing
in the service imports it.

The rule engine: a feedback event in, an explained assessment and a ticket out.

Every rule's condition is compiled once, when the engine is built, into a closure; per
event the facts (scores, channel, customer, lexicon hits with negation/hedging, shouting,
punctuation, earlier related tickets, the text model's negativity of the same normalised
text) are computed once, then the closures run in file order. A rule that fires adds its
weight to the severity, may bound the priority, and records its evidence.

Which rules fire depends only on a small signature of the facts (scores, channel,
customer, language, which lexicons matched and how, the tone flags, the class of the
negativity: which of the rule set's ranges hold it); the outcome for a
signature (fired rules, severity, priority, category, actions) is computed once and kept,
so most events only gather the evidence — the words they said — of the fired rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from schemas.common import Priority
from schemas.feedback import FeedbackEvent
from service.rules.engine import Assessment, ReasonFields, _days, _debug_reasons
from service.rules.facts import SHOUTING_THRESHOLD, Facts
from service.rules.matcher import LexiconMatcher, TextSignals
from service.rules.model import RuleSet
from service.rules.text import MAX_ANALYSED_CHARS, angry_punctuation, normalize, shouting_ratio
from service.sentiment.model import NegativityModel, default_model
from tests.oracle.conditions_py import (
    Evidence,
    Explain,
    Holds,
    Key,
    compile_condition,
    guards,
    is_pure,
    signature_for,
)
from tests.oracle.language_py import decide

#: Plans kept per engine (signatures repeat: few lexicon combinations × channels × tiers).
PLAN_CACHE_SIZE = 4096


#: fired rules (index, evidence when it depends only on the signature), severity,
#: priority, category, actions, management attention
_Plan = tuple[tuple[tuple[int, Evidence | None], ...], int, Priority, str, tuple[str, ...], bool]


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    id: str
    holds: Holds
    explain: Explain
    #: later rules whose guard on rules (see ``guards``) is met once this rule fired, as
    #: bits by file position
    dependents: int
    weight: int
    category: str | None
    actions: tuple[str, ...]
    min_priority: Priority | None
    max_priority: Priority | None
    management_attention: bool
    #: the evidence depends only on the facts' signature (see ``is_pure``)
    pure: bool
    #: precomputed: ranks of the priority bounds (0: none) and of the category
    min_rank: int
    max_rank: int
    category_rank: int
    #: the rule does more than weigh: bounds the priority, has a category, actions or
    #: asks for management attention
    bounds: bool


class _Facts(Facts):
    """The facts as they were: with the rules fired so far (what the closures read)."""

    __slots__ = ("fired",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fired: set[str] = set()


class RuleEngine:
    """Rules compiled once into closures; ``assess`` runs them in file order."""

    def __init__(self, rules: RuleSet, text_model: NegativityModel | None = None) -> None:
        """``text_model``: what the ``negativity`` conditions read; the shipped model when
        the rules have such conditions and none is given (none is loaded otherwise)."""
        self.rules = rules
        reads_model = rules.uses_negativity()
        self.text_model = (text_model or default_model()) if reads_model else None
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
        window = self.describe_window()
        # Candidates: a rule's condition runs only when both its guards (see ``guards``)
        # are met. Sets of rules are ints, one bit per rule by file position, so that
        # meeting an atom or firing a rule is one ``|``.
        guarded = [guards(r.when) for r in rules.rules]
        bit = {r.id: 1 << i for i, r in enumerate(rules.rules)}
        #: atom of the facts (see ``Key.atoms``) → (rules whose guard on facts it meets,
        #: rules whose guard on rules it meets: a guard mixing both, such as "angry
        #: fired, or nps")
        self._atom_bits: dict[str, tuple[int, int]] = {}
        #: rules without a guard on facts, without a guard on rules
        self._unguarded = (0, 0)
        dependents = dict.fromkeys(bit, 0)
        for r, (on_facts, on_rules) in zip(rules.rules, guarded, strict=True):
            no_facts, no_rules = self._unguarded
            self._unguarded = (
                no_facts | (bit[r.id] if on_facts is None else 0),
                no_rules | (bit[r.id] if on_rules is None else 0),
            )
            for atom in on_facts or ():
                met = self._atom_bits.get(atom, (0, 0))
                self._atom_bits[atom] = (met[0] | bit[r.id], met[1])
            for atom in on_rules or ():
                if atom.startswith("rule:"):
                    dependents[atom[5:]] |= bit[r.id]
                else:
                    met = self._atom_bits.get(atom, (0, 0))
                    self._atom_bits[atom] = (met[0], met[1] | bit[r.id])
        self._compiled = [
            _CompiledRule(
                id=r.id,
                holds=(compiled := compile_condition(r.when, window))[0],
                explain=compiled[1],
                pure=is_pure(r.when),
                dependents=dependents[r.id],
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
                bounds=bool(
                    r.min_priority
                    or r.max_priority
                    or r.category
                    or r.actions
                    or r.management_attention
                ),
            )
            for r in rules.rules
        ]
        #: each rule's ``Reason`` fields but the evidence, by file position
        self._reason_fields: list[ReasonFields] = [
            {"rule_id": c.id, "weight": c.weight, "evidence": None, "min_priority": c.min_priority}
            for c in self._compiled
        ]
        #: each rule's condition by file position (most candidates only need this)
        self._holds = [c.holds for c in self._compiled]
        self._by_rank = {p.rank: p for p in Priority}
        #: signature of the facts → plan (see ``assess``)
        self._plans: dict[tuple[object, ...], _Plan] = {}
        self._signature, keys = signature_for(rules)
        #: per part of a signature: its value → the rules whose guards it meets
        self._met_by = tuple(_MetBy(key, self._atom_bits) for key in keys)
        # the rules guarded by "this rule fired" come later (the rule-file validation
        # guarantees it), so one pass in file order sees them
        assert all(c.dependents & ((2 << i) - 1) == 0 for i, c in enumerate(self._compiled))
        self._base = rules.base_severity
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
            language = decide(raw, signals.votes, matcher.stopword_votes, signals.spaced)
        else:
            language = "und"
        # the exact share of capitals matters only from the threshold on
        shouting = shouting_ratio(raw, at_least=SHOUTING_THRESHOLD)
        return _Facts(
            event, language, signals, shouting, angry_punctuation(raw), related, self.text_model
        )

    def assess(
        self, event: FeedbackEvent, related: Sequence[str] = (), *, debug: bool = False
    ) -> Assessment:
        """Score one event. ``related``: ids of the customer's earlier tickets in the window."""
        facts = self.facts(event, related)
        # Which rules fire, and so severity, priority, category and actions, depend only on
        # the facts' signature; the plan for a signature is computed once and then only
        # the evidence of the fired rules is gathered (the words differ event to event).
        key = self._signature(facts)
        plan = self._plans.get(key)
        if plan is None:
            # planning explains every rule it fires: that evidence is this event's
            plan, evidence = self._plan(facts, key)
            if len(self._plans) >= PLAN_CACHE_SIZE:
                self._plans.clear()
            self._plans[key] = plan
        else:
            evidence = self._explain(plan[0], facts)
        fired_ids, severity, priority, category, actions, manager = plan
        templates = self._reason_fields
        reasons: list[ReasonFields] = []
        for (i, _), found in zip(fired_ids, evidence, strict=True):
            fields = templates[i].copy()
            fields["evidence"] = found
            reasons.append(fields)
        if debug:
            reasons.extend(_debug_reasons(facts))
        return Assessment(
            severity=severity,
            priority=priority,
            category=category,
            reason_fields=reasons,
            actions=list(actions),
            management_attention=manager,
            language=facts.language,
            related_ticket_ids=list(related),
        )

    def _explain(
        self, fired_ids: tuple[tuple[int, Evidence | None], ...], facts: Facts
    ) -> list[Evidence]:
        """The evidence of the rules a plan fires, for this event."""
        compiled = self._compiled
        fired = facts.fired
        evidence: list[Evidence] = []
        for i, known in fired_ids:
            rule = compiled[i]
            # explained in file order, with exactly the earlier rules marked fired
            evidence.append(rule.explain(facts) if known is None else known.copy())
            fired.add(rule.id)
        return evidence

    def _plan(self, facts: Facts, key: tuple[object, ...]) -> tuple[_Plan, list[Evidence]]:
        """Run the rules' conditions: which fire (in file order) and what follows, with
        the evidence of each fired rule (the plan keeps a copy of the signature-only
        evidence, see ``is_pure``). ``key``: the facts' signature."""
        fired = facts.fired
        compiled = self._compiled
        # Candidates: the rules whose guard on facts and guard on rules are both met,
        # visited in file order (lowest bit first); a rule that fires meets the guards
        # of its dependents, always later in the file.
        on_facts, on_rules = self._unguarded
        for met_by, part in zip(self._met_by, key, strict=True):
            met = met_by[part]
            on_facts |= met[0]
            on_rules |= met[1]
        pending = on_facts & on_rules
        fired_rules: list[_CompiledRule] = []
        fired_ids: list[tuple[int, Evidence | None]] = []
        evidence: list[Evidence] = []
        holds = self._holds
        while pending:
            low = pending & -pending
            pending ^= low
            i = low.bit_length() - 1
            if holds[i](facts):
                rule = compiled[i]
                found = rule.explain(facts)
                evidence.append(found)
                fired_ids.append((i, found.copy() if rule.pure else None))
                fired_rules.append(rule)
                fired.add(rule.id)
                if rule.dependents:
                    pending |= rule.dependents & on_facts
        return (tuple(fired_ids), *self._outcome(fired_rules)), evidence

    def _outcome(
        self, fired: list[_CompiledRule]
    ) -> tuple[int, Priority, str, tuple[str, ...], bool]:
        """Severity, priority, category, actions and management attention of the fired
        rules (in file order)."""
        severity = self._base
        floor = 0  # most urgent min_priority rank of the fired rules (0: none)
        cap = 0  # least urgent max_priority rank (0: none)
        category: str | None = None
        category_rank = _NO_RANK
        actions: list[str] = []
        manager = False
        for rule in fired:
            severity += rule.weight
            if not rule.bounds:  # most rules only weigh
                continue
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
        return severity, priority, category or self.rules.default_category, all_actions, manager

    def describe_window(self) -> str:
        days = self._window_days
        return f"{int(days)} days" if days == int(days) else f"{days:g} days"


class _MetBy(dict[object, tuple[int, int]]):
    """One part of the signature (the part of ``key``): its value → the rules whose guard
    on facts, whose guard on rules, its atoms meet (as bits, see ``_atom_bits``); found
    on first use, at most ``PLAN_CACHE_SIZE`` values kept."""

    def __init__(self, key: Key[Any], atom_bits: dict[str, tuple[int, int]]) -> None:
        super().__init__()
        self._atoms = key.atoms
        self._atom_bits = atom_bits

    def __missing__(self, part: object) -> tuple[int, int]:
        on_facts = on_rules = 0
        for atom in self._atoms(part):
            met = self._atom_bits.get(atom)
            if met is not None:
                on_facts |= met[0]
                on_rules |= met[1]
        if len(self) >= PLAN_CACHE_SIZE:
            self.clear()
        self[part] = (on_facts, on_rules)
        return on_facts, on_rules


#: category rank of a rule without a category (never chosen)
_NO_RANK = 1 << 30
