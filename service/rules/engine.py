"""The rule engine: a feedback event in, an explained assessment and a ticket out.

Every rule's condition is compiled once, when the engine is built, into nodes of one
native program (``service/rules/_rules.pyx``; ``conditions.py`` says what each key of a
condition becomes) and its evidence (kinds of the same module). Per event the facts (scores, channel,
customer, lexicon hits with negation/hedging, shouting, punctuation, earlier related
tickets, the text model's negativity of the same normalised text) are computed once —
the negativity only if a rule's outcome depends on it; the program runs every rule in
file order and works out the outcome of those that fire (severity, priority, category,
management attention); then only the fired rules gather their evidence, the words the
event said.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.common import Priority
from schemas.feedback import FeedbackEvent
from schemas.ticket import Reason, SlaInfo, Ticket

# a ticket's id, written by the compiled ticket writer (its rule 6), exported here too
from service.prioritizer._ticket import TICKET_NAMESPACE as TICKET_NAMESPACE
from service.prioritizer._ticket import ticket_id_for as ticket_id_for
from service.rules._rules import Assessor, Evidence, Program
from service.rules.conditions import ProgramBuilder, compile_condition
from service.rules.facts import SHOUTING_THRESHOLD, FactReader, Facts
from service.rules.language import model_language
from service.rules.matcher import LexiconMatcher
from service.rules.model import RuleSet
from service.rules.text import MAX_ANALYSED_CHARS, normalize
from service.sentiment.model import NegativityModel, default_model
from service.sla.policy import SlaPolicy, TicketFacts
from service.trusted import Slotted, construct

#: A reason as the ticket's JSON holds it: ``Reason``'s fields, in its order.
ReasonFields = dict[str, Any]


@dataclass(frozen=True, slots=True, init=False)
class Assessment:
    """What the rules concluded of one event.

    ``reason_fields``: the fired rules' reasons as plain dicts of ``Reason``'s fields in
    its order, which is what the ticket's JSON writes (``ticket_json``); ``reasons`` builds
    the ``Reason`` models from them when asked (``triage explain``, ``build_ticket``).
    A model per reason on the hot path cost about a microsecond each, eight a ticket.

    Frozen, but built by its own ``__init__``, which sets each slot through its
    descriptor: the generated one calls ``object.__setattr__`` per field, which cost
    2.2 µs an assessment against 1.3 (a unit test holds it to every field)."""

    severity: int
    priority: Priority
    category: str
    reason_fields: list[ReasonFields]
    actions: list[str]
    management_attention: bool
    language: str
    related_ticket_ids: list[str]

    def __init__(
        self,
        severity: int,
        priority: Priority,
        category: str,
        reason_fields: list[ReasonFields],
        actions: list[str],
        management_attention: bool,
        language: str,
        related_ticket_ids: list[str] | None = None,
    ) -> None:
        _set_severity(self, severity)
        _set_priority(self, priority)
        _set_category(self, category)
        _set_reason_fields(self, reason_fields)
        _set_actions(self, actions)
        _set_management_attention(self, management_attention)
        _set_language(self, language)
        _set_related_ticket_ids(self, [] if related_ticket_ids is None else related_ticket_ids)

    @property
    def reasons(self) -> list[Reason]:
        """The reasons as ``Reason`` models (trusted fields: nothing is re-validated)."""
        return [_reason(**fields) for fields in self.reason_fields]


def _setter(name: str) -> Callable[[Assessment, Any], None]:
    """The ``__set__`` of ``Assessment``'s slot ``name`` (what ``Assessment.__init__`` sets
    and a frozen class's own ``__setattr__`` refuses)."""
    setter: Callable[[Assessment, Any], None] = Assessment.__dict__[name].__set__
    return setter


_set_severity = _setter("severity")
_set_priority = _setter("priority")
_set_category = _setter("category")
_set_reason_fields = _setter("reason_fields")
_set_actions = _setter("actions")
_set_management_attention = _setter("management_attention")
_set_language = _setter("language")
_set_related_ticket_ids = _setter("related_ticket_ids")

#: ``Assessment(*values)`` for every field, built in C (``service.trusted.Slotted``): what
#: ``RuleEngine.assess`` returns
new_assessment: Slotted[Assessment] = Slotted(Assessment)


class RuleEngine:
    """Rules compiled once into a native program and the evidence of each rule (both in
    ``_rules.pyx``); ``assess`` runs them in file order."""

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
        #: the facts of one event (compiled): its text normalised, scanned, its language
        #: and tone
        reader = FactReader(
            scan=self.matcher.scan,
            stopword_votes=self.matcher.stopword_votes,
            normalize=normalize,
            model_language=model_language,
            text_model=self.text_model,
            shouting_at=SHOUTING_THRESHOLD,
            max_chars=MAX_ANALYSED_CHARS,
        )
        self._read = reader.read
        bands = [
            (b.min_severity, b.priority.rank)
            for b in sorted(rules.priorities, key=lambda b: b.min_severity, reverse=True)
        ]
        precedence = {name: i for i, name in enumerate(rules.category_precedence)}
        self._window_days = rules.repeat_contact_window_days
        self._window = _days(rules.repeat_contact_window_days)
        window = self.describe_window()
        builder = ProgramBuilder([r.id for r in rules.rules])
        roots: list[int] = []
        # per rule, in file order: its evidence, its actions, its ``Reason`` fields but
        # the evidence (what ``explain_fired`` reads for the rules that fire)
        evidences: list[Evidence] = []
        actions: list[tuple[str, ...]] = []
        reasons: list[ReasonFields] = []
        for r in rules.rules:
            root, evidence = compile_condition(r.when, window, builder)
            roots.append(root)
            evidences.append(evidence)
            actions.append(tuple(r.actions))
            reasons.append(
                {
                    "rule_id": r.id,
                    "weight": r.weight,
                    "evidence": None,
                    "min_priority": r.min_priority,
                }
            )
        # rules that name other rules (``fired``) name earlier ones (the rule-file
        # validation guarantees it), so one pass in file order sees them fired
        program = Program(
            nodes=builder.nodes,
            roots=roots,
            lexicons=builder.lexicons,
            members=builder.members,
            weights=[r.weight for r in rules.rules],
            min_ranks=[r.min_priority.rank if r.min_priority else 0 for r in rules.rules],
            max_ranks=[r.max_priority.rank if r.max_priority else 0 for r in rules.rules],
            category_ranks=[
                precedence.get(r.category, len(precedence)) if r.category else _NO_RANK
                for r in rules.rules
            ],
            management=[r.management_attention for r in rules.rules],
            bands=bands,
            base=rules.base_severity,
            choices=builder.choices,
            shouting_at=SHOUTING_THRESHOLD,
        )
        # each rule's category by file position, then the default (the program gives -1
        # when no fired rule has a category)
        categories = [r.category or rules.default_category for r in rules.rules]
        categories.append(rules.default_category)
        self._assess: Callable[[FeedbackEvent, Sequence[str], bool], Assessment] = Assessor(
            reader,
            program,
            evidences,
            reasons,
            actions,
            categories,
            {p.rank: p for p in Priority},
            {p: tuple(a) for p, a in rules.actions_by_priority.items()},
            new_assessment,
            _debug_reasons,
        ).assess

    @property
    def repeat_window(self) -> timedelta:
        """Earlier tickets of the same customer within this window are related."""
        return self._window

    def facts(self, event: FeedbackEvent, related: Sequence[str] = ()) -> Facts:
        """What the rules can see of ``event`` (``FactReader.read``)."""
        return self._read(event, related)

    def assess(
        self, event: FeedbackEvent, related: Sequence[str] = (), *, debug: bool = False
    ) -> Assessment:
        """Score one event. ``related``: ids of the customer's earlier tickets in the window.
        (The facts, the program, the evidence and the ``Assessment``, in one compiled call:
        ``_rules.Assessor``.)"""
        return self._assess(event, related, debug)

    def describe_window(self) -> str:
        days = self._window_days
        return f"{int(days)} days" if days == int(days) else f"{days:g} days"


#: category rank of a rule without a category (never chosen)
_NO_RANK = 1 << 30

_REASON_FIELDS = frozenset({"rule_id", "weight", "evidence", "min_priority"})


def _reason(
    rule_id: str, weight: int, evidence: list[str], min_priority: Priority | None
) -> Reason:
    """``Reason.model_construct`` without its per-field loop (the fields are trusted)."""
    fields = {
        "rule_id": rule_id,
        "weight": weight,
        "evidence": evidence,
        "min_priority": min_priority,
    }
    return construct(Reason, fields, set(_REASON_FIELDS), None)


def _days(days: float) -> timedelta:
    return timedelta(days=days)


def _debug_reasons(facts: Facts) -> list[ReasonFields]:
    sig = facts.signals
    out: list[ReasonFields] = []
    for rule_id, bucket in (
        ("debug.negated", sig.negated),
        ("debug.hedged", sig.hedged),
        ("debug.intensified", sig.intensified),
    ):
        if bucket:
            evidence = [f"{name}: {w}" for name, words in bucket.items() for w in words]
            out.append(
                {"rule_id": rule_id, "weight": 0, "evidence": evidence, "min_priority": None}
            )
    return out


def facts_of(event: FeedbackEvent, assessment: Assessment) -> TicketFacts:
    """What the SLA policy's conditions see of a new ticket (``SlaPolicy.select``)."""
    tier = event.customer.tier
    return TicketFacts(
        priority=assessment.priority,
        tier=tier.value if tier else None,
        channel=event.channel,
        category=assessment.category,
        language=assessment.language,
        brand=event.brand,
    )


def build_ticket(
    event: FeedbackEvent,
    assessment: Assessment,
    now: datetime,
    rules_version: str,
    policy: SlaPolicy,
) -> Ticket:
    """Assemble the ticket; the SLA clock starts when the customer spoke, with the target
    of the SLA ``policy`` (the one the monitor keeps, ``SlaPolicy.first_response_due``)."""
    customer = event.customer
    chosen = policy.select(facts_of(event, assessment)) if policy.policies else policy
    target, due = chosen.first_response_due(assessment.priority, event.occurred_at)
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
            target_seconds=target, first_response_due_at=due, policy_id=chosen.version
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
        brand=event.brand,
    )
