"""Per-customer contact history: repeat and cross-channel contacts (pure, no Kafka).

One ``CustomerHistory`` per input partition (the feedback topic is keyed by customer id,
so a customer's events all land on one partition). For each ticket it remembers the
ticket id, when the customer spoke and whether it was a complaint; ``recent`` answers
"which earlier complaints did this customer make within the window?" on any channel.

State for a changelog, like ``service/sla/engine.py``: ``changed()`` returns the customers
whose record changed since the last call, in the order they first changed (None =
tombstone; ``changed_json()`` the same as the changelog's JSON), ``snapshot()`` every
live record, ``restore(record)`` puts one back, ``expire(now)`` forgets what is older than
the retention. Records are JSON (``CustomerRecord``), keyed by customer id. Memory is bounded:
at most ``max_per_customer`` tickets per customer, the most recent ones.

On the hot path (one ``recent`` and one ``record`` per event, one changed record per
customer per batch) each customer's tickets are one ``bytes`` object, packed and read by
compiled code (``_ticket.pyx``: ``remember``, ``recent_ids``, ``customer_record_bytes``,
the bytes ``orjson.dumps`` wrote from a dict of the record). With tens of thousands of
customers, a list of tuples cost a cache miss per tuple, time and id of every ticket
read (docs/performance.md); the packed form is read in one run of memory, and the
garbage collector has nothing in it to walk. The pydantic models are the changelog's
contract and what ``restore`` reads (``CustomerRecord.from_json`` reads the JSON back to
an equal record, tested).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from service.prioritizer._ticket import (
    customer_record_bytes,
    forget_before,
    pack_tickets,
    recent_ids,
    remember,
    unpack_tickets,
)

DEFAULT_WINDOW = timedelta(days=7)
DEFAULT_MAX_PER_CUSTOMER = 20


class PastTicket(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    ticket_id: str
    occurred_at: AwareDatetime
    negative: bool = True


class CustomerRecord(BaseModel):
    """The changelog record of one customer (key: customer id), as read back; the history
    writes it (``CustomerState.to_json``)."""

    model_config = ConfigDict(extra="ignore")

    record: Literal["customer"] = "customer"
    v: int = 1
    customer_id: str
    tickets: list[PastTicket]

    @classmethod
    def from_json(cls, data: bytes | str) -> CustomerRecord:
        return cls.model_validate_json(data)


#: One remembered ticket: (occurred_at, ticket_id, negative), as ``CustomerState.tickets``
#: reads them (the history itself keeps them packed).
_Past = tuple[datetime, str, bool]


@cache  # offsets are few: whole minutes within a day
def shared_timezone(offset: timedelta) -> timezone:
    """The one ``datetime.timezone`` of ``offset`` (``UTC`` for none) that every time of
    that offset shares: the decoder's common form of an event, and the times a history
    reads back. Times that share their zone compare without asking it for their offsets,
    and a ``timezone`` is not tracked by the garbage collector (a parsed time's own zone
    object is)."""
    return UTC if not offset else timezone(offset)


class CustomerState:
    """One customer's record as the history holds it (``changed``, ``snapshot``)."""

    __slots__ = ("customer_id", "packed")

    def __init__(self, customer_id: str, packed: bytes) -> None:
        self.customer_id = customer_id
        self.packed = packed

    @property
    def tickets(self) -> list[_Past]:
        """The remembered tickets, oldest first, each time in its own offset."""
        return unpack_tickets(self.packed, shared_timezone)

    def to_json(self) -> bytes:
        """The changelog record's JSON (what ``CustomerRecord.from_json`` reads)."""
        return customer_record_bytes(self.customer_id, self.packed)


Change = tuple[str, CustomerState | None]


class CustomerHistory:
    def __init__(
        self,
        window: timedelta = DEFAULT_WINDOW,
        max_per_customer: int = DEFAULT_MAX_PER_CUSTOMER,
        retention: timedelta | None = None,
    ) -> None:
        if max_per_customer < 1:
            raise ValueError("max_per_customer must be at least 1")
        self.window = window
        self.max_per_customer = max_per_customer
        self.retention = retention if retention is not None else window
        #: customer id → its tickets packed, ordered by time, then ticket id (a customer
        #: with none has no entry)
        self._tickets: dict[str, bytes] = {}
        #: customers changed since the last ``changed``, in the order they first changed
        #: (a dict: ordered, so the changelog's order is the same on every run, unsorted)
        self._dirty: dict[str, None] = {}

    def recent(
        self,
        customer_id: str,
        occurred_at: datetime,
        window: timedelta | None = None,
        *,
        exclude: str | None = None,
        negative_only: bool = True,
    ) -> list[str]:
        """Ids of the customer's earlier tickets within ``window`` before ``occurred_at``,
        oldest first (complaints only, unless ``negative_only`` is False)."""
        packed = self._tickets.get(customer_id)
        if packed is None:
            return []
        return recent_ids(
            packed,
            occurred_at,
            window if window is not None else self.window,
            exclude,
            negative_only,
        )

    def record(
        self, customer_id: str, ticket_id: str, occurred_at: datetime, negative: bool
    ) -> None:
        """Remember a ticket (idempotent: a redelivered ticket changes nothing); past
        ``max_per_customer`` tickets the oldest go."""
        packed = remember(
            self._tickets.get(customer_id),
            occurred_at,
            ticket_id,
            negative,
            self.max_per_customer,
        )
        if packed is not None:
            self._tickets[customer_id] = packed
            self._dirty[customer_id] = None

    # -- state for the changelog ----------------------------------------------------
    def changed(self) -> list[Change]:
        return [(cid, CustomerState(cid, p) if p else None) for cid, p in self._drain()]

    def changed_json(self) -> list[tuple[str, bytes | None]]:
        """``changed()`` as the changelog writes it: each changed record's JSON (None: a
        tombstone), without a state object per customer (one per event on the hot path)."""
        return [(cid, customer_record_bytes(cid, p) if p else None) for cid, p in self._drain()]

    def _drain(self) -> list[tuple[str, bytes | None]]:
        """The changed customers and their packed tickets (None: none left), in the order
        they first changed; none is changed after."""
        tickets_of = self._tickets.get
        out = [(cid, tickets_of(cid)) for cid in self._dirty]
        self._dirty.clear()
        return out

    def snapshot(self) -> list[CustomerState]:
        return [CustomerState(cid, p) for cid, p in self._tickets.items()]

    def ids(self) -> list[str]:
        """The customers with a history now."""
        return list(self._tickets)

    def records_json(self, customer_ids: list[str]) -> list[tuple[str, bytes]]:
        """The changelog record's JSON of each of ``customer_ids`` that has a history
        (a snapshot's chunk), without a state object per customer."""
        tickets_of = self._tickets.get
        return [
            (cid, customer_record_bytes(cid, packed))
            for cid in customer_ids
            if (packed := tickets_of(cid)) is not None
        ]

    def state_of(self, customer_id: str) -> CustomerState | None:
        packed = self._tickets.get(customer_id)
        return CustomerState(customer_id, packed) if packed is not None else None

    def restore(self, record: CustomerRecord) -> None:
        tickets = sorted((t.occurred_at, t.ticket_id, t.negative) for t in record.tickets)[
            -self.max_per_customer :
        ]
        if tickets:
            self._tickets[record.customer_id] = pack_tickets(tickets)
        else:
            self._tickets.pop(record.customer_id, None)
        self._dirty.pop(record.customer_id, None)  # the changelog already holds this state

    def forget(self, customer_id: str) -> None:
        self._tickets.pop(customer_id, None)
        self._dirty.pop(customer_id, None)

    def expire(self, now: datetime) -> list[str]:
        """Drop tickets older than the retention; customers left with none are tombstoned."""
        before = now - self.retention
        gone: list[str] = []
        for cid, packed in list(self._tickets.items()):
            keep = forget_before(packed, before)
            if keep is packed:
                continue
            self._dirty[cid] = None
            if keep is not None:
                self._tickets[cid] = keep
            else:
                del self._tickets[cid]
                gone.append(cid)
        return gone

    def __len__(self) -> int:
        return len(self._tickets)


class CustomerCodec:
    """Customer histories as the changelog sees them (``service.partition_state``):
    keyed by customer id, JSON values (``CustomerRecord``)."""

    name = "customers"

    def __init__(self, window: timedelta = DEFAULT_WINDOW) -> None:
        self.window = window

    def new(self) -> CustomerHistory:
        return CustomerHistory(window=self.window)

    def load(self, state: CustomerHistory, value: bytes) -> None:
        state.restore(CustomerRecord.from_json(value))

    def forget(self, state: CustomerHistory, key: str) -> None:
        state.forget(key)

    def changes(self, state: CustomerHistory) -> list[tuple[str, bytes | None]]:
        return state.changed_json()

    def keys(self, state: CustomerHistory) -> list[str]:
        return state.ids()

    def encode(self, state: CustomerHistory, keys: list[str]) -> list[tuple[str, bytes]]:
        return state.records_json(keys)

    def size(self, state: CustomerHistory) -> int:
        return len(state)
