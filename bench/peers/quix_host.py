"""The prioritizer's scoring hosted in Quix Streams (confluent-kafka underneath).

Usage:  python bench/peers/quix_host.py --bootstrap HOST:PORT --input TOPIC
            --output TOPIC --group GROUP

A benchmark peer, not a product: it consumes feedback events from ``--input`` (from the
earliest offset when the group has no commit), turns each into a ticket with
``scoring.score`` and publishes it to ``--output`` keyed by ticket id, the way Quix's
documentation writes a pipeline: ``app.dataframe(topic).apply(...).filter(...)
.to_topic(...)``. Records that triage would dead-letter are dropped (see ``scoring``).
Runs until SIGTERM or SIGINT (Quix installs the handlers), then commits and exits 0.

Settings that differ from Quix's defaults, because the embedded broker (Tansu) lacks
transactions, idempotent producers and compaction, and because a benchmark must not
create anything by itself:

* ``processing_guarantee="at-least-once"`` (the default; exactly-once needs
  transactions), and the producer's ``enable.idempotence`` off;
* ``auto_create_topics=False``: the topics are created beforehand by the caller;
* ``use_changelog_topics=False`` and no stateful operation, so no state store and no
  changelog topics (they would need compaction).

Quix's own loggers are set to WARNING: the host prints nothing per message.
"""

from __future__ import annotations

import argparse
from typing import Any

from quixstreams import Application
from quixstreams.models.serializers import SerializationContext, Serializer
from scoring import host_args, score  # a sibling module


class TicketValue(Serializer):
    """Writes the ticket JSON of a (ticket id, ticket JSON) pair; the id is the key."""

    def __call__(self, value: tuple[bytes, bytes], ctx: SerializationContext) -> bytes:
        return value[1]


def ticket_key(value: tuple[bytes, bytes]) -> bytes:
    return value[0]


def is_ticket(value: tuple[bytes, bytes] | None) -> bool:
    return value is not None


def build(args: argparse.Namespace) -> Application:
    """The Quix application: input topic → score → output topic."""
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        processing_guarantee="at-least-once",
        auto_create_topics=False,
        use_changelog_topics=False,
        producer_extra_config={"enable.idempotence": False},
        loglevel="WARNING",
    )
    feedback = app.topic(args.input, value_deserializer="bytes", key_deserializer="bytes")
    tickets = app.topic(args.output, value_serializer=TicketValue(), key_serializer="bytes")
    sdf: Any = app.dataframe(feedback)
    sdf = sdf.apply(score).filter(is_ticket)
    sdf.to_topic(tickets, key=ticket_key)
    return app


def main(argv: list[str] | None = None) -> int:
    build(host_args(argv)).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
