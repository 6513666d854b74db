"""The SLA policy: when to warn, when to breach, which clocks run, how long to remember.

A policy is a small YAML document validated with pydantic at load time (see
``default_policy.yaml`` for the shipped one and ``demo_policy.yaml`` for short demo
targets). Every response cycle of a ticket (the first response, then each next reply)
runs the same ladder of steps, measured from the cycle start:

* ``sla_warning`` level 1, 2, … at ``warning_fractions`` × target (default 50 %, 80 %),
  step names ``warn50``, ``warn80``;
* ``sla_breach`` level 1, 2, 3 … at ``breach_multipliers`` × target (default 1×, 2×, 4×),
  step names ``breach1``, ``breach2``, ``breach3``. The first multiplier must be 1: breach
  level 1 is the deadline itself.

The policy is also the only source of a ticket's first-response target: the prioritizer
publishes ``sla.target_seconds``/``sla.first_response_due_at`` from
``SlaPolicy.first_response_due`` and names the policy (``sla.policy_id``), and the monitor
keeps the clock the ticket shows (``service.sla.engine``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas.common import Priority
from service.startup_errors import ConfigError, Loc, refusal, validation_problems, yaml_problem

DAY = 86_400

#: First-response targets of a priority the policy does not name (the product's:
#: P1 10 minutes, P2 1 hour, P3 a working day, P4 two days).
DEFAULT_TARGETS: dict[Priority, int] = {
    Priority.P1: 600,
    Priority.P2: 3600,
    Priority.P3: 28_800,
    Priority.P4: 172_800,
}


@dataclass(frozen=True, slots=True)
class StepDef:
    """One rung of the ladder: its name, escalation kind and level, and where it sits as a
    multiple of the target (0.5 = half the target after the cycle start)."""

    name: str
    kind: Literal["sla_warning", "sla_breach"]
    level: int
    fraction: float


class SlaPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(default="default", min_length=1)
    warning_fractions: list[float] = Field(
        default_factory=lambda: [0.5, 0.8],
        description="sla_warning levels 1, 2, … at these fractions of the target.",
    )
    breach_multipliers: list[float] = Field(
        default_factory=lambda: [1.0, 2.0, 4.0],
        description="sla_breach levels 1, 2, 3 … at these multiples of the target.",
    )
    next_reply_clock: bool = Field(
        default=True,
        description="A customer reply (or reopen) after an agent reply starts a new clock.",
    )
    target_seconds: dict[Priority, int] = Field(
        default_factory=lambda: dict(DEFAULT_TARGETS),
        description="First-response target per priority, in seconds (a priority not named "
        "keeps its default: P1 600, P2 3600, P3 28800, P4 172800).",
    )
    management_attention: bool = Field(
        default=True, description="Emit management_attention when a ticket asks for it."
    )
    pending_retention_seconds: int = Field(
        default=7 * DAY, gt=0, description="Keep activities of not-yet-seen tickets this long."
    )
    closed_retention_seconds: int = Field(
        default=1 * DAY, gt=0, description="Remember resolved tickets this long (dedup)."
    )
    idle_retention_seconds: int | None = Field(
        default=30 * DAY,
        gt=0,
        description="Forget open tickets with nothing left to escalate after this long "
        "without a change; null keeps them until resolved.",
    )

    @field_validator("warning_fractions")
    @classmethod
    def _warnings(cls, value: list[float]) -> list[float]:
        if any(not 0 < f < 1 for f in value):
            raise ValueError("each fraction must be between 0 and 1 (exclusive)")
        _increasing(value)
        names = [_warn_name(f) for f in value]
        if len(set(names)) != len(names):
            raise ValueError(f"fractions must differ in whole percent, got step names {names}")
        return value

    @field_validator("breach_multipliers")
    @classmethod
    def _breaches(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("at least one multiplier (1, the deadline) is required")
        if value[0] != 1:
            raise ValueError(f"the first multiplier must be 1 (the deadline), got {value[0]}")
        _increasing(value)
        return value

    @field_validator("target_seconds")
    @classmethod
    def _targets(cls, value: dict[Priority, int]) -> dict[Priority, int]:
        for prio, seconds in value.items():
            if seconds <= 0:
                raise refusal((prio.value,), f"must be positive, got {seconds}")
        return {p: value.get(p, DEFAULT_TARGETS[p]) for p in Priority}

    def first_response_due(self, priority: Priority, occurred_at: datetime) -> tuple[int, datetime]:
        """A ticket's first-response target (seconds) and due time (``occurred_at`` +
        target). The one place a target is decided: the prioritizer publishes these, the
        monitor keeps them."""
        target = self.target_seconds[priority]
        return target, occurred_at + timedelta(seconds=target)

    def steps(self) -> tuple[StepDef, ...]:
        """The ladder of one cycle, in time order (warnings, then breaches)."""
        warn = [
            StepDef(_warn_name(f), "sla_warning", i, f)
            for i, f in enumerate(self.warning_fractions, 1)
        ]
        breach = [
            StepDef(f"breach{i}", "sla_breach", i, m)
            for i, m in enumerate(self.breach_multipliers, 1)
        ]
        return (*warn, *breach)


def _warn_name(fraction: float) -> str:
    return f"warn{round(fraction * 100)}"


def _increasing(value: list[float]) -> None:
    if any(b <= a for a, b in pairwise(value)):
        raise ValueError(f"must be strictly increasing, got {value}")


class PolicyError(ConfigError):
    """A policy file could not be loaded; the message (one line) names the file, the
    policy (its version, when it has one) and the bad field (``service.startup_errors``)."""


def _subject_of(data: dict[str, Any]) -> Any:
    version = data.get("version")
    name = f'SLA policy "{version}"' if isinstance(version, str) and version else "SLA policy"

    def subject(loc: Loc) -> tuple[str, Loc]:
        return name, loc

    return subject


def parse_policy(text: str, source: str = "<string>") -> SlaPolicy:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(source, yaml_problem(exc)) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(source, "expected a mapping at the top level (an SLA policy)")
    try:
        return SlaPolicy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(source, validation_problems(exc, _subject_of(data))) from exc


def policy_text(name: str = "default_policy.yaml") -> str:
    """The text of a policy shipped with the package (``default_policy.yaml``, ``demo_policy.yaml``)."""
    return resources.files("service.sla").joinpath(name).read_text("utf-8")


def load_policy(path: str | Path | None = None) -> SlaPolicy:
    """Load a policy file, or the shipped default when ``path`` is None."""
    if path is None:
        return parse_policy(policy_text(), "default_policy.yaml")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(p), f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(str(p), f"cannot read: not UTF-8 text ({exc.reason})") from exc
    return parse_policy(text, str(p))


def load_demo_policy() -> SlaPolicy:
    return parse_policy(policy_text("demo_policy.yaml"), "demo_policy.yaml")
