"""`loadtrial analyze [TRIAL] [--store PATH] [--json]` and `loadtrial fit usl FILE.csv [--json]`.

analyze: reads a trial and its runs from the store, re-reads the trial file from the text
stored with it, runs the analysis, stores the findings and prints them (or JSON). Its exit
code is `verdict_exit_code` (0 OK, 1 a claim not supported / an SLO missed, 3 a run
aborted). fit usl: fits the Universal Scalability Law to a CSV with columns n,throughput.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape

from loadtrial.analysis import verdict_exit_code
from loadtrial.commands.output import DEFAULT_OUTPUT, NORMAL, VERBOSE, Output
from loadtrial.errors import ExitCode, LoadtrialError, UserError
from loadtrial.findings import Finding
from loadtrial.findings import finding_json as finding_doc
from loadtrial.spec.model import Trial


class VerdictExit(LoadtrialError):
    """An analysis whose exit code is not 0 (cli.main turns LoadtrialError into its code;
    a typer.Exit code would be lost under standalone_mode=False)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = ExitCode(code)


def exit_message(findings: tuple[Finding, ...], code: int) -> str:
    """One line saying why the exit code is not 0."""
    if code == ExitCode.ABORTED:
        return "a run was aborted or interrupted (its data was analysed)"
    open_claims = [f.subject for f in findings if f.kind == "verdict" and f.status != "supported"]
    if open_claims:
        return f"not supported: {', '.join(open_claims)}"
    return "an arm misses its SLO"


def plain(value: Any) -> Any:
    """JSON-able copy: NaN and ±∞ become None, tuples lists, mappings dicts."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def finding_json(f: Finding) -> dict[str, Any]:
    """One finding as JSON-able data."""
    doc: dict[str, Any] = plain(finding_doc(f))
    return doc


def trial_of_text(text: str, path: str) -> Trial:
    """The Trial of stored file text (spec loader first; plain YAML as a fallback)."""
    try:
        from loadtrial.spec.loader import parse_trial_text

        return parse_trial_text(text, path, check=False).trial
    except (ImportError, LoadtrialError):
        try:
            return Trial.model_validate(yaml.safe_load(text))
        except Exception as exc:
            raise UserError(f"the trial file stored with the trial no longer parses: {exc}",
                            hint="re-run the trial with a valid file") from None  # fmt: skip


def _trial_id(store: Any, which: str | None) -> int:
    if which is None:
        latest = store.latest_trial_id()
        if latest is None:
            raise UserError("the store holds no trial yet", hint="run one: loadtrial run FILE")
        return int(latest)
    if which.isdigit():
        return int(which)
    named = [t for t in store.list_trials() if t.name == which]
    if not named:
        raise UserError(f"no trial named {which!r} in the store", hint="list them: loadtrial ls")
    return int(max(named, key=lambda t: t.created_at).trial_id)


STATUS_STYLE = {
    "pass": "green", "supported": "green", "no_difference": "cyan",
    "fail": "red", "refuted": "red", "invalid": "red", "aborted": "yellow",
    "inconclusive": "yellow", "degraded": "yellow", "confounded": "yellow",
}  # fmt: skip
KIND_ORDER = ("verdict", "bottleneck", "confounder", "slo", "validity", "saturation",
              "comparison", "scalability")  # fmt: skip


def _print(findings: tuple[Finding, ...], console: Console) -> None:
    """Findings grouped by kind, verdicts first; one wrapped line each."""
    for kind in KIND_ORDER:
        mine = [f for f in findings if f.kind == kind]
        if not mine:
            continue
        console.print(f"[bold]{kind}[/bold]")
        for f in mine:
            style = STATUS_STYLE.get(f.status, "bold")
            console.print(f"  [{style}]{escape(f.status or '-')}[/{style}]  {escape(f.summary)}")


def _print_verdict(data: Any, spec: Trial, findings: tuple[Finding, ...], console: Console) -> None:
    """The report's verdict section (hypothesis, what broke, claims, arms) after the list."""
    from loadtrial.report import print_summary  # plotly and the page: only when printing

    console.print()
    print_summary(data, spec, findings, console)


def analyze_command(
    trial: str | None,
    store_path: str,
    as_json: bool,
    *,
    raise_on_failure: bool = False,
    out: Output = DEFAULT_OUTPUT,
) -> int:
    """Analyse a stored trial, save and print its findings; return the exit code (or, with
    `raise_on_failure`, raise VerdictExit carrying it when it is not 0). Progress goes to
    `out` (-v: what was analysed and saved); -q also drops the terminal summary after the
    findings (the findings and the exit code are the result and stay)."""
    from loadtrial.store import Store

    if not Path(store_path).exists():  # opening it would create an empty store
        raise UserError(f"no results store at {store_path}",
                        hint="run a trial first, or --store PATH")  # fmt: skip
    with Store(store_path) as store:
        trial_id = _trial_id(store, trial)
        data = store.load_trial(trial_id)
        spec = trial_of_text(data.info.file_text, data.info.file_path)
        from loadtrial.analysis.trial import analyze_trial  # scipy: only when analysing

        out.progress(f"analysing trial {trial_id} ({len(data.runs)} runs) ...", VERBOSE)
        findings = analyze_trial(data, spec)
        store.save_findings(trial_id, findings)
        out.progress(f"{len(findings)} findings saved in {store_path}", VERBOSE)
    code = verdict_exit_code(findings)
    if as_json:
        doc = {"trial_id": trial_id, "exit_code": code,
               "findings": [finding_json(f) for f in findings]}  # fmt: skip
        typer.echo(json.dumps(doc, indent=2))
    else:
        console = Console()
        _print(findings, console)
        if out.shows(NORMAL):
            _print_verdict(data, spec, findings, console)
    if code and raise_on_failure:
        raise VerdictExit(exit_message(findings, code), code)
    return code


def read_usl_csv(path: Path) -> tuple[list[float], list[float]]:
    """The n and throughput columns of a CSV; a bad file, header or cell is a UserError
    naming the file, the line and the column."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise UserError(f"no file at {path}", hint="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it as a CSV text file ({exc})") from None
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if "n" not in header or "throughput" not in header:
        found = ",".join(rows[0]) if rows else "an empty file"
        raise UserError(f"{path}:1: expected the columns n,throughput, found {found!r}",
                        hint="first line: n,throughput (comma-separated)")  # fmt: skip
    cols = {"n": header.index("n"), "throughput": header.index("throughput")}
    n: list[float] = []
    x: list[float] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = []
        for name, col in cols.items():
            cell = row[col].strip() if col < len(row) else ""
            try:
                values.append(float(cell))
            except ValueError:
                raise UserError(f"{path}:{line}: {name} {cell!r} is not a number",
                                hint="each line: n,throughput, e.g. 4,1830") from None  # fmt: skip
        n.append(values[0])
        x.append(values[1])
    return n, x


def fit_usl_command(path: Path, as_json: bool) -> None:
    """Fit the USL to a CSV with columns n,throughput and print the figures."""
    n, x = read_usl_csv(path)
    from loadtrial.analysis.scalability import fit_usl  # scipy: only when fitting

    fit = fit_usl(n, x).as_dict()
    if as_json:
        typer.echo(json.dumps(plain(fit), indent=2))
        return
    for key in ("sigma", "kappa", "lambda", "peak_n", "peak_throughput", "r2"):
        value = fit[key]
        typer.echo(f"{key:16} {'inf' if value is None else f'{value:.6g}'}")


def register(app: typer.Typer) -> None:
    """Add `analyze` and `fit usl` to the CLI."""

    @app.command("analyze")
    def analyze(
        ctx: typer.Context,
        trial: Annotated[
            str | None, typer.Argument(help="trial id or name (default: latest)")
        ] = None,
        store: Annotated[
            str, typer.Option("--store", envvar="LOADTRIAL_STORE", help="results store")
        ] = ".loadtrial/results.db",
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Analyse a stored trial: bottleneck, verdicts, confounders; store the findings."""
        analyze_command(trial, store, as_json, raise_on_failure=True, out=Output.of(ctx))

    fit = typer.Typer(help="Fit models to measured data.", no_args_is_help=True)

    @fit.command("usl")
    def usl(
        file: Annotated[Path, typer.Argument(help="CSV with columns n,throughput")],
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Fit the Universal Scalability Law: sigma, kappa, lambda, peak_n, peak_throughput, r2."""
        fit_usl_command(file, as_json)

    app.add_typer(fit, name="fit")
