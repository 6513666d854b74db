"""Judge a rule set against a labelled file before it ships (``triage rules test``).

A labelled file is JSON lines: ``{"event": {...feedback event...}, "expected": "P1".."P4",
"note": "why", "lang": "el", "related_ticket_ids": [...]}`` — ``note``, ``lang`` (the
language to report the line under; default: the event's or the detected language) and
``related_ticket_ids`` (earlier tickets of the customer, for repeat-contact rules) are
optional.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.common import Priority
from schemas.feedback import FeedbackEvent
from service.rules.engine import RuleEngine

PRIORITIES = ("P1", "P2", "P3", "P4")


@dataclass(frozen=True, slots=True)
class Disagreement:
    event_id: str
    language: str
    expected: str
    got: str
    severity: int
    reasons: list[str]
    note: str
    text: str


@dataclass(slots=True)
class Report:
    total: int = 0
    agreed: int = 0
    per_language: dict[str, list[int]] = field(default_factory=dict)  # lang → [agreed, total]
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (expected, got)
    disagreements: list[Disagreement] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        return self.agreed / self.total if self.total else 0.0

    def language_agreement(self, lang: str) -> float:
        agreed, total = self.per_language.get(lang, [0, 0])
        return agreed / total if total else 0.0

    def severe_confusions(self) -> int:
        """P1 labelled that came out P3/P4, and P4 labelled that came out P1."""
        c = self.confusion
        return c[("P1", "P3")] + c[("P1", "P4")] + c[("P4", "P1")]


class LabelledFileError(ValueError):
    """A labelled line is not valid; the message names the line."""


def load_labelled(path: str | Path) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for n, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise LabelledFileError(f"{path}:{n}: not JSON: {exc.msg}") from exc
        if not isinstance(obj, dict) or "event" not in obj or "expected" not in obj:
            raise LabelledFileError(f'{path}:{n}: needs "event" and "expected"')
        if obj["expected"] not in PRIORITIES:
            raise LabelledFileError(f"{path}:{n}: expected must be one of {PRIORITIES}")
        obj["_line"] = n
        lines.append(obj)
    return lines


def evaluate(engine: RuleEngine, lines: list[dict[str, Any]]) -> Report:
    report = Report()
    for obj in lines:
        try:
            event = FeedbackEvent.model_validate(obj["event"])
        except ValueError as exc:
            raise LabelledFileError(f"line {obj.get('_line', '?')}: invalid event: {exc}") from exc
        related = [str(r) for r in obj.get("related_ticket_ids", [])]
        a = engine.assess(event, related)
        expected = str(obj["expected"])
        got = a.priority.value
        lang = str(obj.get("lang") or a.language)
        bucket = report.per_language.setdefault(lang, [0, 0])
        bucket[1] += 1
        report.total += 1
        report.confusion[(expected, got)] += 1
        if expected == got:
            bucket[0] += 1
            report.agreed += 1
            continue
        top = sorted(a.reasons, key=lambda r: -abs(r.weight))[:4]
        report.disagreements.append(
            Disagreement(
                event_id=event.event_id,
                language=lang,
                expected=expected,
                got=got,
                severity=a.severity,
                reasons=[f"{r.rule_id}({r.weight:+d}: {'; '.join(r.evidence[:2])})" for r in top],
                note=str(obj.get("note", "")),
                text=event.text[:120],
            )
        )
    return report


def format_report(report: Report, *, max_disagreements: int = 100) -> str:
    out = [
        f"agreement {report.agreement:.1%} ({report.agreed}/{report.total}), "
        f"severe confusions (P1→P3/P4, P4→P1): {report.severe_confusions()}",
        "",
        "language  agreement   n",
    ]
    for lang in sorted(report.per_language, key=lambda k: (-report.per_language[k][1], k)):
        agreed, total = report.per_language[lang]
        out.append(f"{lang:<8}  {agreed / total:>8.1%}  {total:>3}")
    out += ["", "expected \\ got   " + "  ".join(f"{p:>4}" for p in PRIORITIES)]
    for exp in PRIORITIES:
        row = "  ".join(f"{report.confusion[(exp, got)]:>4}" for got in PRIORITIES)
        out.append(f"{exp:<16} {row}")
    if report.disagreements:
        out += ["", f"disagreements ({len(report.disagreements)}):"]
        for d in report.disagreements[:max_disagreements]:
            out.append(
                f"  {d.event_id} [{d.language}] expected {d.expected} got {d.got} "
                f"(severity {d.severity}) — {d.note}"
            )
            out.append(f"      text: {d.text!r}")
            for r in d.reasons:
                out.append(f"      · {r}")
    return "\n".join(out)


def passes(report: Report, min_agreement: float) -> bool:
    return report.total > 0 and report.agreement >= min_agreement


__all__ = [
    "Disagreement",
    "LabelledFileError",
    "Priority",
    "Report",
    "evaluate",
    "format_report",
    "load_labelled",
    "passes",
]
