"""How much progress the commands print: the root's `-q` / `-v`.

In: the root options, kept as an `Output` in the root context's `obj` by `cli`'s root
callback (`-q`: none, default: some, `-v`: more); a command asks for it with
`Output.of(ctx)` (its `ctx: typer.Context` parameter: no global, no thread-local).
Out: `Output.progress(text, level)`, which writes `text` to stderr when the level is shown.
Progress never goes to stdout: stdout carries only a command's result (the JSON of
`--json`), so it can be piped.
"""

from __future__ import annotations

from dataclasses import dataclass

import typer

QUIET, NORMAL, VERBOSE = 0, 1, 2


@dataclass(frozen=True)
class Output:
    """The verbosity the user asked for on the root command."""

    verbosity: int = NORMAL

    @classmethod
    def of(cls, ctx: typer.Context) -> Output:
        """The root's Output (NORMAL when the command runs without the root, as in a
        test that builds a sub-app)."""
        obj = ctx.find_root().obj
        return obj if isinstance(obj, Output) else cls()

    def shows(self, level: int) -> bool:
        """True when progress of `level` is shown (NORMAL: unless -q; VERBOSE: with -v)."""
        return self.verbosity >= level

    def progress(self, text: str, level: int = NORMAL) -> None:
        """Write one line of progress to stderr when `level` is shown."""
        if self.shows(level):
            typer.echo(text, err=True)


DEFAULT_OUTPUT = Output()  # a command function called without the root (tests, demo) shows NORMAL
