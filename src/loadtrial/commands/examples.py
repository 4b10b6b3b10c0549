"""CLI: `loadtrial examples [--copy DIR]`: the example trials shipped inside the package.

In: nothing, or a folder to copy them into. Out: one line per example (its file and first
comment line), or the files copied (an existing file is never overwritten: it is named
and skipped). Works the same from a checkout and from an installed wheel. The folder's
`trial.schema.json` (the output of `loadtrial schema`) is copied with them: each example's
first line, `# yaml-language-server: $schema=trial.schema.json`, names it beside the file.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from loadtrial.commands.demo import examples_dir

SCHEMA_FILE = "trial.schema.json"
MODELINE = f"# yaml-language-server: $schema={SCHEMA_FILE}"


def _first_line(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") and line != MODELINE:
            return line.lstrip("# ").strip()
    return ""


def copy_examples(dest: Path) -> tuple[list[Path], list[Path]]:
    """Copy every example into `dest` (created); return (copied, skipped as existing)."""
    dest.mkdir(parents=True, exist_ok=True)
    copied, skipped = [], []
    shipped = [*sorted(examples_dir().glob("*.yaml")), *sorted(examples_dir().glob("*.csv"))]
    for src in [*shipped, examples_dir() / SCHEMA_FILE]:
        target = dest / src.name
        if target.exists():
            skipped.append(target)
        else:
            shutil.copyfile(src, target)
            copied.append(target)
    return copied, skipped


def register(app: typer.Typer) -> None:
    """Add the `examples` command to `app`."""

    @app.command("examples")
    def examples_cmd(
        copy: Annotated[
            Path | None,
            typer.Option("--copy", help="copy the example trials into this folder", metavar="DIR"),
        ] = None,
    ) -> None:
        """List the example trials shipped with loadtrial, or copy them to a folder."""
        if copy is None:
            for path in sorted(examples_dir().glob("*.yaml")):
                typer.echo(f"{path.name:<22} {_first_line(path)}")
            typer.echo(f"(in {examples_dir()}; `loadtrial examples --copy DIR` to edit them)")
            return
        copied, skipped = copy_examples(copy)
        for path in copied:
            typer.echo(f"copied {path}")
        for path in skipped:
            typer.echo(f"kept {path} (it exists; not overwritten)")
