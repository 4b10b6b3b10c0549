"""The exception tree of loadtrial's control path, and its exit codes.

Measurement-path failures (a request that timed out, an observer that could not connect)
are *data*: they travel as error kinds in interval stats, as gaps and events. Exceptions are
for the control path only, and every one a user can cause carries a hint:

    LoadtrialError                 base; .exit_code, .hint
    ├── UserError                  bad input a user can fix (exit 2)
    │   └── SpecError              a trial file with problems; .problems lists them all
    ├── TargetError                the target cannot be reached or is not allowed (exit 2)
    ├── ProviderError              applying or reverting an arm failed (exit 4)
    ├── ObserverError              an observer failed to start or sample (caught by the sampler)
    └── StoreError                 the results store is unusable (exit 4)

`Problem` is one located mistake in a user's file, rendered as
``file:line: field: what is wrong (what to do)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in README.md."""

    OK = 0  # all SLOs met / claims supported
    FAILED = 1  # an SLO failed or a claim was refuted
    INVALID_INPUT = 2  # bad file, bad flag, unreachable or disallowed target
    ABORTED = 3  # a run was stopped by an abort rule or by the user
    INTERNAL = 4  # a bug or an environment failure (provider, store)


@dataclass(frozen=True)
class Problem:
    """One mistake in a user's input, located as precisely as we can."""

    field: str  # dotted path, e.g. "load.stages[1].rate"
    message: str  # what is wrong
    hint: str = ""  # what to do
    file: str = ""
    line: int | None = None

    def render(self) -> str:
        """Return ``file:line: field: message (hint)``, leaving out unknown parts."""
        where = self.file or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        text = (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )
        return f"{text} ({self.hint})" if self.hint else text


class LoadtrialError(Exception):
    """Base of every error loadtrial raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        """One line for the terminal: the message and, when known, what to do."""
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UserError(LoadtrialError):
    """Input a user can correct: a flag, a value, a file."""

    exit_code = ExitCode.INVALID_INPUT


class SpecError(UserError):
    """A trial file with one or more problems; all are reported at once."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the trial file")
        self.problems = problems

    def render(self) -> str:
        return "\n".join(p.render() for p in self.problems)


class TargetError(UserError):
    """The target is malformed, unreachable or not on the allow-list."""


class ProviderError(LoadtrialError):
    """Applying, reverting or snapshotting an environment failed."""


class ObserverError(LoadtrialError):
    """An observer could not start or take a sample."""


class StoreError(LoadtrialError):
    """The results store cannot be opened, read or written."""
