"""The hot paths build ``OutRecord`` and ``InRecord`` positionally
(``service/prioritizer/pipeline.py``, ``service/partition_state.py``,
``service/kafka/loop.py``): their fields must keep this order."""

from __future__ import annotations

from dataclasses import fields

from service.records import InRecord, OutRecord


def test_out_record_fields_keep_the_order_positional_callers_use() -> None:
    assert [f.name for f in fields(OutRecord)][:10] == [
        "topic",
        "key",
        "value",
        "headers",
        "kind",
        "label",
        "channel",
        "partition",
        "phase",
        "on_ack",  # a snapshot's records
    ]


def test_in_record_fields_keep_the_order_the_consume_loop_uses() -> None:
    """``service/kafka/loop.py`` builds each ``InRecord`` positionally."""
    assert [f.name for f in fields(InRecord)] == [
        "topic",
        "partition",
        "offset",
        "key",
        "value",
        "headers",
        "timestamp_ms",
    ]
