"""The hot paths build ``OutRecord`` positionally (``service/prioritizer/pipeline.py``,
``service/partition_state.py``): its fields must keep this order."""

from __future__ import annotations

from dataclasses import fields

from service.records import OutRecord


def test_out_record_fields_keep_the_order_positional_callers_use() -> None:
    assert [f.name for f in fields(OutRecord)][:9] == [
        "topic",
        "key",
        "value",
        "headers",
        "kind",
        "label",
        "channel",
        "partition",
        "phase",
    ]
