"""The benchmarks still run: each script at a tiny size, as a subprocess.

Not a performance test: it only checks that a script exits 0 and prints its last
``key=value`` line. The broker is the session's (``KAFKA_BOOTSTRAP_SERVERS`` when set,
else the embedded one the fixture started), handed to the scripts in their environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

CASES = [
    pytest.param(
        ["bench/throughput.py", "--events", "300", "--runs", "1"], "ratio", id="throughput"
    ),
    pytest.param(
        ["bench/sla_timer_lag.py", "--rate", "50", "--seconds", "2", "--target-seconds", "3"],
        "arrival_p99_ms",
        id="sla_timer_lag",
    ),
    pytest.param(["bench/sla_memory.py", "--tickets", "2000"], "bytes_per_ticket", id="sla_memory"),
    pytest.param(
        ["bench/scaleout.py", "--events", "300", "--runs", "1", "--quick"],
        "speedup",
        id="scaleout",
    ),
]
TIMEOUT = 90.0  # per script; all three together take well under a minute


async def run_script(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    except TimeoutError:
        proc.terminate()  # the scripts unwind on SIGTERM (service, broker)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 20)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        pytest.fail(f"{argv[0]} did not finish within {TIMEOUT} s")
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(("argv", "key"), CASES)
async def test_bench_script_runs(argv: list[str], key: str, bootstrap: str) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    code, out, err = await run_script(argv, env)
    assert code == 0, f"exit {code}\n--- stdout\n{out}\n--- stderr\n{err[-4000:]}"
    lines = out.strip().splitlines()
    assert lines, f"no output; stderr:\n{err[-4000:]}"
    name, sep, value = lines[-1].partition("=")
    assert (name, sep) == (key, "="), f"last line {lines[-1]!r}, expected {key}=…"
    float(value)  # a number
