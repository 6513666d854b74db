"""Test-only pieces of the rules package: what production has no use for, kept out of it.

- ``default_matcher`` and ``detect_language``: the language guess on its own, without a
  rule engine's scan (production decides the language from the votes of the scan it
  made anyway, see ``RuleEngine.facts``).
- ``MatcherTestingEveryHit``: ``LexiconMatcher`` with the shortcut for hits that no
  modifier reaches taken out, to compare the shortcut against.
"""

from __future__ import annotations

from functools import lru_cache

from service.rules.engine import RuleEngine
from service.rules.language import MODEL_CHARS, SCRIPT_CHARS, decide, script_language
from service.rules.matcher import LexiconMatcher
from service.rules.model import load_default_rules
from service.rules.text import normalize


@lru_cache(maxsize=1)
def default_matcher() -> LexiconMatcher:
    """The matcher of the shipped rules."""
    return RuleEngine(load_default_rules()).matcher


def detect_language(text: str) -> str:
    """Standalone guess (without a matcher's votes): script, stopwords, then the model."""
    sample = text[:SCRIPT_CHARS]
    script = script_language(sample)
    if script is not None:
        return script
    matcher = default_matcher()
    sig = matcher.scan(normalize(sample[:MODEL_CHARS]))
    return decide(sample, sig.votes, matcher.stopword_votes, sig.spaced)


class MatcherTestingEveryHit(LexiconMatcher):
    """Every hit takes the modifier tests: what the shortcut must give."""

    _every_hit = True
