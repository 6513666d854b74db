"""ORACLE — the symbols the text model reads (emoji and emoticons, decision 1 of
``service/sentiment/model.py``) as a regular expression, the way they were found before
the search moved into ``service/sentiment/_tokens.pyx`` (``symbols``, step 5 of its
docstring): the reference ``tests/unit/test_sentiment_model.py`` compares it with.
Nothing in the service imports it."""

from __future__ import annotations

import re

_EMOJI = r"\U0001F300-\U0001F3FA\U0001F400-\U0001FAFF\u2600-\u27BF\u2B50\u2B55"
SYMBOL = re.compile(
    rf"(?P<emoji>[{_EMOJI}])"
    r"|(?P<smile>(?<![^\s])(?:[:;=8x]['-]?[)\]dp3*]|<3|\^_?\^)(?![^\s.,!?])|\){2,})"
    r"|(?P<frown>(?<![^\s])(?:[:;=]['-]?[(\[/\\|]|:'\()(?![^\s.,!?])|\({2,})"
)


def symbol_token(m: re.Match[str]) -> str:
    """An emoji itself, a smiling emoticon as ``:)``, a frowning one as ``:(``."""
    return m.group() if m.lastgroup == "emoji" else ":)" if m.lastgroup == "smile" else ":("


def symbols(text: str, end: int, most: int) -> list[str]:
    """Every match of ``SYMBOL`` before ``end``, as the model reads it; at most ``most``."""
    return [symbol_token(m) for m in SYMBOL.finditer(text, 0, end)][:most]
