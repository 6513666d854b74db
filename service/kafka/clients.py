"""Connection settings shared by the consumer, producer and admin clients, and the two
plain clients of ``triage demo`` (a reader of whole topics and a writer)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.helpers import create_ssl_context

from service.config import Settings


def connection_kwargs(settings: Settings, bootstrap: str | None = None) -> dict[str, Any]:
    """Keyword arguments every aiokafka client takes: address, TLS and SASL."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": bootstrap or settings.require_bootstrap(),
        "client_id": settings.kafka_client_id,
        "security_protocol": settings.kafka_security_protocol,
        "request_timeout_ms": settings.request_timeout_ms,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = create_ssl_context(
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
        )
    if settings.kafka_security_protocol.startswith("SASL"):
        if not settings.kafka_sasl_mechanism or not settings.kafka_sasl_username:
            raise SystemExit(
                "SASL needs TRIAGE_KAFKA_SASL_MECHANISM and TRIAGE_KAFKA_SASL_USERNAME"
            )
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        password = settings.kafka_sasl_password
        kwargs["sasl_plain_password"] = password.get_secret_value() if password else ""
    return kwargs


@asynccontextmanager
async def reading_from_start(settings: Settings, topics: Sequence[str]) -> AsyncIterator[Any]:
    """A started consumer outside any group (it commits nothing), assigned every partition
    of ``topics`` from the beginning; it waits up to about 10 s for each topic's
    partitions to show in the metadata. Read with ``getmany``; stopped on exit."""
    consumer = AIOKafkaConsumer(
        **connection_kwargs(settings), enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        tps: list[TopicPartition] = []
        for topic in topics:
            for _ in range(100):
                parts = consumer.partitions_for_topic(topic)
                if parts:
                    tps.extend(TopicPartition(topic, p) for p in sorted(parts))
                    break
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"topic {topic} has no partitions")
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        yield consumer
    finally:
        await consumer.stop()


@asynccontextmanager
async def writing(settings: Settings) -> AsyncIterator[Any]:
    """A started producer that sends each record at once (``linger_ms=0``) and waits for
    every in-sync replica (``acks="all"``): ``send_and_wait(topic, value, key=…)``.
    Stopped on exit."""
    producer = AIOKafkaProducer(**connection_kwargs(settings), acks="all", linger_ms=0)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()
