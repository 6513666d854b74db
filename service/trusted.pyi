from typing import Any, Generic, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

SOURCE_DIGEST: str

def construct(
    cls: type[M], fields: dict[str, Any], names: set[str], extra: dict[str, Any] | None
) -> M: ...

T = TypeVar("T")

class Slotted(Generic[T]):
    def __init__(self, cls: type[T], *, untracked: bool = False) -> None: ...
    def __call__(self, *values: Any) -> T: ...
