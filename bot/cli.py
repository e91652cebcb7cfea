"""The ``alimail-bot`` command line: chat, run, ask, triage, eval, kb validate, inbox, report.

Every error a user can cause ends here as one line on stderr and exit code 2; anything else is
a bug: exit code 1, with the traceback at debug log level.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.config import Settings
from bot.core.settings import MatchSettings
from bot.errors import BotError

if TYPE_CHECKING:
    # Annotations only: importing these at run time would slow every command's start.
    from bot.core.dialogue import Engine
    from bot.core.knowledge import KnowledgeBase
    from bot.core.matching import Matcher, MatchResult
    from bot.evaluation import Report
    from bot.reports.report import Report as ReportFigures
    from bot.store.helpdesk import EventRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Core:
    """Everything the channels need, assembled once."""

    settings: Settings
    kb: KnowledgeBase
    matcher: Matcher
    engine: Engine


def build_core(settings: Settings, *, staff_available: bool = False) -> Core:
    """Load the knowledge, build the matcher and the engine."""
    from bot.core.dialogue import DialogueSettings, Engine
    from bot.core.loader import load_knowledge
    from bot.core.matching import Matcher
    from bot.locale import load_translators

    kb = load_knowledge(settings.knowledge_dir)
    matcher = Matcher.from_knowledge(kb, settings.match)
    engine = Engine(
        kb,
        matcher,
        DialogueSettings(
            timeout_seconds=settings.session_timeout_minutes * 60,
            staff_available=staff_available,
            fallback_contact=settings.fallback_contact,
        ),
        translators=load_translators(),
    )
    return Core(settings=settings, kb=kb, matcher=matcher, engine=engine)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alimail-bot",
        description="Alibaba Mail support bot: recognises mail problems and walks through fixes.",
    )
    parser.add_argument(
        "--knowledge", type=Path, help="knowledge folder (default: $BOT_KNOWLEDGE or knowledge)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("chat", help="talk to the bot in the terminal (no token, no network)")
    sub.add_parser("run", help="run the Telegram bot (needs TELEGRAM_BOT_TOKEN)")
    ask = sub.add_parser("ask", help="print the bot's answer to one question")
    ask.add_argument("text", help="the question, in quotes")
    ask.add_argument("--explain", action="store_true", help="show scores, evidence, thresholds")
    triage = sub.add_parser("triage", help="classify one question per line, JSON out")
    triage.add_argument("file", nargs="?", default="-", help="input file, or - for stdin")
    triage.add_argument("--json", action="store_true", help="one JSON object per line (default)")
    ev = sub.add_parser("eval", help="accuracy on a labelled YAML file")
    ev.add_argument("file", type=Path, nargs="*", help="YAML list(s) of {text, label}")
    ev.add_argument(
        "--acts",
        type=Path,
        action="append",
        metavar="FILE",
        help="YAML list of {asked, text, act}: how well in-flow replies are read as acts",
    )
    ev.add_argument("--json", action="store_true", help="machine-readable output")
    ev.add_argument("--errors", action="store_true", help="list every miss")
    kb = sub.add_parser("kb", help="knowledge base tools")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True, metavar="KB_COMMAND")
    validate = kb_sub.add_parser("validate", help="check the knowledge files, list every error")
    validate.add_argument("directory", nargs="?", type=Path, help="knowledge folder")
    health = sub.add_parser(
        "health", help="ask a running bot's /healthz (or /readyz) on BOT_METRICS; exit 0 if fine"
    )
    health.add_argument("--ready", action="store_true", help="readiness instead of liveness")
    inbox = sub.add_parser("inbox", help="questions the bot got wrong or could not place, grouped")
    inbox.add_argument("--days", type=_days, default=30.0, help="how far back (default 30)")
    inbox.add_argument("--json", action="store_true", help="machine-readable output")
    inbox.add_argument(
        "--suggest",
        type=Path,
        default=Path(SUGGESTIONS_FILE),
        help=f"where to write the suggested knowledge edits (default {SUGGESTIONS_FILE})",
    )
    report = sub.add_parser("report", help="usage report: resolution, drop-off, hand-offs")
    report.add_argument("--days", type=_days, default=7.0, help="how far back (default 7)")
    report.add_argument(
        "--format", choices=("text", "json", "csv", "html"), default="text", help="output format"
    )
    report.add_argument("--out", type=Path, help="write to this file instead of the terminal")
    return parser


SUGGESTIONS_FILE = "knowledge-suggestions.yaml"


def _days(raw: str) -> float:
    try:
        days = float(raw)
    except ValueError:
        days = -1.0
    if not 0 < days <= 3650:
        raise argparse.ArgumentTypeError(f"expected a number of days above 0, got {raw!r}")
    return days


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run one command; returns the exit code."""
    args = _parser().parse_args(argv)
    environ = os.environ if environ is None else environ
    try:
        settings = Settings.from_env(environ)
        if args.knowledge is not None:
            from dataclasses import replace

            settings = replace(settings, knowledge_dir=args.knowledge)
        if args.command != "run":
            # ``run`` sets up its own logging (bot.ops.logging: levels, format, JSON).
            logging.basicConfig(
                level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
            )
        return COMMANDS[args.command](args, settings)
    except BotError as err:
        print(f"alimail-bot: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:
        logger.debug("unexpected error", exc_info=True)
        print(
            f"alimail-bot: unexpected error: {err!r} (run with BOT_LOG_LEVEL=DEBUG)",
            file=sys.stderr,
        )
        return 1


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    """Talk to the bot in the terminal."""
    from bot.channels.console import run_console
    from bot.helpdesk import Helpdesk, HelpdeskSettings
    from bot.store import open_store

    core = build_core(settings)
    store = open_store(settings.store_url or "memory://")
    # The same event log as on Telegram: masked, pseudonymised, kept by age.
    helpdesk = Helpdesk(
        store, HelpdeskSettings(retention_days=settings.retention_days, salt=settings.salt)
    )
    try:
        run_console(
            core.engine,
            store,
            stdin=sys.stdin,
            stdout=sys.stdout,
            clock=time.time,
            journal=helpdesk.journal,
        )
    finally:
        store.close()
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the Telegram bot."""
    from bot.errors import ConfigError

    if not settings.token:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set; get a token from @BotFather")
    from bot.channels.telegram import run_telegram
    from bot.ops.logging import configure_logging

    configure_logging(
        level=settings.log_level,
        log_format=settings.log_format,
        user_text=settings.log_user_text,
    )

    core = build_core(settings, staff_available=settings.staff_chat is not None)
    # Train the act reader now, not on the first user's message.
    _ = core.engine.acts
    return run_telegram(core, settings)


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    """Print the bot's first reply to one question."""
    from bot.channels.console import render_plain
    from bot.core.events import UserText

    core = build_core(settings)
    session = core.engine.new_session("ask", now=0.0)
    outcome = core.engine.handle(session, UserText(text=args.text), now=0.0)
    print("\n\n".join(render_plain(r) for r in outcome.replies))
    if args.explain:
        print()
        print(explain(core.matcher.match(args.text), core))
    return 0


def explain(result: MatchResult, core: Core) -> str:
    """The scores, evidence and thresholds behind a decision."""
    lines = [
        f"decision: {result.decision.value} ({result.reason})",
        "thresholds: " + " ".join(f"{k}={v}" for k, v in _thresholds(result.settings).items()),
    ]
    for c in result.candidates[:5]:
        lines.append(f"  {c.score:.3f}  {c.id:<18} topic={c.topic:<15} {c.evidence}")
    if result.out_of_scope:
        lines.append(f"  out of scope: {result.out_of_scope} {result.out_of_scope_score:.3f}")
    return "\n".join(lines)


def triage_record(result: MatchResult) -> dict[str, object]:
    """The JSON contract of ``triage``."""
    best = result.best
    top = result.candidates[0] if result.candidates else None
    chosen = best or (top if result.decision.value == "clarify" else None)
    return {
        "text": result.text,
        "decision": result.decision.value,
        "id": chosen.id if chosen else None,
        "topic": chosen.topic if chosen else None,
        "score": top.score if top else 0.0,
        "candidates": [{"id": c.id, "score": c.score} for c in result.candidates[:5]],
    }


def cmd_triage(args: argparse.Namespace, settings: Settings) -> int:
    """Classify each input line; one JSON object per line out."""
    stream: TextIO
    if args.file == "-":
        stream = sys.stdin
    else:
        try:
            stream = Path(args.file).open(encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError as err:
            from bot.errors import ConfigError

            raise ConfigError(f"cannot read {args.file}: {err.strerror}") from err
    # Built after the input is open: a missing file is reported without the build's wait.
    core = build_core(settings)
    with stream:
        for line in stream:
            text = line.rstrip("\n")
            if not text.strip():
                continue
            record = triage_record(core.matcher.match(text))
            print(json.dumps(record, ensure_ascii=False), flush=True)
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Accuracy report for a labelled file (first messages, or in-flow acts with --acts)."""
    from bot.core.loader import load_knowledge
    from bot.evaluation import advise, evaluate, load_cases

    if args.acts:
        return _eval_acts(args, settings)
    if not args.file:
        from bot.errors import ConfigError

        raise ConfigError("eval needs a FILE of {text, label}, or --acts FILE")
    # The files are checked before the matcher is built: a bad file fails at once.
    kb = load_knowledge(settings.knowledge_dir)
    cases = [case for path in args.file for case in load_cases(path, kb)]
    core = build_core(settings)
    report = evaluate(core.matcher, cases)
    advice, advice_report = advise(core.matcher, cases)
    if args.json:
        print(
            json.dumps(
                {
                    "metrics": report.metrics(),
                    "per_topic": {t: dict(c) for t, c in report.per_topic.items()},
                    "confusion": {t: dict(c) for t, c in report.confusion.items()},
                    "thresholds": _thresholds(settings.match),
                    "advice": {
                        "thresholds": _thresholds(advice),
                        "metrics": advice_report.metrics(),
                    },
                },
                indent=2,
            )
        )
        return 0
    print(format_report(report, settings, advice, advice_report, errors=args.errors))
    return 0


def _eval_acts(args: argparse.Namespace, settings: Settings) -> int:
    """The dialogue-act report (``eval --acts``)."""
    from bot.act_evaluation import evaluate_acts, format_act_report, load_act_cases

    core = build_core(settings)
    cases = [case for path in args.acts for case in load_act_cases(path)]
    report = evaluate_acts(core.engine.acts, core.kb, cases)
    if args.json:
        print(
            json.dumps(
                {
                    "replies": report.cases,
                    "act_accuracy": report.accuracy,
                    "meaning_accuracy": report.meaning_accuracy,
                    "per_act": {a: dict(c) for a, c in report.per_act.items()},
                    "confusion": {a: dict(c) for a, c in report.confusion.items()},
                },
                indent=2,
            )
        )
        return 0
    print(format_act_report(report, errors=args.errors))
    return 0


def _thresholds(m: MatchSettings) -> dict[str, float]:
    return {
        "answer_floor": m.answer_floor,
        "margin": m.margin,
        "clarify_floor": m.clarify_floor,
        "band": m.band,
        "oos_margin": m.oos_margin,
        "oos_answer_margin": m.oos_answer_margin,
        "oos_weight": m.oos_weight,
    }


def format_report(
    report: Report,
    settings: Settings,
    advice: MatchSettings,
    advice_report: Report,
    *,
    errors: bool,
) -> str:
    """The human-readable eval report."""
    m = report.metrics()
    lines = [
        f"questions: {m['questions']} ({m['in_scope']} in scope, "
        f"{m['out_of_scope']} out of scope)",
        f"right first reply      {m['right_first_reply']:.3f}",
        f"correct answer         {m['correct_answer']:.3f}",
        f"out-of-scope rejection {m['out_of_scope_rejection']:.3f}",
        f"wrong-answer rate      {m['wrong_answer_rate']:.3f}",
        f"clarify rate           {m['clarify_rate']:.3f}",
        "",
        "per topic                 n   right  answer  wrong",
    ]
    for topic in sorted(report.per_topic):
        c = report.per_topic[topic]
        lines.append(
            f"  {topic:<20} {c['n']:>4}  {c['ok'] / c['n']:.2f}   {c['answer'] / c['n']:.2f}"
            f"    {c['wrong']:>3}"
        )
    columns = sorted({p for row in report.confusion.values() for p in row})
    lines += ["", "confusion (rows: label topic, columns: first reply)"]
    lines.append(" " * 22 + "".join(f"{c[:14]:>15}" for c in columns))
    for topic in sorted(report.confusion):
        row = report.confusion[topic]
        lines.append(f"  {topic:<20}" + "".join(f"{row.get(c, 0):>15}" for c in columns))
    a = advice_report.metrics()
    t = _thresholds(settings.match)
    lines += [
        "",
        "thresholds in force: " + " ".join(f"{k}={v}" for k, v in t.items()),
        "threshold advice (best on THIS file; calibrate on one set, report on another): "
        + " ".join(f"{k}={v}" for k, v in _thresholds(advice).items()),
        f"  would give right first {a['right_first_reply']:.3f}, correct "
        f"{a['correct_answer']:.3f}, rejection {a['out_of_scope_rejection']:.3f}, wrong "
        f"{a['wrong_answer_rate']:.3f}",
    ]
    if errors:
        lines += ["", "misses:"]
        for o in report.outcomes:
            r = o.result
            got = r.best.topic if r.best else r.decision.value
            if r.decision.value == "clarify":
                got = "clarify[" + ",".join(c.topic for c in r.choices) + "]"
            ok = (o.topic == "none" and r.decision.value == "none") or (
                r.best is not None and r.best.topic == o.topic
            )
            if not ok:
                top = ", ".join(f"{c.topic}={c.score:.2f}" for c in r.candidates[:3])
                oos = f" oos={r.out_of_scope}:{r.out_of_scope_score:.2f}" if r.out_of_scope else ""
                lines.append(f"  [{o.topic} -> {got}] {o.case.text!r}  ({top}{oos})")
    return "\n".join(lines)


def cmd_kb(args: argparse.Namespace, settings: Settings) -> int:
    """Validate the knowledge folder and list every problem."""
    from bot.core.loader import validate_knowledge

    directory = args.directory or settings.knowledge_dir
    problems = validate_knowledge(directory)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        print(f"{len(problems)} problem(s) found in {directory}", file=sys.stderr)
        return 2
    from bot.core.loader import load_knowledge

    kb = load_knowledge(directory)
    examples = sum(len(p.examples) for p in kb.problems) + sum(len(f.examples) for f in kb.faqs)
    print(
        f"{directory}: OK, {len(kb.problems)} problems, {len(kb.faqs)} FAQ entries, "
        f"{len(kb.out_of_scope)} out-of-scope groups, {examples} examples"
    )
    for language in kb.languages[1:]:
        translated = kb.in_language(language)
        count = sum(len(e.examples) for e in (*translated.problems, *translated.faqs))
        print(f"  {language}: every entry translated, facts checked, {count} examples")
    return 0


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    """Ask the running bot whether it is alive (or ready): for container health checks."""
    from bot.errors import ConfigError
    from bot.ops.health import probe_http

    if settings.metrics is None:
        raise ConfigError(
            "BOT_METRICS is off; the health checks are served on the metrics address"
        )
    host, port = settings.metrics
    if host in ("0.0.0.0", "", "::", "[::]"):
        host = "127.0.0.1"
    path = "/readyz" if args.ready else "/healthz"
    ok, line = probe_http(f"http://{host}:{port}{path}")
    print(line, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def _events(settings: Settings, days: float) -> list[EventRecord]:
    from bot.store import open_store

    store = open_store(settings.store_url or settings.default_store_url)
    try:
        return store.events(since=time.time() - days * 86_400)
    finally:
        store.close()


def cmd_inbox(args: argparse.Namespace, settings: Settings) -> int:
    """Group what the bot could not place; write suggested knowledge edits for review."""
    from datetime import UTC, datetime

    from bot.errors import ConfigError
    from bot.reports.inbox import build_inbox, format_text, suggestions_yaml, to_json

    target = args.suggest.resolve()
    knowledge = settings.knowledge_dir.resolve()
    if target == knowledge or knowledge in target.parents:
        raise ConfigError(
            f"--suggest {args.suggest} is inside the knowledge folder; suggestions are for "
            "review: write them elsewhere and paste what is right"
        )
    core = build_core(settings)
    groups = build_inbox(_events(settings, args.days), core.matcher, core.kb)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        args.suggest.write_text(
            suggestions_yaml(groups, days=args.days, generated=generated), encoding="utf-8"
        )
    except OSError as err:
        raise ConfigError(f"cannot write {args.suggest}: {err.strerror}") from err
    if args.json:
        data = to_json(groups, days=args.days)
        data["suggestions_file"] = str(args.suggest)
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(format_text(groups, days=args.days))
        print(f"\nSuggested knowledge edits: {args.suggest} (review, then paste)")
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """The usage report in text, JSON, CSV or one self-contained HTML file."""
    from bot.errors import ConfigError
    from bot.reports.inbox import build_inbox
    from bot.reports.report import build_report

    core = build_core(settings)
    events = _events(settings, args.days)
    inbox = build_inbox(events, core.matcher, core.kb)
    report = build_report(events, core.kb, days=args.days, until=time.time(), inbox=inbox)
    text = render_report(report, args.format)
    if args.out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot write {args.out}: {err.strerror}") from err
    print(f"report written to {args.out}")
    return 0


def render_report(report: ReportFigures, form: str) -> str:
    """The report in one of the output formats."""
    from bot.reports.html import format_html
    from bot.reports.report import format_csv, format_json, format_text

    formats = {"text": format_text, "json": format_json, "csv": format_csv, "html": format_html}
    return formats[form](report)


COMMANDS = {
    "chat": cmd_chat,
    "run": cmd_run,
    "ask": cmd_ask,
    "triage": cmd_triage,
    "eval": cmd_eval,
    "kb": cmd_kb,
    "health": cmd_health,
    "inbox": cmd_inbox,
    "report": cmd_report,
}
