"""Test-only pieces of the rules package: what production has no use for, kept out of it.

- ``default_matcher`` and ``detect_language``: the language guess on its own, without a
  rule engine's scan (production decides the language from the votes of the scan it
  made anyway, see ``RuleEngine.facts``).
- ``MatcherTestingEveryHit``: ``LexiconMatcher`` with the shortcut for hits that no
  modifier reaches taken out, to compare the shortcut against.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from functools import lru_cache

from service.rules import matcher as matcher_module
from service.rules.engine import RuleEngine
from service.rules.language import MODEL_CHARS, SCRIPT_CHARS, decide, script_language
from service.rules.matcher import LexiconMatcher, TextSignals
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
    return decide(sample, sig.votes, lambda: matcher.stopword_votes(sig.spaced))


def _scan_testing_every_hit() -> Callable[[LexiconMatcher, str], TextSignals]:
    """``LexiconMatcher.scan``'s own source with its one ``reached = -1`` (no modifier
    seen yet: the hits after are plainly stated) made ``reached = len(text)`` (every hit
    may be reached: each takes the negation, hedge and intensifier tests), compiled in
    the matcher module's namespace."""
    source = textwrap.dedent(inspect.getsource(LexiconMatcher.scan))
    tree = ast.parse(source)
    starts = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and [ast.unparse(t) for t in node.targets] == ["reached"]
        and ast.unparse(node.value) == "-1"
    ]
    assert len(starts) == 1, "LexiconMatcher.scan no longer starts with `reached = -1`"
    starts[0].value = ast.parse("len(text)", mode="eval").body
    ast.fix_missing_locations(tree)
    _, first_line = inspect.getsourcelines(LexiconMatcher.scan)
    ast.increment_lineno(tree, first_line - 1)
    namespace = dict(vars(matcher_module))
    # (compiled with this module's ``from __future__ import annotations``, as the matcher's)
    code = compile(tree, inspect.getsourcefile(matcher_module) or "<matcher>", "exec")
    exec(code, namespace)
    scan: Callable[[LexiconMatcher, str], TextSignals] = namespace["scan"]
    return scan


_SCAN_TESTING_EVERY_HIT = _scan_testing_every_hit()


class MatcherTestingEveryHit(LexiconMatcher):
    """Every hit takes the modifier tests: what the shortcut must give."""

    def scan(self, normalized: str) -> TextSignals:
        return _SCAN_TESTING_EVERY_HIT(self, normalized)
