"""CloudEvents 1.0 over Kafka (the Kafka protocol binding): pure helpers, no Kafka client.

Input — a feedback event may arrive in one of three shapes, all accepted:

* **plain JSON**: the value is the feedback event; no ``ce_*`` headers.
* **binary mode**: the value is the feedback event; the CloudEvent attributes are
  ``ce_*`` headers (``ce_specversion``, ``ce_id``, ``ce_source``, ``ce_type`` required;
  ``ce_time``, ``ce_subject`` … optional) and ``content-type`` is the data's media type.
* **structured mode**: ``content-type: application/cloudevents+json``; the value is a
  JSON envelope whose ``data`` (or ``data_base64``) is the feedback event.

The feedback event's own ``event_id`` stays the idempotency key in every shape.

Output — every record triage writes (ticket, escalation, dead letter) carries
``ce_specversion=1.0``, a deterministic ``ce_id`` (the ticket id, the escalation id, or
``<topic>/<partition>/<offset>`` of the dead-lettered input), ``ce_type``, ``ce_source``,
``ce_time`` (RFC 3339) and, for JSON data, ``content-type: application/json``.

Where a header name occurs more than once, the last occurrence wins (as the Java
client's ``Headers.lastHeader``), so attributes appended after the original headers of a
dead letter describe the dead letter.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.common import rfc3339

SPECVERSION = "1.0"
HEADER_PREFIX = "ce_"
CONTENT_TYPE = "content-type"
JSON = "application/json"
STRUCTURED_JSON = "application/cloudevents+json"
REQUIRED = ("specversion", "id", "source", "type")

SOURCE_PRIORITIZER = "/triage/prioritizer"
SOURCE_SLA = "/triage/sla"
TYPE_TICKET_CREATED = "com.triage.ticket.created.v1"
TYPE_DEAD_LETTER = "com.triage.feedback.dead_letter.v1"
SCHEMA_BASE = "https://triage.example/schemas"

Headers = Iterable[tuple[str, bytes]]


class CloudEventError(ValueError):
    """The record claims to be a CloudEvent but is not a valid one."""


@dataclass(frozen=True, slots=True)
class CloudEvent:
    """The context attributes of an incoming CloudEvent (binary or structured mode)."""

    id: str
    source: str
    type: str
    specversion: str = SPECVERSION
    time: str | None = None
    subject: str | None = None
    datacontenttype: str | None = None
    extensions: dict[str, str] = field(default_factory=dict)
    mode: str = "binary"


def escalation_type(kind: str) -> str:
    return f"com.triage.escalation.{kind}.v1"


def dead_letter_id(topic: str, partition: int, offset: int) -> str:
    """Deterministic id of the dead letter of one input record."""
    return f"{topic}/{partition}/{offset}"


def header_map(headers: Headers) -> dict[str, bytes]:
    """Header name (lower case) → value; the last occurrence of a name wins."""
    return {name.lower(): value for name, value in headers}


def media_type(headers: Headers) -> str | None:
    """The ``content-type`` header without parameters, lower case (None when absent)."""
    raw = header_map(headers).get(CONTENT_TYPE)
    if raw is None:
        return None
    return raw.decode("utf-8", "replace").split(";", 1)[0].strip().lower() or None


def is_structured(headers: Headers) -> bool:
    return media_type(headers) == STRUCTURED_JSON


def parse_binary(headers: Headers) -> CloudEvent | None:
    """The CloudEvent attributes of a binary-mode record; None when it is not one.

    A record is in binary mode when it has a ``ce_specversion`` header. Raises
    ``CloudEventError`` for an unsupported version or a missing required attribute.
    """
    hmap = header_map(headers)
    if HEADER_PREFIX + "specversion" not in hmap:
        return None
    attrs: dict[str, str] = {}
    for name, raw in hmap.items():
        if name.startswith(HEADER_PREFIX):
            try:
                attrs[name.removeprefix(HEADER_PREFIX)] = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CloudEventError(f"header {name} is not UTF-8") from None
    ctype = hmap.get(CONTENT_TYPE)
    if ctype is not None:
        attrs["datacontenttype"] = ctype.decode("utf-8", "replace")
    return _build(attrs, "binary")


def parse_structured(envelope: Mapping[str, Any]) -> tuple[CloudEvent, Any]:
    """Split a structured-mode envelope into its attributes and its data.

    ``data`` is returned as parsed JSON; ``data_base64`` is returned as bytes.
    """
    attrs: dict[str, str] = {}
    for name, value in envelope.items():
        if name in ("data", "data_base64"):
            continue
        if not isinstance(value, str | int | bool):
            raise CloudEventError(f"attribute {name} must be a string")
        attrs[name] = str(value)
    event = _build(attrs, "structured")
    if "data_base64" in envelope:
        encoded = envelope["data_base64"]
        if not isinstance(encoded, str):
            raise CloudEventError("data_base64 must be a string")
        try:
            return event, base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise CloudEventError("data_base64 is not valid base64") from None
    if "data" not in envelope:
        raise CloudEventError("structured CloudEvent without data")
    return event, envelope["data"]


def _build(attrs: dict[str, str], mode: str) -> CloudEvent:
    version = attrs.get("specversion", "")
    if version.split(".", 1)[0] != "1":
        raise CloudEventError(f"unsupported CloudEvents specversion {version!r} (expected 1.0)")
    missing = [name for name in REQUIRED if not attrs.get(name)]
    if missing:
        raise CloudEventError(f"missing CloudEvents attribute(s): {', '.join(missing)}")
    known = {"specversion", "id", "source", "type", "time", "subject", "datacontenttype"}
    return CloudEvent(
        id=attrs["id"],
        source=attrs["source"],
        type=attrs["type"],
        specversion=version,
        time=attrs.get("time"),
        subject=attrs.get("subject"),
        datacontenttype=attrs.get("datacontenttype"),
        extensions={k: v for k, v in attrs.items() if k not in known},
        mode=mode,
    )


def output_headers(
    *,
    id: str,
    type: str,
    source: str,
    time: datetime,
    subject: str | None = None,
    dataschema: str | None = None,
    content_type: str | None = JSON,
) -> list[tuple[str, bytes]]:
    """Binary-mode headers of a record triage writes."""
    headers = [
        ("ce_specversion", SPECVERSION),
        ("ce_id", id),
        ("ce_type", type),
        ("ce_source", source),
        ("ce_time", rfc3339(time)),
    ]
    if subject is not None:
        headers.append(("ce_subject", subject))
    if dataschema is not None:
        headers.append(("ce_dataschema", dataschema))
    if content_type is not None:
        headers.append((CONTENT_TYPE, content_type))
    return [(name, value.encode()) for name, value in headers]


def schema_url(stem: str) -> str:
    """The ``$id`` of a committed JSON Schema (``schemas/json/<stem>.schema.json``)."""
    return f"{SCHEMA_BASE}/{stem}.schema.json"


def ticket_headers(ticket_id: str, created_at: datetime | str) -> list[tuple[str, bytes]]:
    """``output_headers`` of a ticket (``ce_id`` and ``ce_subject``: the ticket id), with
    the constant headers built once and shared by every ticket (tuples: nothing changes
    them): the prioritizer writes one per event (``test_ticket_json.py`` holds the two
    equal)."""
    ce_time = created_at if isinstance(created_at, str) else rfc3339(created_at)
    tid = ticket_id.encode()
    return [
        _SPECVERSION_HEADER,
        ("ce_id", tid),
        _TICKET_TYPE_HEADER,
        _PRIORITIZER_HEADER,
        ("ce_time", ce_time.encode()),
        ("ce_subject", tid),
        _TICKET_SCHEMA_HEADER,
        _JSON_HEADER,
    ]


_SPECVERSION_HEADER = ("ce_specversion", SPECVERSION.encode())
_TICKET_TYPE_HEADER = ("ce_type", TYPE_TICKET_CREATED.encode())
_PRIORITIZER_HEADER = ("ce_source", SOURCE_PRIORITIZER.encode())
_TICKET_SCHEMA_HEADER = ("ce_dataschema", schema_url("ticket").encode())
_JSON_HEADER = (CONTENT_TYPE, JSON.encode())
