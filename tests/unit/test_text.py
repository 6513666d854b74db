"""Text normalisation, the lexicon term syntax and the tone heuristics (service/rules/text.py)."""

from __future__ import annotations

import pytest

from service.rules.matcher import LexiconMatcher
from service.rules.text import (
    MAX_ANALYSED_CHARS,
    angry_punctuation,
    has_cjk,
    normalize,
    shouting_ratio,
)


def match(terms: list[str], text: str, lang: str = "xx") -> list[str]:
    """The words that matched a single lexicon made of ``terms``."""
    matcher = LexiconMatcher({"lex": {lang: terms}})
    return matcher.match(normalize(text)).get("lex", [])


# --- normalize ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # NFKC: compatibility forms fold to plain letters
        ("ﬁle", "file"),
        ("Ｆｕｌｌ　Ｗｉｄｔｈ", "full width"),
        ("①", "1"),
        # case folding beyond lower(): German sharp s
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),
        # Greek: accents (tonos, dialytika) removed, final sigma folded to σ
        ("ΑΚΥΡΩΣΗ", "ακυρωση"),
        ("ακύρωση", "ακυρωση"),
        ("ακυρωση", "ακυρωση"),
        ("ΘΥΜΩΜΕΝΟΣ", "θυμωμενοσ"),
        ("θυμωμένος", "θυμωμενοσ"),
        ("κοροϊδεύετε", "κοροιδευετε"),
        # Russian: й → и, ё → е
        ("Войти", "воити"),
        ("Уйду", "уиду"),
        ("Ещё", "еще"),
        ("ЁЛКА", "елка"),
        # Finnish: ä and ö lose their dots
        ("Hyvää päivää", "hyvaa paivaa"),
        ("Pöyristyttävää", "poyristyttavaa"),
        # CJK is left alone
        ("退款", "退款"),
        ("", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_normalize_is_idempotent() -> None:
    text = "ΑΚΎΡΩΣΗ Ёлка Pöyristyttävää ﬁle 退款 Straße"
    once = normalize(text)
    assert normalize(once) == once


def test_normalize_precomposed_and_decomposed_are_equal() -> None:
    precomposed = "ακύρωση päivää"
    decomposed = "ακυ\u0301ρωση pa\u0308iva\u0308a\u0308"
    assert precomposed != decomposed
    assert normalize(precomposed) == normalize(decomposed)


def test_has_cjk() -> None:
    assert has_cjk("请问")
    assert has_cjk("APP一直闪退")
    assert not has_cjk("hello")
    assert not has_cjk("Привет γεια")


# --- term syntax ------------------------------------------------------------------------


def test_exact_word_matches_whole_words_only() -> None:
    assert match(["sue"], "I will sue you.") == ["sue"]
    assert match(["sue"], "This is an issue.") == []
    assert match(["sue"], "Suede shoes") == []


def test_exact_word_is_case_and_accent_insensitive() -> None:
    assert match(["ακύρωση"], "ΑΚΥΡΩΣΗ ΤΩΡΑ") == ["ακυρωση"]
    assert match(["ΑΚΥΡΩΣΗ"], "θέλω ακυρωση") == ["ακυρωση"]
    assert match(["ärsyttävää"], "TODELLA ARSYTTAVAA") == ["arsyttavaa"]


def test_stem_matches_any_word_starting_with_it() -> None:
    terms = ["refund*"]
    assert match(terms, "I want a refund") == ["refund"]
    assert match(terms, "Refunded? Never.") == ["refunded"]
    assert match(terms, "no refunds, no refunding") == ["refunds", "refunding"]
    assert match(terms, "prerefund") == []


def test_stem_matches_inflected_forms() -> None:
    # Russian case endings: подписка, подписку, подписки
    terms = ["отмен* подписк*"]
    assert match(terms, "Отмените подписку!") == ["отмените подписку"]
    assert match(terms, "хочу отменить подписки") == ["отменить подписки"]
    # Finnish: kilpailija, kilpailijalle, kilpailijoille is not the same stem
    assert match(["kilpailija*"], "Siirryn kilpailijalle.") == ["kilpailijalle"]
    # Greek: stem written with an accent still matches the unaccented text
    assert match(["θυμωμέν*"], "ΕΙΜΑΙ ΘΥΜΩΜΕΝΗ") == ["θυμωμενη"]


def test_wildcard_word_matches_exactly_one_word() -> None:
    terms = ["cancel * subscription"]
    assert match(terms, "please cancel my subscription") == ["cancel my subscription"]
    assert match(terms, "cancel subscription") == []
    assert match(terms, "cancel my whole subscription") == []


def test_multi_word_phrase_needs_consecutive_words_in_order() -> None:
    terms = ["money back"]
    assert match(terms, "I want my money back!") == ["money back"]
    assert match(terms, "I want my money - back then") == ["money back"]  # a separator
    # clause punctuation ends a phrase (and a negation's reach)
    assert match(terms, "I want my money, back then") == []
    assert match(["great , another"], "Great, another outage") == ["great , another"]
    assert match(terms, "back my money") == []
    assert match(terms, "money is back") == []


def test_apostrophes_split_words() -> None:
    assert match(["can t log in"], "I can't log in") == ["can t log in"]
    assert match(["can t log in"], "I can’t log in") == ["can t log in"]


def test_phrase_at_end_of_text_and_too_short_text() -> None:
    assert match(["lost * data"], "we lost our data") == ["lost our data"]
    assert match(["lost * data"], "we lost our") == []


def test_matches_are_deduplicated_in_order_of_appearance() -> None:
    found = match(["bad*", "awful"], "awful, bad, awful and badly done")
    assert found == ["awful", "bad", "badly"]


def test_several_lexicons_and_languages() -> None:
    matcher = LexiconMatcher(
        {
            "refund": {"en": ["refund*"], "ru": ["возврат*"]},
            "anger": {"en": ["angry"], "fi": ["vihai*"]},
        }
    )
    hits = matcher.match(normalize("Angry! Требую возврата, olen vihainen"))
    assert hits == {"anger": ["angry", "vihainen"], "refund": ["возврата"]}
    assert matcher.match(normalize("nothing to see")) == {}


def test_bare_wildcard_terms_are_ignored_by_the_matcher() -> None:
    assert match(["*", "* *"], "anything at all") == []


def test_cjk_terms_match_as_substrings() -> None:
    assert match(["退款"], "请尽快给我退款。") == ["退款"]
    assert match(["数据丢失"], "我们所有的数据丢失了") == ["数据丢失"]
    assert match(["闪退"], "APP一直闪退") == ["闪退"]


def test_cjk_term_with_spaces_matches_without_them() -> None:
    assert match(["数据 丢失"], "数据丢失了") == ["数据丢失"]


@pytest.mark.parametrize("negator", ["不", "没", "沒", "别", "別", "未", "无", "無"])
def test_cjk_term_directly_after_a_negator_is_negated(negator: str) -> None:
    assert match(["满意"], f"我对服务{negator}满意") == []


def test_cjk_very_is_not_a_negator() -> None:
    # 非常 is "very": 非 alone is not treated as a negator
    assert match(["失望"], "对这次更新非常失望") == ["失望"]


def test_cjk_negation_only_applies_to_the_negated_occurrence() -> None:
    assert match(["满意"], "我很满意") == ["满意"]
    # one negated, one not: the second occurrence counts
    assert match(["满意"], "上次不满意，这次很满意") == ["满意"]
    # a negator up to two characters before still negates ("not really recommend")
    assert match(["推荐"], "不太推荐") == []
    assert match(["推荐"], "不能说我很推荐") == ["推荐"]


def test_cjk_term_that_starts_with_a_negator_is_matched() -> None:
    assert match(["不满意", "不推荐"], "我不满意，不推荐。") == ["不满意", "不推荐"]
    assert match(["不再使用"], "以后不再使用了") == ["不再使用"]


def test_cjk_terms_are_not_searched_in_text_without_cjk() -> None:
    matcher = LexiconMatcher({"refund": {"zh": ["退款"], "en": ["refund"]}})
    assert matcher.match(normalize("refund please")) == {"refund": ["refund"]}


def test_matching_a_megabyte_of_text_finishes() -> None:
    # ~1 MB of mixed text with a hit at the very end: the matcher is linear.
    filler = "the quick brown fox jumps over the lazy dog 退款 ακυρωση отмена "
    text = filler * (1_000_000 // len(filler)) + " please cancel my subscription"
    assert len(text) >= 1_000_000
    matcher = LexiconMatcher(
        {
            "churn": {"en": ["cancel* my subscription", "cancel * subscription"]},
            "refund": {"zh": ["退款"], "en": ["refund*"]},
            "stems": {"xx": [f"stem{i}*" for i in range(50)]},
        }
    )
    hits = matcher.match(normalize(text))
    assert hits["churn"] == ["cancel my subscription"]
    assert hits["refund"] == ["退款"]
    assert "stems" not in hits


# --- shouting and punctuation ------------------------------------------------------------


def test_shouting_ratio() -> None:
    assert shouting_ratio("WHY IS NOBODY ANSWERING MY EMAILS") == 1.0
    assert shouting_ratio("why is nobody answering my emails") == 0.0
    assert shouting_ratio("ΓΙΑΤΙ ΔΕΝ ΑΠΑΝΤΑΤΕ ΣΤΑ EMAIL ΜΟΥ") == 1.0
    assert shouting_ratio("ПОЧЕМУ НИКТО НЕ ОТВЕЧАЕТ") == 1.0
    # capitalised words only: no run of three capitals, so not measured at all
    assert shouting_ratio("Hello There Customer Support") == 0.0
    mixed = shouting_ratio("Hello THERE customer support team")
    assert 0.1 < mixed < 0.3


def test_shouting_ratio_needs_enough_letters() -> None:
    assert shouting_ratio("OK THX") == 0.0
    assert shouting_ratio("NO!!! WHY?!") == 0.0
    assert shouting_ratio("ABCDEFGHIJKL", min_letters=12) == 1.0
    assert shouting_ratio("ABCDEFGHIJK", min_letters=12) == 0.0


def test_shouting_ratio_ignores_uncased_scripts() -> None:
    assert shouting_ratio("客服态度太差了，等了三天都没人回复，气死我了！") == 0.0
    assert shouting_ratio("我要退款 REFUND NOW PLEASE") == 1.0


def test_shouting_ratio_only_reads_the_analysed_prefix() -> None:
    text = "a" * MAX_ANALYSED_CHARS + "B" * 1000
    assert shouting_ratio(text) == 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("This is unacceptable!!!", ["!!!"]),
        ("Are you serious?!", ["?!"]),
        ("What!? Again!!", ["!?", "!!"]),
        ("Why???", ["???"]),
        ("为什么？？？", ["？？？"]),
        ("气死我了！！", ["！！"]),
        ("真的吗？！", ["？！"]),
    ],
)
def test_angry_punctuation_finds_runs(text: str, expected: list[str]) -> None:
    assert angry_punctuation(text) == expected


@pytest.mark.parametrize(
    "text", ["Thank you!", "Is it possible? Yes.", "Great! Thanks! Bye!", "Why??", ""]
)
def test_angry_punctuation_ignores_calm_punctuation(text: str) -> None:
    assert angry_punctuation(text) == []
