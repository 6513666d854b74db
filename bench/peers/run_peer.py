"""Throughput of one scoring host — a peer framework or triage itself — on a backlog.

Usage:  python bench/peers/run_peer.py --peer {quix,faststream,triage} [--events N]
            [--runs R] [--partitions P] [--timeout S]

Each run creates fresh input and output topics (P partitions, default 4) on the broker
named by ``KAFKA_BOOTSTRAP_SERVERS`` (else an embedded one), preloads N realistic
multilingual feedback events (``bench/throughput.py``'s ``make_events``), starts the host
as a child process and counts the tickets arriving on the output topic. The rate is
taken from the first ticket's arrival to the last one's, so the start-up and the group
join are excluded, as in ``bench/throughput.py``. Every ticket must arrive, keyed by the
ticket id its event should get; then the host gets SIGTERM and must exit 0 within 15 s.

The hosts share one command line: ``--bootstrap HOST:PORT --input T --output T --group G``
(``quix_host.py``, ``faststream_host.py``). ``triage`` is ``triage run --role
prioritizer`` configured through its ``TRIAGE_*`` variables instead, with its defaults
(repeat contacts on, so it also keeps customer histories and writes their changelog;
the peers do not: see ``scoring.py``).

Prints each run's rate and the median; the last line is ``events_per_s=…``. Exits 1
when a ticket is missing or wrong, or the host failed or did not stop cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import sys
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: sibling scripts

from harness import Child, broker, preload, start_triage, stop_on_sigterm, tag, ticket_ids
from throughput import make_events, peer_python

from service.kafka.admin import ensure_topics
from service.observability.logging import configure_logging

HOSTS = {"quix": "bench/peers/quix_host.py", "faststream": "bench/peers/faststream_host.py"}
PEERS = [*HOSTS, "triage"]


class PeerFailed(RuntimeError):
    pass


async def start_host(peer: str, bootstrap: str, inp: str, out: str, group: str) -> Child:
    """Start the host; peers are not waited for (the rate excludes their start-up)."""
    if peer == "triage":
        run = tag()
        topics = {
            "topic_feedback": inp,
            "topic_tickets": out,
            "topic_dlq": f"peer.dlq.{run}",
            "topic_activity": f"peer.act.{run}",
            "topic_escalations": f"peer.esc.{run}",
            "topic_customer_changelog": f"peer.customers.{run}",
        }
        return await start_triage(bootstrap, topics, group, partitions=4)
    argv = [HOSTS[peer], "--bootstrap", bootstrap, "--input", inp, "--output", out]
    return await Child.start(peer, [*argv, "--group", group], {}, python=peer_python(peer))


async def count_tickets(
    bootstrap: str, topic: str, expected: list[bytes], host: Child, timeout: float
) -> float:
    """Read ``topic`` until every expected ticket id arrived; the rate first → last."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:  # metadata not loaded yet
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in parts])
        await consumer.seek_to_beginning()
        missing = set(expected)
        seen, first, last = 0, 0.0, 0.0
        deadline = time.monotonic() + timeout
        while missing and time.monotonic() < deadline:
            if not host.running:
                raise PeerFailed(f"{host.name} exited with code {host.proc.returncode}")
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    if record.key not in missing:
                        raise PeerFailed(f"unexpected or repeated ticket key {record.key!r}")
                    if not record.value or not record.value.startswith(b"{"):
                        raise PeerFailed(f"ticket {record.key!r} is not JSON")
                    missing.discard(record.key)
                    seen += 1
                    if seen == 1:
                        first = now
                    last = now
        if missing:
            raise PeerFailed(f"only {seen}/{len(expected)} tickets arrived within {timeout} s")
        n = len(expected)
        return (n - 1) / (last - first) if last > first else float("inf")
    finally:
        await consumer.stop()


async def one_run(bootstrap: str, peer: str, n: int, partitions: int, timeout: float) -> float:
    run = tag()
    inp, out, group = f"peer.in.{run}", f"peer.out.{run}", f"peer-{peer}-{run}"
    await ensure_topics({"bootstrap_servers": bootstrap}, dict.fromkeys([inp, out], partitions))
    events = make_events(n)
    await preload(bootstrap, inp, events)
    host = await start_host(peer, bootstrap, inp, out, group)
    try:
        rate = await count_tickets(bootstrap, out, ticket_ids(events), host, timeout)
    except BaseException as exc:
        await host.stop(5)
        if isinstance(exc, PeerFailed):
            raise PeerFailed(f"{exc}\n--- {peer} output:\n{host.log_tail()}") from None
        raise
    tail = host.log_tail()
    code = await host.stop(15)
    if code != 0:
        raise PeerFailed(f"{peer} exited with code {code} after SIGTERM:\n{tail}")
    return rate


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", choices=PEERS, required=True)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--timeout", type=float, default=None, help="s for all tickets (default: N/100 + 60)"
    )
    args = parser.parse_args()
    configure_logging("ERROR", "console")
    timeout = args.timeout if args.timeout is not None else args.events / 100 + 60
    restore = stop_on_sigterm()
    try:
        async with broker() as bootstrap:
            rates = []
            for i in range(args.runs):
                try:
                    rate = await one_run(
                        bootstrap, args.peer, args.events, args.partitions, timeout
                    )
                except PeerFailed as exc:
                    print(f"run {i + 1} {args.peer}: FAILED: {exc}", file=sys.stderr)
                    return 1
                rates.append(rate)
                print(f"run {i + 1} {args.peer:10s} {rate:10,.0f} events/s", flush=True)
            median = statistics.median(rates)
            print(f"median {args.peer:10s} {median:10,.0f} events/s ({args.events:,} events)")
            print(f"events_per_s={median:.0f}")
            return 0
    except asyncio.CancelledError:  # SIGTERM: the children and the broker are stopped
        print("interrupted", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        restore()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
