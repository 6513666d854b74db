"""``triage`` command line: run | demo | explain | rules check/show-default/test | schemas export."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from schemas.common import rfc3339
from service.clock import SystemClock
from service.observability.logging import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    code: int = args.func(args)
    return code


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="triage",
        description="Customer feedback from Kafka in; prioritized tickets with SLAs out.",
    )
    sub = p.add_subparsers(dest="command")

    run = sub.add_parser("run", help="run the service (configured by environment variables)")
    run.add_argument(
        "--role",
        default="all",
        choices=["all", "prioritizer", "sla"],
        help="all (default), or one half so each can scale on its own",
    )
    run.set_defaults(func=_cmd_run)

    demo = sub.add_parser("demo", help="embedded broker + sample feedback + live ticket view")
    demo.add_argument("--seconds", type=float, default=None, help="stop after this long")
    demo.add_argument("--no-live", action="store_true", help="print plain lines, no live table")
    demo.set_defaults(func=_cmd_demo)

    explain = sub.add_parser("explain", help="score one event (JSON file or stdin), no broker")
    explain.add_argument("file", nargs="?", help="event JSON file; stdin when omitted or '-'")
    explain.add_argument("--rules", help="rule file (default: the shipped rules)")
    explain.add_argument("--json", action="store_true", help="print only the ticket JSON")
    explain.set_defaults(func=_cmd_explain)

    rules = sub.add_parser("rules", help="rule-file tools")
    rsub = rules.add_subparsers(dest="rules_command")
    check = rsub.add_parser("check", help="validate a rule file")
    check.add_argument("path")
    check.set_defaults(func=_cmd_rules_check)
    show = rsub.add_parser("show-default", help="print the shipped default rule file")
    show.set_defaults(func=_cmd_rules_show)
    rtest = rsub.add_parser(
        "test", help="run a labelled JSONL file: agreement, confusion matrix, disagreements"
    )
    rtest.add_argument("file", help='JSON lines: {"event": {...}, "expected": "P1".."P4", ...}')
    rtest.add_argument("--rules", help="rule file (default: the shipped rules)")
    rtest.add_argument(
        "--min-agreement",
        type=float,
        default=0.9,
        help="exit non-zero below this share of exact agreement (default 0.9)",
    )
    rtest.add_argument(
        "--max-disagreements", type=int, default=100, help="how many disagreements to print"
    )
    rtest.set_defaults(func=_cmd_rules_test)

    schemas = sub.add_parser("schemas", help="message contract tools")
    ssub = schemas.add_subparsers(dest="schemas_command")
    export = ssub.add_parser("export", help="write the JSON Schema of every message")
    export.add_argument("directory")
    export.set_defaults(func=_cmd_schemas_export)
    return p


def _cmd_run(args: argparse.Namespace) -> int:
    from service.app import TriageApp
    from service.config import Settings

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    settings.require_bootstrap()
    app = TriageApp(settings, role=args.role)
    asyncio.run(app.run_forever())
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from service.demo.runner import run_demo

    return asyncio.run(run_demo(seconds=args.seconds, live=not args.no_live))


def _cmd_explain(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from service.prioritizer.decode import DecodeFailure, DecodeLimits, decode_feedback
    from service.rules.engine import RuleEngine, build_ticket
    from service.rules.model import RulesError, load_rules

    try:
        rules = load_rules(args.rules)
    except RulesError as exc:
        print(exc, file=sys.stderr)
        return 2
    raw = sys.stdin.buffer.read() if args.file in (None, "-") else Path(args.file).read_bytes()
    now = SystemClock().now()
    limits = DecodeLimits(max_age=timedelta(days=36500), max_future_skew=timedelta(days=36500))
    try:
        event = decode_feedback(raw, limits, now)
    except DecodeFailure as failure:
        print(f"dead letter: {failure.reason.value}: {failure.detail}", file=sys.stderr)
        return 1
    engine = RuleEngine(rules)
    assessment = engine.assess(event)
    ticket = build_ticket(event, assessment, now, rules.version)
    if args.json:
        print(ticket.model_dump_json(indent=2))
        return 0
    print(f"ticket   {ticket.ticket_id}  (event {ticket.event_id})")
    print(
        f"priority {ticket.priority.value}   severity {ticket.severity}/100   "
        f"category {ticket.category}   language {ticket.language}"
    )
    print(
        f"sla      first response within {ticket.sla.target_seconds} s, "
        f"due {rfc3339(ticket.sla.first_response_due_at)}"
    )
    print(f"actions  {', '.join(ticket.actions)}")
    if ticket.management_attention:
        print("manager  a manager should reach out now (management_attention)")
    print(f"rules    (rule set {rules.version}, base severity {rules.base_severity})")
    for r in ticket.reasons:
        bound = f"  [at least {r.min_priority.value}]" if r.min_priority else ""
        print(f"  {r.weight:+4d}  {r.rule_id}{bound}")
        for ev in r.evidence:
            print(f"         · {ev}")
    if not ticket.reasons:
        print("  (no rule fired)")
    print()
    print(ticket.model_dump_json(indent=2))
    return 0


def _cmd_rules_check(args: argparse.Namespace) -> int:
    from service.rules.model import RulesError, load_rules

    try:
        rules = load_rules(args.path)
    except RulesError as exc:
        print(exc, file=sys.stderr)
        return 1
    terms = sum(len(t) for by_lang in rules.lexicons.values() for t in by_lang.values())
    print(
        f"{args.path}: OK — rule set {rules.version}: {len(rules.rules)} rules, "
        f"{len(rules.lexicons)} lexicons, {terms} terms"
    )
    return 0


def _cmd_rules_show(args: argparse.Namespace) -> int:
    from service.rules.model import default_rules_text

    sys.stdout.write(default_rules_text())
    return 0


def _cmd_rules_test(args: argparse.Namespace) -> int:
    from service.rules.engine import RuleEngine
    from service.rules.evaluate import (
        LabelledFileError,
        evaluate,
        format_report,
        load_labelled,
        passes,
    )
    from service.rules.model import RulesError, load_rules

    try:
        rules = load_rules(args.rules)
    except RulesError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        report = evaluate(RuleEngine(rules), load_labelled(args.file))
    except (LabelledFileError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"rule set {rules.version} on {args.file}")
    print(format_report(report, max_disagreements=args.max_disagreements))
    if not passes(report, args.min_agreement):
        print(
            f"FAIL: agreement {report.agreement:.1%} is below {args.min_agreement:.0%}",
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_schemas_export(args: argparse.Namespace) -> int:
    from schemas.export import export

    for path in export(args.directory):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
