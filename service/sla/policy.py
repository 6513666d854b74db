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

Policies by conditions: ``policies`` is an ordered list of entries, each an ``id``,
optional ``when`` conditions (priority, tier, channel, category, language, brand: a value
or a list; every key given must match) and the settings it changes (``target_seconds``,
``calendars``, ``calendar``); the rest of the file is the default each entry inherits
and the policy of a ticket no entry matches. :meth:`SlaPolicy.select` picks the first
entry that matches a ticket's facts; the prioritizer publishes its id as
``sla.policy_id`` and the monitor looks it up again (:meth:`SlaPolicy.for_ticket`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cached_property
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

from schemas.common import Channel, Priority, Tier
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
from service.sla.state import METRICS
from service.startup_errors import (
    ConfigError,
    Loc,
    error_message,
    refusal,
    validation_problems,
    yaml_problem,
)

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
    #: False: the step is published (dashboards, ``triage watch``) but marked
    #: ``notify: false`` so the notify role and pagers leave it alone
    notify: bool = True


#: Activity kinds that pause clocks (``pauses``: which metrics each pauses).
PAUSE_KINDS = ("pending", "on_hold", "waiting_on_customer")


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
    resolution: CalendarByPriority | None = None
    periodic_update: CalendarByPriority | None = None

    def name_for(self, priority: Priority, metric: str) -> str:
        by_metric: CalendarByPriority | None = getattr(self, metric, None)
        if by_metric is not None:
            name = by_metric.named(priority)
            if name is not None:
                return name
        return self.named(priority) or ALWAYS


#: Settings a ``policies`` entry may change (the ladders, the pauses, the next-reply
#: clock and the retention are the file's, the same for every ticket).
ENTRY_SETTINGS = (
    "target_seconds",
    "resolution_seconds",
    "periodic_update_seconds",
    "calendars",
    "calendar",
)
#: Entry settings merged key by key with the file's (the others replace it).
_MERGED = frozenset(
    {"target_seconds", "resolution_seconds", "periodic_update_seconds", "calendars"}
)


class LadderDef(BaseModel):
    """One priority's ladder (``ladders.P4``): which steps exist and which notify. A key
    left out keeps the file's (``warning_fractions``, ``breach_multipliers``); ``notify``
    names the steps that page (default: all of them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warning_fractions: list[float] | None = None
    breach_multipliers: list[float] | None = None
    notify: list[str] | None = None

    @field_validator("warning_fractions")
    @classmethod
    def _warnings(cls, value: list[float] | None) -> list[float] | None:
        return None if value is None else check_warnings(value)

    @field_validator("breach_multipliers")
    @classmethod
    def _breaches(cls, value: list[float] | None) -> list[float] | None:
        return None if value is None else check_breaches(value)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str | int) and not isinstance(value, bool) else value


class Conditions(BaseModel):
    """An entry's ``when``: every key given must match (a value or any of a list)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    priority: list[Priority] | None = None
    tier: list[Tier] | None = None
    channel: list[Channel] | None = None
    category: list[str] | None = None
    language: list[str] | None = None
    brand: list[str] | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("*")
    @classmethod
    def _not_empty(cls, value: list[Any] | None) -> list[Any] | None:
        if value is not None and not value:
            raise ValueError("must name at least one value (or leave the key out)")
        if value is not None and any(isinstance(v, str) and not v.strip() for v in value):
            raise ValueError("values must not be empty")
        return value

    def matches(self, facts: TicketFacts) -> bool:
        if self.priority is not None and facts.priority not in self.priority:
            return False
        if self.tier is not None and facts.tier not in self.tier:
            return False
        if self.channel is not None and facts.channel not in self.channel:
            return False
        if self.category is not None and facts.category not in self.category:
            return False
        if self.brand is not None and facts.brand not in self.brand:
            return False
        if self.language is not None:
            lang = (facts.language or "").lower()
            if not any(
                lang == c.lower() or lang.startswith(c.lower() + "-") for c in self.language
            ):
                return False
        return True


class PolicyEntry(BaseModel):
    """One entry of ``policies``: an id, its conditions and the settings it changes."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1, max_length=100)
    when: Conditions = Field(default_factory=Conditions)

    @model_validator(mode="after")
    def _settings(self) -> PolicyEntry:
        for key in self.model_extra or {}:
            if key not in ENTRY_SETTINGS:
                allowed = ", ".join(("id", "when", *ENTRY_SETTINGS))
                raise refusal((key,), f"unknown key (an entry takes {allowed})")
        return self


@dataclass(frozen=True, slots=True)
class _Tables:
    """``SlaPolicy``'s lookup tables (see ``SlaPolicy._tables``)."""

    calendars: dict[tuple[Priority, str], BusinessCalendar]
    steps: dict[Priority, tuple[StepDef, ...]]
    entries: tuple[tuple[Conditions, SlaPolicy], ...]
    by_id: dict[str, SlaPolicy]
    #: priority → its first-response target and that target as a span, for each priority
    #: whose first-response calendar is 24/7 (its due time is plain addition)
    plain_due: dict[Priority, tuple[int, timedelta]]


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What a policy's conditions look at (``brand``: the event's tenant/brand id)."""

    priority: str
    tier: str | None = None
    channel: str | None = None
    category: str | None = None
    language: str | None = None
    brand: str | None = None


def _pause_all() -> dict[str, list[str]]:
    return {kind: list(METRICS) for kind in PAUSE_KINDS}


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
    resolution_seconds: dict[Priority, int] = Field(
        default_factory=dict,
        description="Resolution target per priority (from the ticket's start to resolved); "
        "a priority not named has none.",
    )
    periodic_update_seconds: dict[Priority, int] = Field(
        default_factory=dict,
        description="Periodic-update target per priority: after each agent update, the "
        "next one is due within this; a priority not named has none.",
    )
    pauses: dict[str, list[str]] = Field(
        default_factory=_pause_all,
        description="Which metrics each pause kind (pending, on_hold, waiting_on_customer) "
        "stops; default: every pause stops every clock.",
    )
    ladders: dict[Priority, LadderDef] = Field(
        default_factory=dict,
        description="Per-priority ladders: the steps a priority's clocks run and which "
        "of them notify (a priority not named: the file's ladder, every step notifies).",
    )
    management_attention: bool = Field(
        default=True, description="Emit management_attention when a ticket asks for it."
    )
    retarget_on_repeat_contact: bool = Field(
        default=True,
        description="A new ticket that names earlier open ones (related_ticket_ids: the "
        "customer wrote again) raises their priority to its own when higher.",
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
    policies: list[PolicyEntry] | None = Field(
        default=None,
        description="Policies chosen by conditions, in order: the first that matches a "
        "ticket applies; none: this (the default) policy.",
    )
    _calendars: dict[tuple[Priority, str], BusinessCalendar] = PrivateAttr(default_factory=dict)
    _steps: dict[Priority, tuple[StepDef, ...]] = PrivateAttr(default_factory=dict)
    _entries: tuple[tuple[Conditions, SlaPolicy], ...] = PrivateAttr(default=())
    _by_id: dict[str, SlaPolicy] = PrivateAttr(default_factory=dict)

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

    @model_validator(mode="after")
    def _build_entries(self, info: ValidationInfo) -> SlaPolicy:
        if self.policies is None:
            return self
        if not self.policies:
            raise refusal(("policies",), "must hold at least one policy (or leave it out)")
        inherited = self.model_dump(include=set(ENTRY_SETTINGS), exclude_unset=True)
        entries: list[tuple[Conditions, SlaPolicy]] = []
        by_id: dict[str, SlaPolicy] = {self.version: self}
        for i, entry in enumerate(self.policies):
            if entry.id in by_id:
                what = "the file's version" if entry.id == self.version else "another policy"
                raise refusal(("policies", i, "id"), f"duplicate id {entry.id!r} ({what})")
            settings = dict(inherited)
            for key, value in (entry.model_extra or {}).items():
                if key in _MERGED and isinstance(value, dict):
                    settings[key] = {**settings.get(key, {}), **value}
                else:
                    settings[key] = value
            top = self.model_dump(exclude={"policies", *ENTRY_SETTINGS}, exclude_unset=True)
            try:
                policy = SlaPolicy.model_validate(
                    {**top, **settings, "version": entry.id}, context=info.context
                )
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = tuple(err["loc"]) + tuple((err.get("ctx") or {}).get("loc", ()))
                raise refusal(("policies", i, *loc), error_message(err)) from None
            entries.append((entry.when, policy))
            by_id[entry.id] = policy
        self._entries = tuple(entries)
        self._by_id = by_id
        return self

    def select(self, facts: TicketFacts) -> SlaPolicy:
        """The policy of a ticket with these facts: the first entry of ``policies`` whose
        conditions match, else this (the default) policy. The prioritizer's and the
        monitor's one way to choose."""
        for when, policy in self._tables.entries:
            if when.matches(facts):
                return policy
        return self

    def by_id(self, policy_id: str | None) -> SlaPolicy | None:
        """The entry (or this policy) a ticket's ``sla.policy_id`` names; None: unknown."""
        if policy_id is None:
            return None
        if policy_id == self.version:
            return self
        return self._tables.by_id.get(policy_id)

    def for_ticket(self, policy_id: str | None, facts: TicketFacts) -> SlaPolicy:
        """The monitor's choice: the policy the ticket names, else selection by its facts."""
        return self.by_id(policy_id) or self.select(facts)

    @property
    def business_hours(self) -> bool:
        """Some clock counts in a calendar other than 24/7 (else: plain addition)."""
        return any(not cal.always_open for cal in self._calendars.values()) or any(
            p.business_hours for _, p in self._entries
        )

    def calendar_for(
        self, priority: Priority, metric: str = "first_response", policy_id: str | None = None
    ) -> BusinessCalendar:
        """The calendar a clock of this priority and metric counts in (24/7 by default);
        ``policy_id``: of that entry of ``policies`` (unknown or None: this policy's)."""
        tables = self._tables
        if policy_id is not None and tables.entries:
            chosen = tables.by_id.get(policy_id)
            if chosen is not None and chosen is not self:
                return chosen.calendar_for(priority, metric)
        return tables.calendars.get((priority, metric), TWENTY_FOUR_SEVEN)

    @cached_property
    def _tables(self) -> _Tables:
        """The private tables that tickets are looked up in, once the policy is built. A
        private attribute of a pydantic model is read through ``__getattr__`` after a
        failed lookup (about 1.7 µs a read); a cached property sits in the instance's
        ``__dict__`` (0.05 µs), and the prioritizer and the monitor read these per ticket."""
        plain_due = {
            p: (seconds, timedelta(seconds=seconds))
            for p, seconds in self.target_seconds.items()
            if self._calendars.get((p, "first_response"), TWENTY_FOUR_SEVEN).always_open
        }
        return _Tables(self._calendars, self._steps, self._entries, self._by_id, plain_due)

    @field_validator("warning_fractions")
    @classmethod
    def _warnings(cls, value: list[float]) -> list[float]:
        return check_warnings(value)

    @field_validator("breach_multipliers")
    @classmethod
    def _breaches(cls, value: list[float]) -> list[float]:
        return check_breaches(value)

    @field_validator("resolution_seconds", "periodic_update_seconds")
    @classmethod
    def _other_targets(cls, value: dict[Priority, int]) -> dict[Priority, int]:
        for prio, seconds in value.items():
            if seconds <= 0:
                raise refusal((prio.value,), f"must be positive, got {seconds}")
        return value

    @field_validator("pauses")
    @classmethod
    def _pauses(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for kind, metrics in value.items():
            if kind not in PAUSE_KINDS:
                raise refusal((kind,), f"unknown pause (known: {', '.join(PAUSE_KINDS)})")
            for i, metric in enumerate(metrics):
                if metric not in METRICS:
                    raise refusal(
                        (kind, i), f"unknown metric {metric!r} (known: {', '.join(METRICS)})"
                    )
        return {kind: value.get(kind, []) for kind in PAUSE_KINDS}

    @model_validator(mode="after")
    def _build_ladders(self) -> SlaPolicy:
        for prio in Priority:
            own = self.ladders.get(prio)
            fractions = self.warning_fractions
            multipliers = self.breach_multipliers
            notify: list[str] | None = None
            if own is not None:
                fractions = (
                    own.warning_fractions if own.warning_fractions is not None else fractions
                )
                multipliers = (
                    own.breach_multipliers if own.breach_multipliers is not None else multipliers
                )
                notify = own.notify
            steps = _ladder(fractions, multipliers)
            if notify is not None:
                names = [s.name for s in steps]
                for i, name in enumerate(notify):
                    if name not in names:
                        raise refusal(
                            ("ladders", prio.value, "notify", i),
                            f"unknown step {name!r} (this ladder has {', '.join(names)})",
                        )
                steps = tuple(replace(s, notify=s.name in notify) for s in steps)
            self._steps[prio] = steps
        return self

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
        plain = self._tables.plain_due.get(priority)
        if plain is not None:  # 24/7: one lookup and one addition, per ticket
            return plain[0], occurred_at + plain[1]
        target = self.target_seconds[priority]
        return target, self.calendar_for(priority, "first_response").add(occurred_at, target)

    def steps(self, priority: Priority = Priority.P1) -> tuple[StepDef, ...]:
        """The ladder of one cycle of a priority's clocks, in time order (warnings, then
        breaches): the file's ``warning_fractions`` and ``breach_multipliers`` unless
        ``ladders`` names the priority."""
        return self._tables.steps[priority]

    def target_for(self, priority: Priority, metric: str) -> int | None:
        """The target of a metric's cycles for a priority (None: the policy sets none)."""
        if metric == "resolution":
            return self.resolution_seconds.get(priority)
        if metric == "periodic_update":
            return self.periodic_update_seconds.get(priority)
        return self.target_seconds[priority]

    def pauses_metric(self, pause: str, metric: str) -> bool:
        """Whether a pause of this kind stops clocks of this metric."""
        return metric in self.pauses.get(pause, ())


def _ladder(fractions: list[float], multipliers: list[float]) -> tuple[StepDef, ...]:
    warn = [StepDef(_warn_name(f), "sla_warning", i, f) for i, f in enumerate(fractions, 1)]
    breach = [StepDef(f"breach{i}", "sla_breach", i, m) for i, m in enumerate(multipliers, 1)]
    return (*warn, *breach)


def check_warnings(value: list[float]) -> list[float]:
    if any(not 0 < f < 1 for f in value):
        raise ValueError("each fraction must be between 0 and 1 (exclusive)")
    _increasing(value)
    names = [_warn_name(f) for f in value]
    if len(set(names)) != len(names):
        raise ValueError(f"fractions must differ in whole percent, got step names {names}")
    return value


def check_breaches(value: list[float]) -> list[float]:
    if not value:
        raise ValueError("at least one multiplier (1, the deadline) is required")
    if value[0] != 1:
        raise ValueError(f"the first multiplier must be 1 (the deadline), got {value[0]}")
    _increasing(value)
    return value


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

    entries = data.get("policies")

    def subject(loc: Loc) -> tuple[str, Loc]:
        if len(loc) >= 2 and loc[0] == "policies" and isinstance(loc[1], int):
            i = loc[1]
            entry = entries[i] if isinstance(entries, list) and i < len(entries) else None
            pid = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(pid, str) and pid:
                return f'SLA policy "{pid}"', loc
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
