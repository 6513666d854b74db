"""Severity rules: a declarative rule file, text analysis and the engine that scores.

Pure domain code: nothing here imports Kafka, asyncio or the metrics
(``tests/unit/test_structure.py`` holds it).
"""

from service.rules.engine import Assessment, RuleEngine, build_ticket, ticket_id_for
from service.rules.model import RuleSet, load_default_rules, load_rules

__all__ = [
    "Assessment",
    "RuleEngine",
    "RuleSet",
    "build_ticket",
    "load_default_rules",
    "load_rules",
    "ticket_id_for",
]
