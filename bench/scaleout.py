"""Scale-out: the prioritizer with 1 and 2 instances in one consumer group, and with
1, 2, 4 and 8 partitions.

Usage:  .venv/bin/python bench/scaleout.py [--events N] [--runs R]

Unlike ``bench/throughput.py`` (backlog preloaded, then the candidate starts), the
instances start first, and the events are produced only once every instance owns
partitions: several members joining a group rebalance it, and a rebalance in the middle
of the measurement would measure the join, not the work. The rate is taken from the
arrival of the tickets, first to last. The machine has two cores and the broker runs on
it too, so a second instance competes with the broker and the reader for CPU: read the
figures as what a second process adds here, not as a cluster's scaling curve.
Last line: ``speedup=<2 instances / 1 instance>`` (4 partitions).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import uuid

from harness import broker, preload  # sibling scripts
from throughput import command, make_events, rate_of_arrivals

from service.kafka.admin import ensure_topics

READY_TIMEOUT = 60.0


async def run(bootstrap: str, n: int, partitions: int, instances: int) -> float:
    tag = uuid.uuid4().hex[:8]
    inp, out, group = f"scale.in.{tag}", f"scale.out.{tag}", f"scale-{tag}"
    await ensure_topics({"bootstrap_servers": bootstrap}, {inp: partitions, out: partitions})
    procs = [
        await asyncio.create_subprocess_exec(
            *command("triage", bootstrap, inp, out, group, partitions),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(min(instances, partitions))
    ]
    try:
        for proc in procs:  # each prints "ready" once it owns a partition
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), READY_TIMEOUT)
            if line.strip() != b"ready":
                raise RuntimeError(f"an instance exited before it was ready: {line!r}")
        watcher = asyncio.create_task(rate_of_arrivals(bootstrap, out, n, 60 + n / 200))
        await preload(bootstrap, inp, make_events(n))
        return await watcher
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 15)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="only 4 partitions, 1 and 2")
    args = parser.parse_args()
    setups = [(4, 1), (4, 2), (1, 1), (2, 1), (8, 1), (8, 2)]
    if args.quick:
        setups = [(4, 1), (4, 2)]
    async with broker() as bootstrap:
        rates: dict[tuple[int, int], list[float]] = {s: [] for s in setups}
        for r in range(args.runs):
            for partitions, instances in setups:
                rate = await run(bootstrap, args.events, partitions, instances)
                rates[(partitions, instances)].append(rate)
                print(
                    f"run {r + 1} partitions={partitions} instances={instances} "
                    f"{rate:10,.0f} events/s",
                    flush=True,
                )
    med = {s: statistics.median(v) for s, v in rates.items()}
    for (partitions, instances), rate in med.items():
        print(f"median partitions={partitions} instances={instances} {rate:10,.0f} events/s")
    print(f"speedup={med[(4, 2)] / med[(4, 1)]:.2f}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    sys.exit(0)
