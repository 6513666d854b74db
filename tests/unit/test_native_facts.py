"""The facts of an event read in one compiled call (``FactReader.read`` in
``service/rules/_rules.pyx``) are, field by field, what the Python reading it replaced
gives (``tests/oracle/engine_py.py``'s ``facts``): the text analysed (subject first, cut
to ``MAX_ANALYSED_CHARS``), its signals, the language (a publisher's tag, or the guess),
the tone, the scores and the customer's values. And ``TextSignals``, the compiled record
of a scan, compares, prints and starts empty as the dataclass it replaced did."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.feedback import FeedbackEvent
from service.rules import RuleEngine, load_default_rules
from service.rules._scan import guess_language
from service.rules.facts import Facts
from service.rules.matcher import TextSignals
from service.rules.text import MAX_ANALYSED_CHARS
from tests.oracle import language_py as oracle_language
from tests.oracle.engine_py import RuleEngine as OracleEngine
from tests.unit.test_native_rules import _labelled
from tests.unit.test_text_fast_paths import ALPHABET

ENGINE = RuleEngine(load_default_rules())
ORACLE = OracleEngine(load_default_rules(), ENGINE.text_model)
FIELDS = (
    "language",
    "shouting",
    "punctuation",
    "related",
    "nps",
    "rating",
    "channel",
    "tier",
    "stage",
    "text_empty",
    "has_score",
    "choices",
    "text_model",
    "model_input",
)


def _same_facts(event: FeedbackEvent, related: list[str]) -> Facts:
    got, expected = ENGINE.facts(event, related), ORACLE.facts(event, related)
    assert got.event is event
    for name in FIELDS:
        assert getattr(got, name) == getattr(expected, name), (name, event)
    assert got.signals == expected.signals, event
    return got


def _event(**fields: Any) -> FeedbackEvent:
    data: dict[str, Any] = {
        "event_id": "e-1",
        "occurred_at": "2026-03-02T09:15:00+02:00",
        "channel": "email",
        "customer": {"id": "c-1"},
        "text": "",
    }
    data.update(fields)
    return FeedbackEvent.model_validate(data)


def test_the_facts_agree_on_the_labelled_events() -> None:
    for n, event in enumerate(_labelled()):
        _same_facts(event, ["t-1"] if n % 3 == 0 else [])


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=ALPHABET + "ABCDEFGHIJ😡:(", max_size=80),
    subject=st.one_of(st.none(), st.text(alphabet=ALPHABET, max_size=20)),
    language=st.sampled_from([None, "en", "de", "PT-br", "zh-Hans-CN", "FIN"]),
    nps=st.one_of(st.none(), st.integers(0, 10)),
    rating=st.one_of(st.none(), st.integers(1, 5)),
    tier=st.sampled_from([None, "free", "enterprise"]),
    stage=st.sampled_from([None, "trial", "churned"]),
    related=st.lists(st.sampled_from(["t-1", "t-2"]), max_size=2, unique=True),
)
def test_the_facts_agree_on_generated_events(
    text: str,
    subject: str | None,
    language: str | None,
    nps: int | None,
    rating: int | None,
    tier: str | None,
    stage: str | None,
    related: list[str],
) -> None:
    customer: dict[str, Any] = {"id": "c-1"}
    if tier:
        customer["tier"] = tier
    if stage:
        customer["lifecycle_stage"] = stage
    event = _event(
        text=text,
        subject=subject,
        language=language,
        nps_score=nps,
        rating=rating,
        customer=customer,
    )
    facts = _same_facts(event, related)
    # what the record holds of the event itself (the oracle builds the same ``Facts``,
    # so these are stated here)
    assert (facts.nps, facts.rating, facts.channel) == (nps, rating, "email")
    assert (facts.tier, facts.stage) == (tier, stage)
    assert facts.has_score == (nps is not None or rating is not None)
    assert facts.text_empty == (not text.strip())
    assert facts.related == related
    assert facts.choices == []


#: Any code point a JSON document can carry (no lone surrogates): every plane, combining
#: marks, bidi and zero-width characters, private use, unassigned code points.
ANY_CHAR = st.characters(codec="utf-8")
ANY_TEXT = st.text(ANY_CHAR, max_size=300)


@settings(max_examples=300, deadline=None)
@given(
    text=ANY_TEXT,
    subject=st.one_of(st.none(), st.text(ANY_CHAR, max_size=40)),
    language=st.sampled_from([None, "en", "zh"]),
)
def test_the_facts_agree_on_any_unicode(
    text: str, subject: str | None, language: str | None
) -> None:
    """The compiled reading reads its lists and strings unchecked: on text from the whole
    of Unicode it must neither crash (a crash would stop the stream on every redelivery
    of the event) nor read otherwise than the Python it replaced."""
    event = _event(text=text, subject=subject, language=language)
    _same_facts(event, [])
    assert ENGINE.assess(event).priority is not None


def test_only_the_first_characters_are_analysed_after_the_subject() -> None:
    """The subject (at most 2,000 characters, the contract says), a line break, then
    the text's first ``MAX_ANALYSED_CHARS``: a refund asked past the limit is not read,
    one inside it is."""
    filler = "fine " * (MAX_ANALYSED_CHARS // 5)
    late = _same_facts(_event(text=filler + "I want a refund"), [])
    assert "refund" not in late.signals.hits
    early = _same_facts(_event(text="I want a refund " + filler, subject="X" * 2_000), [])
    assert "refund" in early.signals.hits
    assert early.signals.normalized.startswith("x" * 2_000 + "\ni want")
    assert len(early.signals.normalized) == 2_000 + 1 + MAX_ANALYSED_CHARS


def test_a_language_tag_gives_its_primary_subtag_in_lower_case() -> None:
    assert _same_facts(_event(text="ok", language="PT-br"), []).language == "pt"
    assert _same_facts(_event(text="", language=None), []).language == "und"
    assert _same_facts(_event(text="Ich will mein Geld zurück"), []).language == "de"


def test_text_signals_start_empty_and_compare_by_their_fields() -> None:
    first, second = TextSignals(), TextSignals()
    assert first == second
    first.hits.setdefault("refund", []).append("refund")
    assert second.hits == {}  # every record has its own buckets
    assert first != second
    assert list(first.as_dict()) == [
        "hits",
        "negated",
        "stated",
        "hedged",
        "intensified",
        "votes",
        "spaced",
        "normalized",
    ]
    assert repr(TextSignals(spaced=" a ")).startswith("TextSignals(hits={}, ")
    other: object = "not signals"
    assert (TextSignals() == other) is False


@settings(max_examples=500, deadline=None)
@given(
    sample=st.sampled_from(
        ["The refund never came", "Ήθελα επιστροφή", "中文 text", "12345 !!", "", "x" * 700]
    )
    | st.text(alphabet=ALPHABET, max_size=30),
    votes=st.dictionaries(st.sampled_from(["en", "de", "fr", "fi", "zh", "xx"]), st.integers(0, 5)),
    stopwords=st.one_of(
        st.none(),
        st.dictionaries(st.sampled_from(["en", "de", "es", "pt", "ru"]), st.integers(0, 5)),
    ),
)
def test_the_compiled_language_guess_decides_as_the_python_one(
    sample: str, votes: dict[str, int], stopwords: dict[str, int] | None
) -> None:
    """Every step of the guess, the votes' ties and the model's turn included (the model
    answers a marker here, so that the test sees when it is asked)."""
    counter = None if stopwords is None else (lambda spaced: stopwords)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(oracle_language, "model_language", lambda s: f"model:{len(s)}")
        expected = oracle_language.decide(sample, votes, counter, " spaced ")
    got = guess_language(sample, votes, counter, " spaced ", lambda s: f"model:{len(s)}")
    assert got == expected
