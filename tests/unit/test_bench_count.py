"""``bench/pipeline.py --count`` reads cachegrind's instruction count from its report.

The count itself needs valgrind and minutes (docs/performance.md quotes its figures);
what can go wrong without them is reading the number, which this holds.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = str(Path(__file__).resolve().parents[2] / "bench")


def _pipeline_bench() -> ModuleType:
    sys.path.insert(0, BENCH)
    try:
        import pipeline
    finally:
        sys.path.remove(BENCH)
    return pipeline


def test_the_instruction_count_is_read_from_the_report() -> None:
    report = (
        '{"event":"gc_tuned","level":"info"}\n==16004== \n==16004== I   refs:      8,160,943,311\n'
    )
    assert _pipeline_bench().instructions_of(report) == 8_160_943_311


def test_a_report_without_a_count_is_an_error() -> None:
    with pytest.raises(ValueError, match="no instruction count"):
        _pipeline_bench().instructions_of("valgrind: failed to start tool 'cachegrind'\n")
