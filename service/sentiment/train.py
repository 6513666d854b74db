"""Training the text model: ``triage model train``.

Steps, in order (each one's output is the next one's input):

1. **Gather** the labelled lines: the public corpus with the project's own written
   support lines (``corpus.py``) and/or a company's own file (``--data``: ``{"text", "label"}`` lines, or
   ``{"event", "expected"}`` lines as ``triage rules test`` reads them, where P1/P2 count
   as ``neg``, P3 as ``neu`` and P4 as ``pos``). Every line's split is fixed by
   ``corpus.split_of``; training reads ``train`` only.
2. **Prepare** each text exactly as the engine does before the model sees it
   (``normalize`` → ``spaced`` → ``prepare``).
3. **Train** a fastText supervised classifier with one thread and a fixed seed, on the
   lines shuffled with that seed (support lines repeated ``support_repeat`` times), so
   the same data and parameters give the same model.
4. **Save** the model unquantized: product quantization would shrink the file but makes
   every prediction several times slower, and hides the rows ``explain`` reads.
5. **Measure on dev**: per language, balanced accuracy of ``neg`` against ``pos`` at
   0.5 and at the best threshold (the figures behind the rule file's thresholds), and
   per source; written into ``model.json`` with the data's checksums and the parameters.
"""

from __future__ import annotations

import hashlib
import json
import random
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fasttext

from service.rules.text import MAX_ANALYSED_CHARS, normalize, spaced
from service.sentiment.corpus import Example, corpus_files, read_file, split_of, written_files
from service.sentiment.model import CARD_FILE, MODEL_FILE, TextModel, prepare

#: The domain of support messages (written lines and a company's own), repeated in training.
SUPPORT = "support"
_PRIORITY_LABEL = {"P1": "neg", "P2": "neg", "P3": "neu", "P4": "pos"}


@dataclass(frozen=True, slots=True)
class TrainParams:
    """fastText's parameters (chosen on the dev splits; see docs/model.md)."""

    lr: float = 0.5
    epoch: int = 5
    dim: int = 8
    word_ngrams: int = 2
    minn: int = 3
    maxn: int = 3
    bucket: int = 600_000
    min_count: int = 2
    #: times each support line (the project's written lines, a company's own file) is
    #: repeated in training: a few thousand of them against 150,000 public reviews and
    #: posts would otherwise hardly move the model
    support_repeat: int = 20
    seed: int = 13


@dataclass(slots=True)
class TrainReport:
    directory: Path
    seconds: float
    lines: dict[str, int]
    dev: dict[str, Any] = field(default_factory=dict)


def prepared_text(text: str) -> str:
    """What the model reads of a text: as the engine prepares it (step 2)."""
    normalized = normalize(text[:MAX_ANALYSED_CHARS])
    return prepare(spaced(normalized), normalized)


def read_own_file(path: Path) -> list[Example]:
    """A company's labelled file (step 1): sentiment lines or priority-labelled events."""
    out: list[Example] = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"{path}:{n}: not JSON: {exc}") from exc
        if "event" in obj:
            event = obj["event"] or {}
            text = " ".join(str(event.get(k) or "") for k in ("subject", "text")).strip()
            label = _PRIORITY_LABEL.get(str(obj.get("expected")), obj.get("sentiment"))
            lang = str(obj.get("lang") or event.get("language") or "und")
        else:
            text, label, lang = obj.get("text"), obj.get("label"), str(obj.get("lang") or "und")
        if label not in ("neg", "neu", "pos") or not isinstance(text, str) or not text:
            raise ValueError(f"{path}:{n}: needs a text and a label (neg|neu|pos or P1..P4)")
        out.append(Example(text, label, lang.split("-")[0].lower(), path.stem, SUPPORT))
    return out


def gather(data_dir: Path | None, own: Sequence[Path] = ()) -> tuple[list[Example], list[Path]]:
    """Every labelled line (step 1) and the files it came from: with ``data_dir``, the
    public corpus and the project's own written lines (what the shipped model learned
    from); then ``own``."""
    files = [*corpus_files(data_dir), *written_files()] if data_dir is not None else []
    examples = [ex for path in files for ex in read_file(path)]
    for path in own:
        examples.extend(read_own_file(path))
    return examples, [*files, *own]


def train(
    examples: Iterable[Example],
    out_dir: Path,
    params: TrainParams = TrainParams(),
    sources: Sequence[Path] = (),
) -> TrainReport:
    """Steps 2–6: train on the ``train`` split, write the model folder, measure on dev."""
    started = time.monotonic()
    by_split: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_split[split_of(ex.source, ex.text)].append(ex)
    if not by_split["train"]:
        raise ValueError("no training lines")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        train_file = Path(tmp) / "train.txt"
        lines = [
            f"__label__{ex.label} {prepared_text(ex.text)}\n"
            for ex in by_split["train"]
            for _ in range(params.support_repeat if ex.domain == SUPPORT else 1)
        ]
        # one shuffle with the seed: the files come language by language
        random.Random(params.seed).shuffle(lines)
        train_file.write_text("".join(lines), encoding="utf-8")
        model = fasttext.train_supervised(
            str(train_file),
            lr=params.lr,
            epoch=params.epoch,
            dim=params.dim,
            wordNgrams=params.word_ngrams,
            minn=params.minn,
            maxn=params.maxn,
            bucket=params.bucket,
            minCount=params.min_count,
            loss="softmax",
            thread=1,
            seed=params.seed,
            verbose=0,
        )
    model.save_model(str(out_dir / MODEL_FILE))
    counts = {split: len(lines) for split, lines in by_split.items()}
    card: dict[str, Any] = {
        "version": _version(by_split["train"], params),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "library": "fastText (fasttext-community), supervised, softmax",
        "params": asdict(params),
        "lines": counts,
        "sources": [_describe_source(p) for p in sources],
        "dev": {},
    }
    (out_dir / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    loaded = TextModel(out_dir)
    dev = measure(loaded, by_split["dev"])
    card["dev"] = dev
    (out_dir / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return TrainReport(out_dir, time.monotonic() - started, counts, dev)


def _version(train_lines: Sequence[Example], params: TrainParams) -> str:
    digest = hashlib.sha256(json.dumps(asdict(params), sort_keys=True).encode())
    for ex in train_lines:
        digest.update(f"{ex.label}\x00{ex.source}\x00{ex.text}\x01".encode())
    return f"{datetime.now(UTC):%Y.%m.%d}-{digest.hexdigest()[:8]}"


def _describe_source(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {
        "file": f"{path.parent.name}/{path.name}",
        "sha256": hashlib.sha256(data).hexdigest(),
        "lines": data.count(b"\n"),
    }


def balanced_accuracy(neg_scores: Sequence[float], pos_scores: Sequence[float], at: float) -> float:
    """Mean of the share of ``neg`` lines at or above ``at`` and of ``pos`` lines below."""
    if not neg_scores or not pos_scores:
        return float("nan")
    hit = sum(s >= at for s in neg_scores) / len(neg_scores)
    rejected = sum(s < at for s in pos_scores) / len(pos_scores)
    return (hit + rejected) / 2


#: Thresholds tried on dev (step 5).
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(4, 20))


def measure(model: TextModel, lines: Sequence[Example]) -> dict[str, Any]:
    """Per language and per source: balanced accuracy of neg vs pos at 0.5 and at the
    best threshold of ``THRESHOLDS`` (step 5)."""
    scored: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(
        lambda: {"neg": [], "pos": [], "neu": []}
    )
    for ex in lines:
        scored[(ex.language, ex.source)][ex.label].append(model.negativity(prepared_text(ex.text)))
    languages: dict[str, Any] = {}
    for lang in sorted({lang for lang, _ in scored}):
        neg = [s for (lg, _), v in scored.items() if lg == lang for s in v["neg"]]
        pos = [s for (lg, _), v in scored.items() if lg == lang for s in v["pos"]]
        best = max(THRESHOLDS, key=lambda t: (balanced_accuracy(neg, pos, t), -abs(t - 0.5)))
        languages[lang] = {
            "n_neg": len(neg),
            "n_pos": len(pos),
            "at_0.5": _round(balanced_accuracy(neg, pos, 0.5)),
            "best_threshold": best,
            "at_best": _round(balanced_accuracy(neg, pos, best)),
            "sources": {
                src: _round(balanced_accuracy(v["neg"], v["pos"], best))
                for (lg, src), v in sorted(scored.items())
                if lg == lang
            },
        }
    return languages


def _round(value: float) -> float | None:
    return None if value != value else round(value, 4)
