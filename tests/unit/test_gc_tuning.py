"""The collector settings of ``triage run`` (service/gc_tuning.py), checked in a child
interpreter: freezing and thresholds are process-wide, and the test process keeps its own."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json, sys
from service import gc_tuning
before = gc.get_threshold()
gc_tuning.tune(int(sys.argv[1]))
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
"""


def _probe(threshold: int) -> dict[str, list[int] | int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(threshold)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, list[int] | int] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_tune_raises_the_young_threshold_and_freezes_what_start_up_loaded() -> None:
    got = _probe(20_000)
    before, after = got["before"], got["after"]
    assert isinstance(before, list)
    assert isinstance(after, list)
    assert after == [20_000, before[1], before[2]]
    assert isinstance(got["frozen"], int)
    assert got["frozen"] > 1000


def test_zero_keeps_pythons_defaults() -> None:
    got = _probe(0)
    assert got["after"] == got["before"]
    assert got["frozen"] == 0
