"""Standby clocks: every partition's SLA clocks, read from the changelog, fired while the
group rebalances. Pure: no Kafka; time comes in as ``now``.

Why. A partition's clocks fire only in the member that owns it. When a member dies, its
partitions wait for the group to give them to another: first the session timeout, then
the join round (Apache Kafka: a round trip once every member rejoined; the embedded
broker holds every join 3 s). And while a group rebalances, no member fires anything:
each gave its partitions up. A standby copy of every clock lets a surviving instance
fire, during that window, what comes due in any partition.

The rules:

1. **The copy is the owners' changelog**, applied record by record in every partition
   (``apply``): a clock's record replaces what the copy held for its ticket, a tombstone
   forgets it. The copy is never written back: only an owner writes a changelog.
2. **It fires only while this instance's group rebalances**, from a revocation until the
   next assignment is restored (``service.kafka.sla_runtime``), and only once the copy
   has read every partition to its end (the reader's side). Otherwise the owners fire.
3. **It fires only the steps that were due ``grace`` before the rebalance began**
   (``fire_due``), **outside the partitions this instance just gave up**. An owner that was
   alive until the rebalance began fired those steps itself and wrote them to its
   changelog within a batch (the grace), so the copy has them as fired: a deploy or a
   scaling step (members leave and join gracefully) publishes nothing twice. What is left
   are the steps a dead owner missed between its death and the rebalance that noticed it.
   Steps that come due during the rebalance are the next owner's, as without the copy;
   the partitions this instance gave up were its own, and its own monitor fired them.
4. **It fires what the owner would have**: the same engine and ladder, so the same
   escalation ids, and the same records (``service.sla.monitor.escalation_record``). The
   new owner restores the partition from the changelog, which does not say so; rule 6
   keeps it from publishing those steps again. Should one still be published twice (an
   id not read yet), it is the same id: consumers deduplicate by escalation id (the
   notify role and Alertmanager do).
5. **A step fired here is not fired here again**: the engine marks it, and its id is
   remembered (rule 6) should an owner's older record replace the clock.
6. **Nothing already on the escalations topic is published again.** The copy also reads
   the escalations topic and remembers the last ``MAX_SEEN`` ids (``saw``): it skips a
   step an owner published before its changelog said so, and this instance's own monitor
   skips a step it fires again after a takeover (``published``): a member shutting down
   stops its timers before it leaves the group, the copy fires what it missed, and the
   new owner, restored from the changelog, would fire it again.

Cost: every instance keeps every open clock, about 0.3 KiB each
(``bench/sla_memory.py``), and follows the changelog from each partition's base.
``TRIAGE_SLA_STANDBY=false`` turns it off.

Limit: the copy knows only what owners wrote. An answer published while its ticket's
owner was dead is read by the next owner only, after the takeover: a breach the copy
fired in between is then followed by the recovery, as it would be had the next owner's
timer fired before it read the answer.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from schemas.escalation import Escalation
from service.observability.logging import get_logger
from service.sla.engine import SlaEngine
from service.sla.policy import SlaPolicy
from service.sla.state import decode_record

log = get_logger("triage.sla")


#: Escalation ids remembered (rule 6): hours of escalations at thousands an hour.
MAX_SEEN = 200_000


class StandbyClocks:
    """A copy of every partition's clocks (rule 1) that fires due steps on demand."""

    def __init__(self, policy: SlaPolicy, grace: timedelta) -> None:
        self.policy = policy
        self.grace = grace
        self._engines: dict[int, SlaEngine] = {}
        #: escalation ids seen on the topic or fired here, oldest first (rule 6)
        self._seen: OrderedDict[str, None] = OrderedDict()

    def saw(self, escalation_id: str) -> None:
        """An escalation id read on the escalations topic (or published here)."""
        seen = self._seen
        seen[escalation_id] = None
        seen.move_to_end(escalation_id)
        if len(seen) > MAX_SEEN:
            seen.popitem(last=False)

    def published(self, escalation_id: str) -> bool:
        """Whether ``escalation_id`` is already on the escalations topic (rule 6)."""
        return escalation_id in self._seen

    def apply(self, partition: int, key: bytes | None, value: bytes | None) -> None:
        """One changelog record of ``partition``: a clock's state, or a tombstone."""
        engine = self._engines.get(partition)
        if engine is None:
            engine = self._engines[partition] = SlaEngine(self.policy)
        if not value:
            if key is not None:
                engine.forget(key.decode())
        else:
            try:
                engine.restore(decode_record(value))
            except ValueError:
                log.error("changelog_record_unreadable", state="sla-standby", partition=partition)

    def fire_due(
        self, now: datetime, began: datetime, skip: Collection[int] = ()
    ) -> list[Escalation]:
        """Rule 3: the steps that were due ``grace`` before ``began`` (when the rebalance
        began), in every partition but ``skip``. The ladder is asked as of that moment,
        and what it says is stamped with ``now`` (``emitted_at``, and ``overdue_seconds``
        measured to it)."""
        out: list[Escalation] = []
        as_of = min(now, began) - self.grace
        later = (now - as_of).total_seconds()
        emitted_at = now.astimezone(UTC)
        for number, engine in self._engines.items():
            if number in skip:
                continue
            for esc in engine.fire_due(as_of):
                if self.published(esc.escalation_id):
                    continue
                self.saw(esc.escalation_id)
                update = {"emitted_at": emitted_at, "overdue_seconds": esc.overdue_seconds + later}
                out.append(esc.model_copy(update=update))
            engine.changed()  # the copy writes no changelog (rule 1): drop what it would say
            engine.outcomes()
        return out

    def __len__(self) -> int:
        return sum(len(e) for e in self._engines.values())
