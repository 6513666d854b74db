"""``triage sla replay``: what-if for an SLA policy change (docs/sla.md#what-if-replaying-a-policy-change).

Reads tickets and activities from a JSONL export (``FILE``, ``-`` for stdin) or from the
tickets and activity topics (``--topic``: ``service.kafka.replay_source``), replays them
under the current and the new policy (``service.sla.replay``) and prints the table, or
the report as JSON (``--json``). A bad policy or setting: one line, exit 2 (the command
line's ``ConfigError`` handling); bad input lines are counted on stderr and skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson

from service.config import load_settings
from service.observability.logging import configure_logging
from service.sla.policy import SlaPolicy, load_policy
from service.sla.replay import ReplayInput, read_jsonl, render, replay
from service.startup_errors import describe, set_by

PROG = "triage sla replay"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", required=True, metavar="NEW.yaml", help="the new SLA policy")
    p.add_argument(
        "--current",
        metavar="CURRENT.yaml",
        help="the policy to compare with (default: TRIAGE_SLA_POLICY_PATH, else the shipped one)",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "file", nargs="?", help="JSONL export of tickets and activities ('-': stdin)"
    )
    source.add_argument(
        "--topic",
        action="store_true",
        help="read the tickets and activity topics once, from the beginning to their end",
    )
    p.add_argument(
        "--bootstrap", help="with --topic: host:port[,…] (default: KAFKA_BOOTSTRAP_SERVERS)"
    )
    p.add_argument("--since", metavar="ISO", help="only inputs that occurred at or after this")
    p.add_argument("--until", metavar="ISO", help="only inputs that occurred before this")
    p.add_argument(
        "--end",
        metavar="ISO",
        help="simulate up to this time, not before the last input (default: --until, else "
        "the latest first-response deadline of any ticket under either policy)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def parse_time(text: str) -> datetime:
    """ISO 8601 (``2026-11-02``, ``2026-11-02T09:00:00+01:00``, ``…Z``); UTC when no
    offset is given. ValueError otherwise."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _policies(args: argparse.Namespace, env_path: str | None) -> list[tuple[str, SlaPolicy, str]]:
    """The current and the new policy, each with where it came from (a bad one:
    ``PolicyError``, a ``ConfigError`` the command line reports)."""
    if args.current:
        current, current_source = load_policy(args.current), str(args.current)
    elif env_path:
        with set_by("TRIAGE_SLA_POLICY_PATH"):
            current = load_policy(env_path)
        current_source = f"{env_path}, TRIAGE_SLA_POLICY_PATH"
    else:
        current, current_source = load_policy(None), "shipped default"
    return [("current", current, current_source), ("new", load_policy(args.policy), args.policy)]


def main(args: argparse.Namespace) -> int:
    configure_logging("WARNING", "console")
    settings = load_settings()
    if args.bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap_servers": args.bootstrap})
    try:
        since = parse_time(args.since) if args.since else None
        until = parse_time(args.until) if args.until else None
        end = parse_time(args.end) if args.end else until
    except ValueError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    policies = _policies(args, settings.sla_policy_path)
    if args.topic:
        settings.require_bootstrap()
        from service.kafka.replay_source import read_topics

        try:
            inputs = asyncio.run(read_topics(settings, since, until))
        except Exception as exc:  # the broker or a topic is not there: say so, exit 1
            print(f"{PROG}: {type(exc).__name__}: {describe(exc)}", file=sys.stderr)
            return 1
    else:
        try:
            inputs = _read_file(args.file).window(since, until)
        except OSError as exc:
            print(f"{PROG}: {describe(exc)}", file=sys.stderr)
            return 2
    for problem in inputs.problems:
        print(f"{PROG}: skipped {problem}", file=sys.stderr)
    if inputs.bad:
        what = "records" if args.topic else "lines"
        print(f"{PROG}: {inputs.bad} bad {what} skipped", file=sys.stderr)
    report = replay(inputs, policies, end)
    if args.json:
        sys.stdout.write(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
    else:
        print(render(report))
    return 0


def _read_file(name: str) -> ReplayInput:
    if name == "-":
        return read_jsonl(sys.stdin.buffer)
    with Path(name).open("rb") as lines:
        return read_jsonl(lines)
