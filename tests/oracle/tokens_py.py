"""The text model's explanation as it was in Python (``TextModel.explain`` before it was
compiled into ``service/sentiment/_tokens.pyx``), asking fastText for each token's rows
(``getSubwords``): the reference of ``tests/unit/test_native_tokens.py``."""

from __future__ import annotations

from typing import Any

_LONG_RUN = 4


class ExplainPy:
    """``explain`` of a fastText model whose input rows contribute ``weights``."""

    def __init__(self, model: Any, weights: Any) -> None:
        self._model = model
        self._weights = weights

    def explain(self, prepared: str, limit: int = 3) -> list[tuple[str, float]]:
        tokens = prepared.split()
        if not tokens:
            return []
        found: dict[str, float] = {}
        features = 1  # the end-of-line token
        for token in tokens:
            weight, parts, best = self.weight(token)
            features += parts
            if weight > 0 and best:
                found[best] = max(found.get(best, 0.0), weight)
        ranked = sorted(found.items(), key=lambda kv: -kv[1])[:limit]
        return [(word, weight / features) for word, weight in ranked]

    def weight(self, token: str) -> tuple[float, int, str]:
        """A token's summed contribution, its number of features, and what to show for
        it: the token itself, or for a long CJK run its strongest character n-gram."""
        subwords, ids = self._model.f.getSubwords(token, "strict")
        weights = self._weights
        row_weights = [weights[i] if 0 <= i < len(weights) else 0.0 for i in ids]
        total = sum(row_weights)
        if not token.isalnum() or (len(token) < 2 and token.isascii()):
            return total, len(ids), ""
        if len(token) > _LONG_RUN and not token.isascii() and _is_cjk(token[0]):
            grams = [
                (w, s.strip("<>")) for s, w in zip(subwords, row_weights, strict=True) if s != token
            ]
            if not grams:
                return total, len(ids), ""
            weight, gram = max(grams)
            return weight, len(ids), gram
        return total, len(ids), token


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return 0x3040 <= cp <= 0x30FF or 0x3400 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF
