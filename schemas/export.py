"""Export the JSON Schema of every message (``triage schemas export DIR``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from schemas.activity import TicketActivity
from schemas.dead_letter import DeadLetter
from schemas.escalation import Escalation
from schemas.feedback import FeedbackEvent
from schemas.ticket import Ticket

#: file stem → (model, direction). Inputs are described as accepted ("validation"),
#: outputs as written ("serialization").
MESSAGES: dict[str, tuple[type[BaseModel], Literal["validation", "serialization"]]] = {
    "feedback-event": (FeedbackEvent, "validation"),
    "ticket-activity": (TicketActivity, "validation"),
    "ticket": (Ticket, "serialization"),
    "escalation": (Escalation, "serialization"),
    "dead-letter": (DeadLetter, "serialization"),
}


def json_schemas() -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for stem, (model, mode) in MESSAGES.items():
        schema = model.model_json_schema(mode=mode)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://triage.example/schemas/{stem}.schema.json"
        out[stem] = schema
    return out


def export(directory: str | Path) -> list[Path]:
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, schema in json_schemas().items():
        path = target / f"{stem}.schema.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
