"""The root command's conventions: `-q/-v` set how much progress goes to stderr; shell
completion is typer's (`--show-completion`, `--install-completion`) and answers through the
installed `loadtrial` script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from loadtrial.cli import build_app, main
from loadtrial.commands.output import NORMAL, QUIET, VERBOSE, Output

SCRIPT = Path(sys.executable).parent / "loadtrial"  # the console script of this install


def _seen(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run `args` then a command that reports its verbosity and writes progress."""
    seen: list[int] = []

    def probe(ctx: typer.Context) -> None:
        out = Output.of(ctx)
        seen.append(out.verbosity)
        out.progress("normal progress")
        out.progress("verbose progress", VERBOSE)

    app = build_app()
    app.command("probe")(probe)
    app(args=[*args, "probe"], standalone_mode=False)
    return seen[0], capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "level", "lines"),
    [
        ([], NORMAL, ["normal progress"]),
        (["-q"], QUIET, []),
        (["-v"], VERBOSE, ["normal progress", "verbose progress"]),
        (["--verbose", "--verbose"], VERBOSE + 1, ["normal progress", "verbose progress"]),
    ],
)
def test_quiet_and_verbose_set_the_progress_shown(
    args: list[str], level: int, lines: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    seen, err = _seen(args, capsys)
    assert seen == level
    assert err.splitlines() == lines


def test_a_command_run_without_the_root_is_normal() -> None:
    seen: list[int] = []

    def alone(ctx: typer.Context) -> None:
        seen.append(Output.of(ctx).verbosity)

    app = typer.Typer()
    app.command()(alone)
    app(args=[], standalone_mode=False)
    assert seen == [NORMAL]


def test_show_completion_prints_the_script_for_the_shell() -> None:
    out = subprocess.run(
        [str(SCRIPT), "--show-completion", "bash"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "_LOADTRIAL_COMPLETE=complete_bash" in out.stdout


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [("loadtrial tes", "1", "testbed"), ("loadtrial testbed sta", "2", "status")],
)
def test_completion_answers_commands_and_subcommands(words: str, cword: str, expected: str) -> None:
    env = {**os.environ, "_LOADTRIAL_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": cword}  # fmt: skip
    out = subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [expected]


def test_install_completion_is_offered_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    help_text = capsys.readouterr().out
    assert "--install-completion" in help_text and "--quiet" in help_text
