"""The published contract: committed JSON Schemas match the models; AsyncAPI covers every topic.

The AsyncAPI document itself is validated by the official parser in `make validate`
(tools/validate_asyncapi.mjs); these tests tie it to the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from schemas.common import SCHEMA_VERSION
from schemas.export import MESSAGES, export
from service.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "schemas" / "json"
ASYNCAPI = ROOT / "schemas" / "asyncapi.yaml"


def test_committed_json_schemas_match_the_models(tmp_path: Path) -> None:
    export(tmp_path)
    fresh = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_bytes() for p in COMMITTED.glob("*.schema.json")}
    stale = sorted(
        name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name)
    )
    assert not stale, (
        f"schemas/json/ is out of date with the models in schemas/ ({', '.join(stale)}): "
        "run `make schemas` and commit the result (changes must be additive; see "
        "docs/contract.md, Versioning policy)"
    )


def _asyncapi() -> dict[str, Any]:
    doc = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_asyncapi_describes_every_topic_with_its_role() -> None:
    doc = _asyncapi()
    assert str(doc["asyncapi"]).startswith("3.")
    assert doc["info"]["version"].split(".")[0] == SCHEMA_VERSION.split(".")[0]
    s = Settings()
    addresses = {c["address"]: cid for cid, c in doc["channels"].items()}
    expected = {
        s.topic_feedback: "receive",
        s.topic_activity: "receive",
        s.topic_tickets: "send",
        s.topic_escalations: "send",
        s.topic_dlq: "send",
        s.topic_sla_changelog: "send",
        s.topic_customer_changelog: "send",
    }
    assert set(addresses) == set(expected)
    actions: dict[str, set[str]] = {}
    for op in doc["operations"].values():
        channel = op["channel"]["$ref"].removeprefix("#/channels/")
        actions.setdefault(channel, set()).add(op["action"])
    for topic, action in expected.items():
        assert action in actions[addresses[topic]], f"{topic}: no {action} operation"
    # the SLA monitor reads the tickets it did not write; the changelog is read back
    assert actions[addresses[s.topic_tickets]] == {"send", "receive"}
    assert actions[addresses[s.topic_sla_changelog]] == {"send", "receive"}
    assert actions[addresses[s.topic_customer_changelog]] == {"send", "receive"}
    for channel in doc["channels"].values():
        assert channel["bindings"]["kafka"]["topic"] == channel["address"]


def test_asyncapi_messages_use_the_committed_schemas_and_say_their_key() -> None:
    doc = _asyncapi()
    files = {r for r in _refs(doc) if not r.startswith("#")}
    assert files >= {f"./json/{stem}.schema.json" for stem in MESSAGES if stem != "dead-letter"}
    for ref in files:
        assert (ASYNCAPI.parent / ref).is_file(), ref
    for name, message in doc["components"]["messages"].items():
        key = message["bindings"]["kafka"]["key"]
        assert key["type"] == "string", name
        assert key["description"], name


def test_asyncapi_lists_every_dead_letter_reason() -> None:
    from schemas.dead_letter import DeadLetterReason

    headers = _asyncapi()["components"]["schemas"]["DeadLetterHeaders"]["properties"]
    assert set(headers["triage.dlq.reason"]["enum"]) == {r.value for r in DeadLetterReason}


def test_asyncapi_lists_every_output_cloudevent_type() -> None:
    from schemas.escalation import EscalationKind
    from service import cloudevents

    types = _asyncapi()["components"]["schemas"]["CloudEventsOutputHeaders"]["properties"]
    assert set(types["ce_type"]["enum"]) == {cloudevents.TYPE_TICKET_CREATED} | {
        cloudevents.escalation_type(k.value) for k in EscalationKind
    }
