"""tools/sla_examples.py prints what issue 15 promised, computed by the real engine."""

from __future__ import annotations

from tests.tools import load_tool


def test_friday_17_55_plus_one_business_hour_is_monday_09_55() -> None:
    assert (
        "Fri 2026-12-04 17:55 CET -> due Mon 2026-12-07 09:55 CET"
        in load_tool("sla_examples").business_hours()[1]
    )


def test_a_20_minute_pause_moves_each_step_by_20_minutes() -> None:
    lines = load_tool("sla_examples").pause()[1:]
    assert len(lines) == 5
    assert all("(+20 min, paused_seconds 1200)" in line for line in lines)


def test_a_p4_gets_only_its_quiet_breach() -> None:
    lines = load_tool("sla_examples").ladders()
    assert lines[-1].strip() == "P4: first_response:breach1 (notify: false)"
    assert lines[1].count("first_response:") == 5
