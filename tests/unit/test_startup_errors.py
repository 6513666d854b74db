"""Clear start-up errors (issue 16): a bad rule file, SLA policy, text model or setting
ends ``triage run`` with one line on stderr that names the file (or the variable), the
rule or policy and the problem, exit code 2, no traceback, before any connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from service import cli
from service.app import TriageApp
from service.startup_errors import ConfigError, Problem, describe

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "127.0.0.1:1"  # nothing listens: validation must come first
EVENT = {
    "event_id": "e1",
    "occurred_at": "2026-12-01T10:00:00Z",
    "channel": "email",
    "customer": {"id": "c1"},
    "text": "the courier was rude",
}


def rule_set(**overrides: Any) -> dict[str, Any]:
    """A small valid rule set (no rule reads the text model)."""
    data: dict[str, Any] = {
        "version": "startup-1",
        "priorities": [
            {"priority": "P1", "min_severity": 75},
            {"priority": "P2", "min_severity": 50},
            {"priority": "P3", "min_severity": 25},
            {"priority": "P4", "min_severity": 0},
        ],
        "lexicons": {"outage": {"en": ["down", "outage"]}},
        "rules": [
            {"id": "text.outage", "when": {"text": ["outage"]}, "weight": 40},
            {"id": "nps.detractor", "when": {"nps": {"max": 6}}, "weight": 20},
        ],
    }
    data.update(overrides)
    return data


def with_rule(**changes: Any) -> dict[str, Any]:
    data = rule_set()
    data["rules"][0] = {**data["rules"][0], **changes}
    return data


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean environment with an unreachable broker; logging and the service's main
    loop stubbed out (a test that reached the loop would fail here, not hang)."""
    for name in list(os.environ):
        if name.startswith(("TRIAGE_", "KAFKA_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", UNREACHABLE)
    monkeypatch.setattr(cli, "configure_logging", lambda *args, **kwargs: None)

    async def no_connection(self: TriageApp) -> None:
        raise AssertionError("validation should have stopped `triage run` before Kafka")

    monkeypatch.setattr(TriageApp, "run_forever", no_connection)
    return monkeypatch


def run_error(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 2) -> str:
    """Run the command line in-process; its exit code and its one line on stderr."""
    assert cli.main(list(argv or ["run"])) == code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    assert lines[0].startswith("triage: error: ")
    return lines[0].removeprefix("triage: error: ")


def write(path: Path, data: Any) -> Path:
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


# --- rule files ---------------------------------------------------------------------------


RULE_CASES: list[tuple[str, Any, list[str]]] = [
    (
        "yaml syntax",
        "version: x\nrules:\n  - id: a\n    when: {text: [outage]\n",
        ["rules.yaml: line 5, column 1: not valid YAML", "expected ',' or '}'"],
    ),
    (
        "not a mapping",
        "- just\n- a list\n",
        ["rules.yaml: expected a mapping at the top level"],
    ),
    (
        "unknown condition key",
        with_rule(when={"text": ["outage"], "sentiment": "negative"}),
        ['rules.yaml: rule "text.outage": when.sentiment: unknown key'],
    ),
    (
        "duplicate rule id",
        rule_set(rules=[*rule_set()["rules"], {"id": "text.outage", "when": {"text_empty": True}}]),
        ['rules.yaml: rule "text.outage": id: duplicate rule id (also rules[0])'],
    ),
    (
        "unknown lexicon, nested",
        with_rule(when={"any": [{"nps": {"max": 3}}, {"not": {"stated": ["lawyers"]}}]}),
        ['rules.yaml: rule "text.outage": when.any[1].not.stated: unknown lexicon(s) "lawyers"'],
    ),
    (
        "negativity out of range",
        with_rule(when={"negativity": {"min": 1.5}}),
        [
            'rules.yaml: rule "text.outage": when.negativity: '
            "must be between 0 and 1 (a probability), got 1.5"
        ],
    ),
    (
        "a null condition",
        with_rule(when={"text": ["outage"], "not": None, "nps": None}),
        ['rule "text.outage": when: not, nps: null is not a condition (leave the key out)'],
    ),
    (
        "range the wrong way round",
        with_rule(when={"nps": {"min": 9, "max": 3}}),
        ['rule "text.outage": when.nps: min 9.0 is greater than max 3.0'],
    ),
    (
        "value out of range",
        with_rule(weight=500),
        [
            'rules.yaml: rule "text.outage": weight: Input should be less than or equal to 100 (got 500)'
        ],
    ),
    (
        "fired names a later rule",
        with_rule(when={"fired": ["nps.detractor"]}),
        ['rule "text.outage": when.fired: must name earlier rules, not "nps.detractor"'],
    ),
    (
        "priority bounds crossed",
        with_rule(min_priority="P1", max_priority="P3"),
        ['rule "text.outage": min_priority: P1 is more urgent than max_priority P3'],
    ),
    (
        "rule without an id",
        rule_set(rules=[{"when": {"text": ["outage"]}}]),
        ["rules.yaml: rules[0]: id: required"],
    ),
    (
        "bare wildcard term",
        rule_set(lexicons={"outage": {"en": ["down", "*"]}}),
        ['rules.yaml: lexicon "outage": en[1]: empty or bare-wildcard term'],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES]
)
def test_a_bad_rule_file_stops_run_in_one_line(
    env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    text: Any,
    expected: list[str],
) -> None:
    env.setenv("TRIAGE_RULES_PATH", str(write(tmp_path / "rules.yaml", text)))
    line = run_error(capsys)
    for part in expected:
        assert part in line
    assert line.endswith("(set by TRIAGE_RULES_PATH)")


def test_a_missing_rule_file_is_named(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.yaml"
    env.setenv("TRIAGE_RULES_PATH", str(missing))
    line = run_error(capsys)
    assert line == f"{missing}: cannot read: No such file or directory (set by TRIAGE_RULES_PATH)"


def test_several_problems_share_the_line(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = rule_set()
    data["rules"][0]["weight"] = 500
    data["rules"][1]["min_priority"] = "urgent"
    data["rules"][1]["colour"] = "red"
    env.setenv("TRIAGE_RULES_PATH", str(write(tmp_path / "rules.yaml", data)))
    line = run_error(capsys)
    assert 'rule "text.outage": weight:' in line
    # the second problem of a rule does not repeat the rule
    assert 'rule "nps.detractor": min_priority: ' in line
    assert "; colour: unknown key" in line


# --- SLA policies -------------------------------------------------------------------------


POLICY_CASES: list[tuple[str, str, str]] = [
    (
        "negative target",
        "version: v7\ntarget_seconds: {P1: -5}\n",
        'policy.yaml: SLA policy "v7": target_seconds.P1: must be positive, got -5',
    ),
    (
        "targets out of order",
        "warning_fractions: [0.8, 0.5]\n",
        "policy.yaml: SLA policy: warning_fractions: must be strictly increasing, got [0.8, 0.5]",
    ),
    (
        "first breach not the deadline",
        "breach_multipliers: [2, 4]\n",
        "policy.yaml: SLA policy: breach_multipliers: the first multiplier must be 1",
    ),
    ("unknown key", "next_reply: true\n", "policy.yaml: SLA policy: next_reply: unknown key"),
    (
        "unknown priority",
        "target_seconds: {P9: 10}\n",
        "policy.yaml: SLA policy: target_seconds.P9.[key]: Input should be 'P1', 'P2', 'P3' or 'P4' (got 'P9')",
    ),
    (
        "yaml syntax",
        "warning_fractions: [0.5, 0.8\n",
        "policy.yaml: line 2, column 1: not valid YAML",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in POLICY_CASES], ids=[c[0] for c in POLICY_CASES]
)
def test_a_bad_policy_stops_run_in_one_line(
    env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    text: str,
    expected: str,
) -> None:
    env.setenv("TRIAGE_SLA_POLICY_PATH", str(write(tmp_path / "policy.yaml", text)))
    line = run_error(capsys)
    assert expected in line
    assert line.endswith("(set by TRIAGE_SLA_POLICY_PATH)")


def test_a_missing_policy_is_named(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env.setenv("TRIAGE_SLA_POLICY_PATH", str(tmp_path / "gone.yaml"))
    line = run_error(capsys, "run", "--role", "sla")
    assert "gone.yaml: cannot read: No such file or directory" in line


# --- settings -----------------------------------------------------------------------------


SETTING_CASES: list[tuple[str, dict[str, str], str]] = [
    (
        "not a number",
        {"TRIAGE_SESSION_TIMEOUT_MS": "abc"},
        "TRIAGE_SESSION_TIMEOUT_MS: Input should be a valid integer, unable to parse string "
        "as an integer (got 'abc')",
    ),
    (
        "below the minimum",
        {"TRIAGE_SESSION_TIMEOUT_MS": "5"},
        "TRIAGE_SESSION_TIMEOUT_MS: Input should be greater than or equal to 1000 (got '5')",
    ),
    (
        "unknown enum value",
        {"TRIAGE_LOG_LEVEL": "verbose"},
        "TRIAGE_LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR' (got 'verbose')",
    ),
    (
        "not a boolean",
        {"TRIAGE_REPEAT_CONTACTS": "sometimes"},
        "TRIAGE_REPEAT_CONTACTS: Input should be a valid boolean",
    ),
    (
        "no bootstrap",
        {"KAFKA_BOOTSTRAP_SERVERS": ""},
        "KAFKA_BOOTSTRAP_SERVERS: not set (e.g. KAFKA_BOOTSTRAP_SERVERS=localhost:9092)",
    ),
    (
        "SASL without a user",
        {"TRIAGE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"},
        "TRIAGE_KAFKA_SECURITY_PROTOCOL: SASL_PLAINTEXT needs TRIAGE_KAFKA_SASL_MECHANISM",
    ),
    (
        "missing CA file",
        {"TRIAGE_KAFKA_SECURITY_PROTOCOL": "SSL", "TRIAGE_KAFKA_SSL_CAFILE": "/nope/ca.pem"},
        "/nope/ca.pem: no such file (set by TRIAGE_KAFKA_SSL_CAFILE)",
    ),
]


@pytest.mark.parametrize(
    ("values", "expected"), [c[1:] for c in SETTING_CASES], ids=[c[0] for c in SETTING_CASES]
)
def test_a_bad_setting_stops_run_in_one_line(
    env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    values: dict[str, str],
    expected: str,
) -> None:
    for name, value in values.items():
        env.setenv(name, value)
    assert expected in run_error(capsys)


def test_every_bad_setting_is_named_and_secrets_are_not_shown(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("TRIAGE_SESSION_TIMEOUT_MS", "abc")
    env.setenv("TRIAGE_HTTP_PORT", "70000")
    line = run_error(capsys)
    assert "TRIAGE_SESSION_TIMEOUT_MS: " in line
    assert "; TRIAGE_HTTP_PORT: Input should be less than or equal to 65535 (got '70000')" in line


# --- the text model -----------------------------------------------------------------------


def _no_folder(tmp: Path) -> Path:
    return tmp / "missing-model"


def _a_file(tmp: Path) -> Path:
    return write(tmp / "model.txt", "not a folder")


def _empty_folder(tmp: Path) -> Path:
    (tmp / "empty").mkdir()
    return tmp / "empty"


def _bad_card(tmp: Path) -> Path:
    folder = tmp / "model"
    folder.mkdir()
    (folder / "sentiment.bin").write_bytes(b"x")
    (folder / "model.json").write_text('{\n  "version": "1",\n  "lines": \n}\n', "utf-8")
    return folder


def _not_fasttext(tmp: Path) -> Path:
    folder = tmp / "model"
    folder.mkdir()
    (folder / "sentiment.bin").write_bytes(b"garbage")
    (folder / "model.json").write_text(json.dumps({"version": "1"}), "utf-8")
    return folder


MODEL_CASES: list[tuple[str, Callable[[Path], Path], str, str]] = [
    ("no such folder", _no_folder, "missing-model", "no such folder"),
    ("a file", _a_file, "model.txt", "not a folder"),
    ("no model files", _empty_folder, "empty", "no sentiment.bin"),
    (
        "model card not JSON",
        _bad_card,
        "model.json",
        "line 4, column 1: not valid JSON: Expecting value",
    ),
    ("not a fastText file", _not_fasttext, "sentiment.bin", "not a fastText model"),
]


@pytest.mark.parametrize(
    ("make", "names", "problem"), [c[1:] for c in MODEL_CASES], ids=[c[0] for c in MODEL_CASES]
)
def test_a_bad_model_path_stops_run_in_one_line(
    env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    make: Callable[[Path], Path],
    names: str,
    problem: str,
) -> None:
    env.setenv("TRIAGE_MODEL_PATH", str(make(tmp_path)))  # the shipped rules read the model
    line = run_error(capsys)
    assert names in line
    assert problem in line
    assert line.endswith("(set by TRIAGE_MODEL_PATH)")


def test_a_bad_model_path_is_refused_even_when_no_rule_reads_it(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env.setenv("TRIAGE_RULES_PATH", str(write(tmp_path / "rules.yaml", rule_set())))
    env.setenv("TRIAGE_MODEL_PATH", str(tmp_path / "missing-model"))
    assert "missing-model: no such folder" in run_error(capsys)


def test_the_sla_role_does_not_need_the_model(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env.setenv("TRIAGE_MODEL_PATH", str(tmp_path / "missing-model"))
    env.setattr(TriageApp, "run_forever", _returns)
    assert cli.main(["run", "--role", "sla"]) == 0
    assert capsys.readouterr().err == ""


async def _returns(self: TriageApp) -> None:
    return None


def test_good_files_pass_validation(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The control: valid files get as far as the service loop (stubbed here)."""
    env.setenv("TRIAGE_RULES_PATH", str(write(tmp_path / "rules.yaml", rule_set())))
    env.setenv("TRIAGE_SLA_POLICY_PATH", str(write(tmp_path / "policy.yaml", "version: v1\n")))
    env.setattr(TriageApp, "run_forever", _returns)
    assert cli.main(["run"]) == 0
    assert capsys.readouterr().err == ""


# --- the other commands say it the same way ----------------------------------------------


def _bad_rules(tmp_path: Path) -> Path:
    return write(tmp_path / "rules.yaml", with_rule(when={"text": ["lawyers"]}))


BAD_RULE_LINE = 'rules.yaml: rule "text.outage": when.text: unknown lexicon(s) "lawyers"'


def test_rules_check_prints_the_same_line(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _bad_rules(tmp_path)
    line = run_error(capsys, "rules", "check", str(path), code=1)
    assert line == f"{tmp_path}/{BAD_RULE_LINE}"


def test_explain_and_rules_test_print_the_same_line(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _bad_rules(tmp_path)
    event = write(tmp_path / "event.json", json.dumps({"event_id": "e"}))
    assert run_error(capsys, "explain", str(event), "--rules", str(path)).endswith(BAD_RULE_LINE)
    labelled = write(tmp_path / "labelled.jsonl", "")
    line = run_error(capsys, "rules", "test", str(labelled), "--rules", str(path))
    assert line.endswith(BAD_RULE_LINE)


def test_demo_names_a_bad_setting_before_starting_a_broker(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.delenv("KAFKA_BOOTSTRAP_SERVERS")  # the demo would start its embedded broker
    env.setenv("TRIAGE_PRODUCER_COMPRESSION", "brotli")
    line = run_error(capsys, "demo", "--no-live", "--seconds", "1")
    assert line.startswith("TRIAGE_PRODUCER_COMPRESSION: Input should be 'none', ")
    assert line.endswith("(got 'brotli')")


def test_explain_names_a_missing_event_file(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    line = run_error(capsys, "explain", str(tmp_path / "none.json"))
    assert line == f"{tmp_path / 'none.json'}: No such file or directory"


def test_explain_names_the_model_variable(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    event = write(tmp_path / "event.json", json.dumps(EVENT))
    env.setenv("TRIAGE_MODEL_PATH", str(tmp_path / "missing-model"))
    line = run_error(capsys, "explain", str(event))
    assert line.startswith(f"{tmp_path / 'missing-model'}: no such folder")
    assert line.endswith("(set by TRIAGE_MODEL_PATH)")


# --- the message itself -------------------------------------------------------------------


def test_config_error_is_one_line_and_counts_what_it_leaves_out() -> None:
    problems = [Problem(f"bad\n  value {i}", f'rule "r{i}"', "weight") for i in range(5)]
    line = str(ConfigError("rules.yaml", problems, setting="TRIAGE_RULES_PATH"))
    assert "\n" not in line
    assert line.startswith('rules.yaml: rule "r0": weight: bad value 0; rule "r1"')
    assert line.endswith("; and 2 more (set by TRIAGE_RULES_PATH)")
    assert isinstance(ConfigError("x", "y"), ValueError)


def test_describe_an_os_error() -> None:
    exc = FileNotFoundError(2, "No such file or directory", "/x/y.json")
    assert describe(exc) == "/x/y.json: No such file or directory"


# --- the real console script, no broker --------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"TRIAGE_RULES_PATH": "{rules}"}, 'rule "text.outage": when.sentiment: unknown key'),
        ({"TRIAGE_SESSION_TIMEOUT_MS": "abc"}, "TRIAGE_SESSION_TIMEOUT_MS: "),
    ],
    ids=["rules", "setting"],
)
def test_triage_run_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, values: dict[str, str], expected: str
) -> None:
    rules = write(tmp_path / "rules.yaml", with_rule(when={"sentiment": "negative"}))
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "KAFKA_"))}
    environ["KAFKA_BOOTSTRAP_SERVERS"] = UNREACHABLE
    environ.update({k: v.format(rules=rules) for k, v in values.items()})
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "run"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("triage: error: ")
    assert expected in lines[0]
    assert elapsed < 20  # no broker wait (it is well under a second on a quiet machine)
