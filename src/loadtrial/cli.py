"""The `loadtrial` command: a thin shell over the packages.

Each command group lives in `loadtrial/commands/<area>.py` and exposes
`register(app: typer.Typer) -> None`. `main()` turns LoadtrialError into one clear line on
stderr and its exit code; nothing a user can cause ends in a traceback.
"""

from __future__ import annotations

import sys

import typer

from loadtrial import __version__
from loadtrial.commands import register_all
from loadtrial.errors import ExitCode, LoadtrialError


def build_app() -> typer.Typer:
    """Return the CLI application with every command group registered."""
    app = typer.Typer(
        name="loadtrial",
        help="Load testing as an experiment: hypothesis, arms, load, every tier observed, verdict.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _root() -> None:
        """Load testing as an experiment."""

    @app.command()
    def version() -> None:
        """Print loadtrial's version."""
        typer.echo(__version__)

    register_all(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    app = build_app()
    try:
        # without standalone mode, click returns a typer.Exit's code instead of exiting
        rc = app(args=argv, standalone_mode=False)
    except LoadtrialError as exc:
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
    return rc if isinstance(rc, int) else int(ExitCode.OK)


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
