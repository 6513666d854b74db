"""Everything that talks to Kafka.

aiokafka is imported only by the modules of this package and by the composition root,
``service/app.py``; the domain packages (rules, prioritizer, sla, sentiment) import
neither aiokafka nor this package. ``tests/unit/test_structure.py`` holds both.
"""
