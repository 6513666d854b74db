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
customer per batch) tickets are kept as plain tuples and written straight to JSON by a
compiled writer (``changed_json``, ``CustomerState.to_json``: ``_ticket.pyx``'s
``customer_record_bytes``, the bytes ``orjson.dumps`` wrote from a dict of the record);
the pydantic models are the changelog's contract and what ``restore`` reads
(``CustomerRecord.from_json`` reads the JSON back to an equal record, tested).
"""

from __future__ import annotations

from bisect import insort
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from service.prioritizer._ticket import customer_record_bytes

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


#: One remembered ticket: (occurred_at, ticket_id, negative); tuples sort by time, then id.
_Past = tuple[datetime, str, bool]


def shared_zone(at: datetime) -> datetime:
    """``at`` with a ``datetime.timezone`` shared by every time of its offset: the same
    instant, the same offset, the same JSON. A parsed event's time carries a time-zone
    object of its own, which the garbage collector tracks; kept for every remembered
    ticket, those objects were most of what a full collection walked (a history of
    200,000 tickets: 200,000 of 347,000 objects, and pauses of about 100 ms), while
    ``timezone`` objects are not tracked and shared. Times that share their zone also
    compare without asking it for their offsets, so the prioritizer converts an event's
    time once and passes the result to ``recent`` and ``record``."""
    if type(at.tzinfo) is timezone:  # UTC included
        return at
    offset = at.utcoffset()
    if offset is None:
        return at  # naive: nothing to share (events are validated as aware)
    zone = shared_timezone(offset)
    try:
        # in a zone of its own offset, the same wall time: what ``replace(tzinfo=zone)``
        # gives, in half its time (its keyword argument is dearer than the conversion)
        return at.astimezone(zone)
    except OverflowError:  # within hours of year 1 or 9999, where UTC is out of range
        return at.replace(tzinfo=zone)


@cache  # offsets are few: whole minutes within a day
def shared_timezone(offset: timedelta) -> timezone:
    """The one ``datetime.timezone`` of ``offset`` (``UTC`` for none) that every time of
    that offset shares (``shared_zone``; the decoder's common form of an event too)."""
    return UTC if not offset else timezone(offset)


class CustomerState:
    """One customer's record as the history holds it (``changed``, ``snapshot``)."""

    __slots__ = ("customer_id", "tickets")

    def __init__(self, customer_id: str, tickets: list[_Past]) -> None:
        self.customer_id = customer_id
        self.tickets = tickets

    def to_json(self) -> bytes:
        """The changelog record's JSON (what ``CustomerRecord.from_json`` reads)."""
        return customer_record_bytes(self.customer_id, self.tickets)


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
        self._tickets: dict[str, list[_Past]] = {}  # sorted by occurred_at, then ticket id
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
        tickets = self._tickets.get(customer_id)
        if not tickets:
            return []
        since = occurred_at - (window if window is not None else self.window)
        return [
            ticket_id
            for at, ticket_id, negative in tickets
            if since <= at <= occurred_at
            and ticket_id != exclude
            and (negative or not negative_only)
        ]

    def record(
        self, customer_id: str, ticket_id: str, occurred_at: datetime, negative: bool
    ) -> None:
        """Remember a ticket (idempotent: a redelivered ticket changes nothing)."""
        tickets = self._tickets.setdefault(customer_id, [])
        for t in tickets:
            if t[1] == ticket_id:
                return
        insort(tickets, (shared_zone(occurred_at), ticket_id, negative))
        if len(tickets) > self.max_per_customer:
            del tickets[: len(tickets) - self.max_per_customer]
        self._dirty[customer_id] = None

    # -- state for the changelog ----------------------------------------------------
    def changed(self) -> list[Change]:
        return [(cid, CustomerState(cid, list(t)) if t else None) for cid, t in self._drain()]

    def changed_json(self) -> list[tuple[str, bytes | None]]:
        """``changed()`` as the changelog writes it: each changed record's JSON (None: a
        tombstone), encoded from the tickets as they are, without a state object or a
        copy per customer (one per event on the hot path)."""
        return [(cid, customer_record_bytes(cid, t) if t else None) for cid, t in self._drain()]

    def _drain(self) -> list[tuple[str, list[_Past] | None]]:
        """The changed customers and their tickets (None: none left), in the order they
        first changed; none is changed after."""
        tickets_of = self._tickets.get
        out = [(cid, tickets_of(cid) or None) for cid in self._dirty]
        self._dirty.clear()
        return out

    def snapshot(self) -> list[CustomerState]:
        return [CustomerState(cid, list(t)) for cid, t in self._tickets.items() if t]

    def ids(self) -> list[str]:
        """The customers with a history now."""
        return [cid for cid, t in self._tickets.items() if t]

    def state_of(self, customer_id: str) -> CustomerState | None:
        tickets = self._tickets.get(customer_id)
        return CustomerState(customer_id, list(tickets)) if tickets else None

    def restore(self, record: CustomerRecord) -> None:
        tickets = sorted(
            (shared_zone(t.occurred_at), t.ticket_id, t.negative) for t in record.tickets
        )
        tickets = tickets[-self.max_per_customer :]
        if tickets:
            self._tickets[record.customer_id] = tickets
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
        for cid, tickets in list(self._tickets.items()):
            keep = [t for t in tickets if t[0] >= before]
            if len(keep) == len(tickets):
                continue
            self._dirty[cid] = None
            if keep:
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
        return [(k, r.to_json()) for k in keys if (r := state.state_of(k)) is not None]

    def size(self, state: CustomerHistory) -> int:
        return len(state)
