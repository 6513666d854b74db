"""Feedback bytes → validated event → assessment → ticket or dead letter.

No Kafka, asyncio or metrics imports (``tests/unit/test_structure.py`` holds it): the
Kafka loop hands in plain records and publishes what comes out.
"""
