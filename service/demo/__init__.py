"""``triage demo``: embedded broker, sample feedback events and a live ticket view."""
