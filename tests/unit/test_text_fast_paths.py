"""The fast paths of text analysis give exactly what the straightforward algorithms give.

Each reference below is the plain version (NFKC → casefold → NFD → strip marks → NFC;
one regular expression per scan) that the optimised code must agree with, character
for character, on every Latin-1 pair, on every pair of the characters normalised by table,
and on random Greek / Cyrillic / CJK / symbol text.
"""

from __future__ import annotations

import random
import re
import unicodedata
from pathlib import Path

import pytest

from schemas.feedback import FeedbackEvent
from service.rules import RuleEngine, load_default_rules
from service.rules._scan import (
    CLAUSE_CHARS,
    StopwordTable,
    SymbolHeads,
    may_have_cjk,
    window_end,
    word_count,
)
from service.rules.evaluate import load_labelled
from service.rules.language import SCRIPT_CHARS, script_language
from service.rules.text import (
    _CJK,
    _COMBINING,
    _NONWORD,
    CLAUSE,
    angry_punctuation,
    normalize,
    shouting_ratio,
    spaced,
)
from tests.oracle.language_py import _LATIN
from tests.oracle.text_py import _ANGRY_PUNCT, _CAPS_RUN
from tests.oracle.text_py import word_count as ref_word_count
from tests.unit.rules_helpers import MatcherTestingEveryHit

_UPPER1 = re.compile(r"[A-Z\u00c0-\u00d6\u00d8-\u00de\u0386-\u038f\u0391-\u03ab\u0400-\u042f]")
_LOWER1 = re.compile(r"[a-z\u00df-\u00f6\u00f8-\u00ff\u03ac-\u03ce\u0430-\u045f]")


def ref_normalize(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    if folded.isascii() or unicodedata.is_normalized("NFD", folded):
        return folded
    return unicodedata.normalize("NFC", _COMBINING.sub("", unicodedata.normalize("NFD", folded)))


def ref_spaced(normalized: str) -> str:
    text = normalized
    for ch in CLAUSE_CHARS:
        text = text.replace(ch, f" {CLAUSE} ")
    text = _NONWORD.sub(" ", text)
    while f"{CLAUSE} {CLAUSE}" in text:
        text = text.replace(f"{CLAUSE} {CLAUSE}", CLAUSE)
    return f" {text.strip()} "


def ref_shouting(text: str, min_letters: int = 12) -> float:
    if _CAPS_RUN.search(text) is None:
        return 0.0
    upper = len(_UPPER1.findall(text))
    total = upper + len(_LOWER1.findall(text))
    return 0.0 if total < min_letters else upper / total


def ref_angry(text: str) -> list[str]:
    return [m for run in re.findall(r"[!?！？]{2,}", text) for m in _ANGRY_PUNCT.findall(run)]


#: The non-Latin scripts' letters, as the language guess defines them (the reference of
#: the compiled ``script_language``).
_NON_LATIN = re.compile(
    r"[\u0370-\u03ff\u1f00-\u1fff\u0400-\u04ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    r"\uf900-\ufaff\uac00-\ud7af]"
)
_SCRIPT_OF = (
    ("el", 0x0370, 0x03FF),
    ("el", 0x1F00, 0x1FFF),
    ("ru", 0x0400, 0x04FF),
    ("ja", 0x3040, 0x30FF),
    ("ko", 0xAC00, 0xD7AF),
)


def _script(ch: str) -> str:
    return next((lang for lang, lo, hi in _SCRIPT_OF if lo <= ord(ch) <= hi), "zh")


def ref_script(sample: str) -> str | None:
    first = _NON_LATIN.search(sample)
    if first is None:
        return None
    if _LATIN.search(sample) and len(_NON_LATIN.findall(sample)) * 3 < len(_LATIN.findall(sample)):
        return None
    best = _script(first.group())
    return "ja" if best == "zh" and re.search(r"[\u3040-\u30ff]", sample) else best


ALPHABET = (
    "aeiouyAEIOUZ ,.;:!?！？。，…'\"-_()/#@¿¡«»’\t\n\x01"
    "ÀÄÅÉÖÜßàäåéöüÿçñøæµ½¨´\u00a0"
    "ΑΆάέήίόύώϊϋΐΰΪΣσςΩω"
    "ЙйЁёИиЕеЖжЯя"
    "中文不没别很好退款あア한"
    "\u0301\u0308\u0306\u0483\u05b0\u093c\u0928\u3099ǂ"
    "😡👍❤\ufe0f⭐:)(><"
)


def random_texts(n: int, seed: int, alphabet: str = ALPHABET) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for _ in range(n)]


def test_normalize_every_latin1_pair() -> None:
    chars = [chr(i) for i in range(256)]
    for a in chars:
        for b in chars:
            assert normalize(a + b) == ref_normalize(a + b), repr(a + b)


def test_normalize_by_table_every_character_and_pair() -> None:
    """The characters whose forms ``normalize`` writes by table (``text._forms``): each
    alone, and each beside every other (the ideographs and the emoji, inert in every
    normal form, by a sample), gives the reference's form, so a text of them normalises
    character by character."""
    from service.rules.text import _forms

    table = [chr(cp) for cp in _forms()]

    def inert(ch: str) -> bool:
        return 0x4E00 <= ord(ch) <= 0x9FFF or ord(ch) >= 0x1F300

    others = [c for c in table if not inert(c)]
    sample = [c for c in table if inert(c)][::16]
    assert sum(map(inert, table)) == (0x9FFF - 0x4E00 + 1) + (0x1FAFF - 0x1F300 + 1)
    assert {"é", "ß", "Σ", "ς", "ά", "Й", "ё", "が", "ｶ", "，", "€", "❤", "😡"} <= set(table)
    assert "ﾞ" not in table  # its form is a combining mark: it composes with a kana before
    for ch in table:
        assert normalize(ch) == ref_normalize(ch), f"U+{ord(ch):04X}"
    everything = others + sample
    for a in others + sample[::8]:
        text = a + a.join(everything) + a  # every pair of ``a`` and another, both ways
        assert normalize(text) == ref_normalize(text), f"U+{ord(a):04X}"


@pytest.mark.parametrize("seed", range(3))
def test_normalize_random_text(seed: int) -> None:
    for text in random_texts(20_000, seed):
        assert normalize(text) == ref_normalize(text), repr(text)


@pytest.mark.parametrize("seed", range(3))
def test_spaced_random_text(seed: int) -> None:
    for text in random_texts(20_000, seed):
        assert spaced(text) == ref_spaced(text), repr(text)
        norm = normalize(text)
        assert spaced(norm) == ref_spaced(norm), repr(norm)


@pytest.mark.parametrize("seed", range(2))
def test_shouting_and_punctuation_random_text(seed: int) -> None:
    for text in random_texts(20_000, seed, "aAzZ ÀÖØÞßöøÿ×ΑαΆάЖжЯя!?！？.,😡"):
        expected = ref_shouting(text)
        assert shouting_ratio(text) == expected, repr(text)
        fast = shouting_ratio(text, at_least=0.7)
        assert (fast >= 0.7) == (expected >= 0.7), repr(text)
        if expected >= 0.7:
            assert fast == expected
        assert angry_punctuation(text) == ref_angry(text), repr(text)


#: The first and last code points of each range, and their neighbours outside it.
SCRIPT_EDGES = "".join(
    chr(cp)
    for cp in (
        *(0x40, 0x41, 0x5A, 0x5B, 0x60, 0x61, 0x7A, 0x7B, 0xBF, 0xC0, 0xD7, 0x24F, 0x250),
        *(0x36F, 0x370, 0x3FF, 0x400, 0x4FF, 0x500, 0x1EFF, 0x1F00, 0x1FFF, 0x2000),
        *(0x303F, 0x3040, 0x30FF, 0x3100, 0x33FF, 0x3400, 0x4DBF, 0x4DC0, 0x4DFF, 0x4E00),
        *(0x9FFF, 0xA000, 0xABFF, 0xAC00, 0xD7AF, 0xD7B0, 0xF8FF, 0xF900, 0xFAFF, 0xFB00),
    )
)


@pytest.mark.parametrize("seed", range(2))
def test_script_language_random_text(seed: int) -> None:
    for text in random_texts(20_000, seed, "abZé ΩωΆжяЁ中文あア한!1 "):
        assert script_language(text) == ref_script(text), repr(text)
    for text in random_texts(20_000, seed, SCRIPT_EDGES):
        assert script_language(text) == ref_script(text), repr(text)


def test_script_language_of_the_labelled_events() -> None:
    labelled = Path(__file__).resolve().parents[1] / "data" / "labelled_events.jsonl"
    for line in load_labelled(labelled):
        sample = str(line["event"].get("text", ""))[:SCRIPT_CHARS]
        assert script_language(sample) == ref_script(sample), line["_line"]


def test_stopword_votes_count_distinct_stopwords() -> None:
    matcher = RuleEngine(load_default_rules()).matcher
    stopwords = " ".join(w for stop in matcher.stopwords.values() for w in stop)
    rng = random.Random(5)
    salad = [
        " ".join(rng.choices([*stopwords.split(), "x", "yy,", "the."], k=80)) for _ in range(50)
    ]
    for text in [
        "the order and the refund is not here",
        "der Kunde und die Rechnung ist nicht da, und das ist es",
        "el pedido y la factura no llegan y no",
        "",
        *salad,  # the 300th character falls anywhere in a word, or between words
        *_labelled_texts(),
    ]:
        s = spaced(normalize(text))
        words = set(s[:300].split())
        expected = {lang: n for lang, stop in matcher.stopwords.items() if (n := len(words & stop))}
        assert list(matcher.stopword_votes(s).items()) == list(expected.items())


def _event(text: str, **extra: object) -> FeedbackEvent:
    data: dict[str, object] = {
        "event_id": "e-1",
        "occurred_at": "2026-03-02T09:15:00+02:00",
        "channel": "email",
        "customer": {"id": "c-1"},
        "text": text,
    }
    data.update(extra)
    return FeedbackEvent.model_validate(data)


def test_evidence_is_each_events_own() -> None:
    engine = RuleEngine(load_default_rules())
    first = engine.assess(_event("I was double charged for this order"))
    second = engine.assess(_event("I want my money back for this order"))
    assert [r.rule_id for r in first.reasons] == [r.rule_id for r in second.reasons]
    assert first.reasons[0].evidence != second.reasons[0].evidence
    # evidence lists are not shared between assessments
    first.reasons[-1].evidence.append("x")
    third = engine.assess(_event("I was double charged for this order"))
    assert "x" not in third.reasons[-1].evidence


def _labelled_texts() -> list[str]:
    from tests.data.labelled_source import DEEP, HELDOUT, OTHER

    return [row[0] for rows in [*DEEP.values(), *OTHER.values(), *HELDOUT.values()] for row in rows]


def test_word_terms_automaton_finds_what_the_full_one_finds() -> None:
    """Text without CJK characters is scanned with the word terms alone: on such text the
    full automaton (word and CJK terms) must report exactly the same hits."""
    matcher = RuleEngine(load_default_rules()).matcher
    words, word_terms = matcher._words, matcher._word_terms
    assert words is not None
    assert word_terms is not None
    rng = random.Random(7)
    labelled = _labelled_texts()
    mixed = [" ".join(rng.sample(labelled, 3)) for _ in range(300)]
    checked = 0
    for text in [*labelled, *mixed, *random_texts(5_000, 11)]:
        s = spaced(normalize(text))
        cjk = _CJK.search(s) is not None
        assert not cjk or may_have_cjk(s), repr(s)
        if not may_have_cjk(s):
            expected = [(end, entries) for end, entries in words.iter(s)]
            assert list(word_terms.iter(s)) == expected, repr(s)
            checked += 1
    assert checked > 1000


def _modifier_heavy_texts(n: int, seed: int) -> list[str]:
    """Lexicon terms, modifiers and stopwords of one or two languages, shuffled, with
    clause punctuation: many hits within a modifier's reach, many just past it."""
    rules = load_default_rules()
    by_lang: dict[str, list[str]] = {}
    for by_language in rules.lexicons.values():
        for lang, terms in by_language.items():
            words = [t.replace(" * ", " x ").replace("*", "ing").replace(" ,", ",") for t in terms]
            by_lang.setdefault(lang, []).extend(words)
    langs = sorted(by_lang)
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        pool = [w for lang in rng.sample(langs, rng.choice((1, 1, 2))) for w in by_lang[lang]]
        parts = [rng.choice(pool) for _ in range(rng.randint(2, 14))]
        texts.append(
            " ".join(p + rng.choice(("", "", "", ",", ".", " and", " the day")) for p in parts)
        )
    return texts


@pytest.mark.parametrize("seed", range(2))
def test_stated_shortcut_gives_what_testing_every_hit_gives(seed: int) -> None:
    """A hit that no negator, hedge or intensifier reaches skips their tests: the signals
    must be those of testing every hit (the same scan without the shortcut, see
    ``rules_helpers.MatcherTestingEveryHit``)."""
    rules = load_default_rules()
    ta = rules.text_analysis
    fast = RuleEngine(rules).matcher
    full = MatcherTestingEveryHit(
        rules.lexicons,
        negatable=ta.negatable,
        negation_window=ta.negation_window,
        hedge_window=ta.hedge_window,
        intensifier_window=ta.intensifier_window,
    )
    changed = 0
    for text in [*_modifier_heavy_texts(3_000, seed), *_labelled_texts()]:
        norm = normalize(text)
        got, expected = fast.scan(norm), full.scan(norm)
        assert got == expected, repr(text)
        changed += bool(expected.negated or expected.hedged or expected.intensified)
    assert changed > 500


@pytest.mark.parametrize("window", [0, 1, 3, 5])
def test_window_end_is_the_last_start_within_the_window(window: int) -> None:
    """``window_end`` (one expression match) against its definition, counted."""
    rng = random.Random(window)
    for _ in range(300):
        text = (
            " " + " ".join("ab"[: rng.randint(1, 2)] * rng.randint(1, 3) for _ in range(12)) + " "
        )
        for n_end in range(1, len(text) + 1):
            within = [s for s in range(len(text) + 1) if text.count(" ", n_end - 1, s) <= window]
            assert window_end(text, n_end, window) == max(within), (text, n_end)


@pytest.mark.parametrize("seed", range(2))
def test_spaced_random_text_of_words_and_punctuation(seed: int) -> None:
    """Greek, Cyrillic and CJK words with clause and common punctuation only: the case
    where spaced() collapses spaces by replace."""
    alphabet = "αβΣς жЯё 中文 ǂ  .,;:!?。，！？；…'\"-()/’“”«»„¿¡#1"
    for text in random_texts(20_000, seed, alphabet):
        assert spaced(text) == ref_spaced(text), repr(text)


@pytest.mark.parametrize("seed", range(2))
def test_spaced_random_ascii_text(seed: int) -> None:
    runs = [f"{' ' * n}a{'-' * n}b,{' ' * n}.c" for n in range(40)]
    for text in [*random_texts(20_000, seed, "ab Z,.;:!?'-_()\t\n\x01\x1c#  "), *runs]:
        assert spaced(text) == ref_spaced(text), repr(text)


def test_spaced_every_character_of_the_basic_plane() -> None:
    """Every code point below U+10000 (surrogates aside) between words, before a clause
    mark and at the ends: the compiled pass's word characters are exactly those of
    ``[\\W_]``'s complement, and its clause marks exactly ``CLAUSE_CHARS``."""
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        for text in (f"a{ch}b", f"{ch}{ch}. x{ch}"):
            assert spaced(text) == ref_spaced(text), f"U+{cp:04X}"


def test_tone_every_character_of_the_basic_plane() -> None:
    """The compiled capitals and small letters are exactly the definition's classes, and
    its angry punctuation exactly the definition's runs, for every code point below
    U+10000 (surrogates aside)."""
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        for text in (f"ABC{ch * 12}", f"{ch * 3}abcdefghijkl", f"ab{ch}!?{ch}!!"):
            assert shouting_ratio(text) == ref_shouting(text), f"U+{cp:04X}"
            assert angry_punctuation(text) == ref_angry(text), f"U+{cp:04X}"


def test_script_every_character_of_the_basic_plane() -> None:
    """The compiled script guess counts a character as Latin, as one script's letter or
    as neither exactly as the definition does, for every code point below U+10000
    (surrogates aside): three Latin letters against one Greek decide Greek, four do not."""
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        for text in (f"{ch * 4}Ω", f"abc{ch}", f"Ω{ch}abcdefghijk", ch):
            assert script_language(text) == ref_script(text), f"U+{cp:04X}"


@pytest.mark.parametrize("seed", range(2))
def test_symbol_heads_are_found_where_a_substring_test_finds_them(seed: int) -> None:
    matcher = RuleEngine(load_default_rules()).matcher
    assert matcher._symbols is not None
    keys = matcher._symbols.keys()  # the automaton's keys (a list)
    heads = sorted({key[:2] for key in keys})
    edge = [*heads, "😡", ":", "-", "a", "é", "Ω", "中", "\U0001f600", "\x7f", "\x80"]
    one_char = SymbolHeads(["😡", "x"])  # heads of one character, at the very end too
    assert one_char.found_in("abc x")
    assert one_char.found_in("😡")
    assert not one_char.found_in("")
    for chosen in (heads, [h for h in heads if max(h) <= "\xff"]):
        native = SymbolHeads(chosen)
        for text in random_texts(20_000, seed, "".join(edge)):
            assert native.found_in(text) == any(h in text for h in chosen), repr(text)


@pytest.mark.parametrize("seed", range(2))
def test_word_count_random_text(seed: int) -> None:
    """The native count of words (the ``words`` condition) against the reference, on the
    spaced form of random text of every script (CJK characters are words of their own,
    kana and Hangul included where the reference says so)."""
    for text in random_texts(20_000, seed):
        s = spaced(normalize(text))
        assert word_count(s) == ref_word_count(s), repr(s)


def test_word_count_examples() -> None:
    assert word_count(spaced(normalize("Great, another outage!"))) == 3
    assert word_count(spaced(normalize("很好用，谢谢你们！ ok"))) == 8  # 3 + 4 characters, 1
    assert word_count(spaced(normalize("abc漢字def かな 123"))) == 7
    assert word_count(spaced("")) == 0


def test_stopword_table_counts_whole_words_once_each_in_language_order() -> None:
    table = StopwordTable({"de": ("es", "pt"), "la": ("es",), "die": ("de",)}, ("de", "es", "pt"))
    assert table.votes(" la casa de la de ") == {"es": 2, "pt": 1}
    assert table.votes("die de") == {"de": 1, "es": 1, "pt": 1}
    assert table.votes(" lade delà ladie ") == {}  # only whole words
    assert table.votes(" casa dela ", limit=8) == {"es": 1, "pt": 1}  # "de" of "dela", cut
    assert table.votes("") == {}
    assert StopwordTable({}, ()).votes(" la ") == {}
    for _ in range(3):  # each call counts afresh
        assert table.votes(" die ") == {"de": 1}


@pytest.mark.parametrize(
    ("stopword_langs", "languages"),
    [
        ({"a b": ("en",)}, ("en",)),
        ({"": ("en",)}, ("en",)),
        ({}, tuple(f"l{i}" for i in range(65))),
    ],
)
def test_stopword_table_refuses_what_it_cannot_look_up(
    stopword_langs: dict[str, tuple[str, ...]], languages: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match=r"one word|at most 64"):
        StopwordTable(stopword_langs, languages)
