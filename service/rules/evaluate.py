"""Judge a rule set against a labelled file before it ships (``triage rules test``).

A labelled file is JSON lines of two kinds, which may be mixed:

- **priority lines** ``{"event": {...feedback event...}, "expected": "P1".."P4",
  "note": "why", "lang": "el", "related_ticket_ids": [...]}``, reported by exact
  agreement, per language, with a confusion matrix and the disagreements;
- **sentiment lines** ``{"event": {...}, "sentiment": "neg"|"neu"|"pos", "lang": "en",
  "source": "tweets_en"}``, reported per language and per source: the balanced accuracy
  (the mean of the share of ``neg`` lines that end P1/P2 and the share of ``pos`` lines
  that end P3/P4) and the share of ``neu`` lines that stay P3/P4.

``note``, ``lang`` (the language to report the line under; default: the event's or the
detected language), ``source`` (default ``-``) and ``related_ticket_ids`` (earlier
tickets of the customer, for repeat-contact rules) are optional.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.common import Priority
from schemas.feedback import FeedbackEvent
from service.rules.engine import Assessment, RuleEngine
from service.rules.model import RuleSet
from service.sentiment.model import load_model

PRIORITIES = ("P1", "P2", "P3", "P4")
SENTIMENTS = ("neg", "neu", "pos")
#: Priorities a negative line should reach; the others are where pos and neu belong.
URGENT = frozenset({"P1", "P2"})
#: The source of a sentiment line that names none.
NO_SOURCE = "-"


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
class SentimentTally:
    """Sentiment lines of one group, and how many of each label ended where it belongs."""

    neg: int = 0
    neg_urgent: int = 0  # neg lines that ended P1/P2
    neu: int = 0
    neu_calm: int = 0  # neu lines that stayed P3/P4
    pos: int = 0
    pos_calm: int = 0  # pos lines that ended P3/P4

    def add(self, sentiment: str, priority: str) -> None:
        urgent = priority in URGENT
        if sentiment == "neg":
            self.neg += 1
            self.neg_urgent += urgent
        elif sentiment == "neu":
            self.neu += 1
            self.neu_calm += not urgent
        else:
            self.pos += 1
            self.pos_calm += not urgent

    @property
    def total(self) -> int:
        return self.neg + self.neu + self.pos

    @property
    def balanced_accuracy(self) -> float | None:
        """Mean of neg → P1/P2 and pos → P3/P4 over those of the two labels present;
        None when there is neither a neg nor a pos line."""
        pairs = ((self.neg_urgent, self.neg), (self.pos_calm, self.pos))
        shares = [hit / n for hit, n in pairs if n]
        return sum(shares) / len(shares) if shares else None

    @property
    def neutral_kept(self) -> float | None:
        """Share of neu lines that stayed P3/P4; None without neu lines."""
        return self.neu_calm / self.neu if self.neu else None


@dataclass(slots=True)
class SentimentReport:
    """Sentiment lines tallied per language and per (language, source)."""

    by_language: dict[str, SentimentTally] = field(default_factory=dict)
    by_source: dict[tuple[str, str], SentimentTally] = field(default_factory=dict)

    def add(self, language: str, source: str, sentiment: str, priority: str) -> None:
        self.by_language.setdefault(language, SentimentTally()).add(sentiment, priority)
        self.by_source.setdefault((language, source), SentimentTally()).add(sentiment, priority)

    @property
    def total(self) -> int:
        return sum(t.total for t in self.by_language.values())

    def worst_language(self) -> tuple[str, float] | None:
        """The language with the lowest balanced accuracy (ties: the first by name);
        None when no language has a neg or pos line."""
        scored = [
            (ba, lang)
            for lang, tally in self.by_language.items()
            if (ba := tally.balanced_accuracy) is not None
        ]
        if not scored:
            return None
        ba, lang = min(scored)
        return lang, ba


@dataclass(slots=True)
class Report:
    """Priority lines (``total``, ``agreed``, …) and sentiment lines (``sentiment``)."""

    total: int = 0
    agreed: int = 0
    per_language: dict[str, list[int]] = field(default_factory=dict)  # lang → [agreed, total]
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (expected, got)
    disagreements: list[Disagreement] = field(default_factory=list)
    sentiment: SentimentReport = field(default_factory=SentimentReport)

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
    """The lines of a labelled file, each checked and given its line number (``_line``)."""
    lines: list[dict[str, Any]] = []
    for n, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise LabelledFileError(f"{path}:{n}: not JSON: {exc.msg}") from exc
        _check_line(obj, f"{path}:{n}")
        obj["_line"] = n
        lines.append(obj)
    return lines


def _check_line(obj: Any, where: str) -> None:
    if not isinstance(obj, dict) or "event" not in obj:
        raise LabelledFileError(f'{where}: needs "event" and "expected" or "sentiment"')
    if "expected" in obj and obj["expected"] not in PRIORITIES:
        raise LabelledFileError(f"{where}: expected must be one of {PRIORITIES}")
    if "sentiment" in obj and obj["sentiment"] not in SENTIMENTS:
        raise LabelledFileError(f"{where}: sentiment must be one of {SENTIMENTS}")
    if "expected" not in obj and "sentiment" not in obj:
        raise LabelledFileError(f'{where}: needs "expected" (P1..P4) or "sentiment"')


def engines_for(rules: RuleSet, models: Sequence[str]) -> list[tuple[str, RuleEngine]]:
    """One engine per model value (a model folder, or ``shipped``), named by that value;
    without any, one unnamed engine that loads the shipped model itself if the rules need
    it. Raises ``ModelError`` (``service.sentiment.model``) for a model that does not load."""
    if not models:
        return [("", RuleEngine(rules))]
    return [(value, RuleEngine(rules, text_model=load_model(value))) for value in models]


def evaluate(engine: RuleEngine, lines: list[dict[str, Any]]) -> Report:
    """Score every line with ``engine``; a line with both labels counts in both reports."""
    report = Report()
    for obj in lines:
        try:
            event = FeedbackEvent.model_validate(obj["event"])
        except ValueError as exc:
            raise LabelledFileError(f"line {obj.get('_line', '?')}: invalid event: {exc}") from exc
        related = [str(r) for r in obj.get("related_ticket_ids", [])]
        a = engine.assess(event, related)
        lang = str(obj.get("lang") or a.language)
        if "sentiment" in obj:
            source = str(obj.get("source") or NO_SOURCE)
            report.sentiment.add(lang, source, str(obj["sentiment"]), a.priority.value)
        if "expected" in obj:
            _add_priority_line(report, obj, event, a, lang)
    return report


def _add_priority_line(
    report: Report, obj: dict[str, Any], event: FeedbackEvent, a: Assessment, lang: str
) -> None:
    expected = str(obj["expected"])
    got = a.priority.value
    bucket = report.per_language.setdefault(lang, [0, 0])
    bucket[1] += 1
    report.total += 1
    report.confusion[(expected, got)] += 1
    if expected == got:
        bucket[0] += 1
        report.agreed += 1
        return
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


def format_report(report: Report, *, max_disagreements: int = 100) -> str:
    """The priority report (when there are priority lines, or no lines at all), then the
    sentiment table (when there are sentiment lines)."""
    parts: list[str] = []
    if report.total or not report.sentiment.total:
        parts.append(_format_priority(report, max_disagreements))
    if report.sentiment.total:
        parts.append(format_sentiment([("", report.sentiment)]))
    return "\n\n".join(parts)


def _format_priority(report: Report, max_disagreements: int) -> str:
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


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _block_width(name: str) -> int:
    return max(19, len(name) + 2)


def format_sentiment(columns: Sequence[tuple[str, SentimentReport]]) -> str:
    """The sentiment table: a row per (language, source), then per language (source
    ``(all)``), with the counts of the first report and, per report, its balanced accuracy
    (``bal acc``) and the share of neu lines kept P3/P4 (``neu kept``); a header line
    names the reports when there are two or more. Ends with each one's worst language."""
    first = columns[0][1]
    out = [
        f"sentiment lines: {first.total} — bal acc = mean(neg → P1/P2, pos → P3/P4), "
        "neu kept = neu → P3/P4"
    ]
    lead = f"{'language':<8}  {'source':<32} {'neg':>5} {'neu':>5} {'pos':>5}"
    if len(columns) > 1:
        names = "".join(f"{name:>{_block_width(name)}}" for name, _ in columns)
        out.append(" " * len(lead) + names)
    out.append(lead + "".join(f"{'bal acc':>{_block_width(n) - 10}}  neu kept" for n, _ in columns))
    keys = sorted(set().union(*(r.by_source for _, r in columns)))
    langs = sorted(set().union(*(r.by_language for _, r in columns)))
    rows: list[tuple[str, str, list[SentimentTally | None]]] = [
        (lang, src, [r.by_source.get((lang, src)) for _, r in columns]) for lang, src in keys
    ]
    rows += [(lang, "(all)", [r.by_language.get(lang) for _, r in columns]) for lang in langs]
    out += [_sentiment_row(lang, src, tallies, columns) for lang, src, tallies in rows]
    for name, r in columns:
        worst = r.worst_language()
        label = f" ({name})" if len(columns) > 1 else ""
        verdict = f"{worst[0]} {worst[1]:.3f}" if worst else "-"
        out.append(f"worst language balanced accuracy{label}: {verdict}")
    return "\n".join(out)


def _sentiment_row(
    lang: str,
    source: str,
    tallies: list[SentimentTally | None],
    columns: Sequence[tuple[str, SentimentReport]],
) -> str:
    counts = next((t for t in tallies if t is not None), SentimentTally())
    row = f"{lang:<8}  {source:<32} {counts.neg:>5} {counts.neu:>5} {counts.pos:>5}"
    for tally, (name, _) in zip(tallies, columns, strict=True):
        ba = tally.balanced_accuracy if tally is not None else None
        kept = tally.neutral_kept if tally is not None else None
        row += f"{_share(ba):>{_block_width(name) - 10}}{_share(kept):>10}"
    return row


def format_side_by_side(columns: Sequence[tuple[str, Report]]) -> str:
    """Reports of the same lines under different text models, one column (block) per
    model: agreement and severe confusions overall and per language for priority lines,
    then the sentiment table. Disagreements are not listed (run one model for those)."""
    parts: list[str] = []
    if any(r.total for _, r in columns):
        parts.append(_priority_side_by_side(columns))
    if any(r.sentiment.total for _, r in columns):
        parts.append(format_sentiment([(name, r.sentiment) for name, r in columns]))
    return "\n\n".join(parts) if parts else "no labelled lines"


def _priority_side_by_side(columns: Sequence[tuple[str, Report]]) -> str:
    reports = [r for _, r in columns]
    out = [
        _cells("priority lines", [name for name, _ in columns], columns),
        _cells("agreement", [f"{r.agreement:.1%}" for r in reports], columns),
        _cells("severe confusions", [str(r.severe_confusions()) for r in reports], columns),
    ]
    first = reports[0]
    for lang in sorted(first.per_language, key=lambda k: (-first.per_language[k][1], k)):
        label = f"{lang} (n={first.per_language[lang][1]})"
        out.append(_cells(label, [f"{r.language_agreement(lang):.1%}" for r in reports], columns))
    return "\n".join(out)


def _cells(label: str, cells: list[str], columns: Sequence[tuple[str, Report]]) -> str:
    blocks = zip(cells, columns, strict=True)
    return f"{label:<24}" + "".join(f"{c:>{_block_width(name)}}" for c, (name, _) in blocks)


def failures(report: Report, min_agreement: float, min_balanced_accuracy: float = 0.0) -> list[str]:
    """Why ``report`` fails the bars, empty when it passes: priority lines against
    ``min_agreement`` (exact agreement), sentiment lines against ``min_balanced_accuracy``
    (the worst language's balanced accuracy; 0 checks nothing); no lines at all fails."""
    if not report.total and not report.sentiment.total:
        return ["no labelled lines"]
    found: list[str] = []
    if report.total and report.agreement < min_agreement:
        found.append(f"agreement {report.agreement:.1%} is below {min_agreement:.0%}")
    if min_balanced_accuracy > 0:
        worst = report.sentiment.worst_language()
        if worst is None:
            found.append("no neg or pos sentiment line to check the balanced accuracy against")
        elif worst[1] < min_balanced_accuracy:
            found.append(
                f"balanced accuracy of {worst[0]} {worst[1]:.3f} "
                f"is below {min_balanced_accuracy:.3f}"
            )
    return found


def passes(report: Report, min_agreement: float, min_balanced_accuracy: float = 0.0) -> bool:
    """The report meets both bars (see ``failures``)."""
    return not failures(report, min_agreement, min_balanced_accuracy)


__all__ = [
    "Disagreement",
    "LabelledFileError",
    "Priority",
    "Report",
    "SentimentReport",
    "SentimentTally",
    "engines_for",
    "evaluate",
    "failures",
    "format_report",
    "format_sentiment",
    "format_side_by_side",
    "load_labelled",
    "passes",
]
