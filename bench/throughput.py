"""Throughput of the prioritizer against passthroughs and peers, all in the same run.

Usage:  .venv/bin/python bench/throughput.py [--events N] [--runs R] [--partitions P]
                                            [--peers] [--peer-events M] [--only a,b]
                                            [--public]

Every candidate (``bench/candidates.py``; with ``--peers`` also ``bench/peers/``) runs as
its own process, as it would in production. Each run of a candidate gets fresh topics;
N realistic multilingual feedback events are preloaded; then the candidate starts and the
rate is taken from the arrival of its outputs on the output topic, first to last, so
start-up and the consumer-group join are excluded. Candidates:

- ``send``            aiokafka passthrough, one ``send()`` per record (the reference);
- ``batch``           aiokafka passthrough with the batch API (the ceiling of the stack);
- ``triage``          the prioritizer with its full rules and production defaults;
- ``triage-norules``  the same pipeline with rule evaluation replaced by a constant;
- ``quix``, ``faststream`` (``--peers``): the same scoring function in Quix Streams and
  FastStream (FastStream is slow: it gets ``--peer-events`` events).

``--public``: the events carry texts of the public labelled data's dev split (real
customers' words, up to a few KB) instead of the hand-written mix (``public_texts``).

Prints each run, the medians of R runs and the ratios; the last line is
``ratio=<triage / send>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from harness import broker, preload  # a sibling script

from service.kafka.admin import ensure_topics

TEXTS = [
    "I have been waiting three days for an answer. If nobody calls me today I will cancel my subscription.",
    "Great app, the new dashboard saves me an hour every week. Thank you!",
    "The export to CSV fails with error 500 since this morning, our whole team is blocked.",
    "Η παραγγελία μου άργησε δύο εβδομάδες και κανείς δεν απαντά. Θέλω επιστροφή χρημάτων.",
    "Πολύ καλή εξυπηρέτηση, ευχαριστώ για τη γρήγορη βοήθεια!",
    "你们的客服太差了，我已经等了三天，再不解决我就要投诉到消协。",
    "非常好用，界面清晰，推荐给朋友了。",
    "Приложение постоянно вылетает, я потерял все данные. Верните деньги!",
    "Спасибо, всё работает отлично, очень доволен.",
    "Sovellus kaatuu joka kerta kun yritän maksaa. Olen todella pettynyt.",
    "Kiitos nopeasta avusta, palvelu oli erinomaista!",
    "How do I add a second user to my account?",
]
CHANNELS = ["nps_survey", "review", "email", "chat", "social_media", "in_app", "app_store"]
TIERS = ["free", "standard", "premium", "enterprise"]


def text_mix() -> list[str]:
    """The everyday mix of ``bench/rules_bench.py`` (hand-written messages of 20–300
    characters in nine languages, 371 of them) plus ``TEXTS``."""
    from rules_bench import events as rule_events  # a sibling script

    return TEXTS + [e.text for e in rule_events("short")]


def public_texts(limit: int = 20_000) -> list[str]:
    """Up to ``limit`` texts of the public labelled feedback's dev split (TRIAGE_DATA_DIR
    or ../shared/data): real customers' words in nine languages, every k-th line."""
    from accuracy import corpus_split  # a sibling script

    lines = corpus_split(None, "dev")
    if not lines:
        raise SystemExit("no public data folder (TRIAGE_DATA_DIR or ../shared/data)")
    return [line.text for line in lines[:: max(1, len(lines) // limit)]]


def make_events(
    n: int,
    seed: int = 7,
    score_every: int = 3,
    texts: Sequence[str] | None = None,
    customers: int = 50_000,
) -> list[tuple[bytes, bytes]]:
    """``n`` feedback events (key: customer id) of about 0.4–1 KB: texts of the mix
    (or of ``texts``; none has a language tag), every channel and tier, an NPS score on
    every ``score_every``-th (1: every event, as after a survey mailing), from customers
    drawn at random among ``customers``."""
    rnd = random.Random(seed)
    now = datetime.now(UTC).isoformat()
    texts = texts or text_mix()
    out = []
    for i in range(n):
        cid = f"cust-{rnd.randrange(customers)}"
        event: dict[str, object] = {
            "event_id": f"bench-{uuid.uuid4().hex}",
            "occurred_at": now,
            "channel": rnd.choice(CHANNELS),
            "customer": {"id": cid, "tier": rnd.choice(TIERS)},
            "text": rnd.choice(texts),
        }
        if i % score_every == 0:
            event["nps_score"] = rnd.randrange(11)
        out.append((cid.encode(), orjson.dumps(event)))
    return out


async def rate_of_arrivals(bootstrap: str, topic: str, n: int, timeout: float) -> float:
    """Events/s between the first and the last of ``n`` records arriving on ``topic``."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    try:
        seen, first, last = 0, 0.0, 0.0
        deadline = time.monotonic() + timeout
        while seen < n and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            got = sum(len(v) for v in batch.values())
            if got:
                now = time.perf_counter()
                if seen == 0:
                    first = now
                seen += got
                last = now
        if seen < n:
            raise RuntimeError(f"only {seen}/{n} outputs arrived within {timeout} s")
        return (n - 1) / (last - first) if last > first else float("inf")
    finally:
        await consumer.stop()


BENCH = Path(__file__).resolve().parent
CANDIDATES = ("send", "batch", "triage-norules", "triage")
PEERS = {
    "quix": BENCH / "peers" / "quix_host.py",
    "faststream": BENCH / "peers" / "faststream_host.py",
}


def peer_python(name: str) -> str:
    """The interpreter of a peer: Quix Streams caps pydantic below this project's lock, so
    it lives in a venv of its own (``make bench-quix``: ``.venv-quix``, or ``QUIX_PYTHON``)."""
    if name == "quix":
        own = os.environ.get("QUIX_PYTHON") or str(BENCH.parent / ".venv-quix" / "bin" / "python")
        if Path(own).exists():
            return own
    return sys.executable


def command(
    name: str, bootstrap: str, inp: str, out: str, group: str, partitions: int
) -> list[str]:
    """The command line of a candidate process (all share one interface)."""
    script = PEERS.get(name)
    if script is None:
        head = [sys.executable, str(BENCH / "candidates.py"), name]
    else:
        head = [peer_python(name), str(script)]
    tail = ["--bootstrap", bootstrap, "--input", inp, "--output", out, "--group", group]
    return head + tail + ([] if script else ["--partitions", str(partitions)])


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, a bounded wait, then SIGKILL: no process outlives a run."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def one_run(
    bootstrap: str,
    name: str,
    n: int,
    partitions: int,
    instances: int = 1,
    texts: Sequence[str] | None = None,
) -> float:
    """Preload ``n`` events (with ``texts``, or the mix), start ``instances`` processes of
    candidate ``name``, return the arrival rate of their outputs."""
    tag = uuid.uuid4().hex[:8]
    inp, out, group = f"bench.in.{tag}", f"bench.out.{tag}", f"bench-{name}-{tag}"
    await ensure_topics({"bootstrap_servers": bootstrap}, {inp: partitions, out: partitions})
    await preload(bootstrap, inp, make_events(n, texts=texts))
    watcher = asyncio.create_task(rate_of_arrivals(bootstrap, out, n, 60 + n / 200))
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(instances)]
        procs = [
            subprocess.Popen(
                command(name, bootstrap, inp, out, group, partitions),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            for log in logs
        ]
        for proc in procs:
            stack.callback(stop_process, proc)
        while not watcher.done():
            await asyncio.wait({watcher}, timeout=0.5)
            dead = [p for p in procs if p.poll() is not None]
            if dead and not watcher.done():
                watcher.cancel()
                log = logs[procs.index(dead[0])]
                log.seek(0)
                tail = log.read().decode(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {dead[0].returncode}:\n{tail}")
        return watcher.result()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--peers", action="store_true", help="also Quix Streams and FastStream")
    parser.add_argument("--peer-events", type=int, default=5_000, help="events for FastStream")
    parser.add_argument("--only", default="", help="comma-separated candidates to run")
    parser.add_argument(
        "--public",
        action="store_true",
        help="texts of the public labelled data's dev split, not the hand-written mix",
    )
    args = parser.parse_args()
    names = list(CANDIDATES) + (list(PEERS) if args.peers else [])
    if args.only:
        names = [n for n in args.only.split(",") if n]
    async with broker() as bootstrap:
        await measure(bootstrap, args, names)


async def measure(bootstrap: str, args: argparse.Namespace, names: list[str]) -> None:
    results: dict[str, list[float]] = {name: [] for name in names}
    texts = public_texts() if args.public else None
    for run in range(args.runs):
        for name in names:
            n = min(args.events, args.peer_events) if name == "faststream" else args.events
            rate = await one_run(bootstrap, name, n, args.partitions, texts=texts)
            results[name].append(rate)
            print(f"run {run + 1} {name:15s} {rate:10,.0f} events/s  ({n:,} events)", flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    for name in names:
        print(f"median {name:15s} {med[name]:10,.0f} events/s")
    ratios = [
        ("triage / send", "triage", "send"),
        ("triage-norules / batch", "triage-norules", "batch"),
        ("triage / quix", "triage", "quix"),
        ("triage / faststream", "triage", "faststream"),
    ]
    for label, num, den in ratios:
        if num in med and den in med:
            print(f"{label:24s} {med[num] / med[den]:8.2f}")
    # without both (``--only``) there is no ratio to give
    ratio = med["triage"] / med["send"] if "triage" in med and "send" in med else float("nan")
    print(f"ratio={ratio:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
