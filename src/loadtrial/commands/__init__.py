"""Command groups of the CLI, one module per area, each with `register(app)`.

Modules: load (quick load), trial (validate, schema, plan, run, ls, show, export),
testbed (testbed up/down/status, demo), analyze (analyze, fit usl), report (report),
whatif (whatif).
"""

from __future__ import annotations

import importlib

import typer

_MODULES = ("load", "trial", "testbed", "analyze", "report", "whatif")


def register_all(app: typer.Typer) -> None:
    """Register every command group that exists (areas land one by one)."""
    for name in _MODULES:
        try:
            module = importlib.import_module(f"loadtrial.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"loadtrial.commands.{name}":
                raise
            continue
        module.register(app)
