"""The rule engine: severity, priority bands, SLA, category, actions, ticket assembly."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import yaml

from schemas.common import Priority
from schemas.feedback import FeedbackEvent
from schemas.ticket import Ticket
from service.rules import RuleEngine, build_ticket, load_default_rules, ticket_id_for
from service.rules.engine import TICKET_NAMESPACE, Assessment
from service.rules.model import RuleSet, parse_rules
from service.rules.text import MAX_ANALYSED_CHARS
from service.sla.policy import SlaPolicy, load_policy

DEFAULT = RuleEngine(load_default_rules())
POLICY = load_policy()
SLA = {Priority.P1: 600, Priority.P2: 3600, Priority.P3: 28800, Priority.P4: 172800}


def make_event(text: str = "", **fields: Any) -> FeedbackEvent:
    customer: dict[str, Any] = {"id": fields.pop("customer_id", "cust-42")}
    for key in ("tier", "lifecycle_stage", "name"):
        if key in fields:
            customer[key] = fields.pop(key)
    data: dict[str, Any] = {
        "event_id": "evt-1",
        "occurred_at": "2026-03-02T09:15:00+02:00",
        "channel": "email",
        "customer": customer,
        "text": text,
    }
    data.update(fields)
    return FeedbackEvent.model_validate(data)


def engine(rules: list[dict[str, Any]], **top: Any) -> RuleEngine:
    """An engine over a small rule set with the default bands."""
    data: dict[str, Any] = {
        "version": "test",
        "base_severity": 20,
        "priorities": [
            {"priority": "P1", "min_severity": 75},
            {"priority": "P2", "min_severity": 50},
            {"priority": "P3", "min_severity": 25},
            {"priority": "P4", "min_severity": 0},
        ],
        "actions_by_priority": {"P1": ["page"], "P2": ["reply"], "P4": ["ack"]},
        "lexicons": {
            "anger": {"en": ["angry", "furious"]},
            "churn": {"en": ["cancel*"]},
            "praise": {"en": ["great"]},
        },
        "rules": rules,
    }
    data.update(top)
    return RuleEngine(parse_rules(yaml.safe_dump(data)))


def rule(rule_id: str, when: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"id": rule_id, "when": when, **kw}


ALWAYS = {"channel": ["email"]}


# --- bands and SLA ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "priority"),
    [
        (-20, Priority.P4),  # 0
        (4, Priority.P4),  # 24
        (5, Priority.P3),  # 25
        (29, Priority.P3),  # 49
        (30, Priority.P2),  # 50
        (54, Priority.P2),  # 74
        (55, Priority.P1),  # 75
        (80, Priority.P1),  # 100
    ],
)
def test_severity_picks_the_priority_band(weight: int, priority: Priority) -> None:
    a = engine([rule("r", ALWAYS, weight=weight)]).assess(make_event("hello"))
    assert a.severity == 20 + weight
    assert a.priority is priority


def test_no_rule_fired_gives_base_severity_and_default_category() -> None:
    a = engine([rule("r", {"channel": ["chat"]}, weight=50)]).assess(make_event("hello"))
    assert a.severity == 20
    assert a.priority is Priority.P4
    assert a.reasons == []
    assert a.category == "feedback"
    assert a.actions == ["ack"]
    assert a.management_attention is False


@pytest.mark.parametrize(
    ("event", "priority"),
    [
        (make_event("I am furious, I will cancel my account"), Priority.P1),
        (make_event("", nps_score=2), Priority.P2),
        (make_event("How do I export a report?"), Priority.P3),
        (make_event("Great product", nps_score=10), Priority.P4),
    ],
)
def test_default_sla_targets_per_priority(event: FeedbackEvent, priority: Priority) -> None:
    # the targets come from the SLA policy (the shipped one keeps the product's values)
    ticket = built(event)
    assert ticket.priority is priority
    assert ticket.sla.target_seconds == SLA[priority]
    assert ticket.sla.policy_id == POLICY.version


def test_severity_is_clamped_to_0_100() -> None:
    high = engine([rule("a", ALWAYS, weight=100), rule("b", ALWAYS, weight=100)])
    a = high.assess(make_event("x"))
    assert a.severity == 100
    assert a.priority is Priority.P1
    assert [r.weight for r in a.reasons] == [100, 100]  # reasons keep the raw weights

    low = engine([rule("a", ALWAYS, weight=-100)])
    b = low.assess(make_event("x"))
    assert b.severity == 0
    assert b.priority is Priority.P4


def test_default_rules_never_leave_0_100() -> None:
    worst = make_event(
        "I AM FURIOUS!!! CANCEL MY ACCOUNT, MY LAWYER WILL SUE, YOU LOST ALL MY DATA, "
        "REFUND NOW, NOTHING IS WORKING",
        nps_score=0,
        rating=1,
        channel="social_media",
        tier="enterprise",
        lifecycle_stage="onboarding",
    )
    a = DEFAULT.assess(worst)
    assert a.severity == 100
    assert a.priority is Priority.P1
    best = make_event("Great, thank you, love it", nps_score=10, rating=5)
    b = DEFAULT.assess(best)
    assert b.severity == 0
    assert b.priority is Priority.P4


# --- min/max priority -------------------------------------------------------------------


def test_min_priority_raises_a_low_severity() -> None:
    a = engine([rule("r", ALWAYS, weight=0, min_priority="P1")]).assess(make_event("x"))
    assert a.severity == 20
    assert a.priority is Priority.P1
    assert a.reasons[0].min_priority is Priority.P1


def test_max_priority_caps_a_high_severity() -> None:
    a = engine([rule("r", ALWAYS, weight=70, max_priority="P3")]).assess(make_event("x"))
    assert a.severity == 90
    assert a.priority is Priority.P3


def test_min_priority_beats_max_priority() -> None:
    e = engine(
        [
            rule("cap", ALWAYS, weight=-20, max_priority="P4"),
            rule("floor", {"text": ["churn"]}, weight=0, min_priority="P2"),
        ]
    )
    a = e.assess(make_event("great, but I will cancel"))
    assert a.severity == 0
    assert a.priority is Priority.P2
    assert e.assess(make_event("great")).priority is Priority.P4


def test_most_urgent_floor_and_least_urgent_cap_win() -> None:
    e = engine(
        [
            rule("f2", ALWAYS, min_priority="P2"),
            rule("f1", {"text": ["anger"]}, min_priority="P1"),
            rule("c2", ALWAYS, max_priority="P2", weight=80),
            rule("c3", {"text": ["praise"]}, max_priority="P3"),
        ]
    )
    # severity 100 capped at the least urgent cap (P3), then the floor (P2) wins
    assert e.assess(make_event("great")).priority is Priority.P2
    assert e.assess(make_event("angry")).priority is Priority.P1
    # only the P2 cap: severity 100 would be P1, capped at P2
    assert e.assess(make_event("meh")).priority is Priority.P2


def test_default_promoter_who_threatens_to_cancel_is_still_p1() -> None:
    a = DEFAULT.assess(make_event("Love it, but I will cancel my subscription", nps_score=10))
    assert a.priority is Priority.P1
    fired = {r.rule_id for r in a.reasons}
    assert {"nps.promoter", "text.churn_intent"} <= fired


# --- category, actions, manager ---------------------------------------------------------


def test_category_follows_precedence_not_rule_order() -> None:
    e = engine(
        [
            rule("p", {"text": ["praise"]}, category="praise"),
            rule("a", {"text": ["anger"]}, category="frustrated"),
            rule("c", {"text": ["churn"]}, category="churn_threat"),
        ],
        category_precedence=["churn_threat", "frustrated", "praise"],
    )
    assert e.assess(make_event("great")).category == "praise"
    assert e.assess(make_event("great, angry")).category == "frustrated"
    assert e.assess(make_event("great, angry, cancel")).category == "churn_threat"


def test_unlisted_category_ranks_after_listed_ones() -> None:
    e = engine(
        [
            rule("x", ALWAYS, category="zzz_unlisted"),
            rule("a", {"text": ["anger"]}, category="frustrated"),
        ],
        category_precedence=["frustrated"],
    )
    assert e.assess(make_event("angry")).category == "frustrated"
    assert e.assess(make_event("calm")).category == "zzz_unlisted"


def test_default_category_precedence() -> None:
    a = DEFAULT.assess(make_event("Refund me or I call my lawyer. I'm leaving you."))
    assert a.category == "legal_threat"
    b = DEFAULT.assess(make_event("I want a refund, this is ridiculous"))
    assert b.category == "refund_request"


def test_actions_are_priority_defaults_then_rule_actions_deduplicated() -> None:
    e = engine(
        [
            rule("a", ALWAYS, weight=60, actions=["escalate", "reply"]),
            rule("b", ALWAYS, actions=["escalate", "offer"]),
        ]
    )
    a = e.assess(make_event("x"))
    assert a.priority is Priority.P1
    assert a.actions == ["page", "escalate", "reply", "offer"]


def test_actions_of_a_priority_without_defaults() -> None:
    a = engine([rule("a", ALWAYS, weight=10, actions=["note"])]).assess(make_event("x"))
    assert a.priority is Priority.P3
    assert a.actions == ["note"]


def test_management_attention_when_any_fired_rule_asks() -> None:
    e = engine(
        [
            rule("plain", ALWAYS),
            rule("boss", {"text": ["churn"]}, management_attention=True),
        ]
    )
    assert e.assess(make_event("cancel it")).management_attention is True
    assert e.assess(make_event("fine")).management_attention is False


def test_default_key_account_threatening_to_leave_needs_a_manager() -> None:
    text = "We are not renewing, we are moving to another vendor."
    enterprise = DEFAULT.assess(make_event(text, tier="enterprise"))
    assert enterprise.priority is Priority.P1
    assert enterprise.management_attention is True
    assert "manager_callback" in enterprise.actions
    standard = DEFAULT.assess(make_event(text, tier="standard"))
    assert standard.priority is Priority.P1
    assert standard.management_attention is False


def test_default_actions_for_p1_churn() -> None:
    a = DEFAULT.assess(make_event("Please cancel my subscription."))
    assert a.actions[:2] == ["auto_acknowledge", "personal_reply"]
    assert "retention_offer" in a.actions


# --- reasons and evidence --------------------------------------------------------------


def test_reasons_list_fired_rules_in_file_order_with_evidence() -> None:
    a = DEFAULT.assess(make_event("This is unacceptable!!! I want a refund.", nps_score=1))
    ids = [r.rule_id for r in a.reasons]
    assert ids == [
        "nps.detractor",
        "nps.detractor.strong",
        "text.refund",
        "text.anger",
        "tone.punctuation",
        "negative",
        "angry",
    ]
    by_id = {r.rule_id: r for r in a.reasons}
    assert by_id["nps.detractor"].evidence == ["nps_score=1"]
    assert by_id["text.refund"].evidence == ["refund: refund"]
    assert by_id["text.anger"].evidence == ["anger: unacceptable"]
    assert by_id["tone.punctuation"].evidence == ["punctuation !!!"]
    assert by_id["negative"].evidence == ["after nps.detractor"]


def test_evidence_for_flags_and_membership() -> None:
    e = engine(
        [
            rule("shout", {"shouting": True}),
            rule("calm", {"shouting": False, "angry_punctuation": False}),
            rule("tier", {"tier": ["enterprise"], "channel": ["email"]}),
            rule("empty", {"text_empty": True, "has_score": True}),
            rule("stars", {"rating": {"min": 1, "max": 2}}),
        ]
    )
    a = e.assess(make_event("WHY IS NOBODY ANSWERING", tier="enterprise"))
    ev = {r.rule_id: r.evidence for r in a.reasons}
    assert ev["shout"] == ["capitals 100%"]
    assert "calm" not in ev
    assert sorted(ev["tier"]) == ["channel=email", "tier=enterprise"]
    b = e.assess(make_event("", rating=2))
    ev = {r.rule_id: r.evidence for r in b.reasons}
    assert sorted(ev["calm"]) == ["not angry_punctuation", "not shouting"]
    assert sorted(ev["empty"]) == ["no text", "score given"]
    assert ev["stars"] == ["rating=2"]
    # only whitespace is no text; a zero-width space is a character, not whitespace
    assert "empty" in {r.rule_id for r in e.assess(make_event(" \n\t\u3000", rating=2)).reasons}
    assert "empty" not in {r.rule_id for r in e.assess(make_event("\u200b", rating=2)).reasons}


def test_any_all_not_conditions() -> None:
    e = engine(
        [
            rule("any", {"any": [{"nps": {"max": 3}}, {"text": ["anger"]}]}),
            rule("all", {"all": [{"nps": {"max": 6}}, {"text": ["churn"]}]}),
            rule("not", {"not": {"text": ["praise"]}}),
        ]
    )

    def fired(ev: FeedbackEvent) -> set[str]:
        return {r.rule_id for r in e.assess(ev).reasons}

    assert fired(make_event("angry")) == {"any", "not"}
    assert fired(make_event("", nps_score=2)) == {"any", "not"}
    assert fired(make_event("cancel", nps_score=5)) == {"all", "not"}
    assert fired(make_event("great", nps_score=9)) == set()


def test_nps_and_rating_conditions_need_a_score() -> None:
    e = engine([rule("low", {"nps": {"max": 6}}), rule("stars", {"rating": {"max": 2}})])
    assert e.assess(make_event("bad")).reasons == []


def test_publisher_language_wins_over_detection() -> None:
    assert DEFAULT.assess(make_event("Hello there, this is fine")).language == "en"
    assert DEFAULT.assess(make_event("Hello there", language="fi-FI")).language == "fi"
    assert DEFAULT.assess(make_event("Привет", language="EL")).language == "el"
    assert DEFAULT.assess(make_event("")).language == "und"


def test_language_condition() -> None:
    e = engine([rule("ru", {"language": ["ru"]}, weight=10)])
    assert e.assess(make_event("Не работает приложение")).severity == 30
    assert e.assess(make_event("The app does not work")).severity == 20


def test_subject_is_read_with_the_text() -> None:
    a = DEFAULT.assess(make_event("see above", subject="Cancel my subscription"))
    assert a.priority is Priority.P1
    assert "text.churn_intent" in {r.rule_id for r in a.reasons}


def test_only_the_analysed_prefix_of_a_long_text_is_matched() -> None:
    text = "x " * MAX_ANALYSED_CHARS + "I will sue you"
    a = DEFAULT.assess(make_event(text))
    assert "text.legal_threat" not in {r.rule_id for r in a.reasons}


def test_a_megabyte_of_text_is_assessed() -> None:
    text = ("All good so far, just a long diary entry. " * 30_000)[:1_000_000]
    text = "Please refund me. " + text[18:]
    assert len(text) == 1_000_000
    a = DEFAULT.assess(make_event(text))
    assert a.priority is Priority.P2
    assert "text.refund" in {r.rule_id for r in a.reasons}


def test_assess_does_not_leak_state_between_events() -> None:
    first = DEFAULT.assess(make_event("I will cancel my subscription"))
    second = DEFAULT.assess(make_event("How do I export?"))
    assert first.priority is Priority.P1
    assert second.priority is Priority.P3
    assert "negative" not in {r.rule_id for r in second.reasons}


# --- ticket ids and tickets --------------------------------------------------------------


def test_ticket_id_is_deterministic() -> None:
    assert ticket_id_for("evt-1") == ticket_id_for("evt-1")
    assert ticket_id_for("evt-1") != ticket_id_for("evt-2")
    assert ticket_id_for("evt-1") == str(uuid.uuid5(TICKET_NAMESPACE, "evt-1"))
    assert uuid.UUID(ticket_id_for("evt-1")).version == 5


def test_ticket_id_namespace_never_changes() -> None:
    # Changing the namespace would give redelivered events new ticket ids.
    assert str(TICKET_NAMESPACE) == "6f1d3c1e-7a53-5b8e-9f0e-4c2b7d1a9e11"


def test_ticket_ids_are_distinct_for_many_events() -> None:
    ids = {ticket_id_for(f"evt-{i}") for i in range(10_000)}
    assert len(ids) == 10_000


def built(event: FeedbackEvent, now: datetime | None = None) -> Ticket:
    now = now or datetime(2026, 3, 2, 7, 20, tzinfo=UTC)
    return build_ticket(event, DEFAULT.assess(event), now, DEFAULT.rules.version, POLICY)


def test_build_ticket_sets_the_sla_from_occurred_at() -> None:
    event = make_event("Please cancel my subscription.", occurred_at="2026-03-02T09:15:00+02:00")
    ticket = built(event)
    assert ticket.priority is Priority.P1
    assert ticket.sla.target_seconds == 600
    assert ticket.sla.first_response_due_at == event.occurred_at + timedelta(seconds=600)
    assert ticket.sla.first_response_due_at == datetime(2026, 3, 2, 7, 25, tzinfo=UTC)
    assert ticket.occurred_at == event.occurred_at


@pytest.mark.parametrize(
    ("event", "seconds"),
    [
        (make_event("Please cancel my subscription."), 600),
        (make_event("", nps_score=2), 3600),
        (make_event("How do I export a report?"), 28800),
        (make_event("", nps_score=10), 172800),
    ],
)
def test_build_ticket_due_time_per_priority(event: FeedbackEvent, seconds: int) -> None:
    ticket = built(event)
    assert ticket.sla.target_seconds == seconds
    assert ticket.sla.first_response_due_at - event.occurred_at == timedelta(seconds=seconds)


def test_build_ticket_takes_the_target_from_the_policy_not_the_rules() -> None:
    # a rule file that still sets sla_seconds loads, but its targets are ignored
    rules = parse_rules(
        yaml.safe_dump(
            {
                "version": "old",
                "priorities": [{"priority": "P4", "min_severity": 0}],
                "sla_seconds": {"P1": 1, "P2": 2, "P3": 3, "P4": 4},
                "rules": [],
            }
        )
    )
    assert rules.sla_seconds == {Priority.P1: 1, Priority.P2: 2, Priority.P3: 3, Priority.P4: 4}
    event = make_event("x")
    policy = SlaPolicy(version="fast-1", target_seconds={Priority.P4: 120})
    ticket = build_ticket(event, RuleEngine(rules).assess(event), event.occurred_at, "old", policy)
    assert ticket.priority is Priority.P4
    assert ticket.sla.target_seconds == 120
    assert ticket.sla.first_response_due_at == event.occurred_at + timedelta(seconds=120)
    assert ticket.sla.policy_id == "fast-1"
    notice = rules.sla_seconds_ignored(policy.version, policy.target_seconds)
    assert notice == (
        'rule set "old": sla_seconds is deprecated and ignored, the targets come from SLA '
        'policy "fast-1" (its target_seconds); targets differ: P1 1 s -> 600 s, '
        "P2 2 s -> 3600 s, P3 3 s -> 28800 s, P4 4 s -> 120 s"
    )


def test_build_ticket_keeps_what_an_agent_needs() -> None:
    event = make_event(
        "Η εφαρμογή δεν λειτουργεί!",
        event_id="evt-77",
        customer_id="cust-9",
        channel="app_store",
        tier="premium",
        lifecycle_stage="renewal",
        name="Μαρία",
        rating=1,
        subject="Πρόβλημα",
    )
    now = datetime(2026, 3, 2, 8, 0, tzinfo=timezone(timedelta(hours=3)))
    ticket = built(event, now)
    assessment = DEFAULT.assess(event)
    assert ticket.ticket_id == ticket_id_for("evt-77")
    assert ticket.event_id == "evt-77"
    assert ticket.customer_id == "cust-9"
    assert ticket.channel == "app_store"
    assert ticket.customer_tier == "premium"
    assert ticket.customer_lifecycle_stage == "renewal"
    assert ticket.customer_name == "Μαρία"
    assert ticket.rating == 1
    assert ticket.nps_score is None
    assert ticket.subject == "Πρόβλημα"
    assert ticket.text == "Η εφαρμογή δεν λειτουργεί!"
    assert ticket.language == "el"
    assert ticket.created_at == now
    assert ticket.rules_version == DEFAULT.rules.version
    assert ticket.priority is assessment.priority
    assert ticket.severity == assessment.severity
    assert ticket.category == assessment.category
    assert ticket.reasons == assessment.reasons
    assert ticket.actions == assessment.actions
    assert ticket.management_attention is assessment.management_attention


def test_build_ticket_without_optional_fields() -> None:
    ticket = built(make_event("fine"))
    assert ticket.customer_tier is None
    assert ticket.customer_lifecycle_stage is None
    assert ticket.customer_name is None
    assert ticket.subject is None
    assert ticket.rating is None


def test_redelivered_event_yields_the_same_ticket() -> None:
    event = make_event("I want a refund!", event_id="evt-dup")
    now = datetime(2026, 3, 2, 7, 20, tzinfo=UTC)
    assert built(event, now) == built(FeedbackEvent.model_validate(event.model_dump()), now)


def test_ticket_json_uses_utc_z_timestamps() -> None:
    ticket = built(make_event("I want a refund!", occurred_at="2026-03-02T09:15:00+02:00"))
    data = ticket.model_dump(mode="json")
    assert data["occurred_at"] == "2026-03-02T07:15:00.000Z"
    assert data["sla"]["first_response_due_at"] == "2026-03-02T08:15:00.000Z"
    assert Ticket.model_validate_json(ticket.model_dump_json()) == ticket


def test_engine_over_a_rule_set_object() -> None:
    rules: RuleSet = load_default_rules()
    assert RuleEngine(rules).rules is rules


def test_an_assessment_is_built_with_every_field_and_stays_frozen() -> None:
    """``Assessment`` has its own ``__init__`` (slot by slot): every field gets the value
    given for it, ``related_ticket_ids`` defaults to a fresh list, nothing is settable."""
    names = [f.name for f in dataclasses.fields(Assessment)]
    values: dict[str, Any] = {name: object() for name in names}
    built = Assessment(**values)
    assert {name: getattr(built, name) for name in names} == values
    assert Assessment(*(values[n] for n in names)) == built
    one = Assessment(**{**values, "related_ticket_ids": None})
    other = Assessment(**{**values, "related_ticket_ids": None})
    assert one.related_ticket_ids == []
    assert one.related_ticket_ids is not other.related_ticket_ids
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.severity = 1  # type: ignore[misc]


def test_the_compiled_assessment_is_the_classes_own() -> None:
    """``_rules.Assessor`` builds the ``Assessment`` with ``new_assessment`` (slot by slot,
    not through its ``__init__``): the same fields, equal to one built from them by its
    ``__init__``, frozen, ``related`` copied."""
    engine = RuleEngine(load_default_rules())
    related = ("t-1",)
    event = make_event(text="The app crashed and I was charged twice, refund me", nps_score=1)
    built = engine.assess(event, related)
    names = [f.name for f in dataclasses.fields(Assessment)]
    assert type(built) is Assessment
    assert Assessment(*(getattr(built, n) for n in names)) == built
    assert built.related_ticket_ids == ["t-1"]
    assert type(built.related_ticket_ids) is list
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.severity = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("subject", "text", "evidence"),
    [
        (None, "", None),  # no text: no words
        (None, "one two", None),
        (None, "one, two three!", ["words=3"]),  # clause punctuation is not a word
        (None, "很好用", ["words=3"]),  # each CJK character is a word
        ("Re: order", "Subject words", ["words=4"]),  # the subject's words count too
    ],
)
def test_words_counts_the_words_of_the_text_and_explains_the_count(
    subject: str | None, text: str, evidence: list[str] | None
) -> None:
    e = engine([rule("long", {"words": {"min": 3}}, weight=30)])
    a = e.assess(make_event(text, subject=subject))
    assert [r.evidence for r in a.reasons] == ([evidence] if evidence else [])
