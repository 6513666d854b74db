"""The prioritizer's scoring hosted in FastStream (aiokafka underneath).

Usage:  python bench/peers/faststream_host.py --bootstrap HOST:PORT --input TOPIC
            --output TOPIC --group GROUP

A benchmark peer, not a product: written the way FastStream's documentation shows, one
``@broker.subscriber`` handler per message with a ``@broker.publisher`` decorator that
publishes what it returns. Each feedback event from ``--input`` (from the earliest offset
when the group has no commit) becomes a ticket via ``scoring.score``, returned as a
``KafkaResponse`` so it is keyed by ticket id on ``--output``. The subscriber's
decoder hands the handler the record's bytes untouched (FastStream's default decoder
would parse the JSON into a dict first, which ``score`` does again, with validation). Records that triage would
dead-letter are dropped (see ``scoring``): the handler returns ``None`` and the publisher
sends nothing for them.

FastStream's defaults otherwise: its acknowledgement policy, aiokafka's consumer and
producer settings, one message handled at a time (the publisher awaits each send). That
is why this peer is slow (hundreds of events/s): every ticket waits for its own broker
round trip before the next event is handled. Nothing here needs a broker feature that
the embedded broker (Tansu) lacks: no transactions, no idempotence, topics created by the
caller beforehand.

Runs until SIGTERM or SIGINT (FastStream installs the handlers), then exits 0. The
per-message log lines are emitted at DEBUG and so not printed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from faststream import FastStream
from faststream.kafka import KafkaBroker, KafkaResponse
from faststream.kafka.message import KafkaMessage
from scoring import host_args, score  # a sibling module


def raw_body(message: KafkaMessage) -> bytes:
    """Custom decoder: the record's bytes as they are (scoring decodes and validates)."""
    body: bytes = message.body
    return body


def build(args: argparse.Namespace) -> FastStream:
    """The FastStream application: one subscriber on the input, publishing to the output."""
    broker = KafkaBroker(args.bootstrap, log_level=logging.DEBUG)

    @broker.subscriber(
        args.input, group_id=args.group, auto_offset_reset="earliest", decoder=raw_body
    )
    @broker.publisher(args.output)
    async def prioritize(body: bytes) -> KafkaResponse | None:
        scored = score(body)
        if scored is None:
            return None
        ticket_id, ticket = scored
        return KafkaResponse(ticket, key=ticket_id)

    return FastStream(broker)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    app = build(host_args(argv))
    asyncio.run(app.run(log_level=logging.DEBUG))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
