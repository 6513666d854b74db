"""Shared fixtures. Integration tests use a real Kafka-protocol broker: the one named
by KAFKA_BOOTSTRAP_SERVERS, or an embedded Tansu started once per session."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from service.observability.logging import configure_logging


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    configure_logging(os.environ.get("TRIAGE_TEST_LOG_LEVEL", "WARNING"), "console")


@pytest.fixture(scope="session")
async def bootstrap() -> AsyncIterator[str]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    from service.kafka.embedded import EmbeddedBroker

    broker = EmbeddedBroker()
    await broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
