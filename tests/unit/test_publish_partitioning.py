"""The batch publisher puts keyed records where ``producer.send`` would have put them:
the compiled partitioner (``service/kafka/_partition.pyx``) against aiokafka's Python
``murmur2`` and ``DefaultPartitioner``, and against the Java client's own values."""

from __future__ import annotations

import random

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as reference_murmur2

from service.kafka._partition import murmur2, partition_for


def test_murmur2_matches_the_kafka_reference_for_every_length() -> None:
    rnd = random.Random(3)
    for length in range(0, 80):
        for _ in range(20):
            key = rnd.randbytes(length)
            assert murmur2(key) & 0x7FFFFFFF == reference_murmur2(key) & 0x7FFFFFFF
            assert 0 <= murmur2(key) < 2**32


@pytest.mark.parametrize(
    ("key", "java"),
    [
        # Utils.murmur2 in the Java client's own tests (signed 32-bit results)
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_murmur2_known_values_of_the_java_client(key: bytes, java: int) -> None:
    assert murmur2(key) == java % 2**32


def test_partition_for_agrees_with_the_default_partitioner() -> None:
    partitioner = DefaultPartitioner()
    assert partition_for(b"", [0, 1, 2, 3]) == partitioner(b"", [0, 1, 2, 3], [])
    for n in (1, 2, 3, 4, 7, 12):
        parts = list(range(n))
        for i in range(300):
            key = f"4f0c2d7e-{i:04d}-5b8e-9f0e-4c2b7d1a9e11".encode()
            assert partition_for(key, parts) == partitioner(key, parts, parts)
