"""Command groups of the CLI, one module per area, each with `register(app)`.

Modules: load (quick load), trial (validate, schema, plan, run, ls, show, export),
testbed (testbed up/down/status, demo), analyze (analyze, fit usl), report (report),
examples (the bundled example trials), recover (replay an interrupted trial's undo journal).
Orchestration that spans areas (the verdict after a run, the demo) lives here too
(verdict.py, demo.py): the areas below know nothing of each other's printing.
"""

from __future__ import annotations

import typer

from loadtrial.commands import analyze, examples, load, recover, report, testbed, trial


def register_all(app: typer.Typer) -> None:
    """Register every command group (a module that fails to import is a loud error)."""
    for module in (load, trial, testbed, analyze, report, examples, recover):
        module.register(app)
