"""Read a trial file: YAML with lines → `${VAR}` → pydantic → semantic checks.

In: a path (or text) and the environment. Out: a frozen `LoadedTrial` — the validated
`Trial`, the raw text (with `${VAR}` unresolved, the only form ever stored), its sha256 and
the field-path → line map — or a `SpecError` listing every problem as
``file:line: field: what is wrong (what to do)``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from loadtrial.errors import Problem, SpecError, UserError
from loadtrial.spec.checks import check_trial
from loadtrial.spec.model import Trial
from loadtrial.spec.pydantic_problems import problems_from_validation
from loadtrial.spec.salvage import salvage
from loadtrial.spec.yamlmap import parse_yaml


@dataclass(frozen=True)
class LoadedTrial:
    """A validated trial and where it came from."""

    trial: Trial
    path: str
    text: str  # raw file text; ${VAR} left unresolved
    sha256: str
    lines: Mapping[str, int] = field(default_factory=dict)  # "load.stages[0].rate" -> line
    notes: tuple[str, ...] = ()  # what could not be checked (module not available yet)


def load_trial_file(path: str | Path, env: Mapping[str, str] | None = None) -> LoadedTrial:
    """Read and validate the trial file at `path`; raise SpecError or UserError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"no trial file at {p}", hint="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {p}: {exc}", hint="check the file") from None
    return parse_trial_text(text, str(path), env)


def parse_trial_text(
    text: str, path: str = "<text>", env: Mapping[str, str] | None = None, *, check: bool = True
) -> LoadedTrial:
    """Validate trial text.

    `check=False` is for re-reading stored text: the semantic checks are skipped and an
    unset ${VAR} becomes "" instead of a problem.
    """
    environ = os.environ if env is None else env
    parsed = parse_yaml(text, environ, path, unset_ok=not check)
    problems: list[Problem] = list(parsed.problems)
    if parsed.data is None and not problems:
        problems.append(
            Problem("", "the file is empty", "start from examples/quick-shell.yaml", path)
        )
    elif parsed.data is not None and not isinstance(parsed.data, dict):
        problems.append(
            Problem("", "a trial file is a mapping of fields", "see examples/", path, 1)
        )
    if problems and not isinstance(parsed.data, dict):
        raise SpecError(problems)
    try:
        base_dir = str(Path(path).resolve().parent) if path != "<text>" else None
        context = {"base_dir": base_dir}
        trial = Trial.model_validate(parsed.data, context=context)
    except ValidationError as exc:
        # a field already reported (an unset ${VAR} left it empty) is not reported twice
        found = problems_from_validation(exc, parsed.data, parsed.lines, path, Trial)
        problems += _new_only(tuple(found), problems)
        partial = salvage(parsed.data, context) if check else None
        if partial is not None:
            problems += _new_only(check_trial(partial, parsed.lines, path).problems, problems)
        raise SpecError(_sorted(problems)) from None
    notes: tuple[str, ...] = ()
    if check:
        checked = check_trial(trial, parsed.lines, path, environ)
        problems += _new_only(checked.problems, problems)
        notes = checked.notes
    if problems:
        raise SpecError(_sorted(problems))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return LoadedTrial(trial, path, text, digest, dict(parsed.lines), notes)


def _new_only(extra: tuple[Problem, ...], known: list[Problem]) -> list[Problem]:
    """Semantic problems about fields not already reported (nor inside/around them)."""
    seen = [p.field for p in known if p.field]

    def related(a: str, b: str) -> bool:
        return a == b or a.startswith((b + ".", b + "[")) or b.startswith((a + ".", a + "["))

    return [p for p in extra if not any(related(p.field, f) for f in seen)]


def _sorted(problems: list[Problem]) -> list[Problem]:
    """Problems in file order (unlocated last), as a reader scans the file."""
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0, p.field))
