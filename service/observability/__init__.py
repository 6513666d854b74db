"""Metrics, structured logs and the HTTP endpoints (/metrics, /healthz, /readyz)."""
