"""``triage watch``: the live terminal view of a deployment's open tickets and escalations.

``state`` (pure: the queue by time to breach, kept by the SLA monitor's engine, filters),
``view`` (rich rendering and plain lines), ``keys`` (single key presses), ``runner`` (the
reader of ``service.kafka.reader`` into the state, the view, the command). ``triage demo``
shows the same view.
"""
