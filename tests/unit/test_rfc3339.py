"""The contract's compiled timestamp writer (``schemas/_rfc3339.pyx``) against the Python
form it replaced — ``value.astimezone(UTC).isoformat(timespec="milliseconds")`` with
``+00:00`` written ``Z`` — on generated datetimes: every offset, time zones with summer
time, naive values, the first and last years, and the same errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from schemas.common import Timestamp, rfc3339


def reference(value: datetime) -> str:
    """The Python form (the oracle)."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def outcome(write: object, value: datetime) -> str | type[BaseException]:
    try:
        return write(value)  # type: ignore[operator, no-any-return]
    except (OverflowError, ValueError) as exc:
        return type(exc)


fixed_offsets = st.builds(
    timezone,
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23)),
)


@given(st.datetimes(timezones=st.one_of(st.just(UTC), fixed_offsets, st.timezones())))
def test_aware_datetimes_are_written_as_the_python_form_writes_them(value: datetime) -> None:
    assert outcome(rfc3339, value) == outcome(reference, value)


@given(st.datetimes(min_value=datetime(1971, 1, 2), max_value=datetime(9998, 12, 30)))
def test_naive_datetimes_are_read_as_local_time_as_python_reads_them(value: datetime) -> None:
    assert rfc3339(value) == reference(value)


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("2026-12-04T09:30:00.2509Z", "2026-12-04T09:30:00.250Z"),  # cut, not rounded
        ("2026-12-04T00:30:00+02:00", "2026-12-03T22:30:00.000Z"),
        ("2026-12-31T23:59:59.999-05:30", "2027-01-01T05:29:59.999Z"),
        ("0001-01-01T00:00:00-01:00", "0001-01-01T01:00:00.000Z"),
        ("9999-12-31T23:59:59.999999+01:00", "9999-12-31T22:59:59.999Z"),
    ],
)
def test_parsed_event_times(text: str, written: str) -> None:
    # the time-zone objects pydantic gives a parsed event
    assert rfc3339(TypeAdapter(Timestamp).validate_python(text)) == written


def test_an_instant_before_year_one_in_utc_overflows_as_in_python() -> None:
    value = datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(OverflowError):
        reference(value)
    with pytest.raises(OverflowError):
        rfc3339(value)
