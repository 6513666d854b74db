"""Business-hours calendars: arithmetic against a slow minute-by-minute reference
(hypothesis), DST, weekends, holidays (dates, a country's, iCalendar), policy validation,
and the SLA engine counting a P3 ticket's ladder in business time while P1 stays 24/7."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.activity import ActivityKind, TicketActivity
from schemas.common import Priority
from schemas.ticket import SlaInfo, Ticket
from service.clock import FakeClock
from service.sla.calendar import (
    TWENTY_FOUR_SEVEN,
    WEEKDAYS,
    BusinessCalendar,
    CalendarError,
    build_calendar,
    ical_dates,
)
from service.sla.engine import SlaEngine
from service.sla.policy import PolicyError, SlaPolicy, load_policy, parse_policy

ROOT = Path(__file__).resolve().parents[2]
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = {"mon-fri": "09:00-18:00"}
MINUTE = timedelta(minutes=1)

# -- the slow reference: one minute at a time, by the local wall clock ------------------


def _open_at(cal: BusinessCalendar, t: datetime) -> bool:
    """Open during the minute starting at ``t``: its local date is not closed and its local
    time of day lies in one of the weekday's intervals."""
    assert cal.zone is not None
    local = t.astimezone(cal.zone)
    if cal.is_closed_day(local.date()):
        return False
    minute = local.hour * 60 + local.minute
    return any(s <= minute < e for s, e in cal.week[local.weekday()])


def ref_add(cal: BusinessCalendar, start: datetime, minutes: int) -> datetime:
    t = start
    while minutes > 0:
        if _open_at(cal, t):
            minutes -= 1
        t += MINUTE
    return t


def ref_elapsed(cal: BusinessCalendar, start: datetime, end: datetime) -> int:
    n, t = 0, start
    while t < end:
        n += _open_at(cal, t)
        t += MINUTE
    return n * 60


# Calendars whose hours do not start or end inside 01:00-04:00 local, where these zones
# change their clocks (a boundary in a DST gap or overlap is tested by example below).
_BOUNDARIES = [0, *range(4 * 60, 24 * 60 + 1, 30)]
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
# Days a few days before DST changes in 2026 (Berlin, New York, Lord Howe), and any day.
NEAR_DST = [date(2026, 3, 26), date(2026, 10, 22), date(2026, 3, 5), date(2026, 10, 29)]
NEAR_DST += [date(2026, 4, 2), date(2026, 10, 1)]


@st.composite
def day_hours(draw: st.DrawFn) -> list[str]:
    kind = draw(st.sampled_from(["closed", "one", "two", "all"]))
    if kind == "closed":
        return []
    if kind == "all":
        return ["00:00-24:00"]
    points = sorted(draw(st.sets(st.sampled_from(_BOUNDARIES), min_size=2, max_size=4)))
    pairs = (
        [(points[0], points[1])]
        if kind == "one" or len(points) < 4
        else [
            (points[0], points[1]),
            (points[2], points[3]),
        ]
    )
    return [f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in pairs]


@st.composite
def calendars(draw: st.DrawFn) -> tuple[BusinessCalendar, datetime]:
    zone = draw(st.sampled_from(ZONES))
    hours = {day: draw(day_hours()) for day in WEEKDAYS}
    if not any(hours.values()):
        hours["wed"] = ["09:00-17:00"]
    first = draw(
        st.one_of(
            st.sampled_from(NEAR_DST),
            st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
        )
    )
    minute = draw(st.integers(0, 3 * 1440))
    naive = datetime(first.year, first.month, first.day) + timedelta(minutes=minute)
    start = naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    local_first = start.astimezone(ZoneInfo(zone)).date()
    closed = draw(st.sets(st.integers(0, 20), max_size=4))
    cal = build_calendar("b", zone, hours, [local_first + timedelta(days=d) for d in closed])
    return cal, start


def _weekly_open_minutes(cal: BusinessCalendar) -> int:
    return sum(e - s for day in cal.week for s, e in day)


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(calendars(), st.data())
def test_add_matches_the_minute_by_minute_reference(
    drawn: tuple[BusinessCalendar, datetime], data: st.DataObject
) -> None:
    cal, start = drawn
    limit = min(2 * 1440, _weekly_open_minutes(cal))
    minutes = data.draw(st.integers(0, limit), label="minutes")
    assert cal.add(start, minutes * 60) == ref_add(cal, start, minutes)


@FAST
@given(calendars(), st.integers(0, 12 * 1440))
def test_elapsed_matches_the_minute_by_minute_reference(
    drawn: tuple[BusinessCalendar, datetime], minutes: int
) -> None:
    cal, start = drawn
    end = start + timedelta(minutes=minutes)
    assert cal.elapsed(start, end) == ref_elapsed(cal, start, end)
    assert cal.elapsed(end, start) == -cal.elapsed(start, end)


@FAST
@given(calendars(), st.floats(0, 5 * 86_400), st.integers(0, 86_399_999_999))
def test_add_and_elapsed_are_inverse_at_any_second(
    drawn: tuple[BusinessCalendar, datetime], seconds: float, shift_us: int
) -> None:
    cal, start = drawn
    start += timedelta(microseconds=shift_us)  # not minute-aligned
    due = cal.add(start, seconds)
    assert due >= start
    assert cal.elapsed(start, due) == pytest.approx(seconds, abs=1e-6)
    assert cal.add(start, 0) == start


def test_acceptance_friday_17_55_with_a_one_hour_target_is_due_monday_09_55() -> None:
    policy = parse_policy(
        "calendars:\n"
        "  office:\n"
        "    timezone: Europe/Berlin\n"
        '    hours: {mon-fri: "09:00-18:00"}\n'
        "target_seconds: {P3: 3600}\n"
        "calendar: {default: office, P1: 24x7}\n"
    )
    friday = datetime(2026, 12, 4, 17, 55, tzinfo=BERLIN)
    assert friday.strftime("%A") == "Friday"
    target, due = policy.first_response_due(Priority.P3, friday)
    assert (target, due) == (3600, datetime(2026, 12, 7, 9, 55, tzinfo=BERLIN))
    assert due.strftime("%A %H:%M") == "Monday 09:55"
    # UTC in, the same instant out
    assert policy.first_response_due(Priority.P3, friday.astimezone(UTC))[1] == due
    # P1 stays 24/7: plain addition
    assert policy.first_response_due(Priority.P1, friday) == (600, friday + timedelta(minutes=10))


@pytest.mark.parametrize("name", ["shipped", "office"])
def test_first_response_due_is_the_priority_calendars_sum(name: str) -> None:
    # the 24/7 priorities' due times come from a table of spans: the same as the calendar's
    policy = (
        load_policy()
        if name == "shipped"
        else parse_policy(
            "calendars:\n"
            "  office:\n"
            "    timezone: Europe/Berlin\n"
            '    hours: {mon-fri: "09:00-18:00"}\n'
            "calendar: {default: office, P1: 24x7}\n"
        )
    )
    start = datetime(2026, 12, 4, 17, 55, 1, 250_001, tzinfo=BERLIN)
    for priority in Priority:
        target = policy.target_seconds[priority]
        calendar = policy.calendar_for(priority, "first_response")
        due = policy.first_response_due(priority, start)
        assert due == (target, calendar.add(start, target))
        assert due[1].utcoffset() == start.utcoffset()


def test_twenty_four_seven_is_plain_addition() -> None:
    start = datetime(2026, 3, 29, 0, 30, 0, 123457, tzinfo=UTC)
    for seconds in (0, 0.5, 600, 28_800, 123.456789):
        assert TWENTY_FOUR_SEVEN.add(start, seconds) == start + timedelta(seconds=seconds)
    assert TWENTY_FOUR_SEVEN.elapsed(start, start + timedelta(hours=30)) == 30 * 3600
    assert TWENTY_FOUR_SEVEN.always_open
    assert SlaPolicy().calendar_for(Priority.P3, "next_reply") is TWENTY_FOUR_SEVEN
    assert not SlaPolicy().business_hours  # the engine's fast path: start + offset
    assert not load_policy().business_hours


def test_across_dst_changes() -> None:
    office = build_calendar("o", "Europe/Berlin", OFFICE)
    # Friday 17:00 CET + 2 h: one hour on Friday, one on Monday after the spring change
    fri = datetime(2026, 3, 27, 17, 0, tzinfo=BERLIN)
    assert office.add(fri, 7200) == datetime(2026, 3, 30, 10, 0, tzinfo=BERLIN)
    assert office.elapsed(fri, datetime(2026, 3, 30, 10, 0, tzinfo=BERLIN)) == 7200
    # every hour of the day: the spring day has 23 of them, the autumn day 25
    always = build_calendar("a", "Europe/Berlin", {"daily": "00:00-24:00"})
    sat = datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN)
    assert always.add(sat, 86_400) == datetime(2026, 3, 29, 13, 0, tzinfo=BERLIN)
    day = always.elapsed(
        datetime(2026, 10, 25, tzinfo=BERLIN), datetime(2026, 10, 26, tzinfo=BERLIN)
    )
    assert day == 25 * 3600
    # New York: Sunday hours on the day clocks spring forward at 02:00
    ny = ZoneInfo("America/New_York")
    sunday = build_calendar("s", "America/New_York", {"sun": "00:00-06:00"})
    start = datetime(2026, 3, 8, 0, 0, tzinfo=ny)
    assert sunday.elapsed(start, datetime(2026, 3, 8, 6, 0, tzinfo=ny)) == 5 * 3600


def test_hours_starting_in_a_dst_gap_open_at_the_end_of_the_gap() -> None:
    cal = build_calendar("g", "Europe/Berlin", {"daily": "02:30-04:00"})
    before = datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN)
    # 02:30 does not exist on 29 March: the hours open at 03:00 CEST (the end of the gap)
    assert cal.add(before, 1) == datetime(2026, 3, 29, 3, 0, 1, tzinfo=BERLIN)
    assert cal.elapsed(before, datetime(2026, 3, 30, tzinfo=BERLIN)) == 3600


def test_hours_ending_in_a_dst_overlap_end_at_its_first_occurrence() -> None:
    cal = build_calendar("o", "Europe/Berlin", {"daily": "00:00-02:30"})
    start = datetime(2026, 10, 25, 0, 0, tzinfo=BERLIN)
    # 02:30 happens twice on 25 October; fold=0 (the first, CEST) ends the hours
    assert cal.elapsed(start, start + timedelta(hours=6)) == 2.5 * 3600
    # (compared in UTC: PEP 495 makes an ambiguous local time unequal to any other zone's)
    assert cal.add(start, 2.5 * 3600).astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_weekends_midnight_and_explicit_holidays() -> None:
    cal = build_calendar("h", "Europe/Berlin", OFFICE, [date(2026, 12, 7)])
    fri = datetime(2026, 12, 4, 17, 0, tzinfo=BERLIN)
    # Friday 1 h, weekend, Monday the 7th a holiday: Tuesday 09:00 + 1 h
    assert cal.add(fri, 7200) == datetime(2026, 12, 8, 10, 0, tzinfo=BERLIN)
    # a closing time is reached, not skipped over
    assert cal.add(fri, 3600) == datetime(2026, 12, 4, 18, 0, tzinfo=BERLIN)
    # a start outside the hours counts from the next opening
    night = datetime(2026, 12, 8, 23, 59, tzinfo=BERLIN)
    assert cal.add(night, 60) == datetime(2026, 12, 9, 9, 1, tzinfo=BERLIN)


def test_country_holidays_close_the_day() -> None:
    cal = build_calendar("de", "Europe/Berlin", OFFICE, country="DE", subdivision="BE")
    assert cal.is_closed_day(date(2026, 12, 25))  # Christmas, a Friday
    assert not cal.is_closed_day(date(2026, 12, 24))
    thu = datetime(2026, 12, 24, 17, 30, tzinfo=BERLIN)
    assert cal.add(thu, 3600) == datetime(2026, 12, 28, 9, 30, tzinfo=BERLIN)


ICS = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//triage test//EN\r
BEGIN:VEVENT\r
UID:1@test\r
DTSTAMP:20260101T000000Z\r
SUMMARY:Company days\r
DTSTART;VALUE=DATE:20261207\r
DTEND;VALUE=DATE:20261209\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:2@test\r
DTSTAMP:20260101T000000Z\r
SUMMARY:One day, no end\r
DTSTART;VALUE=DATE:20261231\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:3@test\r
DTSTAMP:20260101T000000Z\r
SUMMARY:A meeting (timed: ignored)\r
DTSTART:20261210T100000Z\r
DTEND:20261210T110000Z\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_icalendar_all_day_events_become_closed_days(tmp_path: Path) -> None:
    (tmp_path / "days.ics").write_bytes(ICS)
    assert ical_dates(tmp_path / "days.ics") == {
        date(2026, 12, 7),
        date(2026, 12, 8),
        date(2026, 12, 31),
    }
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        "calendars:\n"
        "  office:\n"
        "    timezone: Europe/Berlin\n"
        '    hours: {mon-fri: "09:00-18:00"}\n'
        "    holidays: {dates: [2026-12-09], ical: days.ics}\n"  # relative to the policy
        "calendar: office\n",
        encoding="utf-8",
    )
    policy = load_policy(policy_file)
    fri = datetime(2026, 12, 4, 17, 30, tzinfo=BERLIN)
    # 30 min on Friday; Monday and Tuesday from the .ics, Wednesday from the list: Thursday
    _, due = policy.first_response_due(Priority.P2, fri)
    assert due == datetime(2026, 12, 10, 9, 30, tzinfo=BERLIN)
    with pytest.raises(CalendarError, match="not an iCalendar"):
        ical_dates(b"hello")


CAL = 'calendars: {office: {timezone: Europe/Berlin, hours: {mon-fri: "09:00-18:00"}}}\n'


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("calendar: office", "calendar.default", "unknown calendar 'office'"),
        (CAL + "calendar: {P3: nope}", "calendar.P3", "unknown calendar 'nope'"),
        (CAL + "calendar: {next_reply: {P1: x}}", "calendar.next_reply.P1", "unknown calendar"),
        (CAL + "calendar: {P5: office}", "calendar.P5", "unknown key"),
        (
            'calendars: {b: {timezone: Mars/Olympus, hours: {mon: "09:00-10:00"}}}',
            "calendars.b.timezone",
            "unknown time zone",
        ),
        (
            'calendars: {b: {timezone: UTC, hours: {mon: "22:00-06:00"}}}',
            "calendars.b.hours",
            "span midnight are not supported",
        ),
        (
            'calendars: {b: {timezone: UTC, hours: {mon: "9-17"}}}',
            "calendars.b.hours",
            "expected HH:MM",
        ),
        (
            'calendars: {b: {timezone: UTC, hours: {funday: "09:00-17:00"}}}',
            "calendars.b.hours",
            "expected a weekday",
        ),
        (
            'calendars: {b: {timezone: UTC, hours: {mon: ["09:00-12:00", "11:00-13:00"]}}}',
            "calendars.b.hours",
            "overlaps",
        ),
        ("calendars: {b: {timezone: UTC, hours: {}}}", "calendars.b.hours", "no open hours"),
        (
            'calendars: {b: {timezone: UTC, hours: {mon: "09:00-17:00"}, holidays: {country: XX}}}',
            "calendars.b.holidays",
            "XX",
        ),
        (
            'calendars: {b: {timezone: UTC, hours: {mon: "09:00-17:00"}, holidays: {ical: no.ics}}}',
            "calendars.b.holidays.ical",
            "cannot read",
        ),
        (
            'calendars: {24x7: {timezone: UTC, hours: {mon: "09:00-17:00"}}}',
            "calendars.24x7",
            "built in",
        ),
    ],
)
def test_bad_calendars_name_the_policy_and_field(text: str, field: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy("version: bh-1\n" + text, "bad.yaml")
    line = str(info.value)
    assert line.startswith('bad.yaml: SLA policy "bh-1": ')
    assert f"{field}:" in line
    assert message in line


def test_calendar_choice_per_metric_then_priority_then_default() -> None:
    policy = parse_policy(
        CAL + "calendar: {default: office, P1: 24x7, next_reply: {default: 24x7, P4: office}}"
    )
    office = policy.calendar_for(Priority.P3, "first_response")
    assert office.name == "office"
    assert policy.calendar_for(Priority.P1, "first_response") is TWENTY_FOUR_SEVEN
    assert policy.calendar_for(Priority.P3, "next_reply") is TWENTY_FOUR_SEVEN
    assert policy.calendar_for(Priority.P4, "next_reply") == office


def test_example_policy_in_deploy_loads() -> None:
    policy = load_policy(ROOT / "deploy" / "examples" / "sla-policy-business-hours.yaml")
    assert policy.calendar_for(Priority.P1, "first_response") is TWENTY_FOUR_SEVEN
    assert not policy.calendar_for(Priority.P3, "first_response").always_open
    assert policy.business_hours


# -- the engine: the ladder in business time ------------------------------------------

MONDAY_17 = datetime(2026, 12, 7, 17, 0, tzinfo=BERLIN)
BH_POLICY = CAL + "target_seconds: {P1: 600, P3: 7200}\ncalendar: {default: office, P1: 24x7}\n"


def _ticket(tid: str, priority: Priority, policy: SlaPolicy, occurred: datetime) -> Ticket:
    target, due = policy.first_response_due(priority, occurred)
    return Ticket(
        ticket_id=tid,
        event_id=f"e-{tid}",
        customer_id=f"c-{tid}",
        priority=priority,
        severity=50,
        category="question",
        reasons=[],
        language="en",
        sla=SlaInfo(target_seconds=target, first_response_due_at=due, policy_id=policy.version),
        actions=[],
        management_attention=False,
        occurred_at=occurred,
        created_at=occurred,
        channel="email",
        text="",
        rules_version="test",
    )


def test_engine_fires_p3_steps_in_business_time_and_p1_in_wall_time() -> None:
    policy = parse_policy(BH_POLICY)
    clock = FakeClock(MONDAY_17.astimezone(UTC))
    engine = SlaEngine(policy)
    engine.on_ticket(_ticket("p3", Priority.P3, policy, MONDAY_17), clock.now())
    engine.on_ticket(_ticket("p1", Priority.P1, policy, MONDAY_17), clock.now())
    p3 = engine.get("p3")
    assert p3 is not None
    # 2 h business target from Monday 17:00: 1 h on Monday, 1 h on Tuesday → 10:00
    assert p3.reply.due_at == datetime(2026, 12, 8, 10, 0, tzinfo=BERLIN)
    fired: dict[str, datetime] = {}
    for _ in range(3 * 24 * 60):  # three days, minute by minute
        clock.advance(60)
        for esc in engine.fire_due(clock.now()):
            fired[esc.escalation_id] = esc.due_at
            assert esc.emitted_at == clock.now()
    local = {k: v.astimezone(BERLIN).replace(tzinfo=None) for k, v in fired.items()}
    d = datetime
    assert local == {
        # P1, 24/7: 5, 8, 10, 20, 40 minutes after 17:00
        "p1:first_response:warn50": d(2026, 12, 7, 17, 5),
        "p1:first_response:warn80": d(2026, 12, 7, 17, 8),
        "p1:first_response:breach1": d(2026, 12, 7, 17, 10),
        "p1:first_response:breach2": d(2026, 12, 7, 17, 20),
        "p1:first_response:breach3": d(2026, 12, 7, 17, 40),
        # P3, office hours: 1 h, 1.6 h, 2 h, 4 h, 8 h of business time after Monday 17:00
        "p3:first_response:warn50": d(2026, 12, 7, 18, 0),
        "p3:first_response:warn80": d(2026, 12, 8, 9, 36),
        "p3:first_response:breach1": d(2026, 12, 8, 10, 0),
        "p3:first_response:breach2": d(2026, 12, 8, 12, 0),
        "p3:first_response:breach3": d(2026, 12, 8, 16, 0),
    }
    # at-risk counting uses the same business time
    engine2 = SlaEngine(policy)
    engine2.on_ticket(_ticket("p3", Priority.P3, policy, MONDAY_17), clock.now())
    tue_9 = datetime(2026, 12, 8, 9, 0, tzinfo=BERLIN)
    risk = engine2.risk(tue_9)
    assert risk.at_risk_by_priority[Priority.P3] == 1
    assert risk.next_deadline == datetime(2026, 12, 8, 10, 0, tzinfo=BERLIN)


def test_next_reply_cycle_and_outcome_count_business_time_and_survive_restore() -> None:
    policy = parse_policy(BH_POLICY)
    engine = SlaEngine(policy)
    engine.on_ticket(_ticket("t", Priority.P3, policy, MONDAY_17), MONDAY_17)
    reply_at = datetime(2026, 12, 8, 9, 30, tzinfo=BERLIN)
    engine.on_activity(
        TicketActivity(ticket_id="t", kind=ActivityKind.FIRST_RESPONSE, occurred_at=reply_at),
        reply_at,
    )
    [outcome] = engine.outcomes()
    assert outcome.met
    assert outcome.response_seconds == 90 * 60  # 60 min on Monday + 30 on Tuesday
    customer = datetime(2026, 12, 11, 17, 30, tzinfo=BERLIN)  # a Friday
    engine.on_activity(
        TicketActivity(ticket_id="t", kind=ActivityKind.CUSTOMER_REPLY, occurred_at=customer),
        customer,
    )
    clock = engine.get("t")
    assert clock is not None
    assert clock.reply.metric == "next_reply"
    assert clock.reply.due_at == datetime(2026, 12, 14, 10, 30, tzinfo=BERLIN)
    # a new owner restoring the changelog record computes the same step times
    restored = SlaEngine(parse_policy(BH_POLICY))
    restored.restore(copy.deepcopy(clock))
    assert restored.next_due() == engine.next_due() == datetime(2026, 12, 14, 9, 30, tzinfo=BERLIN)
