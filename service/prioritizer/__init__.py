"""Feedback bytes → validated event → assessment → ticket or dead letter.

No Kafka imports: the Kafka loop hands in plain records and publishes what comes out.
"""
