"""Connection settings shared by the consumer, producer and admin clients."""

from __future__ import annotations

from typing import Any

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
