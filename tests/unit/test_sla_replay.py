"""``triage sla replay``: the pure replay on hand-built tickets with known outcomes, the
JSONL reader, the month generator (``tools/sla_month.py``) and the command end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.activity import ActivityKind, TicketActivity
from schemas.common import Priority
from schemas.escalation import EscalationKind
from schemas.ticket import Ticket
from service.cli import main
from service.sla.policy import SlaPolicy, parse_policy
from service.sla.replay import (
    ReplayInput,
    default_end,
    duration,
    parse_item,
    read_jsonl,
    render,
    replay,
    retarget,
    simulate,
)
from tests.tickets import make_ticket
from tests.tools import load_tool

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "examples" / "sla-policy-business-hours.yaml"
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday
P1_600 = parse_policy("version: p1-600\ntarget_seconds: {P1: 600}\n")
P1_900 = parse_policy("version: p1-900\ntarget_seconds: {P1: 900}\n")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def act(ticket: Ticket, kind: ActivityKind, seconds: float, **kw: object) -> TicketActivity:
    return TicketActivity.model_validate(
        {"ticket_id": ticket.ticket_id, "kind": kind, "occurred_at": at(seconds), **kw}
    )


def inputs(*items: Ticket | TicketActivity) -> ReplayInput:
    out = ReplayInput()
    for item in items:
        out.add(item)
    return out


def two(data: ReplayInput, end: datetime | None = None) -> dict[str, dict[str, object]]:
    """Replay under P1 600 s (current) and 900 s (new): label → the P1 row's fields."""
    report = replay(data, [("current", P1_600, None), ("new", P1_900, None)], end)
    return {p.label: p.rows[0].to_json() for p in report.policies}


def test_a_p1_answered_after_700_s_breaches_600_s_not_900_s() -> None:
    t = make_ticket("t1", Priority.P1, T0)
    rows = two(inputs(t, act(t, ActivityKind.FIRST_RESPONSE, 700)))
    # 600 s: warn50 at 300, warn80 at 480, breach1 at 600 (then recovered, not counted)
    assert rows["current"]["warnings"] == 2
    assert rows["current"]["breaches"] == 1
    assert rows["current"]["first_response"] == {
        "met": 0,
        "missed": 1,
        "open": 0,
        "median_seconds": 700.0,
        "target_seconds": 600.0,
    }
    # 900 s: warn50 at 450 only (warn80 at 720 comes after the answer)
    assert rows["new"]["warnings"] == 1
    assert rows["new"]["breaches"] == 0
    assert rows["new"]["first_response"]["met"] == 1  # type: ignore[index]
    assert rows["new"]["first_response"]["target_seconds"] == 900.0  # type: ignore[index]


def test_every_step_is_emitted_at_its_own_due_time() -> None:
    """Unanswered: each rung of the ladder once, at its due time (not only the highest)."""
    t = make_ticket("t1", Priority.P1, T0)
    sim = simulate(P1_600, inputs(t), at(3000))
    steps = [(e.escalation_id.rsplit(":", 1)[1], e.emitted_at) for e in sim.escalations]
    assert steps == [
        ("warn50", at(300)),
        ("warn80", at(480)),
        ("breach1", at(600)),
        ("breach2", at(1200)),
        ("breach3", at(2400)),
    ]
    assert all(e.emitted_at == e.due_at for e in sim.escalations)
    row = replay(inputs(t), [("current", P1_600, None)], at(3000)).policies[0].rows[0]
    assert (row.warnings, row.breaches, row.fr_open, row.fr_median_seconds) == (2, 3, 1, None)


def test_steps_between_inputs_fire_before_the_next_input() -> None:
    """A warning due before another ticket arrives is emitted at its time, not late."""
    a = make_ticket("a", Priority.P1, T0)
    b = make_ticket("b", Priority.P1, at(1000))
    sim = simulate(P1_600, inputs(b, a, act(a, ActivityKind.FIRST_RESPONSE, 1100)), at(1100))
    a_steps = [e for e in sim.escalations if e.ticket_id == "a"]
    assert [e.kind for e in a_steps] == [
        EscalationKind.SLA_WARNING,
        EscalationKind.SLA_WARNING,
        EscalationKind.SLA_BREACH,
        EscalationKind.SLA_RECOVERED,
    ]
    assert [e.emitted_at for e in a_steps[:3]] == [at(300), at(480), at(600)]


def test_an_answer_at_the_deadline_is_met_and_breaches_nothing() -> None:
    t = make_ticket("t1", Priority.P1, T0)
    rows = two(inputs(t, act(t, ActivityKind.FIRST_RESPONSE, 600)))
    assert rows["current"]["breaches"] == 0
    assert rows["current"]["warnings"] == 2
    assert rows["current"]["first_response"]["met"] == 1  # type: ignore[index]


def test_median_and_counts_per_priority() -> None:
    tickets = [make_ticket(f"p2-{i}", Priority.P2, at(i)) for i in range(3)]
    answers = [
        act(t, ActivityKind.FIRST_RESPONSE, i + delay)
        for i, (t, delay) in enumerate(zip(tickets, (100, 200, 4000), strict=True))
    ]
    p1 = make_ticket("p1", Priority.P1, T0)
    report = replay(inputs(*tickets, p1, *answers), [("current", SlaPolicy(), None)], at(9000))
    rows = {r.priority: r for r in report.policies[0].rows}
    p2 = rows["P2"]
    assert (p2.tickets, p2.fr_met, p2.fr_missed, p2.fr_open) == (3, 2, 1, 0)
    assert p2.fr_median_seconds == 200.0
    assert p2.fr_target_seconds == 3600.0
    assert (p2.warnings, p2.breaches) == (2, 1)  # the 4000 s one: warn50, warn80, breach1
    assert (rows["P1"].tickets, rows["P1"].fr_open) == (1, 1)
    assert rows["P1"].fr_target_seconds == 600  # nothing ended: the policy's target
    assert rows["P3"].tickets == 0
    total = report.policies[0].total
    assert (total.tickets, total.breaches, total.fr_target_seconds) == (4, 1 + 3, None)
    assert report.tickets == 4
    assert report.activities == 3


def test_the_target_comes_from_the_policy_not_from_the_ticket() -> None:
    """The tests' P3 tickets show 4 h; the shipped policy gives 8 h, which the replay keeps."""
    t = make_ticket("t3", Priority.P3, T0)
    assert t.sla.target_seconds == 14_400
    shipped = SlaPolicy(version="shipped")
    again = retarget(t, shipped)
    assert again.sla.target_seconds == 28_800
    assert again.sla.first_response_due_at == at(28_800)
    assert again.sla.policy_id == "shipped"
    row = replay(inputs(t, act(t, ActivityKind.FIRST_RESPONSE, 20_000)), [("c", shipped, None)])
    assert row.policies[0].rows[2].breaches == 0
    assert row.policies[0].rows[2].fr_met == 1


def test_policies_by_conditions_name_the_entry() -> None:
    policy = parse_policy(
        "version: base\npolicies:\n  - id: vip\n    when: {tier: enterprise}\n"
        "    target_seconds: {P1: 120}\n"
    )
    vip = make_ticket("v", Priority.P1, T0, tier="enterprise")
    other = make_ticket("o", Priority.P1, T0, tier="free")
    assert retarget(vip, policy).sla.policy_id == "vip"
    assert retarget(vip, policy).sla.target_seconds == 120
    assert retarget(other, policy).sla.policy_id == "base"
    data = inputs(
        vip,
        other,
        act(vip, ActivityKind.FIRST_RESPONSE, 200),
        act(other, ActivityKind.FIRST_RESPONSE, 200),
    )
    row = replay(data, [("new", policy, None)]).policies[0].rows[0]
    assert (row.fr_met, row.fr_missed, row.breaches) == (1, 1, 1)


def test_activity_before_its_ticket_and_pauses() -> None:
    t = make_ticket("t1", Priority.P1, at(100))
    early = act(t, ActivityKind.ON_HOLD, 50)  # before the ticket: kept, applied on arrival
    resumed = act(t, ActivityKind.RESUMED, 1000)
    answer = act(t, ActivityKind.FIRST_RESPONSE, 1100)
    sim = simulate(P1_600, inputs(answer, resumed, early, t), at(5000))
    # paused from its start to 1000 s: 100 s of clock used by the answer, no step due
    assert sim.escalations == []
    assert [(o.met, o.response_seconds) for o in sim.outcomes] == [(True, 100.0)]


def test_silent_steps_are_counted_apart() -> None:
    policy = parse_policy(
        "version: quiet\nladders:\n  P4: {warning_fractions: [], breach_multipliers: [1], notify: []}\n"
    )
    t = make_ticket("t4", Priority.P4, T0)
    row = replay(inputs(t), [("new", policy, None)], at(10 * 86_400)).policies[0].rows[3]
    assert (row.warnings, row.breaches, row.silent) == (0, 1, 1)
    assert "silent" in render(replay(inputs(t), [("new", policy, None)], at(10 * 86_400)))


def test_default_end_is_the_latest_deadline_under_either_policy() -> None:
    t = make_ticket("t1", Priority.P1, T0)
    data = inputs(t)
    assert default_end(data, [P1_600, P1_900]) == at(900)
    assert default_end(inputs(t, act(t, ActivityKind.FIRST_RESPONSE, 5000)), [P1_600]) == at(5000)
    assert default_end(ReplayInput(), [P1_600]) is None
    # by default an unanswered ticket reaches its deadline under both policies
    rows = two(data)
    assert rows["current"]["breaches"] == 1
    assert rows["new"]["breaches"] == 1
    # an explicit end before the last input: the inputs are all applied, the end moves
    late = inputs(t, act(t, ActivityKind.FIRST_RESPONSE, 5000))
    assert replay(late, [("current", P1_600, None)], at(10)).end == at(5000)


def test_the_table_has_a_row_per_priority_per_policy() -> None:
    t = make_ticket("t1", Priority.P1, T0)
    text = render(
        replay(
            inputs(t, act(t, ActivityKind.FIRST_RESPONSE, 700)),
            [("current", P1_600, "a.yaml"), ("new", P1_900, "b.yaml")],
        )
    )
    lines = text.splitlines()
    assert lines[0].startswith("SLA replay: 1 tickets, 1 activities")
    assert "  current: p1-600 (a.yaml)" in lines
    assert "  new: p1-900 (b.yaml)" in lines
    header = lines[4].split()
    assert header[:10] == [
        "priority",
        "policy",
        "tickets",
        "warnings",
        "breaches",
        "fr_met",
        "fr_missed",
        "fr_open",
        "fr_median",
        "fr_target",
    ]
    rows = [line.split() for line in lines[5:]]
    assert [r[:2] for r in rows] == [
        [p, label] for p in ("P1", "P2", "P3", "P4", "all") for label in ("current", "new")
    ]
    assert rows[0][2:] == ["1", "2", "1", "0", "1", "0", "11m40s", "10m"]
    assert rows[1][2:] == ["1", "1", "0", "1", "0", "0", "11m40s", "15m"]
    assert rows[2][2:] == ["0", "0", "0", "0", "0", "0", "-", "1h"]


def test_duration() -> None:
    assert [duration(s) for s in (None, 45, 600, 700, 3600, 7500, 86_400, 100_800)] == [
        "-",
        "45s",
        "10m",
        "11m40s",
        "1h",
        "2h05m",
        "1d",
        "1d04h",
    ]


# -- reading -----------------------------------------------------------------------------


def test_lines_are_told_apart_by_kind_not_by_priority() -> None:
    t = make_ticket("t1", Priority.P2, T0)
    changed = act(t, ActivityKind.PRIORITY_CHANGED, 10, priority="P1")
    assert isinstance(parse_item(t.model_dump_json()), Ticket)
    parsed = parse_item(changed.model_dump_json())
    assert isinstance(parsed, TicketActivity)
    assert parsed.priority is Priority.P1
    data = read_jsonl(
        [
            t.model_dump_json(),
            "",
            "not json",
            "[1, 2]",
            '{"hello": "world"}',
            '{"kind": "first_response", "ticket_id": "t1"}',
            json.dumps({**json.loads(t.model_dump_json()), "priority": "P9"}),
            changed.model_dump_json().encode(),
        ]
    )
    assert len(data.tickets) == 1
    assert len(data.activities) == 1
    assert data.bad == 5
    assert data.problems[0].startswith("line 3: not JSON")
    assert data.problems[1] == "line 4: not a JSON object"
    assert data.problems[2] == "line 5: neither a ticket (sla, event_id) nor an activity (kind)"
    assert data.problems[3].startswith("line 6: not a valid activity: occurred_at")
    assert data.problems[4].startswith("line 7: not a valid ticket: priority")


def test_window_bounds_by_occurred_at() -> None:
    t1 = make_ticket("t1", Priority.P1, T0)
    t2 = make_ticket("t2", Priority.P1, at(3600))
    data = inputs(t1, t2, act(t1, ActivityKind.FIRST_RESPONSE, 100))
    kept = data.window(at(60), at(3600))
    assert kept.tickets == []
    assert [a.ticket_id for a in kept.activities] == ["t1"]
    assert [t.ticket_id for t in data.window(at(3600), None).tickets] == ["t2"]


# -- the month generator and the command -------------------------------------------------


def test_the_month_is_deterministic_and_valid() -> None:
    month = load_tool("sla_month")
    text = month.generate(60, datetime(2026, 11, 2).date(), 7)
    assert text == month.generate(60, datetime(2026, 11, 2).date(), 7)
    assert text != month.generate(60, datetime(2026, 11, 2).date(), 8)
    data = read_jsonl(text.splitlines())
    assert data.bad == 0
    assert len(data.tickets) == 60
    assert len(data.activities) > 60
    times = [parse_item(line).occurred_at for line in text.splitlines()]
    assert times == sorted(times)


@pytest.fixture(scope="module")
def month_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("month") / "month.jsonl"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "sla_month.py"),
            "--tickets",
            "200",
            "--out",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path


def test_replay_command_prints_both_policies(
    month_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TRIAGE_SLA_POLICY_PATH", raising=False)
    assert main(["sla", "replay", "--policy", str(EXAMPLE), str(month_file)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert lines[0].startswith("SLA replay: 200 tickets, ")
    assert "  current: default-1 (shipped default)" in lines
    assert f"  new: business-hours-1 ({EXAMPLE})" in lines
    rows = {(r.split()[0], r.split()[1]): r.split() for r in lines[5:]}
    assert set(rows) == {
        (p, label) for p in ("P1", "P2", "P3", "P4", "all") for label in ("current", "new")
    }
    assert rows[("all", "current")][2] == rows[("all", "new")][2] == "200"
    assert "res_met" in lines[4]  # the example policy has resolution targets
    assert rows[("P4", "new")][3] == "0"  # its P4 ladder has no warnings


def test_replay_command_json_and_bad_lines(
    month_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "with-bad.jsonl"
    path.write_text(month_file.read_text() + "oops\n{}\n", encoding="utf-8")
    code = main(
        ["sla", "replay", "--current", str(EXAMPLE), "--policy", str(EXAMPLE), "--json", str(path)]
    )
    assert code == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["bad_lines"] == 2
    assert report["tickets"] == 200
    current, new = report["policies"]
    assert (current["label"], new["label"]) == ("current", "new")
    assert current["priorities"] == new["priorities"]  # the same policy twice
    total = current["total"]
    split = total["escalations_by_metric"]
    assert sum(m["warnings"] for m in split.values()) == total["warnings"]
    assert sum(m["breaches"] for m in split.values()) == total["breaches"]
    assert "resolution" in split  # the example policy sets resolution targets
    assert "skipped line" in captured.err
    assert "2 bad lines skipped" in captured.err


def test_replay_command_current_from_the_environment(
    month_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    policy = tmp_path / "env.yaml"
    policy.write_text("version: from-env\ntarget_seconds: {P1: 60}\n", encoding="utf-8")
    monkeypatch.setenv("TRIAGE_SLA_POLICY_PATH", str(policy))
    assert (
        main(["sla", "replay", "--policy", str(EXAMPLE), "--until", "2026-11-10", str(month_file)])
        == 0
    )
    out = capsys.readouterr().out
    assert "  current: from-env" in out
    assert "simulated to 2026-11-10T00:00:00.000Z" in out


def test_replay_command_refuses_a_bad_policy_with_one_line(
    month_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: b\ntarget_seconds: {P1: -5}\n", encoding="utf-8")
    assert main(["sla", "replay", "--policy", str(bad), str(month_file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "target_seconds.P1" in err
    monkeypatch.setenv("TRIAGE_SLA_POLICY_PATH", str(bad))
    assert main(["sla", "replay", "--policy", str(EXAMPLE), str(month_file)]) == 2
    assert "TRIAGE_SLA_POLICY_PATH" in capsys.readouterr().err
    monkeypatch.delenv("TRIAGE_SLA_POLICY_PATH")
    assert (
        main(["sla", "replay", "--policy", str(EXAMPLE), "--since", "yesterday", str(month_file)])
        == 2
    )
    assert "not an ISO 8601 time" in capsys.readouterr().err
    assert main(["sla", "replay", "--policy", str(EXAMPLE), str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
