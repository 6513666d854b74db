"""Structured JSON logs with structlog.

Context (``event_id``, ``ticket_id``, ``partition``…) goes as keyword arguments of each
call: ``log.warning("dead_letter", event_id=…, partition=…)``. (``merge_contextvars``
would add values bound with ``structlog.contextvars`` too; the service binds none.)
Customer text is never logged at INFO: log ids, priorities and reasons, not what the
customer wrote.

Libraries that log through the standard library are rendered the same way; aiokafka's
logger (named here, not imported) is kept at WARNING unless the level is DEBUG.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog


def _dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


class _Stderr:
    """``sys.stderr`` as it is when a line is written, not when logging was configured:
    the live views and the test runner swap it, and a stream closed since must not
    swallow (or fail) every later line."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    numeric = logging.getLevelName(level.upper())
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    if fmt == "console":
        processors.append(structlog.dev.ConsoleRenderer(colors=False))
    else:
        processors.append(structlog.processors.JSONRenderer(serializer=_dumps))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    # Libraries (aiokafka) log through the standard library: render them as JSON too,
    # and keep their chatter at WARNING unless we are debugging.
    handler = logging.StreamHandler(_Stderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                processors[-1],
            ],
            foreign_pre_chain=processors[:-1],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    logging.getLogger("aiokafka").setLevel(max(numeric, logging.WARNING))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
