"""Connection settings: TLS and SASL reach every client from the environment."""

from __future__ import annotations

import ssl

import pytest

from service.config import Settings
from service.kafka.clients import connection_kwargs
from service.startup_errors import ConfigError


def test_plaintext_by_default() -> None:
    kwargs = connection_kwargs(Settings(kafka_bootstrap_servers="k1:9092,k2:9092"))
    assert kwargs["bootstrap_servers"] == "k1:9092,k2:9092"
    assert kwargs["security_protocol"] == "PLAINTEXT"
    assert "sasl_mechanism" not in kwargs
    assert "ssl_context" not in kwargs


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_over_tls_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, mechanism: str
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9093")
    monkeypatch.setenv("TRIAGE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("TRIAGE_KAFKA_SASL_MECHANISM", mechanism)
    monkeypatch.setenv("TRIAGE_KAFKA_SASL_USERNAME", "triage")
    monkeypatch.setenv("TRIAGE_KAFKA_SASL_PASSWORD", "s3cret")
    settings = Settings()
    assert "s3cret" not in repr(settings)  # secrets never show up in logs or reprs
    kwargs = connection_kwargs(settings)
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == mechanism
    assert kwargs["sasl_plain_username"] == "triage"
    assert kwargs["sasl_plain_password"] == "s3cret"
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)


def test_sasl_without_credentials_is_refused() -> None:
    settings = Settings(
        kafka_bootstrap_servers="kafka:9093", kafka_security_protocol="SASL_PLAINTEXT"
    )
    with pytest.raises(ConfigError, match="TRIAGE_KAFKA_SECURITY_PROTOCOL: SASL_PLAINTEXT needs"):
        connection_kwargs(settings)
