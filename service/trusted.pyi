from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

SOURCE_DIGEST: str

def construct(
    cls: type[M], fields: dict[str, Any], names: set[str], extra: dict[str, Any] | None
) -> M: ...
