"""The prioritizer's per-event work as one plain function, for the peer-framework hosts.

``score`` does for one feedback record exactly what ``service.prioritizer.pipeline``
does for it on the happy path: decode and validate the event (``decode_feedback``, same
default limits), assess it with the shipped rules (one ``RuleEngine`` per process, built
on first use, as the service builds its own), write the ticket's
JSON (``ticket_json``, as the pipeline does). It returns the record to publish: (ticket id, ticket JSON), both bytes.

What the peers do *not* do, on purpose (so the comparison is about the hosting, not
about features):

* Dead letters: a record that fails to decode (or to score) returns ``None`` and the
  host drops it; triage would publish a dead letter carrying the original bytes. The
  benchmark input (``bench/throughput.py``'s ``make_events``) has no bad records, so
  this changes nothing on the measured path.
* Repeat contacts: no customer history and no changelog (``related`` is always empty);
  the service keeps them by default (``TRIAGE_REPEAT_CONTACTS``).
* CloudEvents headers on the ticket, metrics, logs of urgent tickets.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from functools import cache

from schemas.common import rfc3339
from service.prioritizer.decode import DecodeFailure, DecodeLimits, decode_feedback
from service.prioritizer.ticket_json import ticket_json
from service.rules.engine import RuleEngine, ticket_id_for
from service.rules.model import load_default_rules
from service.sla.policy import SlaPolicy, load_policy

_LIMITS = DecodeLimits()


@cache
def _engine() -> tuple[RuleEngine, str, SlaPolicy]:
    """The shipped rules, compiled once per process, their version and the shipped SLA
    policy (the tickets' targets)."""
    rules = load_default_rules()
    return RuleEngine(rules), rules.version, load_policy()


def score(value: bytes | None) -> tuple[bytes, bytes] | None:
    """One feedback record's value → (ticket id, ticket JSON), or None for a bad record.

    ``None`` stands for what triage would dead-letter (undecodable or invalid event, or
    a rule failure); the peer hosts skip those records rather than publish them.
    """
    engine, version, policy = _engine()
    now = datetime.now(UTC)
    try:
        event = decode_feedback(value, _LIMITS, now)
    except DecodeFailure:
        return None
    try:
        assessment = engine.assess(event)
        ticket_id = ticket_id_for(event.event_id)
        # the pipeline's own ticket writer, so the hosts differ only in the hosting
        value = ticket_json(event, assessment, ticket_id, rfc3339(now), version, policy)
        return ticket_id.encode(), value
    except Exception:  # as in the pipeline: a rule bug must not stop the stream
        return None


def host_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line every peer host shares (``bench/throughput.py`` runs them so)."""
    parser = argparse.ArgumentParser(description="a peer host of the prioritizer's scoring")
    parser.add_argument("--bootstrap", required=True, help="broker host:port")
    parser.add_argument("--input", required=True, help="feedback topic (must exist)")
    parser.add_argument("--output", required=True, help="tickets topic (must exist)")
    parser.add_argument("--group", required=True, help="consumer group id")
    return parser.parse_args(argv)
