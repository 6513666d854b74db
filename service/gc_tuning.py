"""The garbage collector, tuned for a long-running consumer.

CPython frees most objects by reference counting; its cycle collector runs on top, every
``threshold0`` allocations of container objects (lists, dicts, class instances…), and
now and then walks *every* tracked object (a full collection). Two habits of this
service make Python's defaults (700, 10, 10) costly:

- a batch's objects (records, events, tickets) live for the whole batch, so frequent
  young collections promote them to the oldest generation, and the oldest generation's
  growth triggers full collections: about 40 per 200,000 events;
- the state (customer histories, open SLA tickets) holds hundreds of thousands of
  objects that every full collection walks again: 70–130 ms each for the histories of
  200,000 events, a pause every event of the batch then waits out.

``tune`` raises the young threshold (``TRIAGE_GC_GEN0_THRESHOLD``), so a batch is
mostly dead before its first collection, and freezes what start-up loaded (modules, the
rules, the language model) into a generation no collection walks. Measured on the
pipeline without Kafka (``bench/gc_pauses.py``; docs/performance.md): time in the
collector 5.6 s → 1.6 s per 200,000 events, no full collection instead of 41, and the
99th percentile of a 200-event batch 170 → 91 ms.
"""

from __future__ import annotations

import gc

from service.observability.logging import get_logger

log = get_logger(__name__)


def tune(gen0_threshold: int) -> None:
    """Freeze what is alive now and set the young generation's threshold (0: Python's
    default thresholds, nothing frozen). Call once start-up has loaded everything."""
    if gen0_threshold <= 0:
        return
    _, gen1, gen2 = gc.get_threshold()
    gc.collect()  # start-up garbage goes now, not into the frozen generation
    gc.freeze()
    gc.set_threshold(gen0_threshold, gen1, gen2)
    log.info(
        "gc_tuned",
        threshold=list(gc.get_threshold()),
        frozen_objects=gc.get_freeze_count(),
    )
