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

Business hours: ``calendars`` names calendar definitions (time zone, weekly hours,
holidays; ``service.sla.calendar``) and ``calendar`` chooses one per priority and metric
(``{default: business, P1: 24x7, next_reply: {...}}``). Every deadline and step time is
``calendar.add(cycle start, fraction × target)``; without them every clock is 24/7.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from schemas.common import Priority
from service.sla.calendar import (
    ALWAYS,
    TWENTY_FOUR_SEVEN,
    BusinessCalendar,
    CalendarError,
    build_calendar,
    ical_dates,
    parse_hours,
    zone_of,
)
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


#: The clocks a calendar can be chosen for (``TicketClock.metric``).
METRICS = ("first_response", "next_reply")


class HolidaysDef(BaseModel):
    """Closed days of a calendar: explicit dates, a country's public holidays (the
    ``holidays`` package) and the all-day events of an iCalendar file (``icalendar``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dates: list[date] = Field(default_factory=list)
    country: str | None = Field(default=None, description="ISO 3166-1 code, e.g. DE.")
    subdivision: str | None = Field(default=None, description="e.g. BY (needs country).")
    ical: str | None = Field(
        default=None, description="An .ics file; relative paths from the policy file's folder."
    )

    @model_validator(mode="after")
    def _subdivision_needs_country(self) -> HolidaysDef:
        if self.subdivision is not None and self.country is None:
            raise refusal(("subdivision",), "needs country")
        return self


class CalendarDef(BaseModel):
    """One named calendar of the policy's ``calendars``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field(description="IANA time zone, e.g. Europe/Berlin.")
    hours: dict[str, str | list[str]] = Field(
        description='Open hours by weekday or range: {"mon-fri": "09:00-18:00"}; local time.'
    )
    holidays: HolidaysDef = Field(default_factory=HolidaysDef)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zone_of(value)
        except CalendarError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        try:
            parse_hours(value)
        except CalendarError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("holidays", mode="before")
    @classmethod
    def _dates_only(cls, value: Any) -> Any:
        return {"dates": value} if isinstance(value, list) else value


class CalendarByPriority(BaseModel):
    """Calendar names: ``default`` and per priority (None: fall back)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: str | None = None
    P1: str | None = None
    P2: str | None = None
    P3: str | None = None
    P4: str | None = None

    def named(self, priority: Priority) -> str | None:
        name: str | None = getattr(self, priority.value)
        return name if name is not None else self.default


class CalendarChoice(CalendarByPriority):
    """Which calendar a clock counts in: per metric (``first_response``, ``next_reply``),
    then per priority, then ``default``, then 24/7. A plain string names one for all."""

    first_response: CalendarByPriority | None = None
    next_reply: CalendarByPriority | None = None

    def name_for(self, priority: Priority, metric: str) -> str:
        by_metric: CalendarByPriority | None = getattr(self, metric, None)
        if by_metric is not None:
            name = by_metric.named(priority)
            if name is not None:
                return name
        return self.named(priority) or ALWAYS


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

    calendars: dict[str, CalendarDef] = Field(
        default_factory=dict,
        description="Named business-hours calendars (24x7 is built in and reserved).",
    )
    calendar: CalendarChoice = Field(
        default_factory=CalendarChoice,
        description="The calendar of each priority and metric (default: 24x7 everywhere).",
    )
    _calendars: dict[tuple[Priority, str], BusinessCalendar] = PrivateAttr(default_factory=dict)

    @field_validator("calendar", mode="before")
    @classmethod
    def _one_calendar(cls, value: Any) -> Any:
        return {"default": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _build_calendars(self, info: ValidationInfo) -> SlaPolicy:
        base = Path((info.context or {}).get("base", "."))
        built: dict[str, BusinessCalendar] = {ALWAYS: TWENTY_FOUR_SEVEN}
        for name, cal in self.calendars.items():
            if name == ALWAYS:
                raise refusal(("calendars", name), f"{ALWAYS} is built in (always open)")
            closed = set(cal.holidays.dates)
            if cal.holidays.ical is not None:
                path = base / cal.holidays.ical
                try:
                    closed |= ical_dates(path)
                except CalendarError as exc:
                    raise refusal(("calendars", name, "holidays", "ical"), str(exc)) from None
            try:
                built[name] = build_calendar(
                    name,
                    cal.timezone,
                    cal.hours,
                    closed,
                    cal.holidays.country,
                    cal.holidays.subdivision,
                )
            except CalendarError as exc:
                raise refusal(("calendars", name, "holidays"), str(exc)) from None
        choice = self.calendar
        for where, names in [((), choice), *(((m,), getattr(choice, m)) for m in METRICS)]:
            if names is None:
                continue
            for key in ("default", *(p.value for p in Priority)):
                name = getattr(names, key)
                if name is not None and name not in built:
                    known = ", ".join(sorted(built))
                    raise refusal(
                        ("calendar", *where, key), f"unknown calendar {name!r} (known: {known})"
                    )
        self._calendars = {(p, m): built[choice.name_for(p, m)] for p in Priority for m in METRICS}
        return self

    @property
    def business_hours(self) -> bool:
        """Some clock counts in a calendar other than 24/7 (else: plain addition)."""
        return any(not cal.always_open for cal in self._calendars.values())

    def calendar_for(self, priority: Priority, metric: str = "first_response") -> BusinessCalendar:
        """The calendar a clock of this priority and metric counts in (24/7 by default)."""
        return self._calendars.get((priority, metric), TWENTY_FOUR_SEVEN)

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
        target in the priority's first-response calendar: plain addition for 24/7). The
        one place a target is decided: the prioritizer publishes these, the monitor keeps
        them."""
        target = self.target_seconds[priority]
        return target, self.calendar_for(priority, "first_response").add(occurred_at, target)

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


def parse_policy(text: str, source: str = "<string>", base: str | Path | None = None) -> SlaPolicy:
    """Parse a policy; ``base`` is the folder relative iCalendar paths start from
    (default: the folder of ``source``)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(source, yaml_problem(exc)) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(source, "expected a mapping at the top level (an SLA policy)")
    try:
        folder = Path(base) if base is not None else Path(source).parent
        return SlaPolicy.model_validate(data, context={"base": str(folder)})
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
