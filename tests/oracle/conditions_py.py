# mypy: disable-error-code="attr-defined, no-any-return"
"""ORACLE — the rule conditions as Python closures, with the facts' signature and the
guards the plans used, as they ran before rule evaluation moved to native code
(``service/rules/_rules.pyx``); kept unchanged but for this paragraph as the reference
that ``tests/unit/test_native_rules.py`` compares the engine with (through
``engine_py.py``). Nothing in the service imports it.

Rule conditions: every key of a ``Condition`` in one place, and what the engine derives.

``KEYS`` holds one entry per field of ``Condition`` (``model.py``, in its order; a unit
test holds the two in step): a small object that says all the engine knows of that key.

- ``compile``: two closures, ``holds(facts) -> bool``, cheap and run for every candidate
  rule, and ``evidence(facts) -> list[str]``, run only for a rule that fired (right after
  ``holds``, on the same facts), so no evidence string is built in vain;
- ``reads``: its part of the facts' signature (see ``signature_for``): what its ``holds``
  reads of the facts, coarsened to what the rule set's values of the key tell apart;
- ``options`` (for the guard, see ``guards``): sets of atoms of which one must be present
  for the key to hold, and ``atoms``: which of those an event's part shows;
- ``pure``: its evidence depends only on the facts' signature (see ``is_pure``).

Adding a key is its field on ``Condition`` and its entry here. The evidence is what the
condition matched: the keys of a condition in sorted order, concatenated; for ``any`` the
first alternative that holds; nothing for ``not``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator
from functools import lru_cache
from operator import attrgetter
from typing import Any, Generic, TypeVar

from service.rules.facts import SHOUTING_THRESHOLD, Facts
from service.rules.matcher import TextSignals
from service.rules.model import Condition, Range, RuleSet

Evidence = list[str]
Holds = Callable[[Facts], bool]
Explain = Callable[[Facts], Evidence]
Compiled = tuple[Holds, Explain]
#: a key's part of the facts' signature
Part = Callable[[Facts], object]
Signature = Callable[[Facts], tuple[object, ...]]
V = TypeVar("V")


# --- the keys -------------------------------------------------------------------------


class Key(ABC, Generic[V]):
    """One key of a condition (``field``, a field of ``Condition``): all the engine knows
    of it. ``value`` is a condition's value of the field (None where a rule file says
    ``null``), ``values`` those of every condition of a rule set that sets it."""

    #: its evidence is part of the condition's (``not`` has none: left out)
    explains = True

    def __init__(self, field: str) -> None:
        self.field = field

    @abstractmethod
    def compile(self, value: V, window: str) -> Compiled:
        """``holds`` and ``evidence`` (``window``: the repeat-contact window, as the
        evidence says it: "7 days")."""

    def options(self, value: V) -> list[frozenset[str]]:
        """Sets of atoms, each necessary for the key to hold: one of its atoms must be
        among those of the event (``atoms``) or, ``rule:<id>``, have fired. None by
        default."""
        return []

    def atoms(self, part: object) -> Iterable[str]:
        """The atoms that ``options`` may name of an event whose part of the signature
        (what ``reads`` gave) is ``part``."""
        return ()

    def pure(self, value: V) -> bool:
        """Its evidence, when it holds, is a function of the facts' signature alone."""
        return False

    def reads(self, values: list[V]) -> Part | None:
        """Its part of the signature: all that its ``holds`` reads of the facts, as far as
        ``values`` tell it apart; None: nothing of the facts."""
        return None


class Score(Key[Range | None]):
    """A range of a score of the facts (``attr``): holds when the score is given and in
    range; evidence ``name=score``. The signature holds the score's class (which of the
    rule set's ranges contain it, see ``_score_classes``), so the evidence is not pure."""

    def __init__(self, field: str, attr: str, name: str, *, cache: bool = True) -> None:
        super().__init__(field)
        self.attr, self.name, self.cache = attr, name, cache
        self.get = attrgetter(attr)

    def compile(self, value: Range | None, window: str) -> Compiled:
        assert value is not None
        return _range(self.name, value, self.attr)

    def options(self, value: Range | None) -> list[frozenset[str]]:
        return [frozenset({self.field})]

    def atoms(self, part: object) -> Iterable[str]:
        return () if part is None else (self.field,)

    def reads(self, values: list[Range | None]) -> Part:
        classify = _score_classes([v for v in values if v is not None], cache=self.cache)
        get = self.get

        def score_class(f: Facts) -> int | None:
            score = get(f)
            return None if score is None else classify(score)

        return score_class


class Negativity(Score):
    """The text model's negativity (P(neg) against P(pos) and a quarter of P(neu)) in a
    range; its evidence names the words that pushed it (a score hardly ever repeats: its
    classes are not remembered)."""

    def __init__(self) -> None:
        super().__init__("negativity", "negativity", "negativity", cache=False)

    def compile(self, value: Range | None, window: str) -> Compiled:
        holds = super().compile(value, window)[0]

        def explain(f: Facts) -> Evidence:
            # "negativity 0.98 (rude 2.01, food 1.74)": the words that pushed it, with
            # their part of the logit margin towards negative (service/sentiment/model.py)
            model = f.text_model
            words = model.explain(f.model_input) if model is not None else []
            shown = ", ".join(f"{w} {share:.2f}" for w, share in words)
            return [f"negativity {f.negativity:.2f}" + (f" ({shown})" if shown else "")]

        return holds, explain


class Member(Key[list[str] | None]):
    """The facts' ``attr`` is one of the values given; evidence ``field=value``. A value
    that no condition of the rule set names is, in the signature, the same as none."""

    def __init__(self, field: str, attr: str | None = None) -> None:
        super().__init__(field)
        self.attr = attr or field
        self.get = attrgetter(self.attr)
        self.prefix = field + ":"

    def compile(self, value: list[str] | None, window: str) -> Compiled:
        return _member(self.field, value or [], self.attr)

    def options(self, value: list[str] | None) -> list[frozenset[str]]:
        return [frozenset(self.prefix + v for v in value or ())]

    def atoms(self, part: object) -> Iterable[str]:
        return () if part is None else (f"{self.prefix}{part}",)

    def pure(self, value: list[str] | None) -> bool:
        return True

    def reads(self, values: list[list[str] | None]) -> Part:
        named = frozenset(v for given in values for v in given or ())
        get = self.get

        def member(f: Facts) -> object:
            found = get(f)
            return found if found in named else None

        return member


class _Lexicons(Key[list[str] | None]):
    """Lexicon names: holds when one of them is among ``names(signals)``, the lexicons
    for which the key holds (the signature's part)."""

    def __init__(self, field: str, names: Callable[[TextSignals], Collection[str]]) -> None:
        super().__init__(field)
        self.names = names
        self.prefix = field + ":"

    def options(self, value: list[str] | None) -> list[frozenset[str]]:
        return [frozenset(self.prefix + name for name in value or ())]

    def atoms(self, part: object) -> Iterable[str]:
        assert isinstance(part, frozenset)
        return map(self.prefix.__add__, part)

    def reads(self, values: list[list[str] | None]) -> Part:
        names = self.names

        def lexicons(f: Facts) -> object:
            return frozenset(names(f.signals))

        return lexicons


class Lexicons(_Lexicons):
    """Holds when one of the lexicons has phrases in ``bucket`` of the signals (``text``:
    the hits; ``intensified``); evidence ``name: phrase``, five a lexicon at most."""

    def __init__(self, field: str, bucket: str) -> None:
        self.bucket = attrgetter(bucket)
        super().__init__(field, self.bucket)

    def compile(self, value: list[str] | None, window: str) -> Compiled:
        return _lexicon_check(value or [], self.bucket)


class Stated(_Lexicons):
    """Holds when one of the lexicons matched without a hedge (and was not negated)."""

    def __init__(self) -> None:
        super().__init__("stated", attrgetter("stated"))

    def compile(self, value: list[str] | None, window: str) -> Compiled:
        return _stated(value or [])


class Hedged(_Lexicons):
    """Holds when one of the lexicons matched only hedged, never stated."""

    def __init__(self) -> None:
        super().__init__("hedged", _hedged_only)

    def compile(self, value: list[str] | None, window: str) -> Compiled:
        return _hedged(value or [])


def _hedged_only(sig: TextSignals) -> Collection[str]:
    """The lexicons that matched only hedged."""
    return sig.hedged.keys() - sig.stated if sig.hedged else ()


class Flag(Key[bool | None]):
    """A yes/no property of the facts (``test``, also the signature's part); ``false``
    asks for its absence (evidence ``not <field>``), ``true`` explains with ``said``:
    fixed words (pure), what the facts show, or (None) what ``explain`` makes."""

    def __init__(self, field: str, test: Holds, said: Evidence | Explain | None) -> None:
        super().__init__(field)
        self.test, self.said = test, said

    def explain(self, window: str) -> Explain:
        """The evidence when the property is there."""
        if isinstance(self.said, list):
            return _static(self.said)
        assert self.said is not None
        return self.said

    def compile(self, value: bool | None, window: str) -> Compiled:
        return _flag(self.field, bool(value), self.test, self.explain(window))

    def options(self, value: bool | None) -> list[frozenset[str]]:
        return [frozenset({self.field})] if value else []

    def atoms(self, part: object) -> Iterable[str]:
        return (self.field,) if part else ()

    def pure(self, value: bool | None) -> bool:
        return not value or isinstance(self.said, list)

    def reads(self, values: list[bool | None]) -> Part:
        return self.test


class RepeatContact(Flag):
    """Earlier tickets of the customer within the window; evidence names them."""

    def __init__(self) -> None:
        super().__init__("repeat_contact", _has_related, None)

    def explain(self, window: str) -> Explain:
        def repeat(f: Facts) -> Evidence:
            n = len(f.related)
            shown = ", ".join(f.related[:5])
            return [f"{n} earlier ticket{'s' if n != 1 else ''} in {window}: {shown}"]

        return repeat


class Fired(Key[list[str] | None]):
    """All these earlier rules fired; evidence ``after <id>``. Its guard is the last of
    them (``rule:<id>``), met as the rules fire."""

    def compile(self, value: list[str] | None, window: str) -> Compiled:
        return _fired(tuple(value or ()))

    def options(self, value: list[str] | None) -> list[frozenset[str]]:
        return [frozenset({"rule:" + value[-1]})] if value else []

    def pure(self, value: list[str] | None) -> bool:
        return True


class AnyOf(Key[list[Condition] | None]):
    """One of the nested conditions holds (the first that does explains)."""

    def compile(self, value: list[Condition] | None, window: str) -> Compiled:
        conds = value or []
        single = [single_fired(c) for c in conds]
        if all(ref is not None for ref in single):
            return _any_fired([ref for ref in single if ref is not None])
        return _first_of([compile_condition(c, window) for c in conds])

    def options(self, value: list[Condition] | None) -> list[frozenset[str]]:
        subs = [guard(c) for c in value or ()]
        if subs and all(sub is not None for sub in subs):
            return [frozenset().union(*(sub for sub in subs if sub is not None))]
        return []

    def pure(self, value: list[Condition] | None) -> bool:
        return all(is_pure(c) for c in value or ())


class AllOf(Key[list[Condition] | None]):
    """Every nested condition holds; their evidence concatenated."""

    def compile(self, value: list[Condition] | None, window: str) -> Compiled:
        subs = [compile_condition(c, window) for c in value or ()]
        return _all(tuple(sub[0] for sub in subs)), _concat(tuple(sub[1] for sub in subs))

    def options(self, value: list[Condition] | None) -> list[frozenset[str]]:
        return [sub for sub in (guard(c) for c in value or ()) if sub is not None]

    def pure(self, value: list[Condition] | None) -> bool:
        return all(is_pure(c) for c in value or ())


class Not(Key[Condition | None]):
    """The nested condition does not hold; no evidence."""

    explains = False

    def compile(self, value: Condition | None, window: str) -> Compiled:
        assert value is not None
        unless = single_fired(value)
        if unless is not None:  # the common "not after that rule"

            def not_fired(f: Facts) -> bool:
                return unless not in f.fired

            return not_fired, _static([])
        inner = compile_condition(value, window)[0]

        def not_(f: Facts) -> bool:
            return not inner(f)

        return not_, _static([])

    def pure(self, value: Condition | None) -> bool:
        return True


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


#: field of ``Condition`` → its key, in the fields' order
KEYS: dict[str, Key[Any]] = {
    key.field: key
    for key in (
        Score("nps", "nps", "nps_score"),
        Score("rating", "rating", "rating"),
        Member("channel"),
        Member("tier"),
        Member("lifecycle_stage", "stage"),
        Member("language"),
        Lexicons("text", "hits"),
        Flag("text_empty", attrgetter("text_empty"), ["no text"]),
        Flag("has_score", attrgetter("has_score"), ["score given"]),
        Score("words", "words", "words"),
        Flag("shouting", _is_shouting, _shouting),
        Flag("angry_punctuation", _has_punctuation, _punctuation),
        Fired("fired"),
        Stated(),
        Hedged(),
        Lexicons("intensified", "intensified"),
        RepeatContact(),
        Negativity(),
        AnyOf("any"),
        AllOf("all"),
        Not("not_"),
    )
}


# --- what the engine derives from the keys --------------------------------------------


def compile_condition(cond: Condition, window: str) -> Compiled:
    keys = sorted(cond.model_fields_set)
    compiled = [KEYS[key].compile(getattr(cond, key), window) for key in keys]
    if len(compiled) == 1:
        return compiled[0]
    preds = tuple(c[0] for c in compiled)
    # a ``not`` has no evidence: leave it out of the concatenation
    explains = tuple(c[1] for key, c in zip(keys, compiled, strict=True) if KEYS[key].explains)
    return _all(preds), _concat(explains)


def is_pure(cond: Condition) -> bool:
    """True when the evidence of ``cond`` (when it holds) is a function of the facts'
    signature alone: no matched words, capitals share, punctuation or ticket ids."""
    return all(KEYS[key].pure(getattr(cond, key)) for key in cond.model_fields_set)


def single_fired(cond: Condition) -> str | None:
    """The rule id of a condition that is exactly ``{fired: [id]}``, else None."""
    if cond.model_fields_set == {"fired"} and cond.fired and len(cond.fired) == 1:
        return cond.fired[0]
    return None


def guard(cond: Condition) -> frozenset[str] | None:
    """Atoms of which at least one must be present for ``cond`` to hold, or None."""
    options = _options(cond)
    if not options:
        return None
    return min(options, key=len)  # any one is necessary; the smallest is the sharpest


def guards(cond: Condition) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    """Two necessary conditions of ``cond``, both known before its ``holds`` runs: atoms of
    the event's facts of which one must be present, and atoms of which one must be present
    or, for ``rule:<id>``, have fired before (None: no such guard). The first is known once
    the facts are; the second as the rules fire (a rule guarded by ``fired: [negative]``
    and ``tier: [enterprise]`` is tried only for an enterprise customer, only once
    ``negative`` fired)."""
    options = _options(cond)
    on_facts = [o for o in options if not any(a.startswith("rule:") for a in o)]
    on_rules = [o for o in options if all(a.startswith("rule:") for a in o)]
    mixed = [o for o in options if o not in on_facts and o not in on_rules]
    return (
        min(on_facts, key=len) if on_facts else None,
        min(on_rules or mixed, key=len) if on_rules or mixed else None,
    )


def _options(cond: Condition) -> list[frozenset[str]]:
    """Sets of atoms, each necessary for ``cond``: one of its atoms must be present."""
    return [
        option
        for key in sorted(cond.model_fields_set)
        for option in KEYS[key].options(getattr(cond, key))
    ]


def signature_for(rules: RuleSet) -> tuple[Signature, tuple[Key[Any], ...]]:
    """The signature function of a rule set, and the key of each part of a signature.
    Two events with the same signature fire the same rules: it holds everything a rule's
    ``holds`` can read, the part (``reads``) of every key the rule set's conditions use,
    coarsened to what this rule set tells apart: a channel, tier, lifecycle stage or
    language that no condition names is, to every condition, the same as none at all (a
    membership test fails for both, its negation holds for both, and evidence names a
    value only when it is a member), and a score (NPS, rating, the text model's
    negativity) is its class (``_score_classes``). So a stream of many channels, tiers,
    languages and scores reuses far fewer, far more often used plans (the shipped rules
    name only the nine languages of the text model's thresholds, and no channel a private
    message uses)."""
    keys: list[Key[Any]] = []
    parts: list[Part] = []
    for field, values in _values(rules).items():
        part = KEYS[field].reads(values)
        if part is not None:
            keys.append(KEYS[field])
            parts.append(part)
    readers = tuple(parts)

    def signature(f: Facts) -> tuple[object, ...]:
        return tuple([read(f) for read in readers])

    return signature, tuple(keys)


def _values(rules: RuleSet) -> dict[str, list[Any]]:
    """Each key that a condition of ``rules`` sets (in ``KEYS`` order) → their values."""
    found: dict[str, list[Any]] = {key: [] for key in KEYS}
    for cond in _conditions(rule.when for rule in rules.rules):
        for key in cond.model_fields_set:
            found[key].append(getattr(cond, key))
    return {key: values for key, values in found.items() if values}


def _conditions(roots: Iterable[Condition]) -> Iterator[Condition]:
    """Every condition, nested ones (``any``, ``all``, ``not``) included."""
    stack = list(roots)
    while stack:
        cond = stack.pop()
        yield cond
        stack.extend(cond.children())


def _score_classes(ranges: list[Range], *, cache: bool = True) -> Callable[[float], int]:
    """A score's class: which of ``ranges`` (every range the rule set compares that score
    with) contain it. Scores of one class pass and fail the same conditions, so they
    share a plan: with the shipped rules an NPS of 0–10 falls into 4 classes (0–3, 4–6,
    7–8, 9–10), which is what lets a survey mailing's events reuse plans. The class is an
    int, one bit per distinct range, remembered per value (scores are small integers;
    ``cache=False`` for a probability, which hardly ever repeats)."""
    distinct = list({(r.min, r.max): r for r in ranges}.values())
    bounds = tuple((r.min, r.max, 1 << i) for i, r in enumerate(distinct))

    def score_class(value: float) -> int:
        found = 0
        for lo, hi, bit in bounds:  # ``Range.contains``, without a call per range
            if (lo is None or value >= lo) and (hi is None or value <= hi):
                found |= bit
        return found

    return lru_cache(maxsize=1024)(score_class) if cache else score_class


# --- the closures the keys compile into -----------------------------------------------


def _all(preds: tuple[Holds, ...]) -> Holds:
    if len(preds) == 2:  # the common case, without a loop
        p0, p1 = preds

        def holds2(f: Facts) -> bool:
            return p0(f) and p1(f)

        return holds2

    def holds(f: Facts) -> bool:
        # a plain loop: ``all()`` would build a generator for every candidate rule
        for pred in preds:  # noqa: SIM110
            if not pred(f):
                return False
        return True

    return holds


def _concat(explains: tuple[Explain, ...]) -> Explain:
    if len(explains) == 1:
        return explains[0]
    if len(explains) == 2:  # the common case, without a loop
        e0, e1 = explains

        def evidence2(f: Facts) -> Evidence:
            return e0(f) + e1(f)

        return evidence2

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


def _range(name: str, rng: Range, attr: str) -> Compiled:
    lo = rng.min if rng.min is not None else float("-inf")
    hi = rng.max if rng.max is not None else float("inf")
    get = attrgetter(attr)

    def holds(f: Facts) -> bool:
        value = get(f)
        return value is not None and lo <= value <= hi

    def explain(f: Facts) -> Evidence:
        return [f"{name}={get(f)}"]

    return holds, explain


def _member(name: str, allowed: list[str], attr: str) -> Compiled:
    allowed_set = frozenset(allowed)
    get = attrgetter(attr)

    def holds(f: Facts) -> bool:
        return get(f) in allowed_set

    def explain(f: Facts) -> Evidence:
        return [f"{name}={get(f)}"]

    return holds, explain


def _flag(name: str, want: bool, pred: Holds, explain: Explain) -> Compiled:
    if want:
        return pred, explain

    def holds(f: Facts) -> bool:
        return not pred(f)

    return holds, _static([f"not {name}"])


def _lexicon_check(
    names: list[str], bucket: Callable[[TextSignals], dict[str, list[str]]]
) -> Compiled:
    wanted = tuple(names)
    wanted_set = frozenset(names)

    def holds(f: Facts) -> bool:
        # a lexicon is in a bucket only with at least one phrase
        return not wanted_set.isdisjoint(bucket(f.signals))

    # evidence "churn: cancel my subscription": the prefix is added to each phrase by
    # ``map`` (no comprehension: a function call per rule fired)
    prefixed = tuple((name, f"{name}: ") for name in wanted)
    if len(prefixed) == 1:
        ((name, prefix),) = prefixed

        def explain_one(f: Facts) -> Evidence:
            words = bucket(f.signals).get(name)
            return list(map(prefix.__add__, words[:5])) if words else []

        return holds, explain_one

    def explain(f: Facts) -> Evidence:
        hits = bucket(f.signals)
        found: Evidence = []
        for name, prefix in prefixed:
            words = hits.get(name)
            if words:
                found.extend(map(prefix.__add__, words[:5]))
        return found

    return holds, explain


def _stated(names: list[str]) -> Compiled:
    wanted = tuple(names)
    wanted_set = frozenset(names)

    def holds(f: Facts) -> bool:
        # a stated lexicon always has hits
        return not wanted_set.isdisjoint(f.signals.stated)

    prefixed = tuple((name, f"{name}: ") for name in wanted)

    def explain(f: Facts) -> Evidence:
        sig = f.signals
        stated, hits = sig.stated, sig.hits
        found: Evidence = []
        for name, prefix in prefixed:  # as in ``_lexicon_check``
            if name in stated:
                found.extend(map(prefix.__add__, hits[name][:5]))
        return found

    return holds, explain


def _hedged(names: list[str]) -> Compiled:
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


def _fired(refs: tuple[str, ...]) -> Compiled:
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


def _any_fired(refs: list[str]) -> Compiled:
    """The common "any of these rules fired": one set test, and the evidence of the first
    that fired."""
    ref_set = frozenset(refs)
    afters = tuple((ref, f"after {ref}") for ref in refs)

    def any_fired(f: Facts) -> bool:
        return not ref_set.isdisjoint(f.fired)

    def first_fired(f: Facts) -> Evidence:
        fired = f.fired
        for ref, after in afters:
            if ref in fired:
                return [after]
        raise AssertionError("explained an 'any' that does not hold")  # pragma: no cover

    return any_fired, first_fired


def _first_of(subs: list[Compiled]) -> Compiled:
    """Holds when one of ``subs`` does; the evidence of the first that holds."""
    preds = tuple(sub[0] for sub in subs)
    explains = tuple(sub[1] for sub in subs)

    def holds(f: Facts) -> bool:
        # a plain loop: ``any()`` would build a generator for every candidate rule
        for pred in preds:  # noqa: SIM110
            if pred(f):
                return True
        return False

    def first(f: Facts) -> Evidence:
        for pred, explain in zip(preds, explains, strict=True):
            if pred(f):
                return explain(f)
        raise AssertionError("explained an 'any' that does not hold")  # pragma: no cover

    return holds, first
