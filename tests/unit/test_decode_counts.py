"""The decoder's compiled counts (``service/prioritizer/_decode.pyx``) against the Python
forms they replaced: ``raw.count`` of ``[``, ``{``, ``:`` and the escaped colons, and the
colons of ``orjson.dumps`` of the parsed document, on generated JSON documents whose keys
and strings hold colons, escaped or not, and on the hostile corpus's bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from service.prioritizer._decode import parsed_colons, raw_counts

HOSTILE = Path(__file__).resolve().parents[1] / "data" / "hostile"

#: \x00 in a string stands for a colon written escaped (``\u003a`` in the raw bytes)
#: (texts of each storage width: a byte, two and four bytes a character, for the C count)
text = st.text(alphabet=st.sampled_from(':"\\{}[]a é中😀\n\u2028\x00'), max_size=12)
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
documents = st.recursive(
    st.none() | st.booleans() | int64 | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20,
)


def reference_raw(raw: bytes) -> tuple[int, int]:
    return (
        raw.count(b"[") + raw.count(b"{"),
        raw.count(b":") + raw.count(b"\\u003a") + raw.count(b"\\u003A"),
    )


@settings(max_examples=400)
@given(documents, st.booleans())
def test_counts_agree_with_the_python_forms(document: Any, escape: bool) -> None:
    raw = orjson.dumps(document)
    if escape:  # the stand-ins, which JSON writes \u0000, as escaped colons
        raw = json.dumps(document).replace("\\u0000", "\\u003a").encode()
    parsed = orjson.loads(raw)
    assert raw_counts(raw) == reference_raw(raw)
    assert parsed_colons(parsed) == orjson.dumps(parsed).count(b":")


def test_counts_on_the_hostile_corpus() -> None:
    for path in sorted(HOSTILE.glob("*")):
        if path.suffix == ".json" and path.name == "MANIFEST.json":
            continue
        raw = path.read_bytes()
        assert raw_counts(raw) == reference_raw(raw), path.name
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        assert parsed_colons(parsed) == orjson.dumps(parsed).count(b":"), path.name


def test_an_escape_cut_short_at_the_end_is_no_colon() -> None:
    assert raw_counts(b'"\\u003') == (0, 0)
    assert raw_counts(b'"\\u003A"') == (0, 1)
    assert raw_counts(b"\\\\u003a") == reference_raw(b"\\\\u003a")


#: the bytes the counts look at, the start of an escaped colon, and one that is none
_COUNTED = st.sampled_from([b"[", b"{", b":", b"\\", b"\\u003a", b"\\u003A", b"\\u003", b"x"])


@settings(max_examples=400)
@given(st.lists(_COUNTED, max_size=40), st.integers(min_value=0, max_value=7))
def test_counts_across_the_eight_byte_words(parts: list[bytes], shift: int) -> None:
    """Any bytes, the counted ones falling anywhere in and across the words the scan reads
    eight at a time (an escape that starts in one word and ends in the next included)."""
    raw = b"x" * shift + b"".join(parts)
    assert raw_counts(raw) == reference_raw(raw)
