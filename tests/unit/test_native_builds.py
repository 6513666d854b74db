"""Every compiled module is built from the source in this checkout.

``setup.py`` stamps each module it compiles (its ``MODULES``) with the SHA-256 of its
``.pyx`` (``SOURCE_DIGEST``). A module older than its source would test, and run, old
code; a ``.pyx`` that ``MODULES`` does not name would never be compiled, and its C file
would be committed or shipped unless both ignore files name it."""

from __future__ import annotations

import ast
import hashlib
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def compiled_modules() -> dict[str, str]:
    """``setup.py``'s ``MODULES`` (module name → its ``.pyx``), read without running it."""
    for node in ast.parse((ROOT / "setup.py").read_text("utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "MODULES" for target in node.targets
        ):
            modules: dict[str, str] = ast.literal_eval(node.value)
            return modules
    raise AssertionError("setup.py names no MODULES")


@pytest.mark.parametrize(("name", "source"), sorted(compiled_modules().items()))
def test_the_compiled_module_is_built_from_the_source_in_this_checkout(
    name: str, source: str
) -> None:
    digest = hashlib.sha256((ROOT / source).read_bytes()).hexdigest()[:16]
    built = importlib.import_module(name).SOURCE_DIGEST
    assert built == digest, f"stale native build of {name}: run `make` (or pip install -e .)"


def test_every_pyx_is_compiled_and_its_c_file_ignored() -> None:
    sources = {
        path.relative_to(ROOT).as_posix()
        for folder in ("service", "schemas")
        for path in (ROOT / folder).rglob("*.pyx")
    }
    assert sources == set(compiled_modules().values())
    for ignore_file in (".gitignore", ".dockerignore"):
        ignored = set((ROOT / ignore_file).read_text("utf-8").split())
        for source in sources:
            assert source.removesuffix(".pyx") + ".c" in ignored, (ignore_file, source)
