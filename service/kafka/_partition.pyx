# cython: language_level=3, boundscheck=False, wraparound=False
"""Where each output goes, compiled (Cython): Kafka's default partitioner, and a batch's
outputs grouped by partition.

The batch publisher (``service/kafka/publish.py``) groups a batch's outputs by partition
before appending them to record batches, so it needs, for every keyed record, the
partition the Java client and aiokafka's ``send()`` would choose: murmur2 of the key's
bytes (``org.apache.kafka.common.utils.Utils.murmur2``, seed ``0x9747b28c``), its sign bit
cleared, modulo the number of partitions. In Python the hash cost about 2.7 µs a ticket
key (a loop over its four-byte words); here it is a C loop. aiokafka's own Python
``murmur2`` is the reference of ``tests/unit/test_publish_partitioning.py``.

``group_outputs`` is the publisher's per-record step 2 and 3 (sizes, partitions, groups)
in one pass: in Python it was about 1 µs a record, more than appending the record to its
record batch. ``tests/unit/test_batch_publisher.py`` holds it to the Python it replaced.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject

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


#: Per-record overhead the size estimate adds to key, value and headers (record framing).
RECORD_OVERHEAD = 64


cpdef Py_ssize_t record_size(object out) except -1:
    """An upper estimate of ``out``'s size in a record batch (an ``OutRecord``): key,
    value, each header's name and value, and the framing."""
    cdef object key = out.key
    cdef Py_ssize_t size = len(out.value) + RECORD_OVERHEAD
    if key is not None:
        size += len(key)
    for name, value in out.headers:
        size += len(name) + len(value) + 8
    return size


def by_phase(list outputs):
    """``outputs`` split by ``OutRecord.phase``, lowest phase first, each part in input
    order (``[outputs]`` itself when they share one phase)."""
    if not outputs:
        return []
    first = outputs[0].phase
    for out in outputs:
        if out.phase != first:
            break
    else:
        return [outputs]
    cdef dict parts = {}
    for out in outputs:
        parts.setdefault(out.phase, []).append(out)
    return [parts[phase] for phase in sorted(parts)]


def keyed_topics(list outputs):
    """The topics whose partition list ``group_outputs`` needs: those of keyed records
    without a partition of their own, in first-seen order."""
    cdef dict seen = {}
    for out in outputs:
        if out.partition is None and out.key is not None:
            seen[out.topic] = None
    return list(seen)


def group_outputs(list outputs, Py_ssize_t limit, dict partitions):
    """Split ``outputs`` (``OutRecord``) into record-batch groups and single sends.

    Returns ``(groups, singles)``: ``groups`` a list of ``(topic, partition, records)``
    in the order each (topic, partition) first appears, every group's records in input
    order; ``singles`` the records sent one by one, in input order: those with an
    ``oversize_fallback``, those whose ``record_size`` is above ``limit``, and unkeyed
    records without a partition (the producer spreads them). A keyed record without a
    partition goes where ``partition_for`` puts its key among ``partitions[topic]``
    (sorted; ``keyed_topics`` says which topics it needs).
    """
    cdef list groups = []
    cdef list singles = []
    cdef dict by_topic = {}  # topic -> {partition: records}
    cdef dict of_topic
    cdef list records
    cdef PyObject* found
    cdef object partition, key, topic
    for out in outputs:
        if out.oversize_fallback is not None or record_size(out) > limit:
            singles.append(out)
            continue
        partition = out.partition
        topic = out.topic
        if partition is None:
            key = out.key
            if key is None:
                singles.append(out)
                continue
            partition = partition_for(key, partitions[topic])
        found = PyDict_GetItem(by_topic, topic)
        if found is NULL:
            of_topic = {}
            by_topic[topic] = of_topic
        else:
            of_topic = <dict>found
        found = PyDict_GetItem(of_topic, partition)
        if found is NULL:
            records = [out]
            of_topic[partition] = records
            groups.append((topic, partition, records))
        else:
            (<list>found).append(out)
    return groups, singles


def acknowledge(list members, long long base):
    """Call each record's ``on_ack`` (where it has one) with its own offset: ``base``, the
    offset of the record batch's first record, plus its position in ``members``."""
    cdef Py_ssize_t i
    for i in range(len(members)):
        on_ack = members[i].on_ack
        if on_ack is not None:
            on_ack(base + i)
