"""The public contract of triage: every message it reads or writes.

Publishers and consumers should rely on these models (or the JSON Schemas exported
from them with ``triage schemas export DIR``), never on the service's internals.
"""

from schemas.activity import ActivityKind, TicketActivity
from schemas.common import SCHEMA_VERSION, Channel, LifecycleStage, Priority, Tier
from schemas.dead_letter import DeadLetter, DeadLetterReason
from schemas.escalation import Escalation, EscalationKind
from schemas.feedback import Customer, FeedbackEvent
from schemas.ticket import Reason, SlaInfo, Ticket

__all__ = [
    "SCHEMA_VERSION",
    "ActivityKind",
    "Channel",
    "Customer",
    "DeadLetter",
    "DeadLetterReason",
    "Escalation",
    "EscalationKind",
    "FeedbackEvent",
    "LifecycleStage",
    "Priority",
    "Reason",
    "SlaInfo",
    "Ticket",
    "TicketActivity",
    "Tier",
]
