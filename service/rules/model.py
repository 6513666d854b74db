"""The rule-file schema: what a rule set may say, validated with pydantic at load time.

A rule set is a YAML document with lexicons (words per signal, per language), rules
(conditions → weight, category, actions, priority bounds) and the mapping from
severity to priority and SLA target. See ``default_rules.yaml`` for the shipped set.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.common import Priority
from service.rules.matcher import MODIFIER_LEXICONS
from service.startup_errors import (
    ConfigError,
    Loc,
    Problem,
    refusal,
    validation_problems,
    yaml_problem,
)

RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,79}$")]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class _NamesLexicons:
    """Marks a ``Condition`` field whose value names lexicons (``Condition.lexicons``
    collects them, the rule set checks them); no part of the JSON schema."""


#: the type of a ``Condition`` field of lexicon names
LexiconNames = Annotated[list[Name] | None, _NamesLexicons()]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Strict):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}: nothing matches")
        return self

    def contains(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        return f"[{self.min if self.min is not None else ''}..{self.max if self.max is not None else ''}]"


# What each key of a condition means to the engine (its node in the rule set's native
# program and its evidence) is its entry in ``KEYS`` (``service/rules/conditions.py``). The
# docstring below is part of the rule file's JSON schema.
class Condition(_Strict):
    """All the keys given must hold (AND). ``any``/``all``/``not`` nest conditions."""

    nps: Range | None = None
    rating: Range | None = None
    channel: list[str] | None = None
    tier: list[str] | None = None
    lifecycle_stage: list[str] | None = None
    language: list[str] | None = None
    text: LexiconNames = Field(
        default=None, description="Any of these lexicons matched the subject or text."
    )
    text_empty: bool | None = None
    has_score: bool | None = Field(default=None, description="An NPS score or rating is present.")
    words: Range | None = Field(
        default=None,
        description="How many words the text has (subject included; each CJK character "
        "counts as a word), in a range: a long review is not a short question.",
    )
    shouting: bool | None = Field(default=None, description="Mostly capital letters.")
    angry_punctuation: bool | None = Field(default=None, description="Runs like !!! or ?!?.")
    fired: list[RuleId] | None = Field(default=None, description="All these earlier rules fired.")
    stated: LexiconNames = Field(
        default=None, description="Any of these lexicons matched without a hedge (and not negated)."
    )
    hedged: LexiconNames = Field(
        default=None,
        description="These lexicons matched only hedged ('maybe I'll cancel'), never stated.",
    )
    intensified: LexiconNames = Field(
        default=None, description="Any of these lexicons matched right after an intensifier."
    )
    repeat_contact: bool | None = Field(
        default=None,
        description="The customer had earlier tickets within the repeat-contact window.",
    )
    negativity: Range | None = Field(
        default=None,
        description="The text model's probability (0..1) that the text is negative "
        "(service/sentiment); no text, no negativity.",
    )
    any: list[Condition] | None = None
    all: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not self.model_fields_set:
            raise ValueError("a condition needs at least one key")
        nulls = sorted(
            "not" if key == "not_" else key
            for key in self.model_fields_set
            if getattr(self, key) is None
        )
        if nulls:
            # a null has no meaning as a condition (a null range or ``not`` cannot be
            # tested at all): say so when the file is read, not when the engine is built
            raise ValueError(f"{', '.join(nulls)}: null is not a condition (leave the key out)")
        return self

    @field_validator("negativity")
    @classmethod
    def _probability(cls, value: Range | None) -> Range | None:
        for bound in (value.min, value.max) if value else ():
            if bound is not None and not 0 <= bound <= 1:
                raise ValueError(f"must be between 0 and 1 (a probability), got {bound}")
        return value

    def _subs(self) -> list[tuple[Loc, Condition]]:
        """The nested conditions with their place in this one."""
        subs: list[tuple[Loc, Condition]] = []
        for key in ("any", "all"):
            subs += [((key, i), sub) for i, sub in enumerate(getattr(self, key) or ())]
        if self.not_ is not None:
            subs.append((("not",), self.not_))
        return subs

    def path_to(self, keys: tuple[str, ...], names: set[str]) -> Loc | None:
        """Where (``("any", 1, "text")``) one of ``keys`` first lists one of ``names``."""
        for key in keys:
            if names & set(getattr(self, key) or ()):
                return (key,)
        for at, sub in self._subs():
            found = sub.path_to(keys, names)
            if found is not None:
                return at + found
        return None

    def children(self) -> list[Condition]:
        """The conditions nested in this one (``any``, ``all``, ``not``)."""
        return [sub for _, sub in self._subs()]

    def lexicons(self) -> set[str]:
        """The lexicons named by this condition and the ones nested in it."""
        names: set[str] = set()
        for key in self.model_fields_set & _LEXICON_FIELDS:
            names.update(getattr(self, key) or ())
        for sub in self.children():
            names |= sub.lexicons()
        return names

    def uses_negativity(self) -> bool:
        return self.negativity is not None or any(sub.uses_negativity() for sub in self.children())

    def fired_refs(self) -> set[str]:
        refs = set(self.fired or ())
        for sub in self.children():
            refs |= sub.fired_refs()
        return refs


#: the fields of ``Condition`` typed ``LexiconNames``
_LEXICON_FIELDS = frozenset(
    name
    for name, info in Condition.model_fields.items()
    if any(isinstance(m, _NamesLexicons) for m in info.metadata)
)


class Rule(_Strict):
    id: RuleId
    description: str = ""
    when: Condition
    weight: int = Field(default=0, ge=-100, le=100)
    category: Name | None = None
    actions: list[Name] = Field(default_factory=list)
    min_priority: Priority | None = Field(
        default=None, description="The ticket is at least this urgent when the rule fires."
    )
    max_priority: Priority | None = Field(
        default=None, description="The ticket is at most this urgent (min_priority wins)."
    )
    management_attention: bool = False


class TextAnalysis(_Strict):
    """How modifiers (negators, hedges, intensifiers) change lexicon hits."""

    negatable: list[Name] = Field(
        default_factory=list, description="Lexicons whose hits a preceding negator cancels."
    )
    negation_window: int = Field(default=3, ge=0, le=10, description="Words between.")
    hedge_window: int = Field(default=5, ge=0, le=20, description="Words between.")
    intensifier_window: int = Field(default=1, ge=0, le=5, description="Words between.")


class PriorityBand(_Strict):
    priority: Priority
    min_severity: int = Field(ge=0, le=100)


class RuleSet(_Strict):
    version: str = Field(min_length=1)
    base_severity: int = Field(default=0, ge=0, le=100)
    priorities: list[PriorityBand]
    sla_seconds: dict[Priority, int] | None = Field(
        default=None,
        description="Deprecated and ignored: the SLA policy's target_seconds decide the "
        "targets (docs/sla.md). Accepted so older rule files still load.",
    )
    actions_by_priority: dict[Priority, list[Name]] = Field(default_factory=dict)
    category_precedence: list[Name] = Field(default_factory=list)
    default_category: Name = "feedback"
    lexicons: dict[Name, dict[str, list[str]]] = Field(default_factory=dict)
    text_analysis: TextAnalysis = Field(default_factory=TextAnalysis)
    repeat_contact_window_days: float = Field(
        default=7, gt=0, le=365, description="Earlier tickets within this window are related."
    )
    rules: list[Rule]

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        # each problem is raised at its place (``refusal``), so the message names the rule
        if not any(b.min_severity == 0 for b in self.priorities):
            raise refusal(("priorities",), "need a band with min_severity 0 so every ticket maps")
        seen: dict[str, int] = {}
        lexicon_keys = ("text", "stated", "hedged", "intensified")
        for i, rule in enumerate(self.rules):
            if rule.id in seen:
                raise refusal(
                    ("rules", i, "id"), f"duplicate rule id (also rules[{seen[rule.id]}])"
                )
            unknown = rule.when.lexicons() - self.lexicons.keys()
            if unknown:
                at = rule.when.path_to(lexicon_keys, unknown) or ()
                raise refusal(("rules", i, "when", *at), f"unknown lexicon(s) {_names(unknown)}")
            modifiers = rule.when.lexicons() & MODIFIER_LEXICONS.keys()
            if modifiers:
                at = rule.when.path_to(lexicon_keys, modifiers) or ()
                raise refusal(
                    ("rules", i, "when", *at),
                    f"{_names(modifiers)} modify other lexicons; a rule cannot match them",
                )
            later = rule.when.fired_refs() - seen.keys()
            if later:
                at = rule.when.path_to(("fired",), later) or ()
                raise refusal(
                    ("rules", i, "when", *at), f"must name earlier rules, not {_names(later)}"
                )
            if (
                rule.min_priority
                and rule.max_priority
                and (rule.min_priority.rank < rule.max_priority.rank)
            ):
                raise refusal(
                    ("rules", i, "min_priority"),
                    f"{rule.min_priority.value} is more urgent than max_priority "
                    f"{rule.max_priority.value}",
                )
            seen[rule.id] = i
        bad = set(self.text_analysis.negatable) - self.lexicons.keys()
        if bad:
            raise refusal(("text_analysis", "negatable"), f"unknown lexicon(s) {_names(bad)}")
        for name, by_lang in self.lexicons.items():
            for lang, terms in by_lang.items():
                for n, term in enumerate(terms):
                    if not term.strip() or term.strip() in {"*", "**"}:
                        raise refusal(
                            ("lexicons", name, lang, n), f"empty or bare-wildcard term {term!r}"
                        )
        return self

    def uses_negativity(self) -> bool:
        """Some rule reads the text model (so the engine needs one)."""
        return any(rule.when.uses_negativity() for rule in self.rules)

    def sla_seconds_ignored(self, policy_id: str, targets: Mapping[Priority, int]) -> str:
        """The deprecation notice of a rule file that still sets ``sla_seconds``: they are
        ignored, the SLA policy ``policy_id`` with ``targets`` decides (naming the
        priorities whose target the rule file would have set otherwise)."""
        sla = self.sla_seconds or {}
        differ = [
            f"{p.value} {sla[p]} s -> {targets[p]} s"
            for p in Priority
            if p in sla and p in targets and sla[p] != targets[p]
        ]
        effect = f"; targets differ: {', '.join(differ)}" if differ else ""
        return (
            f'rule set "{self.version}": sla_seconds is deprecated and ignored, the targets '
            f'come from SLA policy "{policy_id}" (its target_seconds){effect}'
        )


def _names(names: set[str]) -> str:
    return ", ".join(f'"{n}"' for n in sorted(names))


class RulesError(ConfigError):
    """A rule file could not be loaded; the message (one line) names the file, the bad
    rule (or lexicon) and the field (``service.startup_errors``)."""


def _subject_of(data: Any) -> Any:
    """How a location in the rule file names what it is in: a rule by its id (by its
    place when it has none), a lexicon by its name."""

    def subject(loc: Loc) -> tuple[str, Loc]:
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            try:
                rid = data["rules"][loc[1]]["id"]
            except (KeyError, IndexError, TypeError):
                rid = None
            name = f'rule "{rid}"' if isinstance(rid, str) and rid else f"rules[{loc[1]}]"
            return name, loc[2:]
        if len(loc) >= 2 and loc[0] == "lexicons" and isinstance(loc[1], str):
            return f'lexicon "{loc[1]}"', loc[2:]
        return "", loc

    return subject


def parse_rules(text: str, source: str = "<string>") -> RuleSet:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(source, yaml_problem(exc)) from exc
    if not isinstance(data, dict):
        raise RulesError(source, "expected a mapping at the top level (a rule set)")
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        raise RulesError(source, validation_problems(exc, _subject_of(data))) from exc


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Load a rule file, or the shipped default when ``path`` is None."""
    if path is None:
        return load_default_rules()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(str(p), Problem(f"cannot read: {exc.strerror}")) from exc
    except UnicodeDecodeError as exc:
        raise RulesError(str(p), f"cannot read: not UTF-8 text ({exc.reason})") from exc
    return parse_rules(text, str(p))


def default_rules_text() -> str:
    return resources.files("service.rules").joinpath("default_rules.yaml").read_text("utf-8")


def load_default_rules() -> RuleSet:
    return parse_rules(default_rules_text(), "default_rules.yaml")
