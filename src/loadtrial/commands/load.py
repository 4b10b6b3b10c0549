"""`loadtrial load URL ...` (quick load, Vegeta/hey style) and `loadtrial target KIND`.

In: one or more URLs (a request each, named "METHOD /path", in an even mix) and flags,
optionally checks every response must pass (`--expect-status`, `--expect-body`). Out: a
live view while the load runs, a summary table at the end (and a table per request when
there are several); `--json` prints the summary of `loadtrial.load.summarize` on stdout
instead of the tables, `-o FILE` writes it to a file as well (as every command does).
Bad input (malformed URL, negative rate, header without a colon, unreachable or
non-loopback target without `--allow`) raises UserError/TargetError, printed as one line.
"""

from __future__ import annotations

import json
import math
import socket
import ssl
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from loadtrial.allow import refusal
from loadtrial.commands.output import NORMAL, Output
from loadtrial.errors import ExitCode, LoadtrialError, TargetError, UserError
from loadtrial.load.model import (
    ClosedModel,
    LoadPlan,
    OpenModel,
    RequestSpec,
    ResponseChecks,
    Stage,
)
from loadtrial.spec.model import expected_statuses
from loadtrial.units import parse_duration_s

# The engine, the targets and the view are imported inside the commands: every
# `loadtrial` command imports this module, and most never send load.
TARGET_KINDS = "fast, delay, freeze, status, reset"


class LoadInterrupted(LoadtrialError):
    """The user stopped the load (Ctrl-C); what was measured has been shown and written.

    An exception, not typer.Exit, because cli.main turns exceptions into exit codes.
    """

    exit_code = ExitCode.ABORTED


def parse_stages(text: str) -> tuple[Stage, ...]:
    """Parse "100:10s,>600:20s,600:1m": hold 100/s for 10 s, ramp to 600/s over 20 s, ..."""
    stages = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        ramp = part.startswith(">")
        rate_text, sep, dur_text = part.lstrip(">").partition(":")
        try:
            rate, duration = float(rate_text), parse_duration_s(dur_text)
        except ValueError:
            rate, duration = -1.0, -1.0
        if not sep or rate < 0 or duration <= 0:
            raise UserError(
                f"bad stage {part!r} in --stages",
                "write RATE:DURATION to hold or >RATE:DURATION to ramp, e.g. 100:10s,>600:20s",
            )
        stages.append(Stage(duration, None, rate) if ramp else Stage(duration, rate, None))
    if not stages:
        raise UserError("--stages is empty", "e.g. --stages 100:10s,>600:20s")
    return tuple(stages)


def parse_header(text: str) -> tuple[str, str]:
    """Parse "Name: value"."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise UserError(f"header {text!r} has no colon", "write -H 'Name: value'")
    return name.strip(), value.strip()


def check_host(host: str, allow: list[str]) -> None:
    """Refuse a host that is not this machine (by address) unless --allow names it."""
    why = refusal(host, allow)
    if why:
        raise TargetError(
            f"refusing to send load: {why}", f"pass --allow {host} if you own it and mean it"
        )


def check_reachable(
    host: str, port: int, timeout_s: float, tls: ssl.SSLContext | None = None
) -> None:
    """Open and close one TCP connection (with a TLS handshake when `tls` is given);
    TargetError with the reason if that fails."""
    try:
        with socket.create_connection((host, port), timeout=min(timeout_s, 3.0)) as sock:
            if tls is not None:
                tls.wrap_socket(sock, server_hostname=host).close()
    except ssl.SSLCertVerificationError as exc:
        raise TargetError(
            f"TLS handshake with {host}:{port} failed: {exc.verify_message}",
            "pass --cacert PEM with the issuing CA, or --insecure to skip the check",
        ) from None
    except ssl.SSLError as exc:
        raise TargetError(
            f"TLS handshake with {host}:{port} failed: {exc.reason or exc}",
            "is it an https server? use http:// for plain HTTP",
        ) from None
    except socket.gaierror as exc:
        raise TargetError(f"cannot resolve {host}: {exc.strerror}", "check the URL") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TargetError(
            f"cannot connect to {host}:{port}: {reason}", "is the target running?"
        ) from None


def _model(
    rate: float | None,
    users: int | None,
    stages: str | None,
    duration_s: float,
    ramp_up_s: float,
    think_s: float,
    poisson: bool,
) -> OpenModel | ClosedModel:
    given = [n for n, v in (("--rate", rate), ("--users", users), ("--stages", stages)) if v]
    if len(given) > 1:
        raise UserError(f"{' and '.join(given)} exclude each other", "choose one load shape")
    if rate is not None and rate < 0:
        raise UserError(f"--rate cannot be negative, got {rate:g}", "e.g. --rate 100")
    if rate is not None and not math.isfinite(rate):
        raise UserError(f"--rate must be a finite number, got {rate:g}", "e.g. --rate 100")
    if users is not None and users < 1:
        raise UserError(f"--users must be at least 1, got {users}", "e.g. --users 50")
    if users:
        return ClosedModel(users, duration_s, ramp_up_s, think_s)
    if stages:
        return OpenModel(parse_stages(stages), poisson=poisson)
    if rate is None or rate == 0:
        raise UserError("no load given", "pass --rate R, --users N or --stages ...")
    return OpenModel((Stage(duration_s, rate, None),), poisson=poisson)


def check_output_path(path: Path | None) -> None:
    """Refuse an -o path that cannot be written, before any load is sent."""
    if path is None:
        return
    if path.is_dir():
        raise UserError(f"-o: {path} is a directory", "name a file, e.g. -o out.json")
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"-o: folder {folder} does not exist", "create it or name another")


def write_json(path: Path, summary: dict[str, Any]) -> None:
    """Write the summary; an unwritable path is one line, not a traceback."""
    try:
        path.write_text(json.dumps(summary, indent=2) + "\n")
    except OSError as exc:
        raise UserError(f"cannot write -o {path}: {exc.strerror or exc}") from None


def _duration(text: str, flag: str) -> float:
    try:
        return parse_duration_s(text)
    except ValueError as exc:
        raise UserError(f"{flag}: {exc}") from None


def response_checks(status: str | None, body: str | None) -> ResponseChecks | None:
    """The checks of --expect-status ("200,300-399") and --expect-body (None: no checks)."""
    if status is None and body is None:
        return None
    try:
        codes = expected_statuses(tuple(status.split(","))) if status else ()
    except ValueError as exc:
        raise UserError(f"--expect-status: {exc}", "e.g. --expect-status 200-299,404") from None
    return ResponseChecks(status=codes, body_contains=(body,) if body else ())


def _requests(
    urls: list[str],
    method: str,
    headers: tuple[tuple[str, str], ...],
    body: bytes,
    checks: ResponseChecks | None,
) -> tuple[RequestSpec, ...]:
    """One request per URL, named "METHOD /path?query" (figures are kept per name)."""
    from loadtrial.load.wire import parse_origin

    m = method.upper()
    return tuple(
        RequestSpec(f"{m} {parse_origin(u)[1]}", m, u, headers, body, checks=checks) for u in urls
    )  # fmt: skip


def load_command(
    ctx: typer.Context,
    url: Annotated[
        list[str], typer.Argument(help="Target URL(s), e.g. http://127.0.0.1:8080/ (one origin)")
    ],
    rate: Annotated[float | None, typer.Option(help="Open model: requests per second.")] = None,
    users: Annotated[int | None, typer.Option(help="Closed model: virtual users.")] = None,
    duration: Annotated[str, typer.Option(help="How long, e.g. 30s, 2m.")] = "30s",
    stages: Annotated[
        str | None, typer.Option(help="Open model stages: 100:10s,>600:20s (> ramps).")
    ] = None,
    ramp_up: Annotated[str, typer.Option(help="Closed model: start users over this.")] = "0s",
    think: Annotated[str, typer.Option(help="Closed model: think time per user.")] = "0s",
    poisson: Annotated[bool, typer.Option(help="Open model: Poisson arrivals.")] = False,
    timeout: Annotated[str, typer.Option(help="Per-request timeout.")] = "5s",
    connections: Annotated[int, typer.Option(help="Cap on open connections.")] = 50,
    workers: Annotated[
        int | None, typer.Option(help="Engine processes (default: per core).")
    ] = None,
    header: Annotated[list[str] | None, typer.Option("-H", "--header", help="'Name: v'")] = None,
    method: Annotated[str, typer.Option(help="HTTP method.")] = "GET",
    body: Annotated[str | None, typer.Option(help="Request body.")] = None,
    expect_status: Annotated[
        str | None, typer.Option(help="Check: ok statuses, e.g. 200-299,404.")
    ] = None,
    expect_body: Annotated[
        str | None, typer.Option(help="Check: the body must contain this text.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout (no tables).")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Also write the JSON summary here.")
    ] = None,
    allow: Annotated[list[str] | None, typer.Option(help="Allow a non-loopback host.")] = None,
    insecure: Annotated[bool, typer.Option(help="HTTPS: skip certificate checks.")] = False,
    cacert: Annotated[Path | None, typer.Option(help="HTTPS: extra CA file (PEM).")] = None,
    live: Annotated[bool, typer.Option(help="Live view (default: on a terminal).")] = True,
    ray: Annotated[
        bool,
        typer.Option(
            "--ray", help="Generate from a Ray cluster; --workers is then actors per node."
        ),
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="The Ray cluster (host:port; implies --ray). Default: RAY_ADDRESS "
            "or the local cluster."
        ),
    ] = None,
) -> None:
    """Send load to URLs at a fixed rate (open model) or with fixed users (closed)."""
    from loadtrial.load import check_plan, run_load, summarize

    address = ray_address if ray_address is not None else ("" if ray else None)
    from loadtrial.load.view import LiveView, summary_table
    from loadtrial.load.wire import parse_origin, ssl_context

    origin, _ = parse_origin(url[0])
    check_host(origin.host, allow or [])
    check_output_path(output)
    headers = tuple(parse_header(h) for h in header or [])
    timeout_s = _duration(timeout, "--timeout")
    if timeout_s <= 0:
        raise UserError("--timeout must be positive", "e.g. --timeout 5s")
    model = _model(
        rate, users, stages, _duration(duration, "--duration"), _duration(ramp_up, "--ramp-up"),
        _duration(think, "--think"), poisson,
    )  # fmt: skip
    if connections < 1:
        raise UserError(f"--connections must be at least 1, got {connections}")
    checks = response_checks(expect_status, expect_body)
    plan = LoadPlan(
        requests=_requests(url, method, headers, (body or "").encode(), checks),
        model=model,
        timeout_s=timeout_s,
        connections=connections,
        workers=workers if workers is not None else _default_workers(model, connections, address),
        allow_hosts=tuple(allow or ()),
        tls_verify=not insecure,
        ca_file=str(cacert) if cacert else "",
    )
    check_plan(plan)
    check_reachable(origin.host, origin.port, timeout_s, ssl_context(plan, origin))
    console = Console()
    # -q: no live view (the summary still prints: it is the command's result)
    view = LiveView(plan, Console(stderr=True), enabled=live and Output.of(ctx).shows(NORMAL))
    with view:
        if address is None:
            result = run_load(plan, on_interval=view.update)
        else:
            result = _run_on_ray(plan, address, view.update)
    summary = summarize(result)
    if as_json:  # stdout carries the JSON document alone
        print(json.dumps(summary, indent=2))
    else:
        console.print(summary_table(summary, result.interrupted))
    if output is not None:
        write_json(output, summary)
    if result.interrupted:
        where = f"; summary written to {output}" if output is not None else ""
        raise LoadInterrupted(f"load interrupted after {summary['duration_s']:g} s{where}")


def _default_workers(model: OpenModel | ClosedModel, connections: int, ray: str | None) -> int:
    """Local: one engine per core (as the schedule needs); Ray: one actor per node."""
    from loadtrial.load import default_workers

    return 1 if ray is not None else default_workers(model, connections)


def _run_on_ray(plan: LoadPlan, address: str, on_interval: Any) -> Any:
    """Run the plan on a Ray cluster ("": RAY_ADDRESS or the local cluster)."""
    from loadtrial.load.distributed import run_load_ray

    return run_load_ray(
        plan, address=address, actors_per_node=plan.workers, on_interval=on_interval
    )


def target_command(
    kind: Annotated[str, typer.Argument(help=f"One of: {TARGET_KINDS}.")] = "fast",
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free one).")] = 8080,
    delay: Annotated[str, typer.Option(help="delay/freeze: answer time.")] = "0s",
    status: Annotated[int, typer.Option(help="status: the code to answer.")] = 200,
    period: Annotated[str, typer.Option(help="freeze: one freeze per period.")] = "10s",
    freeze: Annotated[str, typer.Option(help="freeze: length of each freeze.")] = "2s",
) -> None:
    """Serve a tiny local HTTP target until Ctrl-C (for demos and quick tries)."""
    from loadtrial.targets import KINDS, TargetConfig, serve_blocking

    if kind not in KINDS:
        raise UserError(f"unknown target kind {kind!r}", f"choose one of {', '.join(KINDS)}")
    cfg = TargetConfig(
        kind=kind,  # type: ignore[arg-type]
        status=status,
        delay_s=_duration(delay, "--delay"),
        period_s=_duration(period, "--period"),
        freeze_s=_duration(freeze, "--freeze"),
    )

    def ready(bound: int) -> None:
        typer.echo(f"{kind} target on http://{host}:{bound}/ (Ctrl-C stops it)", err=True)

    try:
        serve_blocking(cfg, host, port, on_ready=ready)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    except KeyboardInterrupt:
        return


def register(app: typer.Typer) -> None:
    """Add `load` and `target` to the CLI."""
    app.command("load")(load_command)
    app.command("target")(target_command)
