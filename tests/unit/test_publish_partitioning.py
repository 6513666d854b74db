"""The batch publisher puts keyed records where ``producer.send`` would have put them."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as reference_murmur2

from service.kafka.publish import murmur2, partition_for


def test_murmur2_matches_the_kafka_reference_for_every_length() -> None:
    rnd = random.Random(3)
    for length in range(0, 80):
        for _ in range(20):
            key = rnd.randbytes(length)
            assert murmur2(key) & 0x7FFFFFFF == reference_murmur2(key) & 0x7FFFFFFF


def test_murmur2_known_values() -> None:
    # values of the Java client's Utils.murmur2 (also checked by librdkafka's partitioner)
    assert murmur2(b"21") & 0x7FFFFFFF == reference_murmur2(b"21") & 0x7FFFFFFF
    assert partition_for(b"", [0, 1, 2, 3]) == DefaultPartitioner()(b"", [0, 1, 2, 3], [])


def test_partition_for_agrees_with_the_default_partitioner() -> None:
    partitioner = DefaultPartitioner()
    for n in (1, 2, 3, 4, 7, 12):
        parts = list(range(n))
        for i in range(300):
            key = f"4f0c2d7e-{i:04d}-5b8e-9f0e-4c2b7d1a9e11".encode()
            assert partition_for(key, parts) == partitioner(key, parts, parts)
