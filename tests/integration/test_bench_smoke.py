"""The benchmarks still run: each script at a tiny size, as a subprocess.

Not a performance test: it only checks that a script exits 0 and prints its last
``key=value`` line. The broker is the session's (``KAFKA_BOOTSTRAP_SERVERS`` when set,
else the embedded one the fixture started), handed to the scripts in their environment.

The peer hosts (``bench/peers/``) run through their driver, ``run_peer.py``, which fails
unless every ticket of its handful of events arrives, keyed by its ticket id, and the
host exits 0 on SIGTERM. A peer whose framework is not installed is skipped: FastStream
comes with the ``bench`` extra (part of the dev install), Quix Streams only with
``bench-quix``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import pytest

from service.sentiment.corpus import default_data_dir

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
    pytest.param(
        ["bench/latency.py", "--rate", "200", "--seconds", "2", "--warmup", "1", "--runs", "1"],
        "p99_ms",
        id="latency",
    ),
    pytest.param(
        ["bench/pipeline.py", "--events", "300", "--runs", "1"], "us_per_event", id="pipeline"
    ),
    pytest.param(
        ["bench/pipeline.py", "--events", "300", "--runs", "1", "--survey"],
        "us_per_event",
        id="pipeline-survey",
    ),
    pytest.param(
        ["bench/pipeline.py", "--events", "300", "--runs", "1", "--customers", "30"],
        "us_per_event",
        id="pipeline-long-histories",
    ),
    pytest.param(
        ["bench/pipeline.py", "--events", "300", "--runs", "1", "--public"],
        "us_per_event",
        id="pipeline-public",
        marks=pytest.mark.skipif(
            default_data_dir() is None,
            reason="no public data folder (TRIAGE_DATA_DIR or ../shared/data)",
        ),
    ),
    pytest.param(
        ["bench/pipeline.py", "--events", "300", "--runs", "1", "--stages"],
        "stages_us_per_event",
        id="pipeline-stages",
    ),
    pytest.param(
        ["bench/pipeline.py", "--events", "300", "--runs", "1", "--segments"],
        "segments_us_per_event",
        id="pipeline-segments",
    ),
    pytest.param(
        ["bench/gc_pauses.py", "--events", "600", "--batch", "100"], "batch_p99_ms", id="gc_pauses"
    ),
    pytest.param(
        ["bench/gc_pauses.py", "--events", "600", "--batch", "100", "--gen0", "1000", "5000"],
        "batch_p99_ms",
        id="gc_pauses-thresholds",
    ),
    pytest.param(["bench/rules_bench.py", "--rounds", "1"], "median_us", id="rules_bench"),
    pytest.param(["bench/hostile.py", "--events", "300", "--runs", "1"], "ratio", id="hostile"),
    pytest.param(["bench/backlog.py", "--events", "2000"], "peak_rss_mb", id="backlog"),
    pytest.param(
        ["bench/text_model.py", "--events", "500", "--runs", "1"],
        "negativity_us_per_event",
        id="text_model",
    ),
]
#: peer name for run_peer.py, and the framework it needs (None: nothing beyond triage)
PEERS = [
    pytest.param("faststream", "faststream", id="faststream"),
    pytest.param("quix", "quixstreams", id="quix"),
    pytest.param("triage", None, id="triage"),
]
TIMEOUT = 90.0  # per script; each takes 5–30 s (a service or a peer's start-up dominates)


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


async def run_to_last_value(argv: list[str], key: str, bootstrap: str) -> float:
    """Run a script; it must exit 0 with ``key=<number>`` as its last line."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    code, out, err = await run_script(argv, env)
    assert code == 0, f"exit {code}\n--- stdout\n{out}\n--- stderr\n{err[-4000:]}"
    lines = out.strip().splitlines()
    assert lines, f"no output; stderr:\n{err[-4000:]}"
    name, sep, value = lines[-1].partition("=")
    assert (name, sep) == (key, "="), f"last line {lines[-1]!r}, expected {key}=…"
    return float(value)  # a number


@pytest.mark.parametrize(("argv", "key"), CASES)
async def test_bench_script_runs(argv: list[str], key: str, bootstrap: str) -> None:
    await run_to_last_value(argv, key, bootstrap)


async def test_accuracy_script_runs() -> None:
    """``bench/accuracy.py`` on a few test lines per corpus file (needs no broker; skipped
    without the public data). Its last line names a language, so it is read here."""
    data_dir = default_data_dir()
    if data_dir is None or not data_dir.is_dir():
        pytest.skip("no public data folder (TRIAGE_DATA_DIR or ../shared/data)")
    code, out, err = await run_script(["bench/accuracy.py", "--limit", "20"], dict(os.environ))
    assert code == 0, f"exit {code}\n--- stdout\n{out}\n--- stderr\n{err[-4000:]}"
    name, sep, value = out.strip().splitlines()[-1].partition("=")
    assert (name, sep) == ("worst_language_balanced_accuracy", "=")
    lang, colon, number = value.partition(":")
    assert lang, value
    assert colon, value
    assert len(number.partition(".")[2]) == 3, value
    assert 0.0 <= float(number) <= 1.0


@pytest.mark.parametrize(("peer", "framework"), PEERS)
async def test_peer_host_delivers_tickets(peer: str, framework: str | None, bootstrap: str) -> None:
    if framework is not None:
        pytest.importorskip(framework)
    argv = ["bench/peers/run_peer.py", "--peer", peer, "--events", "40", "--timeout", "60"]
    rate = await run_to_last_value(argv, "events_per_s", bootstrap)
    assert rate > 0
