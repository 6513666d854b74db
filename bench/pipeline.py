"""The prioritizer's per-event cost without Kafka: ``Prioritizer.process`` on batches.

Usage:  .venv/bin/python bench/pipeline.py [--events N] [--runs R] [--profile]
                                          [--survey] [--public] [--customers N]
                                          [--stages | --segments | --count]
                                          [--log-level INFO] 2>/dev/null

Feeds N events of the throughput mix (``bench/throughput.py``) through the pure
pipeline in batches of 2,000 — decode and validation, repeat-contact history, rules,
ticket JSON and headers, changelog records — and prints µs per event, with the rules
and with rule evaluation replaced by a constant (what the rest of the pipeline costs).
The garbage collector is tuned as ``triage run`` tunes it (``service/gc_tuning.py``).
``--profile`` prints the top of a cProfile of one full pass (the profile that guided the
hot-path work: CHANGELOG.md; current figures: docs/performance.md). Median of R runs; the
last line is ``us_per_event=<with rules>``. ``--survey``: every event carries an NPS
answer, as in the burst after a survey mailing (the default mix has one on every third).
``--customers N``: the events come from N customers (50,000 by default, about one ticket
each in a pass of 20,000; 2,500 gives histories of about eight, as a service holds after
days). ``--public``: the texts are public customers' words (the labelled data's dev split, nine
languages, reviews and posts of up to a few KB) instead of the hand-written mix; no
event has a language tag in either, so this is the mix where the language guess most
often needs its model (12–88 % of Latin-script texts, against 1.4 % of the mix's).
``--stages``: µs per event of each stage of the path on its own (median of R runs, no
profiler): where the time goes, and so what a native path has to cover. ``--count``:
instructions per event, counted by cachegrind (``valgrind``, Debian's package): the
script runs itself under ``valgrind --tool=cachegrind`` with one and with three passes
over the events (one pipeline, its customer histories emptied before each pass), with
the rules and with them off, and takes the difference, so the start-up drops out. A
count does not move with the machine's load, which a timing does: use it to compare two
commits (``--events 2000``: a few minutes).
``--segments``:
the same stages timed inside the pipeline as it runs (each collaborator of
``Prioritizer.process`` wrapped in a timer, the loop itself unchanged; the rest is the
loop's own work). A stage costs more there than alone: the stages share the caches and
the batch's outputs stay alive until it ends.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from candidates import _without_rules  # noqa: E402  (sibling scripts)
from throughput import make_events, public_texts  # noqa: E402

from schemas.common import rfc3339  # noqa: E402
from service import gc_tuning  # noqa: E402
from service.clock import SystemClock  # noqa: E402
from service.cloudevents import ticket_headers  # noqa: E402
from service.config import Settings  # noqa: E402
from service.observability.logging import configure_logging  # noqa: E402
from service.prioritizer.decode import DecodeLimits, decode_feedback  # noqa: E402
from service.prioritizer.history import CustomerCodec, CustomerHistory  # noqa: E402
from service.prioritizer.pipeline import Prioritizer, Topics  # noqa: E402
from service.prioritizer.ticket_json import ticket_json  # noqa: E402
from service.records import InRecord  # noqa: E402
from service.rules import RuleEngine, load_default_rules  # noqa: E402
from service.rules.engine import ticket_id_for  # noqa: E402
from service.rules.text import normalize  # noqa: E402
from service.sentiment.model import prepare  # noqa: E402
from service.sla.policy import load_policy  # noqa: E402

BATCH = 2000
PARTITIONS = 4


def prioritizer() -> Prioritizer:
    p = Prioritizer(
        RuleEngine(load_default_rules()),
        Topics("tickets", "dlq", customer_changelog="customers"),
        DecodeLimits(),
        SystemClock(),
    )
    fresh_histories(p)
    return p


def fresh_histories(p: Prioritizer) -> None:
    """Every partition owned, with no customer remembered (as a new pipeline starts)."""
    assert p.state is not None
    for n in range(PARTITIONS):
        p.state.restore(n, [])


def records(
    n: int, score_every: int = 3, public: bool = False, customers: int = 50_000
) -> list[InRecord]:
    texts = public_texts() if public else None
    events = make_events(n, score_every=score_every, texts=texts, customers=customers)
    return [
        InRecord("feedback", i % PARTITIONS, i, key, value) for i, (key, value) in enumerate(events)
    ]


def one_pass(p: Prioritizer, recs: Sequence[InRecord]) -> float:
    """Seconds for every record, batch by batch."""
    started = time.perf_counter()
    for i in range(0, len(recs), BATCH):
        p.process(recs[i : i + BATCH])
    return time.perf_counter() - started


def stages(recs: Sequence[InRecord], runs: int) -> None:
    """Each stage of the per-event path timed alone, in the order the pipeline runs them."""
    limits, now = DecodeLimits(), SystemClock().now()
    engine = RuleEngine(load_default_rules())
    matcher, model = engine.matcher, engine.text_model
    events = [decode_feedback(r.value, limits, now, r.headers) for r in recs]
    texts = [e.text for e in events]
    normalized = [normalize(t) for t in texts]
    prepared = [prepare(matcher.scan(n).spaced, n) for n in normalized]
    assessments = [engine.assess(e) for e in events]
    policy = load_policy()
    created = rfc3339(now)
    ids = [ticket_id_for(e.event_id) for e in events]

    history = CustomerHistory()
    window = engine.repeat_window

    codec = CustomerCodec()

    def remember(i: int) -> None:
        e = events[i]
        history.recent(e.customer.id, e.occurred_at, window, exclude=ids[i])
        history.record(e.customer.id, ids[i], e.occurred_at, negative=False)
        history.changed()  # dropped here; the changelog stage encodes it

    def remember_and_encode(i: int) -> None:
        e = events[i]
        history.recent(e.customer.id, e.occurred_at, window, exclude=ids[i])
        history.record(e.customer.id, ids[i], e.occurred_at, negative=False)
        codec.changes(history)

    idx = range(len(recs))
    # each stage over every event, results dropped (as the pipeline drops them)
    parts: list[tuple[str, Callable[[int], object]]] = [
        (
            "decode + validate",
            lambda i: decode_feedback(recs[i].value, limits, now, recs[i].headers),
        ),
        ("ticket id", lambda i: ticket_id_for(events[i].event_id)),
        ("customer history", remember),
        ("normalize", lambda i: normalize(texts[i])),
        ("lexicon scan", lambda i: matcher.scan(normalized[i])),
        ("text model", lambda i: model.negativity(prepared[i]) if model else 0.0),
        ("facts (normalize, scan, language, tone)", lambda i: engine.facts(events[i])),
        ("assess (facts, then the rules)", lambda i: engine.assess(events[i])),
        (
            "ticket JSON",
            lambda i: ticket_json(events[i], assessments[i], ids[i], created, "v", policy),
        ),
        ("ticket headers (CloudEvents)", lambda i: ticket_headers(ids[i], created)),
        ("customer history + its changelog record", remember_and_encode),
    ]
    print(f"{'stage':48} µs/event")
    took: dict[str, float] = {}
    for name, run in parts:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            for i in idx:
                run(i)
            times.append((time.perf_counter() - started) / len(recs) * 1e6)
        took[name] = statistics.median(times)
        print(f"{name:48} {took[name]:8.1f}")
    # the model predicts only when a rule's outcome depends on it, during the rules
    print("(assess − facts: the rules, with the text model for the events they ask it for)")
    path = ("decode + validate", "ticket id", "assess (facts, then the rules)", "ticket JSON")
    rest = ("ticket headers (CloudEvents)", "customer history + its changelog record")
    total = sum(took[k] for k in (*path, *rest))  # the changelog stage includes the history
    print(f"stages_us_per_event={total:.1f}")


def segments(recs: Sequence[InRecord], runs: int) -> None:
    """µs per event of each collaborator of ``Prioritizer.process`` as the pipeline calls
    it: each is replaced, in the module or on the object that the loop reads it from, by
    a wrapper that adds its time (about 0.2 µs a call of the timer itself)."""
    from service import partition_state
    from service.prioritizer import history as history_module
    from service.prioritizer import pipeline as pipeline_module

    took: dict[str, float] = {}
    clock = time.perf_counter

    def timed(name: str, fn: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args: object, **kwargs: object) -> object:
            started = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                took[name] = took.get(name, 0.0) + clock() - started

        return wrapper

    # (where the loop reads it from, the attribute, the segment's name)
    parts: list[tuple[object, str, str]] = [
        (pipeline_module, "decode_feedback", "decode + validate"),
        (pipeline_module, "ticket_id_for", "ticket id"),
        (history_module.CustomerHistory, "recent", "history: recent"),
        (pipeline_module, "ticket_json", "ticket JSON"),
        (history_module.CustomerHistory, "record", "history: record"),
        (pipeline_module, "ticket_headers", "ticket headers (CloudEvents)"),
        (pipeline_module, "new_out_record", "output records"),
        (partition_state.PartitionedState, "changelog_records", "changelog records"),
    ]
    for owner, attr, name in parts:
        setattr(owner, attr, timed(name, getattr(owner, attr)))
    totals: list[float] = []
    per_run: list[dict[str, float]] = []
    for _ in range(runs):
        p = prioritizer()
        # (an instance attribute: the loop reads ``self.engine.assess``)
        parts_of_run = [(p.engine, "assess", "assess (facts, then the rules)")]
        for owner, attr, name in parts_of_run:
            setattr(owner, attr, timed(name, getattr(owner, attr)))
        took.clear()
        totals.append(one_pass(p, recs) / len(recs) * 1e6)
        per_run.append({k: v / len(recs) * 1e6 for k, v in took.items()})
    total = statistics.median(totals)
    print(f"{'segment, inside the pipeline':48} µs/event")
    for name in per_run[0]:
        print(f"{name:48} {statistics.median(r[name] for r in per_run):8.1f}")
    rest = total - sum(statistics.median(r[name] for r in per_run) for name in per_run[0])
    print(f"{'the loop itself (and the timers)':48} {rest:8.1f}")
    print(f"segments_us_per_event={total:.1f}")


def instructions_of(report: str) -> int:
    """The instructions a cachegrind report counted (its ``I refs`` line)."""
    found = re.search(r"I\s+refs:\s+([\d,]+)", report)
    if found is None:
        raise ValueError(f"no instruction count in: {report[-500:]!r}")
    return int(found.group(1).replace(",", ""))


def count(args: argparse.Namespace) -> None:
    """Instructions per event, with the rules and with them off (``--count``)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("--count needs valgrind (Debian: apt-get install valgrind)")
    mix = [
        *(["--public"] if args.public else []),
        *(["--survey"] if args.survey else []),
        *("--customers", str(args.customers)),
    ]

    def instructions(passes: int, rules_off: bool) -> int:
        argv = [
            *(valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"),
            *(sys.executable, __file__, "--events", str(args.events), *mix),
            *("--passes", str(passes), *(["--rules-off"] if rules_off else [])),
        ]
        # the same hash seed in every run: dicts and sets of strings iterate alike
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
        return instructions_of(done.stderr)

    per_event = {
        rules_off: (instructions(3, rules_off) - instructions(1, rules_off)) / (2 * args.events)
        for rules_off in (False, True)
    }
    full, bare = per_event[False], per_event[True]
    print(f"with rules:    {full:9,.0f} instructions/event")
    print(f"rules off:     {bare:9,.0f} instructions/event")
    print(f"instructions_per_event={full:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--stages", action="store_true", help="µs per stage, then exit")
    parser.add_argument(
        "--segments", action="store_true", help="µs per stage inside the pipeline, then exit"
    )
    parser.add_argument(
        "--survey",
        action="store_true",
        help="every event carries an NPS answer (a survey mailing), not every third",
    )
    parser.add_argument(
        "--public",
        action="store_true",
        help="texts of the public labelled data's dev split, not the hand-written mix",
    )
    parser.add_argument(
        "--customers",
        type=int,
        default=50_000,
        help="how many customers the events come from (fewer: longer histories, each "
        "changelog record longer, as in a service that has run for days)",
    )
    parser.add_argument(
        "--log-level", default="INFO", help="as in production (TRIAGE_LOG_LEVEL's default)"
    )
    parser.add_argument(
        "--count", action="store_true", help="instructions per event (cachegrind), then exit"
    )
    # what ``--count`` runs under cachegrind: this many passes, no output
    parser.add_argument("--passes", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--rules-off", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count:
        count(args)
        return
    configure_logging(args.log_level, "json")  # log lines go to stderr
    recs = records(
        args.events,
        score_every=1 if args.survey else 3,
        public=args.public,
        customers=args.customers,
    )
    one_pass(prioritizer(), recs[:500])  # warm up: imports, the language model
    # the collector as ``triage run`` sets it once started (TRIAGE_GC_GEN0_THRESHOLD)
    gc_tuning.tune(Settings().gc_gen0_threshold)
    if args.passes:
        if args.rules_off:
            _without_rules()
        p = prioritizer()  # built once: its construction is start-up, in every count alike
        for _ in range(args.passes):
            fresh_histories(p)
            one_pass(p, recs)
        return
    if args.stages:
        stages(recs, args.runs)
        return
    if args.segments:
        segments(recs, args.runs)
        return
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(one_pass, prioritizer(), recs)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    # a fresh pipeline per run (so every run records every customer's ticket anew)
    with_rules = [one_pass(prioritizer(), recs) / len(recs) * 1e6 for _ in range(args.runs)]
    _without_rules()
    without = [one_pass(prioritizer(), recs) / len(recs) * 1e6 for _ in range(args.runs)]
    full, bare = statistics.median(with_rules), statistics.median(without)
    print(f"with rules:    {full:7.1f} µs/event ({1e6 / full:,.0f} events/s on one core)")
    print(f"rules off:     {bare:7.1f} µs/event ({1e6 / bare:,.0f} events/s on one core)")
    print(f"us_per_event={full:.1f}")


if __name__ == "__main__":
    main()
