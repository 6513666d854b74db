"""SLA monitor domain logic: policy, per-ticket clocks, the engine of one partition.

Pure domain code: nothing here imports Kafka or asyncio, and time only comes in as
arguments. ``service.sla.kafka_loop`` (the Kafka side) drives :class:`SlaEngine`.
"""

from service.sla.engine import SlaEngine, SlaStats
from service.sla.ladder import Outcome
from service.sla.policy import PolicyError, SlaPolicy, StepDef, load_demo_policy, load_policy
from service.sla.state import (
    PendingActivities,
    StateRecord,
    Status,
    TicketClock,
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
    "StateRecord",
    "Status",
    "StepDef",
    "TicketClock",
    "decode_record",
    "encode_record",
    "load_demo_policy",
    "load_policy",
]
