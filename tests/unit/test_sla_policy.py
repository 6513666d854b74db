"""The SLA policy: the shipped files load, broken policies are refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.common import Priority
from service.sla.policy import (
    PolicyError,
    SlaPolicy,
    load_demo_policy,
    load_policy,
    parse_policy,
    policy_text,
)


def test_default_policy_loads_with_documented_defaults() -> None:
    policy = load_policy()
    assert policy == load_policy(None)
    assert policy.warning_fractions == [0.5, 0.8]
    assert policy.breach_multipliers == [1, 2, 4]
    assert policy.next_reply_clock is True
    assert policy.target_seconds == {
        Priority.P1: 600,
        Priority.P2: 3600,
        Priority.P3: 28_800,
        Priority.P4: 172_800,
    }
    assert policy.management_attention is True
    assert policy.pending_retention_seconds == 7 * 86_400
    assert policy.closed_retention_seconds == 86_400
    # The file says what the model defaults say.
    assert policy.model_dump(exclude={"version"}) == SlaPolicy().model_dump(exclude={"version"})


def test_default_steps_are_the_warning_then_breach_ladder() -> None:
    steps = load_policy().steps()
    assert [(s.name, s.kind, s.level, s.fraction) for s in steps] == [
        ("warn50", "sla_warning", 1, 0.5),
        ("warn80", "sla_warning", 2, 0.8),
        ("breach1", "sla_breach", 1, 1.0),
        ("breach2", "sla_breach", 2, 2.0),
        ("breach3", "sla_breach", 3, 4.0),
    ]


def test_demo_policy_has_short_targets() -> None:
    demo = load_demo_policy()
    assert demo.target_seconds == {
        Priority.P1: 40,
        Priority.P2: 60,
        Priority.P3: 90,
        Priority.P4: 120,
    }
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert demo.first_response_due(Priority.P1, at) == (40, at + timedelta(seconds=40))
    assert "demo" in policy_text("demo_policy.yaml").lower()


def test_shipped_policy_has_the_product_targets() -> None:
    # the targets the rule file used to ship (sla_seconds), now the policy's own
    shipped = {Priority.P1: 600, Priority.P2: 3600, Priority.P3: 28_800, Priority.P4: 172_800}
    assert load_policy().target_seconds == shipped
    assert SlaPolicy().target_seconds == shipped
    assert "target_seconds:\n  P1: 600\n" in policy_text()


def test_a_priority_left_out_keeps_its_default_target() -> None:
    policy = SlaPolicy(target_seconds={Priority.P2: 120})
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert policy.first_response_due(Priority.P2, at) == (120, at + timedelta(seconds=120))
    assert policy.first_response_due(Priority.P1, at) == (600, at + timedelta(seconds=600))
    assert parse_policy("target_seconds: {}").target_seconds == SlaPolicy().target_seconds


def test_load_from_file_and_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("warning_fractions: [0.75]\nnext_reply_clock: false\n", encoding="utf-8")
    policy = load_policy(path)
    assert [s.name for s in policy.steps()] == ["warn75", "breach1", "breach2", "breach3"]
    assert policy.next_reply_clock is False
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert load_policy(str(empty)).warning_fractions == [0.5, 0.8]


def test_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("warning_fractions: [0.8, 0.5]", "warning_fractions", "strictly increasing"),
        ("warning_fractions: [0.5, 1.0]", "warning_fractions", "between 0 and 1"),
        ("warning_fractions: [0.501, 0.502]", "warning_fractions", "whole percent"),
        ("breach_multipliers: [2, 4]", "breach_multipliers", "must be 1"),
        ("breach_multipliers: []", "breach_multipliers", "at least one"),
        ("breach_multipliers: [1, 4, 2]", "breach_multipliers", "strictly increasing"),
        ("target_seconds: {P1: 0}", "target_seconds.P1", "must be positive"),
        ("target_seconds: {P9: 10}", "target_seconds.P9.[key]", "P1"),
        ("closed_retention_seconds: 0", "closed_retention_seconds", "greater than 0"),
        ("pending_retention_seconds: soon", "pending_retention_seconds", "integer"),
        ("next_reply: true", "next_reply", "unknown key"),
    ],
)
def test_bad_policies_name_the_field(text: str, field: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "bad.yaml")
    assert isinstance(info.value, ValueError)
    text_of_error = str(info.value)
    assert text_of_error.startswith("bad.yaml: SLA policy: ")
    assert "\n" not in text_of_error
    assert f"{field}:" in text_of_error
    assert message in text_of_error


def test_not_yaml_or_not_a_mapping() -> None:
    with pytest.raises(PolicyError, match="not valid YAML"):
        parse_policy("a: [1, 2", "x.yaml")
    with pytest.raises(PolicyError, match="mapping at the top level"):
        parse_policy("- 1\n- 2\n", "x.yaml")
