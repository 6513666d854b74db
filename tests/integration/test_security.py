"""TLS for real (a certificate made by the test), SASL settings, HTTP surface."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError
from aiokafka.helpers import create_ssl_context
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from schemas.ticket import Ticket
from service.kafka.embedded import EmbeddedBroker, free_port
from tests.integration.kafka_helpers import feedback, http_get, running_app, unique_settings
from tests.integration.proxy import TcpProxy

pytestmark = pytest.mark.integration


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "triage test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture
async def tls_broker(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """A broker reachable only through TLS: (bootstrap, CA file)."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("needs its own embedded broker behind a TLS proxy")
    ca, cert, key = _certificates(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    tls_port = free_port()
    broker = EmbeddedBroker(advertised_port=tls_port)
    await broker.start()
    proxy = TcpProxy(tls_port, broker.port, tls=server)
    await proxy.start()
    try:
        yield f"127.0.0.1:{tls_port}", ca
    finally:
        await proxy.stop()
        broker.stop()


async def test_the_service_works_over_tls(tls_broker: tuple[str, Path]) -> None:
    bootstrap, ca = tls_broker
    s = unique_settings(bootstrap, kafka_security_protocol="SSL", kafka_ssl_cafile=str(ca))
    context = create_ssl_context(cafile=str(ca))
    # A plaintext client cannot talk to it: every byte goes through TLS.
    plain = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    with pytest.raises(KafkaConnectionError):
        await plain.start()
    await plain.stop()
    async with running_app(s):
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, security_protocol="SSL", ssl_context=context
        )
        await producer.start()
        try:
            await producer.send_and_wait(
                s.topic_feedback, orjson.dumps(feedback("tls-1", "Refund please!"))
            )
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, security_protocol="SSL", ssl_context=context
        )
        await consumer.start()
        try:
            tps = [TopicPartition(s.topic_tickets, p) for p in range(s.topic_partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            got: list[Ticket] = []
            for _ in range(100):
                batch = await consumer.getmany(timeout_ms=300)
                got += [Ticket.model_validate_json(m.value) for ms in batch.values() for m in ms]
                if got:
                    break
        finally:
            await consumer.stop()
    assert [t.event_id for t in got] == ["tls-1"]


async def test_http_serves_only_the_three_endpoints(bootstrap: str) -> None:
    s = unique_settings(bootstrap)
    async with running_app(s) as app:
        assert app.http is not None
        port = app.http.port
        for path, status in [
            ("/metrics", 200),
            ("/healthz", 200),
            ("/readyz", 200),
            ("/", 404),
            ("/metrics/../etc/passwd", 404),
            ("/admin", 404),
        ]:
            assert (await http_get(port, path))[0] == status, path
