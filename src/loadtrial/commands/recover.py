"""The `recover` command: undo what a killed trial left applied.

In: an optional trial id and `--store PATH`. Out: one line per undo step replayed (stderr
while it works, as progress: `-q` silences it), a summary per trial on stdout, and exit 0
when everything pending was undone (or nothing was), 4 when an undo failed (the
environment is still changed: the journal keeps the step pending, so `recover` can be run
again once the cause is fixed).
"""

from __future__ import annotations

from typing import Annotated

import typer

from loadtrial.commands.output import Output
from loadtrial.commands.trial import StoreOpt, TrialExit, _existing
from loadtrial.errors import ExitCode
from loadtrial.store.store import DEFAULT_PATH, Store


def recover_cmd(
    ctx: typer.Context,
    trial: Annotated[
        int | None, typer.Argument(help="trial id (see `loadtrial ls`); default: every trial")
    ] = None,
    store: StoreOpt = DEFAULT_PATH,
) -> None:
    """Replay the pending undo steps of a trial whose process died (safe to run twice)."""
    from loadtrial.runner.recover import recover

    with Store(_existing(store)) as st:
        done = recover(st, trial, note=Output.of(ctx).progress)
    if not done:
        which = f"trial {trial} has no" if trial is not None else "no trial has a"
        typer.echo(f"nothing to recover: {which} pending undo step in {store}")
        return
    for r in done:
        typer.echo(
            f"trial {r.trial_id}: {len(r.undone)} undo step(s) replayed, {len(r.failed)} failed"
            f" ({r.env_key})"
        )
        for failure in r.failed:
            typer.echo(f"  failed: {failure}")
    failed = [r.trial_id for r in done if not r.ok]
    if failed:
        raise TrialExit(
            f"some undo steps failed for trial {' '.join(map(str, failed))}; the environment "
            "is still changed (fix the cause, then run `loadtrial recover` again)",
            ExitCode.INTERNAL,
        )


def register(app: typer.Typer) -> None:
    """Add `recover` to the CLI."""
    app.command("recover")(recover_cmd)
