"""The service runs numpy's OpenBLAS on one thread unless the operator says otherwise
(``service/__init__.py``): idle BLAS workers spin after each product, taking CPU from
the broker and from a container's CPU quota."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# what ``triage run`` does before its first event: the CLI's imports, then the language
# guess's model (numpy's matrix products), once
_SCRIPT = """
import os, service.cli
from service.rules.language import model_language
model_language("the parcel came late and nobody answered my emails")
print(os.environ["OPENBLAS_NUM_THREADS"], len(os.listdir("/proc/self/task")))
"""


def _run(env_value: str | None) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if env_value is not None:
        env["OPENBLAS_NUM_THREADS"] = env_value
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    value, threads = out.stdout.split()
    return value, int(threads)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_one_blas_thread_by_default() -> None:
    assert _run(None) == ("1", 1)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs a second core for a worker")
def test_the_operators_setting_wins() -> None:
    value, threads = _run("2")
    assert value == "2"
    assert threads == 2  # the loop's thread and one BLAS worker
