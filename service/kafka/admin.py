"""Topic administration: create what is missing, accept what exists."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from service.observability.logging import get_logger

log = get_logger(__name__)
_TOPIC_ALREADY_EXISTS = 36


class TopicError(RuntimeError):
    pass


async def ensure_topics(
    conn: dict[str, Any],
    partitions: dict[str, int],
    replication_factor: int = 1,
    configs: dict[str, dict[str, str]] | None = None,
) -> dict[str, int]:
    """Create the missing topics; return each topic's partition count.

    Topics that exist keep their partition count, whatever it is. The admin client
    is kept open until creation has completed (some brokers drop in-flight creation
    when the requesting client disconnects).
    """
    admin = AIOKafkaAdminClient(**conn)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in partitions if name not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        name,
                        partitions[name],
                        replication_factor,
                        topic_configs=(configs or {}).get(name),
                    )
                    for name in missing
                ]
            )
            for name, code, message in _topic_errors(response):
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise TopicError(f"cannot create topic {name!r}: error {code} {message or ''}")
            log.info("topics_created", topics=missing)
        counts: dict[str, int] = {}
        for _ in range(50):
            described = await admin.describe_topics(list(partitions))
            counts = {
                d["topic"]: len(d["partitions"])
                for d in described
                if d.get("error_code", 0) == 0 and d["partitions"]
            }
            if len(counts) == len(partitions):
                return counts
            await asyncio.sleep(0.1)
        raise TopicError(
            f"topics not visible after creation: {sorted(set(partitions) - set(counts))}"
        )
    finally:
        await admin.close()


def _topic_errors(response: Any) -> list[tuple[str, int, str | None]]:
    out: list[tuple[str, int, str | None]] = []
    for entry in response.topic_errors:
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        out.append((name, code, message))
    return out
