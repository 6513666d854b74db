"""How fast SLA clocks are back after an instance dies (``kill -9``), on a real broker.

Usage:  .venv/bin/python bench/failover.py [--runs 3] [--clocks 20] [--partitions 4]
                                           [--scenario restart|survivor|handover|floor|all]

Each run uses fresh topics and groups and ``triage run`` child processes (role ``all``)
with an SLA policy whose targets are ``--target`` seconds for every priority:

* **restart**: one instance (``TRIAGE_INSTANCE_ID=triage-0``) holds ``--clocks`` open
  clocks, is killed with SIGKILL ``--lead`` seconds before their deadline and started
  again at once with the same instance id. Measured from the kill: when the new process
  owns its partitions again (``/readyz`` answers 200: every loop joined with an
  assignment), when the first and the last breach were emitted (their ``emitted_at``);
  and how late the breaches were (``emitted_at - due_at``).
* **survivor**: two instances share the clocks; one is killed ``--lead`` seconds before
  the deadline and not restarted. Measured: when the survivor owns the dead one's
  partitions (its ``triage_assigned_partitions`` for the tickets topic reaches all of
  them), when the last breach was emitted (the dead one's clocks: from the survivor's
  standby clocks while the group rebalances, ``service.sla.standby``, or after the
  takeover with ``TRIAGE_SLA_STANDBY=false``) and how late the breaches were, against
  the session timeout.
* **handover**: as survivor, but the instance is stopped with SIGTERM (a deploy): it
  leaves the group as it stops, so the survivor need not wait out its session.
* **floor**: the survivor scenario with no triage in it: two bare aiokafka consumers
  (child processes of this script, ``--member``) in a group with triage's own group
  options (``LoopConfig.consumer_options``: session, heartbeat, static membership); one is
  killed and the other's partitions are timed. What the broker and the client alone take,
  measured in the same run: ``survivor`` minus ``floor`` is triage's own share. A
  survivor that does not own every partition 40 s after the kill counts as ``inf``.

Environment variables ``TRIAGE_*`` reach the children (e.g. ``TRIAGE_SESSION_TIMEOUT_MS``
to try other timeouts). Medians of ``--runs``; the last line is
``restart_owned_s=… survivor_owned_s=…``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.abc import ConsumerRebalanceListener

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import Child, broker, tag  # noqa: E402  (sibling script)

from schemas.escalation import Escalation  # noqa: E402
from service.config import Settings  # noqa: E402
from service.kafka.admin import ensure_topics  # noqa: E402
from service.kafka.embedded import free_port  # noqa: E402
from service.kafka.loop import LoopConfig  # noqa: E402

COMPLAINT = "I am cancelling my subscription, nothing works."
TIMEOUT = 120.0


class Run:
    """One scenario's topics, policy file and children."""

    def __init__(self, bootstrap: str, partitions: int, target: float, dynamic: bool) -> None:
        t = tag()
        self.dynamic = dynamic
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.topics = {
            "topic_feedback": f"fo-feedback-{t}",
            "topic_tickets": f"fo-tickets-{t}",
            "topic_activity": f"fo-activity-{t}",
            "topic_escalations": f"fo-escalations-{t}",
            "topic_dlq": f"fo-dlq-{t}",
            "topic_sla_changelog": f"fo-sla-changelog-{t}",
            "topic_customer_changelog": f"fo-customers-{t}",
        }
        self.groups = {"TRIAGE_GROUP_ID": f"fo-p-{t}", "TRIAGE_SLA_GROUP_ID": f"fo-s-{t}"}
        policy = tempfile.NamedTemporaryFile(  # noqa: SIM115
            "w", prefix="fo-policy-", suffix=".yaml", delete=False
        )
        policy.write(
            'version: "failover-bench"\nwarning_fractions: []\nbreach_multipliers: [1]\n'
            f"target_seconds: {{P1: {target}, P2: {target}, P3: {target}, P4: {target}}}\n"
        )
        policy.close()
        self.policy = policy.name

    async def create_topics(self) -> None:
        await ensure_topics(
            {"bootstrap_servers": self.bootstrap},
            dict.fromkeys(self.topics.values(), self.partitions),
        )

    async def start(self, instance: str) -> tuple[Child, int]:
        port = free_port()
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "TRIAGE_TOPIC_PARTITIONS": str(self.partitions),
            "TRIAGE_HTTP_HOST": "127.0.0.1",
            "TRIAGE_HTTP_PORT": str(port),
            "TRIAGE_LOG_LEVEL": os.environ.get("TRIAGE_LOG_LEVEL", "WARNING"),
            "TRIAGE_LOG_FORMAT": "console",
            "TRIAGE_SLA_POLICY_PATH": self.policy,
            "TRIAGE_INSTANCE_ID": "" if self.dynamic else instance,
            **{f"TRIAGE_{k.upper()}": v for k, v in self.topics.items()},
            **self.groups,
        }
        child = await Child.start(instance, ["-m", "service.cli", "run", "--role", "all"], env)
        return child, port

    async def feed(self, n: int) -> None:
        now = datetime.now(UTC).isoformat()
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(n):
                event = {
                    "event_id": f"fo-{i}",
                    "occurred_at": now,
                    "channel": "email",
                    "customer": {"id": f"customer-{i}"},
                    "text": COMPLAINT,
                }
                await producer.send(
                    self.topics["topic_feedback"], orjson.dumps(event), key=f"customer-{i}".encode()
                )
            await producer.flush()
        finally:
            await producer.stop()

    async def breaches(self, n: int, deadline: float) -> list[tuple[float, Escalation]]:
        """The first ``n`` breaches, each with the wall-clock time it was read."""
        consumer = AIOKafkaConsumer(
            self.topics["topic_escalations"],
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        got: dict[str, tuple[float, Escalation]] = {}
        try:
            while len(got) < n and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200)
                seen = time.time()
                for records in batch.values():
                    for r in records:
                        esc = Escalation.model_validate_json(r.value or b"")
                        if esc.kind.value == "sla_breach":
                            got.setdefault(esc.escalation_id, (seen, esc))
        finally:
            await consumer.stop()
        return sorted(got.values(), key=lambda p: p[0])


async def _metric(port: int, name: str, label: str = "") -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        text = (await reader.read()).decode()
    finally:
        writer.close()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and label in line
    )


async def _until(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = TIMEOUT
) -> float:
    """Poll ``check`` (an async callable) until true; the wall-clock time it became so."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await check():
                return time.time()
        except OSError:
            pass
        await asyncio.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


async def _open_clocks(port: int, n: int) -> None:
    async def ready() -> bool:
        return await _metric(port, "triage_sla_open_tickets") >= n

    await _until(ready, f"{n} open clocks")


async def restart(bootstrap: str, args: argparse.Namespace) -> dict[str, float]:
    run = Run(bootstrap, args.partitions, args.target, args.dynamic)
    await run.create_topics()
    first, port = await run.start("triage-0")
    second: Child | None = None
    try:
        await _ready(first, port)
        await run.feed(args.clocks)
        fed = time.time()
        await _open_clocks(port, args.clocks)
        await asyncio.sleep(max(0.0, fed + args.target - args.lead - time.time()))
        first.proc.send_signal(signal.SIGKILL)
        killed = time.time()
        await first.proc.wait()
        second, port2 = await run.start("triage-0")
        owned = await _ready(second, port2)
        got = await run.breaches(args.clocks, time.monotonic() + TIMEOUT)
    finally:
        await first.stop()
        if second is not None:
            await second.stop()
    return _figures(killed, owned, got, args.clocks)


async def survivor(bootstrap: str, args: argparse.Namespace) -> dict[str, float]:
    return await _two(bootstrap, args, graceful=False)


async def handover(bootstrap: str, args: argparse.Namespace) -> dict[str, float]:
    return await _two(bootstrap, args, graceful=True)


async def _two(bootstrap: str, args: argparse.Namespace, graceful: bool) -> dict[str, float]:
    run = Run(bootstrap, args.partitions, args.target, args.dynamic)
    await run.create_topics()
    a, port_a = await run.start("triage-a")
    b, port_b = await run.start("triage-b")
    try:
        await _ready(a, port_a)
        await _ready(b, port_b)

        async def split() -> bool:
            owned = await _metric(port_b, "triage_assigned_partitions", run.topics["topic_tickets"])
            return bool(0 < owned < args.partitions)

        await _until(split, "both instances to own partitions")
        await run.feed(args.clocks)
        fed = time.time()
        await _open_clocks(port_b, 1)
        await asyncio.sleep(max(0.0, fed + args.target - args.lead - time.time()))
        a.proc.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
        killed = time.time()

        async def all_owned() -> bool:
            owned = await _metric(port_b, "triage_assigned_partitions", run.topics["topic_tickets"])
            return bool(owned == args.partitions)

        owned = await _until(all_owned, "the survivor to own every partition")
        got = await run.breaches(args.clocks, time.monotonic() + TIMEOUT)
    finally:
        await a.stop()
        await b.stop()
    if args.show_log:
        print(f"killed at {datetime.fromtimestamp(killed, UTC).isoformat()}")
        print("\n".join(line for line in b.log_tail(200_000).splitlines() if "partition" in line))
        print(
            "\n".join(
                line
                for line in a.log_tail(200_000).splitlines()
                if "group" in line or "stop" in line or "leav" in line or "left" in line
            )
        )
    return _figures(killed, owned, got, args.clocks)


async def floor(bootstrap: str, args: argparse.Namespace) -> dict[str, float]:
    """The survivor scenario with bare consumers (see the module docstring)."""
    topic, group = f"fo-floor-{tag()}", f"fo-floor-{tag()}"
    await ensure_topics({"bootstrap_servers": bootstrap}, {topic: args.partitions})
    member = ["bench/failover.py", "--member", bootstrap, topic, group]
    env = {"TRIAGE_INSTANCE_ID": "" if args.dynamic else "floor"}
    a = await Child.start("floor-a", [*member, "a"], env)
    b = await Child.start("floor-b", [*member, "b"], env)
    try:
        await _until(lambda: _owns(args.partitions, a, b), "both members to own partitions")
        await asyncio.sleep(max(0.0, args.target - args.lead))  # settled, as in ``survivor``
        a.proc.send_signal(signal.SIGKILL)
        killed = time.time()
        try:
            owned = await _until(lambda: _owns(args.partitions, b), "the survivor", 40)
        except TimeoutError:  # the broker never noticed the dead member (static, on Tansu)
            owned = math.inf
    finally:
        await a.stop()
        await b.stop()
    return {"owned_s": owned - killed}


async def _owns(partitions: int, *members: Child) -> bool:
    """Whether ``members`` together own all partitions (the last line each printed)."""
    owned = 0
    for child in members:
        lines = [ln for ln in child.log_tail(2000).splitlines() if ln.startswith("assigned ")]
        owned += int(lines[-1].split()[1]) if lines else 0
        if not child.running:
            raise RuntimeError(f"{child.name} exited:\n{child.log_tail()}")
    return owned == partitions


async def member(bootstrap: str, topic: str, group: str, name: str) -> None:
    """One bare consumer of ``floor``: prints ``assigned N`` at every assignment."""

    class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
        async def on_partitions_revoked(self, revoked: object) -> None:
            print("assigned 0", flush=True)

        async def on_partitions_assigned(self, assigned: set[object]) -> None:
            print(f"assigned {len(assigned)}", flush=True)

    options = LoopConfig.from_settings(Settings()).consumer_options(name)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, **options)
    consumer.subscribe([topic], listener=Listener())
    await consumer.start()
    try:
        for _ in range(int(TIMEOUT * 5)):  # bounded: the parent kills it long before
            await consumer.getmany(timeout_ms=200)
    finally:
        await consumer.stop()


async def _ready(child: Child, port: int) -> float:
    async def ready() -> bool:
        if not child.running:
            raise RuntimeError(f"{child.name} exited:\n{child.log_tail()}")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return (await reader.readline()).split()[1:2] == [b"200"]
        finally:
            writer.close()

    return await _until(ready, f"{child.name} ready")


def _figures(
    killed: float, owned: float, got: list[tuple[float, Escalation]], n: int
) -> dict[str, float]:
    if len(got) < n:
        raise RuntimeError(f"only {len(got)} of {n} breaches were published")
    late = [(e.emitted_at - e.due_at).total_seconds() for _, e in got]
    emitted = [e.emitted_at.timestamp() for _, e in got]
    return {
        "owned_s": owned - killed,
        "first_breach_s": min(emitted) - killed,
        # the last of the n clocks' breaches: the dead instance's, in the survivor scenario
        "last_breach_s": max(emitted) - killed,
        "breach_late_max_s": max(late),
        "deadline_after_kill_s": min(e.due_at.timestamp() for _, e in got) - killed,
    }


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--clocks", type=int, default=20)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--target", type=float, default=30.0, help="SLA target, seconds")
    p.add_argument("--lead", type=float, default=20.0, help="kill this long before the deadline")
    p.add_argument("--dynamic", action="store_true", help="no TRIAGE_INSTANCE_ID")
    p.add_argument("--show-log", action="store_true", help="the survivor's rebalance log")
    p.add_argument(
        "--scenario", choices=["restart", "survivor", "handover", "floor", "all"], default="all"
    )
    p.add_argument("--member", nargs=4, help=argparse.SUPPRESS)  # a child of ``floor``
    args = p.parse_args()
    if args.member:
        await member(*args.member)
        return
    session = os.environ.get("TRIAGE_SESSION_TIMEOUT_MS", "(default)")
    print(f"session timeout {session} ms; {args.clocks} clocks; {args.partitions} partitions")
    medians: dict[str, float] = {}
    async with broker() as bootstrap:
        scenarios = (
            ("restart", restart),
            ("survivor", survivor),
            ("handover", handover),
            ("floor", floor),
        )
        for name, scenario in scenarios:
            if args.scenario not in (name, "all"):
                continue
            results = [await scenario(bootstrap, args) for _ in range(args.runs)]
            for key in results[0]:
                values = [r[key] for r in results]
                print(f"{name:9s} {key:22s} median {statistics.median(values):6.2f}  {values}")
            medians[name] = statistics.median(r["owned_s"] for r in results)
    print(" ".join(f"{k}_owned_s={v:.2f}" for k, v in medians.items()))


if __name__ == "__main__":
    asyncio.run(main())
