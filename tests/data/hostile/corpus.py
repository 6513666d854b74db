"""The hostile-input corpus: ``MANIFEST.json`` + ``*.bin`` files + generators.

Small cases are committed as raw ``.bin`` files; big ones (deep nesting, megabyte texts,
oversized headers) are built here at load time so no megabytes sit in the repository.
``load_corpus()`` returns every case with the bytes to publish, the headers and the
expected outcome: a dead-letter reason, or ``"ticket"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
MANIFEST = HERE / "MANIFEST.json"


@dataclass(frozen=True)
class Case:
    name: str
    value: bytes
    expect: str  # a DeadLetterReason value, or "ticket"
    note: str
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def is_ticket(self) -> bool:
        return self.expect == "ticket"


def _ts(now: datetime, hours: int) -> str:
    return now.astimezone(timezone(timedelta(hours=hours))).isoformat(timespec="milliseconds")


def _fill(raw: bytes, now: datetime) -> bytes:
    return (
        raw.replace(b"@NOW@", _ts(now, 0).replace("+00:00", "Z").encode())
        .replace(b"@NOW+14@", _ts(now, 14).encode())
        .replace(b"@NOW-12@", _ts(now, -12).encode())
    )


def valid_event(name: str, now: datetime, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": f"hostile-{name}",
        "occurred_at": _ts(now, 0),
        "channel": "email",
        "customer": {"id": "cust-hostile"},
        "text": "hostile input test",
    }
    event.update(extra)
    return event


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _generate(name: str, gen: str, args: dict[str, Any], now: datetime) -> bytes:
    if gen == "empty":
        return b""
    if gen == "deep_array":
        n = int(args["levels"])
        return b"[" * n + b"1" + b"]" * n
    if gen == "deep_object":
        n = int(args["levels"])
        return b'{"a":' * n + b"1" + b"}" * n
    if gen == "deep_unclosed":
        return b'{"x":' + b"[" * int(args["levels"])
    if gen == "text_event":
        return _dumps(valid_event(name, now, text=args.get("char", "a") * args["chars"]))
    if gen == "unknown_field":
        return _dumps(valid_event(name, now, x_blob="z" * args["chars"]))
    if gen == "many_keys":
        keys = {f"k{i}": i for i in range(args["count"])}
        raw = _dumps(valid_event(name, now, x_map=keys))
        if args.get("duplicate"):  # x_map is the last field: repeat its first key at its end
            assert raw.endswith(b"}}")
            raw = raw[:-2] + b',"k0":-1}}'
        return raw
    if gen == "long_array":
        return _dumps(valid_event(name, now, x_list=list(range(args["count"]))))
    if gen == "valid_event":
        return _dumps(valid_event(name, now))
    if gen == "not_json":
        return b"this is not JSON"
    raise ValueError(f"unknown generator {gen!r}")


def _headers(kind: str | None) -> list[tuple[str, bytes]]:
    if kind is None:
        return []
    if kind == "many":
        return [(f"x-h{i}", str(i).encode()) for i in range(1000)]
    if kind == "big":
        return [("trace-id", b"abc"), ("x-big", b"h" * 100_000)]
    if kind == "binary":
        return [("x-binary", bytes(range(256)))]
    if kind == "bad_ce":
        return [
            ("ce_specversion", b"2.0"),
            ("ce_id", b"1"),
            ("ce_source", b"/hostile"),
            ("ce_type", b"t"),
        ]
    raise ValueError(f"unknown header set {kind!r}")


def load_corpus(now: datetime | None = None) -> list[Case]:
    now = now or datetime.now(UTC)
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    cases = []
    for entry in manifest["cases"]:
        name = entry["name"]
        args = dict(entry.get("args", {}))
        headers = _headers(args.pop("headers", None))
        if "file" in entry:
            value = _fill((HERE / entry["file"]).read_bytes(), now)
        else:
            value = _generate(name, entry["generate"], args, now)
        cases.append(Case(name, value, entry["expect"], entry.get("note", ""), headers))
    return cases
