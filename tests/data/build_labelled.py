"""Writes ``labelled_events.jsonl`` from the hand-written messages in ``labelled_source.py``.

Each message was written and labelled by hand by the rubric in ``RUBRIC.md``; this script
only wraps them into feedback events (ids, times, channels, tiers) deterministically:

    python tests/data/build_labelled.py
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.data.labelled_source import BARE, DEEP, HELDOUT, OTHER

PRIVATE_CHANNELS = ["email", "chat", "in_app", "phone", "nps_survey"]
TIERS: list[str | None] = [None, "free", "standard", None, "standard"]
STAGES: list[str | None] = [None, "active", None, "active", "churned"]
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def context(spec: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in spec.split():
        key, _, value = part.partition("=")
        out[key] = value
    return out


def event(i: int, lang: str, text: str, spec: str) -> tuple[dict[str, Any], list[str]]:
    ctx = context(spec)
    customer: dict[str, Any] = {"id": f"cust-{lang}-{i:03d}"}
    tier = ctx.get("tier", TIERS[i % len(TIERS)])
    stage = ctx.get("st", STAGES[i % len(STAGES)])
    if tier:
        customer["tier"] = tier
    if stage:
        customer["lifecycle_stage"] = stage
    offsets = ["+02:00", "+08:00", "+03:00", "+00:00", "-05:00"]
    when = START + timedelta(hours=7 * i + len(lang))
    ev: dict[str, Any] = {
        "event_id": f"lab-{lang}-{i:03d}",
        "occurred_at": when.isoformat().replace("+00:00", offsets[i % len(offsets)]),
        "channel": ctx.get("ch", PRIVATE_CHANNELS[i % len(PRIVATE_CHANNELS)]),
        "customer": customer,
        "text": text,
    }
    if "nps" in ctx:
        ev["nps_score"] = int(ctx["nps"])
    if "rating" in ctx:
        ev["rating"] = int(ctx["rating"])
    if i % 3 == 0 and lang != "und":  # a third of the publishers send the language
        ev["language"] = lang
    related = [f"earlier-{lang}-{i:03d}-{k}" for k in range(int(ctx.get("rel", "0")))]
    return ev, related


def main() -> None:
    lines: list[dict[str, Any]] = []
    for lang, rows in [*DEEP.items(), *OTHER.items()]:
        rows = [*rows, *HELDOUT.get(lang, [])]
        for i, (text, expected, note, spec) in enumerate(rows):
            ev, related = event(i, lang, text, spec)
            line: dict[str, Any] = {"event": ev, "expected": expected, "note": note, "lang": lang}
            if related:
                line["related_ticket_ids"] = related
            lines.append(line)
    for i, (nps, rating, channel, tier, stage, expected, note) in enumerate(BARE):
        customer: dict[str, Any] = {"id": f"cust-bare-{i:03d}"}
        if tier:
            customer["tier"] = tier
        if stage:
            customer["lifecycle_stage"] = stage
        ev = {
            "event_id": f"lab-bare-{i:03d}",
            "occurred_at": (START + timedelta(minutes=37 * i)).isoformat(),
            "channel": channel,
            "customer": customer,
            "text": "",
        }
        if nps is not None:
            ev["nps_score"] = nps
        if rating is not None:
            ev["rating"] = rating
        lines.append({"event": ev, "expected": expected, "note": note, "lang": "und"})
    out = Path(__file__).with_name("labelled_events.jsonl")
    with out.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"{out}: {len(lines)} events")


if __name__ == "__main__":
    main()
