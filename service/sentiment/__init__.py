"""The text model: a compact multilingual classifier of negativity (``neg``/``neu``/``pos``)
whose output the rules read as the ``negativity`` fact.

Public facade: ``TextModel`` (load, score, explain), ``load_model``/``default_model``,
``prepare``. Training lives in ``service.sentiment.train`` and the public labelled data
and its fixed splits in ``service.sentiment.corpus``. Pure domain code: no Kafka,
asyncio or metrics here (``tests/unit/test_structure.py`` holds it).
"""

from service.sentiment.model import (
    ModelError,
    NegativityModel,
    Scores,
    TextModel,
    default_model,
    load_model,
    prepare,
)

__all__ = [
    "ModelError",
    "NegativityModel",
    "Scores",
    "TextModel",
    "default_model",
    "load_model",
    "prepare",
]
