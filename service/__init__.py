"""triage: customer feedback in, prioritized tickets with SLAs out."""

__version__ = "0.1.0"
