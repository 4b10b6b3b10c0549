"""Trial commands: validate, schema, plan, run, ls, show, export.

In: a trial file or a run id, and `--store PATH` (default `.loadtrial/results.db`).
Out: text on stdout (JSON with `--json`), messages on stderr, and the exit codes of
docs/trials.md: 0 all SLOs met / claims supported, 1 an SLO failed or a claim refuted,
2 invalid input, 3 aborted or interrupted, 4 internal or environment failure.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from loadtrial.commands.output import NORMAL, Output
from loadtrial.errors import ExitCode, LoadtrialError, UserError
from loadtrial.store.store import DEFAULT_PATH, Store
from loadtrial.units import format_duration, format_ms

ArmOpt = Annotated[list[str] | None, typer.Option("--arm", help="only this arm (repeatable)")]
StoreOpt = Annotated[
    Path,
    typer.Option(
        "--store", envvar="LOADTRIAL_STORE", help="results store (SQLite); created if missing"
    ),
]


def _json_text(value: Any) -> str:
    """JSON without NaN (null instead), so every JSON reader accepts it."""
    return json.dumps(_no_nan(value), indent=2, sort_keys=False, default=str)


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _no_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_nan(v) for v in value]
    return value


class TrialExit(LoadtrialError):
    """A finished trial whose exit code is not 0 (an exception: cli.main maps those to codes)."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = code


def validate_cmd(file: Annotated[Path, typer.Argument(help="trial file (YAML)")]) -> None:
    """Check a trial file; print every problem as file:line: field: what (what to do)."""
    from loadtrial.runner.plan import estimate_s, make_plan
    from loadtrial.spec import load_trial_file

    loaded = load_trial_file(file)
    plan = make_plan(loaded.trial)
    for note in loaded.notes:
        typer.echo(f"note: {note}", err=True)  # a warning, not progress: -q keeps it
    typer.echo(
        f"{file}: ok — {len(loaded.trial.arms)} arm(s) × {loaded.trial.repeat} = "
        f"{len(plan)} run(s), about {format_duration(estimate_s(loaded.trial, plan))}"
    )


def schema_cmd() -> None:
    """Print the JSON Schema of a trial file (for editor completion)."""
    from loadtrial.spec import trial_json_schema

    typer.echo(json.dumps(trial_json_schema(), indent=2))


def plan_cmd(
    file: Annotated[Path, typer.Argument(help="trial file (YAML)")],
    arm: Annotated[
        list[str] | None, typer.Option("--arm", help="only this arm (repeatable)")
    ] = None,
) -> None:
    """Print the runs a trial would make, in order, with the estimated duration."""
    from loadtrial.runner.plan import describe, make_plan
    from loadtrial.spec import load_trial_file

    loaded = load_trial_file(file)
    for line in describe(loaded.trial, make_plan(loaded.trial, arm or ())):
        typer.echo(line)


def run_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="trial file (YAML)")],
    store: StoreOpt = DEFAULT_PATH,
    arm: Annotated[
        list[str] | None, typer.Option("--arm", help="only this arm (repeatable)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the plan; send nothing")
    ] = False,
    junit: Annotated[
        Path | None,
        typer.Option("--junit", help="write the claims and SLO objectives as JUnit XML"),
    ] = None,
    live: Annotated[bool, typer.Option("--live/--no-live", help="live view on a terminal")] = True,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="load worker processes")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="run even if a killed trial left the env changed")
    ] = False,
) -> None:
    """Run a trial: every arm × repetition, journalled into the store."""
    from loadtrial.commands.verdict import conclude
    from loadtrial.report.junit import junit_xml
    from loadtrial.runner import run_trial
    from loadtrial.runner.plan import make_plan
    from loadtrial.spec import load_trial_file

    loaded = load_trial_file(file)
    make_plan(loaded.trial, arm or ())  # an unknown --arm is refused before the store opens
    _check_writable(junit, "--junit")
    console = Console(stderr=True)
    if dry_run:  # nothing is sent and nothing is stored: no store is created either
        outcome = run_trial(loaded, store=None, only_arms=arm or (), dry_run=True, console=console)
        typer.echo(outcome.message, err=True)
        return
    out = Output.of(ctx)
    live = live and out.shows(NORMAL)  # -q: no live view either
    with Store(store) as st:
        outcome = run_trial(
            loaded, store=st, only_arms=arm or (), dry_run=dry_run, live=live,
            console=console, workers=workers, force=force,
        )  # fmt: skip
        verdict = conclude(st, loaded.trial, outcome, console)
        if junit is not None:
            _write(junit, junit_xml(loaded.trial.name, verdict.findings), "--junit")
    out.progress(f"trial {outcome.trial_id} stored in {store}")
    if verdict.exit_code != ExitCode.OK:
        raise TrialExit(verdict.message, ExitCode(verdict.exit_code))


def ls_cmd(
    store: StoreOpt = DEFAULT_PATH,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable, to stdout")] = False,
) -> None:
    """List trials and their runs with status."""
    with Store(_existing(store)) as st:
        trials = st.list_trials()
        if as_json:
            typer.echo(_json_text([_trial_json(st, t) for t in trials]))
            return
        if not trials:
            typer.echo(f"no trials in {store}")
            return
        for t in trials:
            typer.echo(f"trial {t.trial_id}  {t.name}  [{t.status}]  {t.file_path}")
            pending = st.journal_entries(trial_id=t.trial_id, pending_only=True)
            if pending:
                typer.echo(
                    f"  ! {len(pending)} undo step(s) pending: the arm may still be applied "
                    f"(loadtrial recover {t.trial_id})"
                )
            for r in st.list_runs(t.trial_id):
                reason = f"  ({r.abort_reason})" if r.abort_reason else ""
                typer.echo(
                    f"  run {r.run_id:<4} {r.arm:<20} rep {r.repetition}  {r.status}{reason}"
                )


def _trial_json(st: Store, t: Any) -> dict[str, Any]:
    """One trial of `ls --json`: its fields, pending undo steps and runs."""
    pending = st.journal_entries(trial_id=t.trial_id, pending_only=True)
    runs = [
        {"run_id": r.run_id, "arm": r.arm, "repetition": r.repetition, "status": r.status,
         "abort_reason": r.abort_reason}
        for r in st.list_runs(t.trial_id)
    ]  # fmt: skip
    return {"trial_id": t.trial_id, "name": t.name, "status": t.status,
            "file": t.file_path, "pending_undo_steps": len(pending), "runs": runs}  # fmt: skip


def _existing(store: Path) -> Path:
    """The store path for reading commands; a missing store is a user error, not created."""
    if not store.exists():
        raise UserError(f"no results store at {store}", hint="run a trial first, or use --store")
    return store


def _run_id(st: Store, run: str) -> int:
    """A run id, or 'last' for the last run of the latest trial."""
    if run == "last":
        tid = st.latest_trial_id()
        runs = st.list_runs(tid) if tid is not None else ()
        started = [r for r in runs if r.status != "planned"] or list(runs)
        if not started:
            raise UserError("the store has no runs yet", hint="loadtrial run FILE")
        return started[-1].run_id
    try:
        return int(run)
    except ValueError:
        raise UserError(f"{run!r} is not a run id", hint="see `loadtrial ls`") from None


def show_cmd(
    run: Annotated[str, typer.Argument(help="run id (see `loadtrial ls`) or 'last'")],
    store: StoreOpt = DEFAULT_PATH,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Summarise one run: load figures, peak utilisation per tier, events, journal."""
    from loadtrial.store.export import run_summary

    with Store(_existing(store)) as st:
        summary = run_summary(st.load_run(_run_id(st, run)))
    if as_json:
        typer.echo(_json_text(summary))
        return
    for line in _summary_lines(summary):
        typer.echo(line)


def _summary_lines(s: dict[str, Any]) -> list[str]:
    load = s["load"]
    lat = load["latency_us"]
    rate = load["error_rate"]
    params = ", ".join(f"{k}={v}" for k, v in s["params"].items()) or "-"
    lines = [
        f"run {s['run_id']} (trial {s['trial_id']}): arm {s['arm']} rep {s['repetition']}"
        f"  [{s['status']}]" + (f" {s['reason']}" if s["reason"] else ""),
        f"  params: {params}",
    ]
    if load["seconds"] == 0:
        lines.append("  load: none measured after warmup")
    else:
        lines += [
            f"  load ({load['seconds']}s after warmup): {load['completed']} done, "
            f"{load['throughput_per_s']:.1f}/s, errors "
            + ("n/a" if rate is None else f"{rate:.2%}")
            + (f" {load['errors']}" if load["errors"] else ""),
            "  latency: " + "  ".join(f"{k} {format_ms(v)}" for k, v in lat.items()),
        ]
    for name, r in s["requests"].items():  # per request name, when the run had several
        r_rate = "n/a" if r["error_rate"] is None else f"{r['error_rate']:.2%}"
        lines.append(
            f"  request {name}: {r['completed']} done, errors {r_rate}"
            + (f" {r['errors']}" if r["errors"] else "")
            + f", p50 {format_ms(r['latency_us']['p50'])} p99 {format_ms(r['latency_us']['p99'])}"
        )
    for tier, peak in s["peak_utilisation"].items():
        lines.append(
            f"  peak {tier}: {peak['utilisation']:.0%} of capacity ({peak['series']} "
            f"{peak['value']:g}/{peak['capacity']:g} at t={peak['t_s']:.0f}s)"
        )
    lines += [f"  event t={e['t_s']:.0f}s {e['kind']}: {e['message']}" for e in s["events"]]
    lines += [f"  action {a['status']:<6} {a['name']}" for a in s["actions"]]
    if s["status"] == "incomplete":
        lines.append(
            "  note: loadtrial ended during this run, so the arm's revert may not have run: "
            f"`loadtrial recover {s['trial_id']}` undoes what the journal holds"
        )
    return lines


def export_cmd(
    run: Annotated[str, typer.Argument(help="run id (see `loadtrial ls`) or 'last'")],
    store: StoreOpt = DEFAULT_PATH,
    fmt: Annotated[Literal["json", "csv"], typer.Option("--format", help="json or csv")] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file (default stdout)")
    ] = None,
) -> None:
    """Export one run's seconds and series as JSON or CSV."""
    from loadtrial.store.export import run_to_csv, run_to_json

    _check_writable(output, "--output")
    with Store(_existing(store)) as st:
        data = st.load_run(_run_id(st, run))
    text = _json_text(run_to_json(data)) + "\n" if fmt == "json" else run_to_csv(data)
    if output is None:
        typer.echo(text, nl=False)
    else:
        _write(output, text, "--output")


def _check_writable(path: Path | None, flag: str) -> None:
    """Refuse an output path whose folder does not exist, before any work is done."""
    if path is None:
        return
    if path.is_dir():
        raise UserError(f"{flag}: {path} is a directory", hint="name a file")
    if not path.parent.is_dir():
        raise UserError(f"{flag}: folder {path.parent} does not exist", hint="create it first")


def _write(path: Path, text: str, flag: str) -> None:
    """Write an output file; a failure is one line (exit 2), not a traceback."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{flag}: cannot write {path}: {exc.strerror or exc}") from None


def register(app: typer.Typer) -> None:
    """Add the trial commands to the CLI."""
    app.command("validate")(validate_cmd)
    app.command("schema")(schema_cmd)
    app.command("plan")(plan_cmd)
    app.command("run")(run_cmd)
    app.command("ls")(ls_cmd)
    app.command("show")(show_cmd)
    app.command("export")(export_cmd)
