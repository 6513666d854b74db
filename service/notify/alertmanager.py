"""POST alerts to Alertmanager's v2 API (``/api/v2/alerts``), with aiohttp.

Every configured Alertmanager gets every POST (the members of an HA cluster deduplicate
notifications among themselves; Prometheus does the same). A POST is **accepted** when
at least one answers 2xx; **rejected** when none accepted and one answered 400/422 (the
alerts themselves are invalid: retrying cannot help, and Alertmanager stored the valid
ones of the list anyway); otherwise it **failed** (connection refused, timeout, 5xx, or
401/403/404 — a setting to fix, so worth retrying) and the caller retries.

aiohttp is the HTTP client because the service is asyncio throughout (a POST must not
block the event loop that runs the Kafka loops), it is maintained by aio-libs like
aiokafka itself, and it serves the tests' webhook receiver too. See docs/operations.md.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from service.observability.logging import get_logger

log = get_logger("triage.notify")

#: Answers that mean "these alerts are invalid": not retried.
_REJECTED = frozenset({400, 422})


@dataclass(slots=True)
class PostResult:
    """How one POST went: accepted by at least one Alertmanager, rejected as invalid,
    and the failures (reason, detail) of the others."""

    accepted: bool = False
    rejected: str | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Nothing to retry: accepted, or refused as invalid."""
        return self.accepted or self.rejected is not None


def alerts_endpoint(base_url: str) -> str:
    return base_url.rstrip("/") + "/api/v2/alerts"


def parse_urls(value: str | None) -> list[str]:
    """``TRIAGE_ALERTMANAGER_URL``: one or more base URLs, comma-separated."""
    return [u.strip() for u in (value or "").split(",") if u.strip()]


class AlertmanagerClient:
    def __init__(self, urls: list[str], timeout_s: float = 10.0) -> None:
        if not urls:
            raise ValueError("no Alertmanager URL")
        self.endpoints = [alerts_endpoint(u) for u in urls]
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, alerts: list[dict[str, Any]]) -> PostResult:
        """POST ``alerts`` (Alertmanager's postable alerts) to every Alertmanager."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        body = orjson.dumps(alerts)
        answers = await asyncio.gather(*(self._post_one(url, body) for url in self.endpoints))
        result = PostResult()
        for outcome, detail in answers:
            if outcome == "ok":
                result.accepted = True
            elif outcome == "rejected":
                result.rejected = detail
            else:
                result.failures.append((outcome, detail))
        return result

    async def _post_one(self, url: str, body: bytes) -> tuple[str, str]:
        assert self._session is not None
        try:
            async with self._session.post(
                url, data=body, headers={"Content-Type": "application/json"}
            ) as resp:
                text = (await resp.text(errors="replace"))[:500]
                if 200 <= resp.status < 300:
                    return "ok", ""
                detail = f"{url}: HTTP {resp.status}: {text.strip()}"
                if resp.status in _REJECTED:
                    return "rejected", detail
                return ("http_5xx" if resp.status >= 500 else "http_4xx"), detail
        except TimeoutError:
            return "timeout", f"{url}: no answer within {self._timeout.total} s"
        except (aiohttp.ClientError, OSError) as exc:
            return "connection", f"{url}: {type(exc).__name__}: {exc}"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
