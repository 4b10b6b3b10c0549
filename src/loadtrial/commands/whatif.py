"""`loadtrial whatif [TRIAL] --arm A [--show-model] [--set k=v ...] [--rate R] [--sweep ...]`.

In: a stored trial and one of its arms (the model is measured on that arm's runs), or an
edited model file (`--model FILE`, from `--show-model --json`). Out (terminal, or JSON with
`--json`): the model (`--show-model`); a prediction for the topology after `--set` at
`--rate` — throughput, p50, p99, error rate with intervals, the bottleneck and the next
limit; a rate sweep with its knee (`--sweep rate=100..2000[:STEP]`); or the self-check
(`--self-check`: every measured arm predicted from the others, beside what it measured).
Exit code: 0; 1 for a self-check in which a prediction fell outside its interval.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from loadtrial.commands.analyze import _trial_id, plain, trial_of_text
from loadtrial.commands.output import DEFAULT_OUTPUT, Output
from loadtrial.errors import ExitCode, LoadtrialError, UserError

DEFAULT_STORE = ".loadtrial/results.db"
MAX_SWEEP_POINTS = 40


class SelfCheckExit(LoadtrialError):
    """A self-check with a prediction outside its stated uncertainty (exit 1)."""

    exit_code = ExitCode.FAILED


def parse_settings(items: list[str]) -> dict[str, str]:
    """`name=value` strings as a mapping; UserError naming a malformed one."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UserError(f"--set {item!r}: expected name=value", hint="e.g. --set app_nodes=8")
        out[name.strip()] = value.strip()
    return out


def parse_sweep(text: str) -> list[float]:
    """`rate=LOW..HIGH[:STEP]` as the rates to predict (10 points when no step is given)."""
    name, _, span = text.partition("=")
    low_text, dots, rest = span.partition("..")
    high_text, _, step_text = rest.partition(":")
    try:
        if name.strip() != "rate" or not dots:
            raise ValueError
        low, high = float(low_text), float(high_text)
        step = float(step_text) if step_text else (high - low) / 9
    except ValueError:
        hint = "e.g. --sweep rate=100..2000 or rate=100..2000:100"
        raise UserError(f"--sweep {text!r}: expected rate=LOW..HIGH[:STEP]", hint=hint) from None
    if not 0 < low < high or step <= 0:
        raise UserError(f"--sweep {text!r}: need 0 < LOW < HIGH and STEP > 0")
    count = math.floor((high - low) / step + 1e-9) + 1
    if count > MAX_SWEEP_POINTS:
        raise UserError(f"--sweep {text!r}: {count} points (at most {MAX_SWEEP_POINTS})",
                        hint="use a larger STEP")  # fmt: skip
    return [low + i * step for i in range(count)]


def _load(store_path: str, which: str | None) -> tuple[Any, Any]:
    from loadtrial.store import Store

    if not Path(store_path).exists():
        hint = "run a trial first, or --store PATH (`loadtrial demo` keeps its trial in "
        raise UserError(f"no results store at {store_path}",
                        hint=hint + ".loadtrial/demo/results.sqlite)")  # fmt: skip
    with Store(store_path) as store:
        data = store.load_trial(_trial_id(store, which))
    return data, trial_of_text(data.info.file_text, data.info.file_path)


def _model(store: str, trial: str | None, arm: str | None, model_file: Path | None) -> Any:
    from loadtrial import whatif

    if model_file is not None:
        try:
            doc = json.loads(model_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"no model file at {model_file}") from None
        except json.JSONDecodeError as exc:
            raise UserError(f"{model_file}:{exc.lineno}: not JSON ({exc.msg})",
                            hint="write it with --show-model --json") from None  # fmt: skip
        return whatif.from_doc(doc)
    data, spec = _load(store, trial)
    if arm is None:
        arms = ", ".join(dict.fromkeys(r.info.arm for r in data.runs))
        raise UserError("--arm is needed: which measured arm the model starts from",
                        hint=f"arms: {arms}")  # fmt: skip
    return whatif.model_from_arm(data, spec, arm)


def _echo_model(model: Any) -> None:
    from loadtrial.whatif.model import profile_quantile

    t, d, w = model.topology, model.demands, model.timeouts
    typer.echo(f"model of {model.source}")
    typer.echo(
        f"  arrivals      {model.rate_per_s:.1f}/s, {'Poisson' if model.poisson else 'even'}"
    )
    for name, value in dataclasses.asdict(t).items():
        typer.echo(f"  {name:<26}{value}")
    typer.echo(f"  {'db_connections (usable)':<26}{t.db_connections}")
    for field in dataclasses.fields(d):
        name, e = field.name, getattr(d, field.name)
        typer.echo(f"  {name:<14}{e.value:.5g} ± {e.se:.2g}   ({e.source})")
    typer.echo(f"  timeouts      pool wait {w.pool_wait_s}s, balancer queue {w.lb_queue_s}s, "
               f"request {w.request_s}s, health check every {w.health_every_s}s "
               f"answered within {w.health_answer_s}s")  # fmt: skip
    stages = ", ".join(
        f"{st.duration_s:g}s " + (f"ramp to {st.ramp_to_per_s:g}/s" if st.ramp_to_per_s
                                  is not None else f"at {st.rate_per_s:g}/s")
        for st in model.stages
    )  # fmt: skip
    typer.echo(f"  run           {stages}; warm-up {model.warmup_s:g}s (scaled to the rate)")
    shown = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 100)
    profile = ", ".join(f"{profile_quantile(model.profile_s, p / 100) * 1000:.0f}" for p in shown)
    typer.echo(f"  profile (ms at 0,5,10..90,95,99,100 %; every percent in --json): {profile}"
               f"  [{model.profile_source}]")  # fmt: skip
    for note in model.notes:
        typer.echo(f"  note: {note}")


def _fig(f: Any, unit: str) -> str:
    if unit == "%":
        return f"{f.value:.1%}  [{f.low:.1%} .. {f.high:.1%}]"
    if unit == "s":
        return f"{f.value:.3g} s  [{f.low:.3g} .. {f.high:.3g}]"
    return f"{f.value:.1f}/s  [{f.low:.1f} .. {f.high:.1f}]"


def _echo_prediction(p: Any) -> None:
    from loadtrial.whatif.predict import label

    typer.echo(f"at {p.rate_per_s:.1f} req/s offered ({p.replications} replications):")
    typer.echo(f"  throughput  {_fig(p.throughput_per_s, '/s')}")
    typer.echo(f"  p50         {_fig(p.p50_s, 's')}")
    typer.echo(f"  p99         {_fig(p.p99_s, 's')}")
    typer.echo(f"  error rate  {_fig(p.error_rate, '%')}")
    if p.errors_by_cause:
        causes = ", ".join(f"{k} {v:.1%}" for k, v in sorted(p.errors_by_cause.items()))
        typer.echo(f"  errors from {causes}")
    util = ", ".join(f"{label(k)} {v:.0%}" for k, v in p.utilisation.items())
    typer.echo(f"  utilisation {util}")
    neck = p.bottleneck
    typer.echo(f"  bottleneck  {label(neck)}" + ("" if neck == "none" else f" ({neck})"))
    nxt = p.ceilings_per_s.get(p.next_limit)
    after = "" if nxt is None else f" at about {nxt:.0f} req/s (X ≤ c/D)"
    typer.echo(f"  next limit  {label(p.next_limit)}{after}")


def _prediction_doc(p: Any) -> dict[str, Any]:
    doc: dict[str, Any] = plain(dataclasses.asdict(p))
    return doc


def whatif_command(
    store: str,
    trial: str | None,
    arm: str | None,
    *,
    model_file: Path | None = None,
    show_model: bool = False,
    settings: list[str] | None = None,
    rate: float | None = None,
    sweep_text: str | None = None,
    self_check: bool = False,
    replications: int = 5,
    seed: int = 0,
    as_json: bool = False,
    out: Output = DEFAULT_OUTPUT,
) -> None:
    """Do what the flags ask (see the module docstring); raise SelfCheckExit on a miss.
    Progress (a simulation takes seconds) goes to `out`: the root's -q hides it."""
    from loadtrial import whatif

    if self_check:
        return _self_check(store, trial, replications, as_json)
    model = _model(store, trial, arm, model_file)
    sets = parse_settings(settings or [])
    if rate is not None:
        sets["rate"] = str(rate)
    model = whatif.with_settings(model, sets)
    if show_model:
        if as_json:
            typer.echo(json.dumps(plain(whatif.to_doc(model)), indent=2))
        else:
            _echo_model(model)
        return None
    if sweep_text is not None:
        return _sweep(model, parse_sweep(sweep_text), seed, as_json, out)
    if not as_json:  # progress: a simulation of thousands of requests per second takes a while
        span = sum(st.duration_s for st in model.stages)
        rate = model.rate_per_s
        out.progress(f"simulating 2 × {replications} runs of {span:.0f} s at {rate:.0f}/s ...")
    prediction = whatif.predict(model, replications=replications, seed=seed)
    if as_json:
        doc = {"model": whatif.to_doc(model), "prediction": _prediction_doc(prediction)}
        typer.echo(json.dumps(plain(doc), indent=2))
    else:
        typer.echo(f"from {model.source}" + (f"; set {_sets(sets)}" if sets else ""))
        _echo_prediction(prediction)
    return None


def _sets(sets: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sets.items())


def _sweep(model: Any, rates: list[float], seed: int, as_json: bool, out: Output) -> None:
    from loadtrial import whatif
    from loadtrial.whatif.predict import label

    points = []
    for i, r in enumerate(rates):
        if not as_json:  # progress: a sweep takes seconds per point
            out.progress(f"  [{i + 1}/{len(rates)}] {r:.0f}/s ...")
        points.extend(whatif.sweep(model, [r], seed=seed))
    knee = whatif.find_knee(points)
    if as_json:
        doc = {"points": [_prediction_doc(p) for p in points], "knee": dataclasses.asdict(knee)}
        typer.echo(json.dumps(plain(doc), indent=2))
        return
    typer.echo(f"from {model.source}")
    typer.echo(f"{'rate/s':>8} {'ok/s':>8} {'p50':>9} {'p99':>9} {'errors':>8}  bottleneck")
    for p in points:
        typer.echo(f"{p.rate_per_s:8.0f} {p.throughput_per_s.value:8.1f} "
                   f"{p.p50_s.value:8.3f}s {p.p99_s.value:8.3f}s {p.error_rate.value:8.1%}  "
                   f"{label(p.bottleneck)}")  # fmt: skip
    good = "none" if knee.last_good_per_s is None else f"{knee.last_good_per_s:.0f}/s"
    bad = "" if knee.first_bad_per_s is None else f", breaks by {knee.first_bad_per_s:.0f}/s"
    typer.echo(f"knee: keeps up to {good}{bad}: {knee.why}")


def _self_check(store: str, trial: str | None, replications: int, as_json: bool) -> None:
    from loadtrial.whatif.selfcheck import checks_doc, self_check

    data, spec = _load(store, trial)
    result = self_check(data, spec, replications=min(replications, 3))
    if as_json:
        doc = {"checks": checks_doc(result.checks), "unmodelled": result.unmodelled}
        typer.echo(json.dumps(plain(doc), indent=2))
    else:
        if not result.checks:
            typer.echo("self-check: no arm could be predicted from another; nothing to check")
        for c in result.checks:
            typer.echo(("  ok    " if c.holds else "  MISS  ") + c.sentence())
        for arm, why in result.unmodelled.items():
            typer.echo(f"  no model from {arm}: {why}")
    if result.missed:
        raise SelfCheckExit(f"{len(result.missed)} of {len(result.checks)} predictions fell "
                            "outside their stated uncertainty")  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add `whatif` to the CLI."""

    @app.command("whatif")
    def whatif_cmd(
        ctx: typer.Context,
        trial: Annotated[
            str | None, typer.Argument(help="trial id or name (default: latest)")
        ] = None,
        arm: Annotated[str | None, typer.Option("--arm", help="the measured arm to model")] = None,
        store: Annotated[str, typer.Option("--store", help="results store")] = DEFAULT_STORE,
        model_file: Annotated[
            Path | None, typer.Option("--model", help="an edited model (JSON) instead of an arm")
        ] = None,
        show_model: Annotated[bool, typer.Option("--show-model", help="print the model")] = False,
        settings: Annotated[
            list[str] | None,
            typer.Option("--set", help="name=value: app_nodes, db_cpus, db_max_connections, ..."),
        ] = None,
        rate: Annotated[float | None, typer.Option("--rate", help="arrivals per second")] = None,
        sweep_text: Annotated[
            str | None, typer.Option("--sweep", help="rate=LOW..HIGH[:STEP]: find the knee")
        ] = None,
        self_check: Annotated[
            bool, typer.Option("--self-check", help="predict each arm from the others")
        ] = False,
        replications: Annotated[int, typer.Option("--replications", min=1, max=50)] = 5,
        seed: Annotated[int, typer.Option("--seed")] = 0,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Predict a topology from a measured arm, before provisioning it."""
        whatif_command(store, trial, arm, model_file=model_file, show_model=show_model,
                       settings=settings, rate=rate, sweep_text=sweep_text,
                       self_check=self_check, replications=replications, seed=seed,
                       as_json=as_json, out=Output.of(ctx))  # fmt: skip
