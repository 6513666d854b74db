"""What the rules can see of one event, computed once: ``Facts``, read by
``FactReader.read`` (both compiled, ``service/rules/_rules.pyx``, where the program that
reads them into its record runs). The engine builds one reader (``RuleEngine.facts``)."""

from __future__ import annotations

from service.rules._rules import FactReader as FactReader
from service.rules._rules import Facts as Facts

#: From this share of capitals among the letters on, a text shouts.
SHOUTING_THRESHOLD = 0.7
