# cython: language_level=3, boundscheck=False, wraparound=False
"""Kafka's default partitioner, compiled (Cython): where a keyed record goes.

The batch publisher (``service/kafka/publish.py``) groups a batch's outputs by partition
before appending them to record batches, so it needs, for every keyed record, the
partition the Java client and aiokafka's ``send()`` would choose: murmur2 of the key's
bytes (``org.apache.kafka.common.utils.Utils.murmur2``, seed ``0x9747b28c``), its sign bit
cleared, modulo the number of partitions. In Python the hash cost about 2.7 µs a ticket
key (a loop over its four-byte words); here it is a C loop. aiokafka's own Python
``murmur2`` is the reference of ``tests/unit/test_publish_partitioning.py``.
"""

from libc.stdint cimport uint32_t

cdef extern from *:
    # defined by setup.py: the digest of this file as it was compiled
    const char* TRIAGE_SOURCE_DIGEST

#: The first 16 hex digits of the SHA-256 of the ``.pyx`` this module was compiled from
#: (``tests/unit/test_native_builds.py`` compares it with the file).
SOURCE_DIGEST = TRIAGE_SOURCE_DIGEST.decode("ascii")

cdef uint32_t _M = 0x5BD1E995
cdef uint32_t _SEED = 0x9747B28C


cpdef unsigned int murmur2(bytes data):
    """Kafka's murmur2 of ``data`` (unsigned 32 bits; the partitioner clears the top bit)."""
    cdef const unsigned char* p = data
    cdef Py_ssize_t length = len(data)
    cdef Py_ssize_t i, at, tail
    cdef uint32_t k
    cdef uint32_t h = _SEED ^ <uint32_t>length
    for i in range(length // 4):
        at = 4 * i
        k = (
            p[at]
            | (<uint32_t>p[at + 1] << 8)
            | (<uint32_t>p[at + 2] << 16)
            | (<uint32_t>p[at + 3] << 24)
        )
        k *= _M
        k ^= k >> 24
        k *= _M
        h *= _M
        h ^= k
    at = length & ~(<Py_ssize_t>3)
    tail = length & 3
    if tail == 3:
        h ^= <uint32_t>p[at + 2] << 16
    if tail >= 2:
        h ^= <uint32_t>p[at + 1] << 8
    if tail >= 1:
        h ^= p[at]
        h *= _M
    h ^= h >> 13
    h *= _M
    h ^= h >> 15
    return h


cpdef int partition_for(bytes key, list partitions) except -1:
    """The partition the Kafka default partitioner gives ``key`` among ``partitions``
    (sorted; at least one)."""
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
