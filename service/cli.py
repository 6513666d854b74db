"""``triage`` command line: run | demo | watch | explain | rules check/show-default/test | model
train/show | sla replay | schemas export."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from schemas.common import rfc3339
from service.clock import SystemClock
from service.observability.logging import configure_logging
from service.startup_errors import ConfigError, describe


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except ConfigError as exc:  # a bad file or setting: one line, no traceback
        print(f"triage: error: {describe(exc)}", file=sys.stderr)
        return 2
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
        choices=["all", "prioritizer", "sla", "notify"],
        help="all (default), or one part so each can scale on its own; notify: escalations "
        "→ Alertmanager (TRIAGE_ALERTMANAGER_URL; part of all when it is set)",
    )
    run.set_defaults(func=_cmd_run)

    demo = sub.add_parser("demo", help="embedded broker + sample feedback + live ticket view")
    demo.add_argument("--seconds", type=float, default=None, help="stop after this long")
    demo.add_argument("--no-live", action="store_true", help="print plain lines, no live table")
    demo.set_defaults(func=_cmd_demo)

    watch = sub.add_parser(
        "watch", help="live view of a deployment: open tickets by time to breach, escalations"
    )
    watch.add_argument(
        "--bootstrap", help="host:port[,…] (default: KAFKA_BOOTSTRAP_SERVERS; TLS/SASL as for run)"
    )
    watch.add_argument(
        "--since", help="read records this recent (90s, 15m, 2h, 1d); default: from the start"
    )
    watch.add_argument(
        "--policy", help="SLA policy file (default: TRIAGE_SLA_POLICY_PATH, else the shipped one)"
    )
    watch.add_argument("--seconds", type=float, default=None, help="stop after this long")
    watch.add_argument("--no-live", action="store_true", help="print plain lines, no live view")
    watch.set_defaults(func=_cmd_watch)

    explain = sub.add_parser("explain", help="score one event (JSON file or stdin), no broker")
    explain.add_argument("file", nargs="?", help="event JSON file; stdin when omitted or '-'")
    explain.add_argument("--rules", help="rule file (default: the shipped rules)")
    explain.add_argument("--json", action="store_true", help="print only the ticket JSON")
    explain.add_argument(
        "--model", help="text model folder (default: TRIAGE_MODEL_PATH, else the shipped model)"
    )
    explain.add_argument(
        "--policy",
        help="SLA policy file, the tickets' targets (default: TRIAGE_SLA_POLICY_PATH, "
        "else the shipped one)",
    )
    explain.set_defaults(func=_cmd_explain)

    rules = sub.add_parser("rules", help="rule-file tools")
    rsub = rules.add_subparsers(dest="rules_command")
    check = rsub.add_parser("check", help="validate a rule file")
    check.add_argument("path")
    check.set_defaults(func=_cmd_rules_check)
    show = rsub.add_parser("show-default", help="print the shipped default rule file")
    show.set_defaults(func=_cmd_rules_show)
    rtest = rsub.add_parser(
        "test",
        help="run a labelled JSONL file: agreement, confusion matrix, disagreements; "
        "balanced accuracy of sentiment lines",
    )
    _add_rules_test_args(rtest)

    model = sub.add_parser("model", help="the text model (negativity): train, show")
    msub = model.add_subparsers(dest="model_command")
    mtrain = msub.add_parser(
        "train", help="train the text model on labelled data (see docs/model.md)"
    )
    mtrain.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="FILE",
        help='your labelled JSON lines: {"text", "label": neg|neu|pos} or '
        '{"event", "expected": P1..P4} (repeatable)',
    )
    mtrain.add_argument(
        "--base",
        choices=["shipped", "none"],
        default=None,
        help="shipped: add the public training data the shipped model learned from "
        "(default: shipped without --data, none with it)",
    )
    mtrain.add_argument(
        "--data-dir", help="public data folder (default: TRIAGE_DATA_DIR or ../shared/data)"
    )
    mtrain.add_argument("--out", help="model folder to write (default: the shipped model's folder)")
    mtrain.set_defaults(func=_cmd_model_train)
    mshow = msub.add_parser("show", help="print a model's card: data, parameters, dev figures")
    mshow.add_argument("path", nargs="?", help="model folder (default: the shipped model)")
    mshow.set_defaults(func=_cmd_model_show)

    sla = sub.add_parser("sla", help="SLA tools: replay (what-if for a policy change)")
    slsub = sla.add_subparsers(dest="sla_command")
    replay = slsub.add_parser(
        "replay",
        help="replay tickets and activities under the current and a new SLA policy: "
        "warnings, breaches, first responses per priority",
    )
    _add_sla_replay_args(replay)

    schemas = sub.add_parser("schemas", help="message contract tools")
    ssub = schemas.add_subparsers(dest="schemas_command")
    export = ssub.add_parser("export", help="write the JSON Schema of every message")
    export.add_argument("directory")
    export.set_defaults(func=_cmd_schemas_export)
    return p


def _add_sla_replay_args(replay: argparse.ArgumentParser) -> None:
    from service.sla_replay_command import add_arguments

    add_arguments(replay)
    replay.set_defaults(func=_cmd_sla_replay)


def _cmd_sla_replay(args: argparse.Namespace) -> int:
    from service.sla_replay_command import main as sla_replay

    return sla_replay(args)


def _add_rules_test_args(rtest: argparse.ArgumentParser) -> None:
    rtest.add_argument(
        "file",
        help='JSON lines: {"event": {...}, "expected": "P1".."P4", ...} or '
        '{"event": {...}, "sentiment": "neg"|"neu"|"pos", "lang": .., "source": ..}',
    )
    rtest.add_argument("--rules", help="rule file (default: the shipped rules)")
    rtest.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="PATH|shipped",
        help="text model for the rules' negativity conditions (repeatable: two or more "
        "print the reports side by side; default: the shipped model when the rules need one)",
    )
    rtest.add_argument(
        "--min-agreement",
        type=float,
        default=0.9,
        help="exit non-zero below this share of exact agreement of priority lines (default 0.9)",
    )
    rtest.add_argument(
        "--min-balanced-accuracy",
        type=float,
        default=0.0,
        help="exit non-zero when the worst language's balanced accuracy of sentiment lines "
        "is below this (default 0: not checked)",
    )
    rtest.add_argument(
        "--max-disagreements", type=int, default=100, help="how many disagreements to print"
    )
    rtest.set_defaults(func=_cmd_rules_test)


def _cmd_run(args: argparse.Namespace) -> int:
    from service.app import TriageApp
    from service.config import load_settings

    # settings, rules, policy and model are checked before any connection (ConfigError)
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    settings.require_bootstrap()
    app = TriageApp(settings, role=args.role)
    asyncio.run(app.run_forever())
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from service.demo.runner import run_demo

    return asyncio.run(run_demo(seconds=args.seconds, live=not args.no_live))


def _cmd_watch(args: argparse.Namespace) -> int:
    from service.watch.runner import main as watch

    return watch(args.bootstrap, args.since, args.policy, not args.no_live, args.seconds)


def _cmd_explain(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from service.prioritizer.decode import DecodeFailure, DecodeLimits, decode_feedback
    from service.rules.engine import RuleEngine, build_ticket
    from service.rules.model import load_rules
    from service.sentiment.model import load_model
    from service.sla.policy import load_policy
    from service.startup_errors import set_by

    rules = load_rules(args.rules)  # a bad file: ConfigError, reported by main
    policy_env = None if args.policy else os.environ.get("TRIAGE_SLA_POLICY_PATH")
    with set_by("TRIAGE_SLA_POLICY_PATH" if policy_env else None):
        policy = load_policy(args.policy or policy_env)
    if rules.sla_seconds is not None:
        print(
            f"triage: warning: {rules.sla_seconds_ignored(policy.version, policy.target_seconds)}",
            file=sys.stderr,
        )
    try:
        raw = sys.stdin.buffer.read() if args.file in (None, "-") else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"triage: error: {describe(exc)}", file=sys.stderr)
        return 2
    now = SystemClock().now()
    limits = DecodeLimits(max_age=timedelta(days=36500), max_future_skew=timedelta(days=36500))
    try:
        event = decode_feedback(raw, limits, now)
    except DecodeFailure as failure:
        print(f"dead letter: {failure.reason.value}: {failure.detail}", file=sys.stderr)
        return 1
    from_env = None if args.model else os.environ.get("TRIAGE_MODEL_PATH")
    with set_by("TRIAGE_MODEL_PATH" if from_env else None):
        model = load_model(args.model or from_env)
    engine = RuleEngine(rules, text_model=model)
    assessment = engine.assess(event)
    ticket = build_ticket(event, assessment, now, rules.version, policy)
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
        f"due {rfc3339(ticket.sla.first_response_due_at)}   (SLA policy {ticket.sla.policy_id})"
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
    except RulesError as exc:  # the line `triage run` prints; 1: the file fails the check
        print(f"triage: error: {describe(exc)}", file=sys.stderr)
        return 1
    if rules.sla_seconds is not None:
        print(
            f"triage: warning: {args.path}: sla_seconds is deprecated and ignored; set the "
            "targets in the SLA policy's target_seconds (docs/rules.md)",
            file=sys.stderr,
        )
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
    from service.rules.evaluate import (
        LabelledFileError,
        engines_for,
        evaluate,
        failures,
        format_report,
        format_side_by_side,
        load_labelled,
    )
    from service.rules.model import RulesError, load_rules
    from service.sentiment.model import ModelError

    try:
        rules = load_rules(args.rules)
        engines = engines_for(rules, args.model)
        lines = load_labelled(args.file)
        reports = [(name, evaluate(engine, lines)) for name, engine in engines]
    except (RulesError, ModelError, LabelledFileError, OSError) as exc:
        print(f"triage: error: {describe(exc)}", file=sys.stderr)
        return 2
    models = f" with model {', '.join(args.model)}" if args.model else ""
    print(f"rule set {rules.version}{models} on {args.file}")
    if len(reports) == 1:
        print(format_report(reports[0][1], max_disagreements=args.max_disagreements))
    else:
        print(format_side_by_side(reports))
    failed = [
        f"FAIL: {name + ': ' if len(reports) > 1 else ''}{why}"
        for name, report in reports
        for why in failures(report, args.min_agreement, args.min_balanced_accuracy)
    ]
    for line in failed:
        print(line, file=sys.stderr)
    return 1 if failed else 0


def _cmd_model_train(args: argparse.Namespace) -> int:
    from service.sentiment.corpus import ReservedDataError, default_data_dir
    from service.sentiment.model import shipped_model_dir
    from service.sentiment.train import gather, train

    base = args.base or ("none" if args.data else "shipped")
    data_dir = None
    if base == "shipped":
        data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
        if data_dir is None or not data_dir.is_dir():
            print("no public data folder: set TRIAGE_DATA_DIR or --data-dir", file=sys.stderr)
            return 2
    try:
        examples, files = gather(data_dir, [Path(p) for p in args.data])
    except (ReservedDataError, ValueError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else shipped_model_dir()
    try:
        report = train(examples, out, sources=files)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"model written to {report.directory} in {report.seconds:.0f} s; lines {report.lines}")
    print(_format_dev(report.dev))
    return 0


def _format_dev(dev: dict[str, Any]) -> str:
    lines = ["language  dev bal.acc @0.5  best threshold  @best   n(neg/pos)"]
    for lang, d in dev.items():
        lines.append(
            f"{lang:<8}  {d['at_0.5'] or 0:>14.3f}  {d['best_threshold']:>14.2f}  "
            f"{d['at_best'] or 0:>5.3f}   {d['n_neg']}/{d['n_pos']}"
        )
    return "\n".join(lines)


def _cmd_model_show(args: argparse.Namespace) -> int:
    from service.sentiment.model import ModelError, load_model

    try:
        model = load_model(args.path)
    except ModelError as exc:
        print(f"triage: error: {describe(exc)}", file=sys.stderr)
        return 2
    card = model.card
    print(f"model    {model.directory}  version {model.version}")
    print(f"library  {card.get('library')}")
    print(f"params   {card.get('params')}")
    print(f"lines    {card.get('lines')}")
    for src in card.get("sources", []):
        print(f"source   {src['file']}  {src['lines']} lines  sha256 {src['sha256'][:12]}")
    print(_format_dev(card.get("dev", {})))
    return 0


def _cmd_schemas_export(args: argparse.Namespace) -> int:
    from schemas.export import export

    for path in export(args.directory):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
