"""Business-hours calendars: when an SLA clock counts (pure: no Kafka, no metrics).

A :class:`BusinessCalendar` is a time zone (IANA, ``zoneinfo``), the open hours of each
weekday (local wall time, ``[start, end)`` in whole minutes, ``24:00`` allowed as an end)
and closed days (explicit dates, a country's public holidays from the ``holidays`` package,
all-day events of an iCalendar file). :data:`TWENTY_FOUR_SEVEN` is always open: its
arithmetic is plain addition, so a policy without calendars behaves as before.

* ``add(start, seconds)``: the instant when ``seconds`` of business time have elapsed after
  ``start`` (``start`` itself for 0; an amount that ends exactly at a closing time gives the
  closing time).
* ``elapsed(start, end)``: business seconds between two instants (negative when ``end`` is
  before ``start``).

The arithmetic steps from open interval to open interval (not minute by minute). Each
interval's local start and end become instants with ``fold=0`` (in a DST overlap: the first
occurrence); a local time that does not exist (in a DST gap) moves forward to the first
instant that exists after it (the end of the gap). Hours that span midnight are refused:
give them as two intervals (``22:00-24:00`` and the next day's ``00:00-06:00``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_SECOND = 1_000_000
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: The name of the always-open calendar (reserved in a policy's ``calendars``).
ALWAYS = "24x7"
#: Give up after this many closed days in a row (a calendar whose holidays close every day).
MAX_CLOSED_DAYS = 3660
_CACHE_DAYS = 4096
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")

#: Open hours of one local day: ``(start, end)`` minutes after local midnight, ``end``
#: after ``start``, at most 1440 (24:00); sorted, not overlapping.
Interval = tuple[int, int]


class CalendarError(ValueError):
    """A calendar definition is wrong (the policy loader words it: ``service.sla.policy``)."""


def to_us(value: datetime) -> int:
    """Microseconds since the epoch (exact: heap keys and step times compare as integers)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: SLA time needs aware datetimes")
    return (value - EPOCH) // _US


def from_us(value: int) -> datetime:
    return EPOCH + timedelta(0, 0, value)  # positional: twice as fast as microseconds=…


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Open hours in a time zone, less closed days. ``zone`` None: always open (24/7)."""

    name: str
    zone: ZoneInfo | None = None
    #: Monday … Sunday: the open intervals of that weekday.
    week: tuple[tuple[Interval, ...], ...] = ()
    closed_dates: frozenset[date] = frozenset()
    #: Public holidays of this country (ISO 3166 code) and subdivision, from ``holidays``.
    country: str | None = None
    subdivision: str | None = None
    _country_days: Callable[[date], bool] | None = field(
        default=None, init=False, compare=False, repr=False
    )
    _days: dict[date, tuple[tuple[int, int], ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.zone is None:
            return
        if len(self.week) != 7:
            raise CalendarError(f"expected the hours of 7 weekdays, got {len(self.week)}")
        for name, day in zip(WEEKDAYS, self.week, strict=True):
            _check_day(name, day)
        if not any(self.week):
            raise CalendarError("no open hours in the week")
        if self.country is not None:
            object.__setattr__(
                self, "_country_days", country_holidays(self.country, self.subdivision)
            )

    @property
    def always_open(self) -> bool:
        return self.zone is None

    def is_closed_day(self, day: date) -> bool:
        """A holiday (explicit, the country's or from the iCalendar file)."""
        if day in self.closed_dates:
            return True
        return self._country_days is not None and self._country_days(day)

    # -- arithmetic -----------------------------------------------------------------
    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant ``seconds`` of business time after ``start`` (in ``start``'s zone)."""
        if self.zone is None:
            return start + _span(seconds)
        out = from_us(self.add_us(to_us(start), round(seconds * _SECOND)))
        return out.astimezone(start.tzinfo)

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Business seconds from ``start`` to ``end``."""
        if self.zone is None:
            return (end - start).total_seconds()
        return self.elapsed_us(to_us(start), to_us(end)) / _SECOND

    def add_us(self, start_us: int, duration_us: int) -> int:
        """:meth:`add` on microseconds since the epoch (the SLA ladder's time)."""
        if self.zone is None or duration_us <= 0:
            if duration_us < 0:
                raise ValueError(f"a duration must not be negative, got {duration_us} µs")
            return start_us + duration_us
        remaining = duration_us
        for a, b in self._intervals_from(start_us):
            if b <= start_us:
                continue
            a = max(a, start_us)
            if b - a >= remaining:
                return a + remaining
            remaining -= b - a
        raise AssertionError("unreachable: _intervals_from is endless")  # pragma: no cover

    def elapsed_us(self, start_us: int, end_us: int) -> int:
        """:meth:`elapsed` on microseconds since the epoch."""
        if self.zone is None:
            return end_us - start_us
        if end_us < start_us:
            return -self.elapsed_us(end_us, start_us)
        total = 0
        for a, b in self._intervals_from(start_us):
            if a >= end_us:
                break
            lo, hi = max(a, start_us), min(b, end_us)
            if hi > lo:
                total += hi - lo
        return total

    # -- internals ------------------------------------------------------------------
    def _intervals_from(self, start_us: int) -> Iterator[tuple[int, int]]:
        """Open intervals (µs since the epoch), in order, from the day before ``start_us``'s
        local date on (earlier ones end before it)."""
        assert self.zone is not None
        day = from_us(start_us).astimezone(self.zone).date() - timedelta(days=1)
        closed_run = 0
        while True:
            spans = self._day(day)
            if spans:
                closed_run = 0
                yield from spans
            else:
                closed_run += 1
                if closed_run > MAX_CLOSED_DAYS:
                    raise CalendarError(
                        f'calendar "{self.name}": no open hour in {MAX_CLOSED_DAYS} days '
                        f"after {day - timedelta(days=MAX_CLOSED_DAYS)}"
                    )
            day += timedelta(days=1)

    def _day(self, day: date) -> tuple[tuple[int, int], ...]:
        spans = self._days.get(day)
        if spans is None:
            if self.is_closed_day(day):
                spans = ()
            else:
                pairs = (
                    (self._instant(day, s), self._instant(day, e))
                    for s, e in self.week[day.weekday()]
                )
                spans = tuple((a, b) for a, b in pairs if b > a)
            if len(self._days) >= _CACHE_DAYS:
                self._days.clear()
            self._days[day] = spans
        return spans

    def _instant(self, day: date, minute: int) -> int:
        """The local wall time ``day`` + ``minute`` as µs since the epoch: ``fold=0``; a
        time in a DST gap moves forward to the end of the gap."""
        zone = self.zone
        assert zone is not None
        naive = datetime.combine(day, time()) + timedelta(minutes=minute)
        first = naive.replace(tzinfo=zone).astimezone(UTC)
        if first.astimezone(zone).replace(tzinfo=None) == naive:
            return to_us(first)
        # In a gap: fold=1 maps it before the transition, fold=0 after; the transition is
        # the first instant whose wall time is not before ``naive`` (whole seconds).
        lo = to_us(naive.replace(tzinfo=zone, fold=1).astimezone(UTC)) // _SECOND
        hi = to_us(first) // _SECOND
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if from_us(mid * _SECOND).astimezone(zone).replace(tzinfo=None) >= naive:
                hi = mid
            else:
                lo = mid
        return hi * _SECOND


#: Always open: deadlines are start + target, as without calendars.
TWENTY_FOUR_SEVEN = BusinessCalendar(ALWAYS)


def _check_day(name: str, day: Sequence[Interval]) -> None:
    last_end = -1
    for start, end in day:
        if not 0 <= start < 1440 or not 0 < end <= 1440:
            raise CalendarError(f"{name}: hours must lie within 00:00-24:00")
        if end <= start:
            raise CalendarError(
                f"{name}: {_hhmm(start)}-{_hhmm(end)} ends before it starts (hours that span "
                "midnight are not supported: give them as 22:00-24:00 and the next day's "
                "00:00-06:00)"
            )
        if start < last_end:
            raise CalendarError(f"{name}: {_hhmm(start)}-{_hhmm(end)} overlaps other hours")
        last_end = end


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def zone_of(name: str) -> ZoneInfo:
    """An IANA time zone, or :class:`CalendarError`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(
            f"unknown time zone {name!r} (expected an IANA name such as Europe/Berlin)"
        ) from exc


def _minute(text: str, what: str) -> int:
    m = _HHMM.match(text.strip())
    if not m:
        raise CalendarError(f"{what}: expected HH:MM, got {text!r}")
    h, mm = int(m.group(1)), int(m.group(2))
    if mm >= 60 or h > 24 or (h == 24 and mm):
        raise CalendarError(f"{what}: not a time of day, got {text!r}")
    return h * 60 + mm


def _days_of(key: str) -> list[int]:
    """``mon``, ``mon-fri``, ``sat-sun`` (or ``daily``) → weekday numbers."""
    key = key.strip().lower()
    if key in ("daily", "all"):
        return list(range(7))
    first, sep, last = key.partition("-")
    try:
        a = WEEKDAYS.index(first[:3]) if len(first) >= 3 else -1
        b = WEEKDAYS.index(last[:3]) if sep else a
    except ValueError:
        a = b = -1
    if a < 0 or b < 0 or b < a or first not in (WEEKDAYS[a], _FULL[a]):
        raise CalendarError(f"{key!r}: expected a weekday (mon … sun) or a range (mon-fri)")
    return list(range(a, b + 1))


_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_hours(hours: Mapping[str, str | Sequence[str]]) -> tuple[tuple[Interval, ...], ...]:
    """``{"mon-fri": "09:00-18:00", "sat": ["10:00-12:00", "13:00-16:00"]}`` → the week's
    intervals (weekdays not named are closed)."""
    week: list[list[Interval]] = [[] for _ in WEEKDAYS]
    for key, spans in hours.items():
        days = _days_of(key)
        for span in [spans] if isinstance(spans, str) else spans:
            start, sep, end = span.partition("-")
            if not sep:
                raise CalendarError(f"{key}: expected HH:MM-HH:MM, got {span!r}")
            interval = (_minute(start, key), _minute(end, key))
            for d in days:
                week[d].append(interval)
    out = tuple(tuple(sorted(day)) for day in week)
    for name, day in zip(WEEKDAYS, out, strict=True):
        _check_day(name, day)
    if not any(out):
        raise CalendarError("no open hours in the week")
    return out


def country_holidays(country: str, subdivision: str | None = None) -> Callable[[date], bool]:
    """Membership test for a country's public holidays (``holidays``; years on demand)."""
    import holidays  # imported on use: only calendars with a country need it

    try:
        table = holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:
        raise CalendarError(f"holidays: {exc}") from exc
    return table.__contains__


def ical_dates(source: str | Path | bytes) -> frozenset[date]:
    """The days of the all-day events (``VEVENT`` whose ``DTSTART`` is a date) of an
    iCalendar file: from ``DTSTART`` to ``DTEND`` (exclusive; one day when absent).
    Recurrence rules are not expanded; timed events are ignored."""
    import icalendar

    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise CalendarError(f"cannot read {source}: {exc.strerror}") from exc
    try:
        cal = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise CalendarError(f"not an iCalendar file: {exc}") from exc
    days: set[date] = set()
    for event in cal.walk("VEVENT"):
        start = event.get("DTSTART")
        if start is None:
            continue
        first = start.dt
        if isinstance(first, datetime) or not isinstance(first, date):
            continue
        end = event.get("DTEND")
        last = end.dt if end is not None and not isinstance(end.dt, datetime) else None
        if last is None:
            duration = event.get("DURATION")
            last = first + (duration.dt if duration is not None else timedelta(days=1))
        day = first
        while True:
            days.add(day)
            day += timedelta(days=1)
            if day >= last:
                break
    return frozenset(days)


def build_calendar(
    name: str,
    timezone: str,
    hours: Mapping[str, str | Sequence[str]],
    closed: Iterable[date] = (),
    country: str | None = None,
    subdivision: str | None = None,
) -> BusinessCalendar:
    """A calendar from its policy fields (raises :class:`CalendarError`)."""
    return BusinessCalendar(
        name=name,
        zone=zone_of(timezone),
        week=parse_hours(hours),
        closed_dates=frozenset(closed),
        country=country,
        subdivision=subdivision,
    )


@lru_cache(maxsize=1024)
def _span(seconds: float) -> timedelta:
    """``timedelta(seconds=seconds)``, kept: a policy's targets are a handful of numbers,
    and building a ``timedelta`` from a keyword costs more than adding it (0.8 against
    0.1 µs)."""
    return timedelta(seconds=seconds)
