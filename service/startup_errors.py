"""Start-up errors: one line that says where, what and why.

A bad rule file, SLA policy, text model or setting stops ``triage run`` before it
connects to Kafka, with one line on stderr and exit code 2 (``service/cli.py``)::

    triage: error: rules.yaml: rule "text.outage": when.negativity: must be between 0 and 1 (a probability), got 1.5 (set by TRIAGE_RULES_PATH)

This module is the one place that words them:

* :class:`ConfigError` is a file (or, for settings, nothing: each problem names its
  environment variable) and its :class:`Problem` s: the rule, lexicon or policy
  (``subject``), the field path in it (``path``) and what is wrong. The loaders' errors
  (``RulesError``, ``PolicyError``, ``ModelError``) are ``ConfigError`` s.
* :func:`validation_problems` turns a pydantic ``ValidationError`` into problems: the
  error location becomes the subject (the loader says how: rule id, lexicon name) and a
  dotted path (``when.any[1].text``); a validator that checks the whole document locates
  its error by raising :func:`refusal` with the location.
* :func:`yaml_problem` and :func:`json_problem` give a syntax error its line and column.
* :func:`describe` is the line of any error the command line reports.

Nothing here imports Kafka, asyncio or the metrics: the domain packages raise these.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

#: Problems spelled out in one line; the rest are counted ("and 2 more").
MAX_PROBLEMS = 3
#: Longest input value quoted in a message.
_MAX_INPUT = 40
#: Location parts pydantic adds that say nothing to the reader (the type a union tried).
_NOISE = {"function-after[_not_empty(), Condition]"}

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong: in what (``rule "text.anger"``, ``TRIAGE_LOG_LEVEL='x'``), where
    in it (``when.text``) and what."""

    message: str
    subject: str = ""
    path: str = ""

    def __str__(self) -> str:
        return ": ".join(part for part in (self.subject, self.path, self.message) if part)


class ConfigError(ValueError):
    """A start-up input is wrong: ``source`` (a file or folder; None for settings, whose
    problems name their variables), its problems and, when a setting named the file, the
    setting (``TRIAGE_RULES_PATH``). ``str()`` is one line."""

    def __init__(
        self,
        source: str | None,
        problems: str | Problem | Sequence[Problem],
        *,
        setting: str | None = None,
    ) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.source = source
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.setting = setting
        super().__init__(self.line())

    def line(self) -> str:
        shown: list[str] = []
        subject = ""
        for problem in self.problems[:MAX_PROBLEMS]:
            # "rule "x": a: …; b: …" rather than the rule again for each of its problems
            same = problem.subject == subject
            shown.append(str(Problem(problem.message, "", problem.path) if same else problem))
            subject = problem.subject
        more = len(self.problems) - len(shown)
        if more:
            shown.append(f"and {more} more")
        text = "; ".join(shown) or "invalid"
        if self.source:
            text = f"{self.source}: {text}"
        if self.setting:
            text += f" (set by {self.setting})"
        return one_line(text)

    def __str__(self) -> str:
        return self.line()

    def set_by(self, setting: str) -> ConfigError:
        """The same error (same class), saying which setting named the file."""
        return type(self)(self.source, self.problems, setting=setting)

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle rebuild it from its parts
        return (_rebuild, (type(self), self.source, self.problems, self.setting))


def _rebuild(
    cls: type[ConfigError], source: str | None, problems: tuple[Problem, ...], setting: str | None
) -> ConfigError:
    return cls(source, problems, setting=setting)


@contextmanager
def set_by(setting: str | None) -> Iterator[None]:
    """Inside, a ``ConfigError`` says it came from the file ``setting`` names (None: from
    no setting, a shipped default)."""
    try:
        yield
    except ConfigError as exc:
        if setting is None:
            raise
        raise exc.set_by(setting) from exc.__cause__


def describe(exc: BaseException) -> str:
    """The one line the command line prints for ``exc``."""
    if isinstance(exc, ConfigError):
        return exc.line()
    if isinstance(exc, OSError) and exc.filename is not None:
        return one_line(f"{exc.filename}: {exc.strerror or exc}")
    return one_line(str(exc) or type(exc).__name__)


def one_line(text: str) -> str:
    return " ".join(text.split())


# --- syntax errors ------------------------------------------------------------------------


def _at(line: int, column: int) -> str:
    return f"line {line}, column {column}"


def yaml_problem(exc: yaml.YAMLError) -> Problem:
    """A YAML syntax error at its line and column (1-based), as the parser words it."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        message = f"not valid YAML: {exc.problem or 'syntax error'}"
        if exc.context and exc.context_mark is not None:
            ctx = exc.context_mark
            message += f" ({exc.context} at {_at(ctx.line + 1, ctx.column + 1)})"
        return Problem(message, _at(mark.line + 1, mark.column + 1))
    return Problem(f"not valid YAML: {exc}")


def json_problem(exc: json.JSONDecodeError) -> Problem:
    return Problem(f"not valid JSON: {exc.msg}", _at(exc.lineno, exc.colno))


# --- schema errors ------------------------------------------------------------------------


def refusal(loc: Loc, message: str) -> PydanticCustomError:
    """What a model validator raises for a problem at ``loc`` (relative to the model it
    validates); :func:`validation_problems` reports it there."""
    return PydanticCustomError("config", message, {"loc": loc})


def loc_path(loc: Sequence[str | int]) -> str:
    """``("when", "any", 1, "text")`` → ``when.any[1].text``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in _NOISE:
            out += f".{part}" if out else str(part)
    return out


def quoted(value: Any) -> str:
    """A scalar input for a message, shortened."""
    text = repr(value)
    return text if len(text) <= _MAX_INPUT else text[: _MAX_INPUT - 1] + "…"


def error_message(err: Any) -> str:
    """Pydantic's message for one error, less its type prefix, with the input given when
    it is a scalar."""
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required"
    message = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    value = err.get("input")
    if isinstance(value, str | int | float) and kind not in (
        "config",
        "value_error",
        "assertion_error",
    ):
        message += f" (got {quoted(value)})"
    return message


def validation_problems(
    exc: ValidationError, subject_of: Callable[[Loc], tuple[str, Loc]] | None = None
) -> list[Problem]:
    """One problem per error: ``subject_of`` splits a location into what it names (a
    rule, a lexicon) and the path left in it; without it the whole path is the path."""
    problems: list[Problem] = []
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        loc: Loc = tuple(err["loc"]) + tuple(ctx.get("loc", ()))
        subject, rest = subject_of(loc) if subject_of else ("", loc)
        problems.append(Problem(error_message(err), subject, loc_path(rest)))
    return problems
