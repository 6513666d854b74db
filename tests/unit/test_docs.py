"""The README and docs/: short front page, the two commands first, no broken links.

Every relative link in README.md, CHANGELOG.md and docs/*.md must name a file that exists,
and a ``#fragment`` must name a heading of that file (GitHub's anchor rules), so moving a
section without its links fails here rather than on a reader.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = [README, ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
#: The front page stays a front page (issue 17): details belong in docs/.
README_MAX_LINES = 200

_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = _MD_LINK.sub(r"\1", heading).replace("`", "").strip().lower()
    out: list[str] = []
    for ch in text:
        if ch in "-_" or ch.isalnum():
            out.append(ch)
        elif ch == " ":
            out.append("-")
        elif unicodedata.category(ch)[0] not in "PS":
            out.append(ch)
    return "".join(out)


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found: set[str] = set()
    for line in _FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        match = _HEADING.match(line)
        if match:
            base = _slug(match.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def _links(path: Path) -> list[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    return [t for t in _LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def test_slug_follows_github() -> None:
    assert _slug("Rule evaluation (`bench/rules_bench.py`)") == "rule-evaluation-benchrules_benchpy"
    assert _slug("The peers' dependencies") == "the-peers-dependencies"
    assert _slug("Alerts (on-call)") == "alerts-on-call"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    broken = []
    for target in _links(doc):
        path, _, fragment = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif fragment and (dest.suffix != ".md" or fragment not in _anchors(dest)):
            broken.append(f"{target}: no such heading")
    assert not broken, f"{doc.relative_to(ROOT)}: {broken}"


def test_readme_is_short_and_starts_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    first_block = text[text.index("```") :].splitlines()[1:3]
    assert [line.split()[:2] for line in first_block] == [["make", "demo"], ["make", "test"]]
