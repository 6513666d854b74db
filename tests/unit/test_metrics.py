"""``BatchHistogram.observe_many`` is ``observe`` of each amount, on the exposition."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, generate_latest

from service.observability.metrics import _LATENCY_BUCKETS, BatchHistogram


def _exposition(amounts: list[float], *, many: bool) -> bytes:
    registry = CollectorRegistry()
    histogram = BatchHistogram("h_seconds", "h", buckets=_LATENCY_BUCKETS, registry=registry)
    if many:
        histogram.observe_many(amounts)
        histogram.observe_many([])
    else:
        for amount in amounts:
            histogram.observe(amount)
    # the creation time is the only line that may differ
    return b"\n".join(
        line for line in generate_latest(registry).splitlines() if b"_created" not in line
    )


def test_observe_many_is_observe_of_each_amount() -> None:
    rnd = random.Random(5)
    # every bound exactly (an amount equal to a bound goes in that bucket), around each
    # bound, zero, and beyond the last
    amounts = [float(b) for b in _LATENCY_BUCKETS] + [0.0, 0.0, 1e6]
    amounts += [b * f for b in _LATENCY_BUCKETS for f in (0.999, 1.001)]
    amounts += [rnd.expovariate(5.0) for _ in range(2000)]
    rnd.shuffle(amounts)
    many = _exposition(amounts, many=True)
    assert many == _exposition(amounts, many=False)
    assert b'h_seconds_bucket{le="+Inf"} %d.0' % len(amounts) in many


def test_count_outputs_counts_tickets_by_priority_and_channel_and_dead_letters() -> None:
    from service.observability.metrics import Metrics
    from service.records import OutRecord

    m = Metrics()
    outs = [
        OutRecord("t", b"k", b"v", kind="ticket", label="P1", channel="email"),
        OutRecord("t", b"k", b"v", kind="ticket", label="P1", channel="email"),
        OutRecord("t", b"k", b"v", kind="ticket", label="P3", channel="carrier-pigeon"),
        OutRecord("d", b"k", b"v", kind="dead_letter", label="invalid_json"),
        OutRecord("c", b"k", b"v", kind="changelog"),
    ]
    m.count_outputs(outs)
    m.count_outputs(outs[:1])
    value = m.registry.get_sample_value
    assert value("triage_tickets_total", {"priority": "P1", "channel": "email"}) == 3
    assert value("triage_tickets_total", {"priority": "P3", "channel": "other"}) == 1
    assert value("triage_events_consumed_total", {"outcome": "ticket"}) == 4
    assert value("triage_events_consumed_total", {"outcome": "dead_letter"}) == 1
    assert value("triage_dead_letters_total", {"reason": "invalid_json"}) == 1
