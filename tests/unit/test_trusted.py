"""``service.trusted``: a model as its validator would build it from valid fields
(``construct``), and an instance of a slotted dataclass as its ``__init__`` would build
it (``Slotted``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytest

from schemas.common import Tier
from schemas.feedback import Customer
from schemas.ticket import Reason


def test_a_constructed_model_is_the_validators() -> None:
    from service.trusted import construct

    document = {"id": "c-1", "tier": "premium", "plan": "gold"}
    ref = Customer.model_validate(document)
    fields = {"id": "c-1", "tier": Tier.PREMIUM, "lifecycle_stage": None, "name": None}
    made = construct(Customer, fields, set(document), {"plan": "gold"})
    assert made == ref
    assert made.__dict__ == ref.__dict__
    assert made.model_fields_set == ref.model_fields_set
    assert made.model_extra == ref.model_extra
    assert made.__pydantic_private__ is None
    assert made.model_dump_json() == ref.model_dump_json()


def test_a_model_without_extra_fields_gets_none() -> None:
    from service.trusted import construct

    fields = {"rule_id": "r", "weight": 5, "evidence": ["x"], "min_priority": None}
    made = construct(Reason, fields, set(fields), None)
    assert made == Reason.model_validate(fields)
    assert made.model_extra is None


@pytest.mark.parametrize("cls", [int, dict, object, 3])
def test_only_a_pydantic_model_is_constructed(cls: object) -> None:
    from service.trusted import construct

    with pytest.raises(TypeError):
        construct(cls, {}, set(), None)  # type: ignore[arg-type]


@dataclass(slots=True)
class _Record:
    topic: str
    key: bytes | None
    headers: list[str] = field(default_factory=list)
    kind: str = ""
    partition: int | None = None


@dataclass(frozen=True, slots=True)
class _Frozen:
    a: int
    b: Any = None


@pytest.mark.parametrize(
    "values",
    [("t", None), ("t", b"k", ["h"]), ("t", b"k", ["h"], "ticket"), ("t", b"k", [], "x", 3)],
)
def test_a_slotted_instance_is_the_one_its_init_builds(values: tuple[Any, ...]) -> None:
    from service.records import OutRecord
    from service.trusted import Slotted

    assert Slotted(_Record)(*values) == _Record(*values)
    out: tuple[Any, ...] = ("topic", b"key", b"value", [("h", b"v")], "ticket", "P1", "email")
    for n in range(3, len(out) + 1):
        assert Slotted(OutRecord)(*out[:n]) == OutRecord(*out[:n])
    assert Slotted(_Frozen)(1) == _Frozen(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Slotted(_Frozen)(1).a = 2  # type: ignore[misc]


def test_a_default_factory_is_called_for_each_instance() -> None:
    from service.trusted import Slotted

    new = Slotted(_Record)
    one, two = new("t", None), new("t", None)
    assert one.headers == []
    assert one.headers is not two.headers


def test_a_slotted_instance_takes_its_required_values_and_no_more() -> None:
    from service.trusted import Slotted

    new = Slotted(_Record)
    with pytest.raises(TypeError):
        new("t")
    with pytest.raises(TypeError):
        new("t", None, [], "", 1, "one too many")


def test_a_class_with_its_own_init_takes_every_field() -> None:
    from service.rules.engine import Assessment
    from service.trusted import Slotted

    new = Slotted(Assessment)
    names = [f.name for f in dataclasses.fields(Assessment)]
    values: list[Any] = [object() for _ in names]
    assert new(*values) == Assessment(*values)
    with pytest.raises(TypeError):
        new(*values[:-1])  # its __init__ would default the last: this builder does not


class _NotADataclass:
    __slots__ = ("a",)


@dataclass
class _WithADict:
    a: int


@dataclass(slots=True)
class _WithPostInit:
    a: int

    def __post_init__(self) -> None:
        self.a += 1


@pytest.mark.parametrize("cls", [_NotADataclass, _WithADict, _WithPostInit, int])
def test_only_a_slotted_dataclass_is_built(cls: type) -> None:
    from service.trusted import Slotted

    with pytest.raises(TypeError):
        Slotted(cls)


def test_an_untracked_builder_leaves_inert_records_to_reference_counting() -> None:
    """``untracked=True``: a record holding only inert values (strings, bytes, numbers,
    None, and tuples and lists of them or of tuples of them) is off the collector's
    lists; one holding anything else, a callback or a list that holds a list, is not.
    Either is freed by reference counting as soon as the last reference goes."""
    import gc

    from service.records import OutRecord
    from service.trusted import Slotted

    untracked = Slotted(OutRecord, untracked=True)
    inert = untracked("t", b"k", b"v", [("ce_id", b"1"), ("ce_type", b"x")], "ticket", "P1")
    assert inert == OutRecord("t", b"k", b"v", [("ce_id", b"1"), ("ce_type", b"x")], "ticket", "P1")
    assert not gc.is_tracked(inert)
    assert not gc.is_tracked(untracked("t", None, b"", (("a", b"b"),), "", "", "", 3, 1))
    assert gc.is_tracked(Slotted(OutRecord)("t", b"k", b"v"))  # the default: tracked

    def ack(offset: int) -> None:
        return None

    holding: list[Any] = [
        untracked("t", b"k", b"v", [], "", "", "", None, 0, ack),
        untracked("t", b"k", b"v", [[("deeper", b"")]]),
        untracked("t", b"k", b"v", [("h", b"v")], "", "", "", None, 0, None, inert),
    ]
    assert all(gc.is_tracked(r) for r in holding)

    class Value(bytes):  # an instance of a subclass has a __dict__: tracked
        pass

    assert gc.is_tracked(untracked("t", b"k", Value(b"v")))
    # freed by reference counting alone, with the collector off
    import sys

    value = bytes(range(200))
    held = sys.getrefcount(value)
    gc.disable()
    try:
        record = untracked("t", b"k", value, [("h", b"v")])
        assert sys.getrefcount(value) == held + 1
        del record
        assert sys.getrefcount(value) == held
    finally:
        gc.enable()
