"""Every runtime dependency is pinned in requirements.lock (what the image installs)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.\\-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def test_every_runtime_dependency_is_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [
        line.strip()
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pins = {_name(line): line for line in lines}
    assert all("==" in line for line in lines), "requirements.lock holds exact pins only"
    missing = [d for d in project["dependencies"] if _name(d) not in pins]
    assert not missing, f"not pinned in requirements.lock (run make lock): {missing}"
