"""Pydantic models built from values that are already known to be valid.

``Model.model_construct`` loops in Python over the model's fields. Where a caller has
every value checked already (the decoder's common form of a feedback event, a fired
rule's reason), ``construct`` sets what pydantic's validator would have set — the fields
in the model's order, the names the input gave, the extra fields, no private state —
through ``BaseModel``'s own slot descriptors, with no validator run and no loop. Each
caller's tests hold its models equal to the validator's.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
# BaseModel's ``__dict__`` and slots, set through their descriptors (what
# ``object.__setattr__`` would find after a type lookup)
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def construct(
    cls: type[M], fields: dict[str, Any], names: set[str], extra: dict[str, Any] | None
) -> M:
    """A ``cls`` holding ``fields`` (every field, in the model's order), with ``names``
    as the fields set and ``extra`` as its extra fields (None where the model allows
    none; a dict, empty or not, where it allows them)."""
    model: M = _new(cls)
    _set_dict(model, fields)
    _set_fields_set(model, names)
    _set_extra(model, extra)
    _set_private(model, None)
    return model
