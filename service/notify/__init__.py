"""Escalations → Alertmanager: the notify role (``triage run --role notify``).

* ``alerts``: pure — an escalation as an Alertmanager alert (labels, annotations,
  ``startsAt``/``endsAt``) and the book of the alerts an instance keeps firing, per
  escalations partition. No asyncio, no Kafka, no metrics.
* ``alertmanager``: the HTTP client (aiohttp): POST ``/api/v2/alerts`` to every
  configured Alertmanager.
* ``notifier``: async, no Kafka: applies a batch of escalations to the book and POSTs
  what changed until Alertmanager accepts it (exponential backoff), re-sends the active
  alerts periodically, rebuilds them for a newly owned partition.

``service.kafka.notify_runtime`` drives it from a ``ConsumeLoop`` (the POST is the loop's
delivery step, before the commit). ``tests/unit/test_structure.py`` holds the import rules.
How it is run and what the receivers see: docs/operations.md, "Paging through
Alertmanager".
"""
