"""Rule conditions: every key of a ``Condition`` in one place, compiled into the rule
set's native program and its evidence.

``KEYS`` holds one entry per field of ``Condition`` (``model.py``, in its order; a unit
test holds the two in step): a small object that says all the engine knows of that key.
Its ``compile`` adds the key's node to the rule set's program (``ProgramBuilder``; the
program runs natively, ``service/rules/_rules.pyx``, which says what each kind of node
holds on) and returns that node with its evidence, an ``Evidence`` of the same module
(``evidence(facts) -> list[str]``), run only for a rule that fired (after the program
ran, on the same facts), so no evidence string is built in vain.

Adding a key is its field on ``Condition``, its entry here and, when it reads something
of the facts that no node reads yet, a slot of the record in ``_rules.pyx``. The evidence
is what the condition matched: the keys of a condition in sorted order, concatenated;
for ``any`` the first alternative that held (its choice, ``Facts.choices``); nothing for
``not``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

import service.rules._rules as _rules
from service.rules._rules import (
    Called,
    Chosen,
    Evidence,
    Field,
    Fixed,
    HedgedWords,
    Joined,
    StatedWords,
    Words,
)
from service.rules.facts import Facts
from service.rules.model import Condition, Range

#: a Python function that gives the evidence of a key from the facts (wrapped in
#: ``_rules.Called``): the keys that format a value of the facts
Explain = Callable[[Facts], list[str]]
#: a condition's node in the program, and its evidence
Compiled = tuple[int, Evidence]
V = TypeVar("V")
#: a node of the program: kind, slot, want, lower and upper bound, arguments
NodeSpec = tuple[int, int, int, float, float, tuple[int, ...]]


class ProgramBuilder:
    """The nodes of a rule set's program as its conditions compile, and the ids they
    use: lexicons by name, member values per slot, earlier rules by id, ``any`` choices."""

    def __init__(self, rule_ids: Sequence[str]) -> None:
        self.nodes: list[NodeSpec] = []
        #: lexicon name → id (from 0), for the lexicons conditions name
        self.lexicons: dict[str, int] = {}
        #: per member slot (channel, tier, stage, language): value → id (from 1)
        self.members: tuple[dict[str, int], ...] = ({}, {}, {}, {})
        self.rule_index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
        #: how many ``any`` nodes keep a choice
        self.choices = 0

    def node(
        self,
        kind: int,
        args: Iterable[int] = (),
        *,
        slot: int = 0,
        want: int = 0,
        lo: float = float("-inf"),
        hi: float = float("inf"),
    ) -> int:
        self.nodes.append((kind, slot, want, lo, hi, tuple(args)))
        return len(self.nodes) - 1

    def lexicon_ids(self, names: Iterable[str]) -> list[int]:
        return [self.lexicons.setdefault(name, len(self.lexicons)) for name in names]

    def member_ids(self, slot: int, values: Iterable[str]) -> list[int]:
        ids = self.members[slot]
        return [ids.setdefault(value, len(ids) + 1) for value in values]

    def choice(self) -> int:
        self.choices += 1
        return self.choices - 1


# --- the keys -------------------------------------------------------------------------


class Key(ABC, Generic[V]):
    """One key of a condition (``field``, a field of ``Condition``): all the engine knows
    of it. ``value`` is a condition's value of the field (None where a rule file says
    ``null``)."""

    #: its evidence is part of the condition's (``not`` has none: left out)
    explains = True

    def __init__(self, field: str) -> None:
        self.field = field

    @abstractmethod
    def compile(self, value: V, window: str, program: ProgramBuilder) -> Compiled:
        """Its node in ``program`` and its evidence (``window``: the repeat-contact
        window, as the evidence says it: "7 days")."""


class Score(Key[Range | None]):
    """A score of the facts (``attr``, the record's ``slot``) in a range: holds when the
    score is given and in range; evidence ``name=score``."""

    def __init__(self, field: str, attr: str, name: str, slot: int) -> None:
        super().__init__(field)
        self.attr, self.name, self.slot = attr, name, slot

    def compile(self, value: Range | None, window: str, program: ProgramBuilder) -> Compiled:
        assert value is not None
        node = program.node(
            _rules.RANGE,
            slot=self.slot,
            lo=value.min if value.min is not None else float("-inf"),
            hi=value.max if value.max is not None else float("inf"),
        )
        return node, self.explain()

    def explain(self) -> Evidence:
        return Field(self.name, self.attr)


class Negativity(Score):
    """The text model's negativity (P(neg) against P(pos) and a quarter of P(neu)) in a
    range; its evidence names the words that pushed it."""

    def __init__(self) -> None:
        super().__init__("negativity", "negativity", "negativity", _rules.NEGATIVITY)

    def explain(self) -> Evidence:
        def explain(f: Facts) -> list[str]:
            # "negativity 0.98 (rude 2.01, food 1.74)": the words that pushed it, with
            # their part of the logit margin towards negative (service/sentiment/model.py)
            shown = ", ".join(f"{w} {share:.2f}" for w, share in f.negativity_words)
            return [f"negativity {f.negativity:.2f}" + (f" ({shown})" if shown else "")]

        return Called(explain)


class Member(Key[list[str] | None]):
    """The facts' ``attr`` (the record's ``slot``) is one of the values given; evidence
    ``field=value``."""

    def __init__(self, field: str, slot: int, attr: str | None = None) -> None:
        super().__init__(field)
        self.slot = slot
        self.attr = attr or field

    def compile(self, value: list[str] | None, window: str, program: ProgramBuilder) -> Compiled:
        node = program.node(
            _rules.MEMBER, program.member_ids(self.slot, value or ()), slot=self.slot
        )
        return node, Field(self.field, self.attr)


class _Lexicons(Key[list[str] | None]):
    """Lexicon names: holds when one of them is in the record's bucket ``slot``."""

    def __init__(self, field: str, slot: int) -> None:
        super().__init__(field)
        self.slot = slot

    def compile(self, value: list[str] | None, window: str, program: ProgramBuilder) -> Compiled:
        names = value or []
        node = program.node(_rules.LEXICON, program.lexicon_ids(names), slot=self.slot)
        return node, self.evidence(names)

    @abstractmethod
    def evidence(self, names: list[str]) -> Evidence:
        """What the lexicons matched (when the key holds)."""


class Lexicons(_Lexicons):
    """Holds when one of the lexicons has phrases in ``bucket`` of the signals (``hits``
    or ``intensified``); evidence ``name: phrase``, five a lexicon at most."""

    def __init__(self, field: str, bucket: int, slot: int) -> None:
        """``bucket``: ``_rules.WORDS_HIT`` or ``_rules.WORDS_INTENSIFIED``."""
        super().__init__(field, slot)
        self.bucket = bucket

    def evidence(self, names: list[str]) -> Evidence:
        return Words(names, self.bucket)


class Stated(_Lexicons):
    """Holds when one of the lexicons matched without a hedge (and was not negated)."""

    def __init__(self) -> None:
        super().__init__("stated", _rules.STATED)

    def evidence(self, names: list[str]) -> Evidence:
        return StatedWords(names)


class Hedged(_Lexicons):
    """Holds when one of the lexicons matched only hedged, never stated."""

    def __init__(self) -> None:
        super().__init__("hedged", _rules.HEDGED_ONLY)

    def evidence(self, names: list[str]) -> Evidence:
        return HedgedWords(names)


class Flag(Key[bool | None]):
    """A yes/no property of the facts (the record's ``slot``); ``false`` asks for its
    absence (evidence ``not <field>``), ``true`` explains with ``said``: fixed words or
    what ``explain`` makes of the facts."""

    def __init__(self, field: str, slot: int, said: list[str] | Explain | None) -> None:
        super().__init__(field)
        self.slot, self.said = slot, said

    def explain(self, window: str) -> Evidence:
        """The evidence when the property is there."""
        if isinstance(self.said, list):
            return Fixed(self.said)
        assert self.said is not None
        return Called(self.said)

    def compile(self, value: bool | None, window: str, program: ProgramBuilder) -> Compiled:
        want = bool(value)
        node = program.node(_rules.FLAG, slot=self.slot, want=int(want))
        return node, self.explain(window) if want else Fixed([f"not {self.field}"])


class RepeatContact(Flag):
    """Earlier tickets of the customer within the window; evidence names them."""

    def __init__(self) -> None:
        super().__init__("repeat_contact", _rules.REPEAT_CONTACT, None)

    def explain(self, window: str) -> Evidence:
        def repeat(f: Facts) -> list[str]:
            n = len(f.related)
            shown = ", ".join(f.related[:5])
            return [f"{n} earlier ticket{'s' if n != 1 else ''} in {window}: {shown}"]

        return Called(repeat)


class Fired(Key[list[str] | None]):
    """All these earlier rules fired; evidence ``after <id>``."""

    def compile(self, value: list[str] | None, window: str, program: ProgramBuilder) -> Compiled:
        refs = value or []
        node = program.node(_rules.FIRED, [program.rule_index[ref] for ref in refs])
        return node, Fixed([f"after {ref}" for ref in refs])


class AnyOf(Key[list[Condition] | None]):
    """One of the nested conditions holds; the first that does (the node's choice)
    explains."""

    def compile(
        self, value: list[Condition] | None, window: str, program: ProgramBuilder
    ) -> Compiled:
        subs = [compile_condition(c, window, program) for c in value or ()]
        slot = program.choice()
        node = program.node(_rules.ANY, [sub[0] for sub in subs], want=slot)
        return node, Chosen(slot, tuple(sub[1] for sub in subs))


class AllOf(Key[list[Condition] | None]):
    """Every nested condition holds; their evidence concatenated."""

    def compile(
        self, value: list[Condition] | None, window: str, program: ProgramBuilder
    ) -> Compiled:
        subs = [compile_condition(c, window, program) for c in value or ()]
        node = program.node(_rules.ALL, [sub[0] for sub in subs])
        return node, _concat(tuple(sub[1] for sub in subs))


class Not(Key[Condition | None]):
    """The nested condition does not hold; no evidence."""

    explains = False

    def compile(self, value: Condition | None, window: str, program: ProgramBuilder) -> Compiled:
        assert value is not None
        inner = compile_condition(value, window, program)[0]
        return program.node(_rules.NOT, [inner]), Fixed([])


def _shouting(f: Facts) -> list[str]:
    return [f"capitals {f.shouting:.0%}"]


def _punctuation(f: Facts) -> list[str]:
    return [f"punctuation {' '.join(f.punctuation[:3])}"]


#: field of ``Condition`` → its key, in the fields' order
KEYS: dict[str, Key[Any]] = {
    key.field: key
    for key in (
        Score("nps", "nps", "nps_score", _rules.NPS),
        Score("rating", "rating", "rating", _rules.RATING),
        Member("channel", _rules.CHANNEL),
        Member("tier", _rules.TIER),
        Member("lifecycle_stage", _rules.STAGE, "stage"),
        Member("language", _rules.LANGUAGE),
        Lexicons("text", _rules.WORDS_HIT, _rules.HITS),
        Flag("text_empty", _rules.TEXT_EMPTY, ["no text"]),
        Flag("has_score", _rules.HAS_SCORE, ["score given"]),
        Score("words", "words", "words", _rules.WORDS),
        Flag("shouting", _rules.SHOUTING, _shouting),
        Flag("angry_punctuation", _rules.PUNCTUATION, _punctuation),
        Fired("fired"),
        Stated(),
        Hedged(),
        Lexicons("intensified", _rules.WORDS_INTENSIFIED, _rules.INTENSIFIED),
        RepeatContact(),
        Negativity(),
        AnyOf("any"),
        AllOf("all"),
        Not("not_"),
    )
}


# --- conditions -----------------------------------------------------------------------


def compile_condition(cond: Condition, window: str, program: ProgramBuilder) -> Compiled:
    """The node of ``cond`` in ``program`` (all its keys, in sorted order) and its
    evidence."""
    keys = sorted(cond.model_fields_set)
    compiled = [KEYS[key].compile(getattr(cond, key), window, program) for key in keys]
    if len(compiled) == 1:
        return compiled[0]
    node = program.node(_rules.ALL if compiled else _rules.TRUE, [c[0] for c in compiled])
    # a ``not`` has no evidence: leave it out of the concatenation
    explains = tuple(c[1] for key, c in zip(keys, compiled, strict=True) if KEYS[key].explains)
    return node, _concat(explains)


# --- the evidence ---------------------------------------------------------------------


def _concat(parts: tuple[Evidence, ...]) -> Evidence:
    """The evidence of each part, in order, as one (``_rules.Joined``)."""
    return parts[0] if len(parts) == 1 else Joined(parts)  # none: an empty list
