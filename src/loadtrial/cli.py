"""The `loadtrial` command: a thin shell over the packages.

Each command group lives in `loadtrial/commands/<area>.py` and exposes
`register(app: typer.Typer) -> None`. The root takes `-q/-v` (how much progress goes to
stderr, see commands/output.py), `--debug` and `--version`; shell completion
(`--install-completion`, `--show-completion`) is typer's. `main()` turns LoadtrialError
into one clear line on
stderr and its exit code; nothing a user can cause ends in a traceback. Any other
exception is a bug: one line and exit 4 (INTERNAL), never 1 (which means "claim
refuted"); `loadtrial --debug ...` shows its traceback.
"""

from __future__ import annotations

import sys
import traceback

import typer

from loadtrial import __version__
from loadtrial.commands import register_all
from loadtrial.commands.output import NORMAL, QUIET, Output
from loadtrial.errors import ExitCode, LoadtrialError


def build_app() -> typer.Typer:
    """Return the CLI application with every command group registered."""
    app = typer.Typer(
        name="loadtrial",
        help="Load testing as an experiment: hypothesis, arms, load, every tier observed, verdict.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )

    def _version(value: bool) -> None:
        if value:
            typer.echo(__version__)
            raise typer.Exit()

    @app.callback()
    def _root(
        ctx: typer.Context,
        debug: bool = typer.Option(False, "--debug", help="show the traceback of a failure"),
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="print the version"
        ),
        verbose: int = typer.Option(
            0, "--verbose", "-v", count=True, help="more progress on stderr (-vv: still more)"
        ),
        quiet: bool = typer.Option(
            False, "--quiet", "-q", help="no progress on stderr: only results and errors"
        ),
    ) -> None:
        """Load testing as an experiment."""
        # --debug is read by main() from the arguments: a failure outside any command has
        # no context to carry it
        ctx.obj = Output(QUIET if quiet else NORMAL + verbose)

    @app.command()
    def version() -> None:
        """Print loadtrial's version."""
        typer.echo(__version__)

    register_all(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    app = build_app()
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args[: args.index("--")] if "--" in args else "--debug" in args
    try:
        # without standalone mode, click returns a typer.Exit's code instead of exiting
        rc = app(args=argv, standalone_mode=False)
    except LoadtrialError as exc:
        if debug:
            traceback.print_exc()
        typer.echo(f"loadtrial: {exc.render()}", err=True)
        return int(exc.exit_code)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("loadtrial: aborted", err=True)
        return int(ExitCode.ABORTED)
    except KeyboardInterrupt:
        typer.echo("loadtrial: interrupted", err=True)
        return int(ExitCode.ABORTED)
    except typer.TyperException as exc:  # usage errors: unknown flag, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"loadtrial: {exc}", err=True)
        return int(ExitCode.INVALID_INPUT)
    except Exception as exc:  # a bug: say it in one line, keep "1 = refuted" honest
        if debug:
            traceback.print_exc()
        where = "" if debug else "; `loadtrial --debug ...` shows the traceback"
        typer.echo(f"loadtrial: internal error: {type(exc).__name__}: {exc}{where}", err=True)
        return int(ExitCode.INTERNAL)
    return rc if isinstance(rc, int) else int(ExitCode.OK)


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
