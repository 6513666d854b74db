"""Logging set-up (service/observability/logging.py)."""

from __future__ import annotations

import io
import sys

import pytest

from service.observability.logging import configure_logging, get_logger


def test_logging_writes_to_the_stderr_of_the_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A live view or a test swaps ``sys.stderr`` and closes its own stream afterwards:
    lines logged later go to the stream in place then, not to the closed one."""
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("INFO", "json")
    first.close()
    monkeypatch.setattr(sys, "stderr", second)
    try:
        get_logger("triage.test").warning("after_the_swap")
    finally:
        configure_logging("WARNING", "console")
    assert "after_the_swap" in second.getvalue()
