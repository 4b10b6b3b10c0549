"""`loadtrial report [TRIAL|RUN] [--store PATH] [-o report.html] [--format html|json]`.

In: a trial (id, name, or nothing for the latest) or one run (`run:7` or `r7`) in the
results store. The trial is re-read from the file text stored with it; the findings are
the stored ones, or — when none are stored and the analysis is installed — computed now
(the report only reads the store, it never writes to it). A single run is reported as a
one-run trial, analysed on its own.
Out: one offline HTML file (default `report.html`) and the verdict summary on the
terminal; or, with `--format json`, the same content as JSON (to `-o`, else stdout).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from loadtrial.commands.output import DEFAULT_OUTPUT, NORMAL, Output
from loadtrial.errors import LoadtrialError, UserError
from loadtrial.findings import Finding
from loadtrial.spec.model import Trial
from loadtrial.store import Store
from loadtrial.store.model import TrialData

DEFAULT_STORE = Path(".loadtrial/results.db")
_RUN = re.compile(r"(?:run[:#]?|r)(\d+)", re.IGNORECASE)


def trial_from_text(text: str, path: str) -> Trial:
    """The Trial of stored file text (the spec loader, else plain YAML validation)."""
    try:
        from loadtrial.spec import parse_trial_text

        return parse_trial_text(text, path, check=False).trial
    except (ImportError, LoadtrialError):
        pass  # validate the plain YAML below: a report of old data beats no report
    import yaml

    try:
        return Trial.model_validate(yaml.safe_load(text))
    except Exception as exc:  # pydantic or YAML: one sentence for the user
        raise UserError(
            f"the trial file stored with the trial no longer parses: {exc}",
            hint="re-run the trial with a valid file",
        ) from None


def only_arm(trial: Trial, arm: str) -> Trial:
    """The trial narrowed to one arm (a one-run report): the other arms and the claims
    that need them are left out, so they do not show as "no data" or "inconclusive"."""
    arms = {arm: trial.arms.get(arm, {})}
    claims = tuple(c for c in trial.expect if c.arm == arm and not c.vs)
    return trial.model_copy(update={"arms": arms, "expect": claims, "repeat": 1})


def _analyse(data: TrialData, trial: Trial) -> tuple[Finding, ...]:
    """Findings computed now (none were stored with the trial)."""
    from loadtrial.analysis import analyze_trial  # scipy: only when analysing

    return tuple(analyze_trial(data, trial))


def _trial_id(store: Store, which: str) -> int:
    """Resolve a trial id, a trial name or "" (the latest) to an id."""
    if which.isdigit():
        return int(which)
    if not which:
        latest = store.latest_trial_id()
        if latest is None:
            raise UserError("the store holds no trial yet", hint="run one: loadtrial run FILE")
        return int(latest)
    named = [t for t in store.list_trials() if t.name == which]
    if not named:
        raise UserError(f"no trial named {which!r} in the store", hint="list them: loadtrial ls")
    return int(max(named, key=lambda t: t.created_at).trial_id)


def load_for_report(store_path: Path, which: str) -> tuple[TrialData, Trial, tuple[Finding, ...]]:
    """Read what the report needs from the store (and analyse when nothing is stored)."""
    if not store_path.exists():
        raise UserError(
            f"no results store at {store_path}", hint="run a trial first, or --store PATH"
        )
    with Store(store_path) as store:
        run = _RUN.fullmatch(which.strip())
        if run:
            one = store.load_run(int(run.group(1)))
            whole = store.load_trial(one.info.trial_id)
            info = replace(whole.info, name=f"{whole.info.name} — run {one.info.run_id}")
            data = TrialData(info=info, runs=(one,))
            trial = only_arm(
                trial_from_text(data.info.file_text, data.info.file_path), one.info.arm
            )
            stored = store.load_findings(one.info.trial_id)
            found = _analyse(data, trial) or tuple(f for f in stored if f.run_id == one.info.run_id)
            return data, trial, found
        trial_id = _trial_id(store, which.strip())
        data = store.load_trial(trial_id)
        trial = trial_from_text(data.info.file_text, data.info.file_path)
        findings = tuple(store.load_findings(trial_id)) or _analyse(data, trial)
        return data, trial, findings


def report_command(
    which: str,
    store_path: Path,
    output: Path | None,
    fmt: Literal["html", "json"],
    console: Console,
    *,
    plain_js: bool = False,
    out: Output = DEFAULT_OUTPUT,
) -> Path | None:
    """Write the report; return the file written (None when JSON went to stdout). The
    terminal summary after an HTML page is progress: -q drops it."""
    from loadtrial.report import print_summary, to_json, write_html

    data, trial, findings = load_for_report(store_path, which)
    if fmt == "json":
        where = str(store_path.resolve())
        text = json.dumps(to_json(data, trial, findings, store_path=where), indent=2)
        if output is None:
            typer.echo(text)
            return None
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n", encoding="utf-8")
        return output
    path = write_html(
        data,
        trial,
        findings,
        output or Path("report.html"),
        store_path=str(store_path.resolve()),
        compress_js=not plain_js,
    )
    if out.shows(NORMAL):
        print_summary(data, trial, findings, console)
    return path


def register(app: typer.Typer) -> None:
    """Add `report` to the CLI."""

    @app.command("report")
    def report(
        ctx: typer.Context,
        which: Annotated[
            str,
            typer.Argument(
                metavar="[TRIAL|RUN]",
                help="trial id or name (default: the latest), or a run as run:7",
            ),
        ] = "",
        store: Annotated[
            Path, typer.Option("--store", envvar="LOADTRIAL_STORE", help="results store (SQLite)")
        ] = DEFAULT_STORE,
        output: Annotated[
            Path | None, typer.Option("-o", "--output", help="file to write (html: report.html)")
        ] = None,
        fmt: Annotated[
            Literal["html", "json"],
            typer.Option("--format", help="html (one offline page) or json"),
        ] = "html",
        plain_js: Annotated[
            bool,
            typer.Option(
                "--plain-js",
                help="embed plotly.js unpacked (4.8 MB more) for browsers from before 2023",
            ),
        ] = False,
    ) -> None:
        """Write a trial's report: one self-contained HTML page (or JSON)."""
        out = Output.of(ctx)
        written = report_command(which, store, output, fmt, Console(), plain_js=plain_js, out=out)
        if written is not None and out.shows(NORMAL):
            typer.echo(f"Report: {written}", err=fmt == "json")
