"""Hostile-input corpus (see corpus.py and MANIFEST.json)."""
