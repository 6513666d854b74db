"""SLA monitor domain logic: policy, per-ticket clocks, the engine of one partition,
and the monitor of the partitions one instance owns.

Pure domain code: nothing here imports Kafka, asyncio or the metrics (a test holds it:
``tests/unit/test_structure.py``), and time only comes in as arguments or from the
clock the monitor is given. ``service.sla.monitor.SlaMonitor`` keeps one
:class:`SlaEngine` per owned partition; ``service.kafka.sla_runtime`` (the Kafka side)
drives the monitor.
"""

from service.sla.engine import SlaEngine, SlaStats
from service.sla.ladder import Outcome
from service.sla.policy import PolicyError, SlaPolicy, StepDef, load_demo_policy, load_policy
from service.sla.state import (
    PendingActivities,
    Status,
    TicketClock,
    Timer,
    decode_record,
    encode_record,
)

__all__ = [
    "Outcome",
    "PendingActivities",
    "PolicyError",
    "SlaEngine",
    "SlaPolicy",
    "SlaStats",
    "Status",
    "StepDef",
    "TicketClock",
    "Timer",
    "decode_record",
    "encode_record",
    "load_demo_policy",
    "load_policy",
]
