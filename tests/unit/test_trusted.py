"""``service.trusted.construct``: a model as its validator would build it from valid fields."""

from __future__ import annotations

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
