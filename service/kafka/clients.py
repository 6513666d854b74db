"""Connection settings shared by the consumer, producer and admin clients (and the reader
of ``triage watch``, ``service.kafka.reader``), and the plain writer of ``triage demo``."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.helpers import create_ssl_context

from service.config import Settings, env_name
from service.startup_errors import ConfigError, Problem


def connection_kwargs(settings: Settings, bootstrap: str | None = None) -> dict[str, Any]:
    """Keyword arguments every aiokafka client takes: address, TLS and SASL. A setting
    that cannot work (a missing certificate file, SASL without a user) is a
    ``ConfigError`` naming its variable, before any connection is tried."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": bootstrap or settings.require_bootstrap(),
        "client_id": settings.kafka_client_id,
        "security_protocol": settings.kafka_security_protocol,
        "request_timeout_ms": settings.request_timeout_ms,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        files = ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile")
        for field in files:
            path = getattr(settings, field)
            if path is not None and not Path(path).is_file():
                raise ConfigError(path, "no such file", setting=env_name(field))
        try:
            kwargs["ssl_context"] = create_ssl_context(
                cafile=settings.kafka_ssl_cafile,
                certfile=settings.kafka_ssl_certfile,
                keyfile=settings.kafka_ssl_keyfile,
            )
        except (OSError, ssl.SSLError) as exc:
            names = ", ".join(env_name(f) for f in files if getattr(settings, f) is not None)
            raise ConfigError(None, Problem(f"cannot load: {exc}", names)) from exc
    if settings.kafka_security_protocol.startswith("SASL"):
        if not settings.kafka_sasl_mechanism or not settings.kafka_sasl_username:
            raise ConfigError(
                None,
                Problem(
                    f"{settings.kafka_security_protocol} needs TRIAGE_KAFKA_SASL_MECHANISM "
                    "and TRIAGE_KAFKA_SASL_USERNAME",
                    env_name("kafka_security_protocol"),
                ),
            )
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        password = settings.kafka_sasl_password
        kwargs["sasl_plain_password"] = password.get_secret_value() if password else ""
    return kwargs


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
