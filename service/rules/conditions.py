"""Rule conditions compiled into closures.

Every condition becomes two closures: ``holds(facts) -> bool``, cheap and run for every
candidate rule, and ``evidence(facts) -> list[str]``, run only for a rule that fired
(right after ``holds``, on the same facts), so no evidence string is built in vain.
The evidence is what the condition matched: the keys of a condition in sorted order,
concatenated; for ``any`` the first alternative that holds; nothing for ``not``.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter

from service.rules.facts import SHOUTING_THRESHOLD, Facts
from service.rules.matcher import TextSignals
from service.rules.model import Condition, Range

Evidence = list[str]
Holds = Callable[[Facts], bool]
Explain = Callable[[Facts], Evidence]


def compile_condition(cond: Condition, window: str) -> tuple[Holds, Explain]:
    keys = sorted(cond.model_fields_set)
    compiled = [compile_key(key, cond, window) for key in keys]
    if len(compiled) == 1:
        return compiled[0]
    preds = tuple(c[0] for c in compiled)
    # a ``not`` has no evidence: leave it out of the concatenation
    explains = tuple(c[1] for key, c in zip(keys, compiled, strict=True) if key != "not_")
    return _all(preds), _concat(explains)


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


def _stated(names: list[str]) -> tuple[Holds, Explain]:
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


def _negativity(rng: Range) -> tuple[Holds, Explain]:
    holds = _range("negativity", rng, "negativity")[0]

    def explain(f: Facts) -> Evidence:
        # "negativity 0.98 (rude 2.01, food 1.74)": the words that pushed it, with their
        # part of the logit margin towards negative (service/sentiment/model.py)
        model = f.text_model
        words = model.explain(f.model_input) if model is not None else []
        shown = ", ".join(f"{w} {share:.2f}" for w, share in words)
        return [f"negativity {f.negativity:.2f}" + (f" ({shown})" if shown else "")]

    return holds, explain


def compile_key(key: str, cond: Condition, window: str) -> tuple[Holds, Explain]:
    if key == "negativity":
        assert cond.negativity is not None
        return _negativity(cond.negativity)
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
        subs = [compile_condition(c, window) for c in cond.any or ()]
        preds = tuple(sub[0] for sub in subs)
        explains = tuple(sub[1] for sub in subs)
        single = [single_fired(c) for c in cond.any or ()]
        if all(ref is not None for ref in single):
            # the common "any of these rules fired": one set test, and the evidence of
            # the first that fired
            ref_set = frozenset(ref for ref in single if ref is not None)
            afters = tuple((ref, f"after {ref}") for ref in single if ref is not None)

            def any_fired(f: Facts) -> bool:
                return not ref_set.isdisjoint(f.fired)

            def first_fired(f: Facts) -> Evidence:
                fired = f.fired
                for ref, after in afters:
                    if ref in fired:
                        return [after]
                raise AssertionError("explained an 'any' that does not hold")  # pragma: no cover

            return any_fired, first_fired

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
    if key == "all":
        subs = [compile_condition(c, window) for c in cond.all or ()]
        return _all(tuple(sub[0] for sub in subs)), _concat(tuple(sub[1] for sub in subs))
    if key == "not_":
        assert cond.not_ is not None
        unless = single_fired(cond.not_)
        if unless is not None:  # the common "not after that rule"

            def not_fired(f: Facts) -> bool:
                return unless not in f.fired

            return not_fired, _static([])
        inner = compile_condition(cond.not_, window)[0]

        def not_(f: Facts) -> bool:
            return not inner(f)

        return not_, _static([])
    raise ValueError(f"unknown condition key {key!r}")  # pragma: no cover - model forbids it


#: condition keys whose evidence depends only on the facts' signature (not ``nps`` and
#: ``rating``: the signature holds a score's class, the evidence its value)
_PURE_KEYS = frozenset(
    {"channel", "tier", "lifecycle_stage", "language", "text_empty"}
    | {"has_score", "fired", "not_"}
)
_FLAG_KEYS = ("shouting", "angry_punctuation", "repeat_contact")


def is_pure(cond: Condition) -> bool:
    """True when the evidence of ``cond`` (when it holds) is a function of the facts'
    signature alone: no matched words, capitals share, punctuation or ticket ids."""
    for key in cond.model_fields_set:
        if key in _PURE_KEYS:
            continue
        if key in _FLAG_KEYS and getattr(cond, key) is False:
            continue  # "not shouting"
        if key in ("any", "all") and all(is_pure(c) for c in getattr(cond, key) or ()):
            continue
        return False
    return True


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
    options: list[frozenset[str]] = []
    for key in cond.model_fields_set:
        g: frozenset[str] | None = None
        if key in ("text", "stated", "hedged", "intensified"):
            g = frozenset("lex:" + n for n in getattr(cond, key) or ())
        elif key == "nps":
            g = frozenset({"nps"})
        elif key == "rating":
            g = frozenset({"rating"})
        elif key == "negativity":
            g = frozenset({"negativity"})
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
            subs = [guard(c) for c in cond.any or ()]
            if subs and all(sub is not None for sub in subs):
                g = frozenset().union(*(sub for sub in subs if sub is not None))
        elif key == "all":
            for sub in (guard(c) for c in cond.all or ()):
                if sub is not None:
                    options.append(sub)
        if g is not None:
            options.append(g)
    return options
