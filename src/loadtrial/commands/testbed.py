"""CLI: `loadtrial testbed up|down|status` and `loadtrial demo`.

In: flags. Out: a running (or stopped) testbed described by its state file, its facts on
stdout, or the demo's story; errors as one line with a hint (LoadtrialError). With
`--json`, `up` and `status` print one JSON document on stdout and nothing else: what they
would say besides goes to stderr as progress (`-q` silences it, commands/output.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from loadtrial.commands.output import VERBOSE, Output
from loadtrial.errors import ExitCode, LoadtrialError
from loadtrial.testbed.model import DEFAULT_STATE_PATH, TestbedConfig, TestbedState


class CommandExit(LoadtrialError):
    """A command outcome with a non-zero exit code (cli.main maps LoadtrialError to codes;
    a typer.Exit code would be lost under standalone_mode=False)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = ExitCode(code)


STATE_HELP = "state file naming the testbed's processes, ports and data dirs"
StateOpt = Annotated[Path, typer.Option(help=STATE_HELP)]
JsonOpt = Annotated[bool, typer.Option("--json", help="one JSON document on stdout, only")]


def describe(st: TestbedState, state: Path, body_key: str, body: object) -> dict[str, object]:
    """The JSON document of `up --json` / `status --json`: where the testbed is and `body`
    (its facts, or its observe entries) under `body_key`."""
    return {
        "base_url": st.base_url,
        "stats_url": f"http://127.0.0.1:{st.lb_stats_port}/metrics",
        "state": str(state),
        "root": st.root,
        body_key: body,
    }


def next_steps(base_url: str, state: Path) -> str:
    """What to do with a testbed just started: break it, run a trial on it, stop it."""
    default = state == Path(DEFAULT_STATE_PATH)
    env = f"TESTBED_URL={base_url}" + ("" if default else f" TESTBED_STATE={state}")
    flag = "" if default else f" --state {state}"
    return (
        "next:\n"
        f'  loadtrial load "{base_url}/report?hold_ms=1000" --rate 30 --duration 10s'
        "   # each holds a db connection 1 s: watch it break (503s)\n"
        f"  {env} loadtrial run examples/db-bottleneck.yaml   # the demo's trial\n"
        f"  loadtrial testbed status{flag}  |  loadtrial testbed down{flag}"
    )


def register(app: typer.Typer) -> None:
    """Add the `testbed` group and the `demo` command to `app`."""
    group = typer.Typer(help="The built-in testbed: db, app nodes, balancer on loopback.")
    app.add_typer(group, name="testbed")

    @group.command("up")
    def up_cmd(
        ctx: typer.Context,
        state: StateOpt = DEFAULT_STATE_PATH,
        app_nodes: int = typer.Option(2, min=1, max=16),
        pool_max: int = typer.Option(25, min=1, max=200),
        db_max_connections: int = typer.Option(20, min=2, max=1000),
        db_cpus: int = typer.Option(1, min=1),
        db_instances: int = typer.Option(1, min=1, max=2),
        lb_maxconn: int = typer.Option(
            0, min=0, help="requests in flight per app node at the balancer (0: no limit)"
        ),
        port: int = typer.Option(8080, help="balancer port (0: any free port)"),
        stats_port: int = typer.Option(8404, help="balancer stats port (0: any free port)"),
        as_json: JsonOpt = False,
    ) -> None:
        """Start the testbed and print its URL and facts."""
        from loadtrial.testbed import up
        from loadtrial.testbed.facts import snapshot

        config = TestbedConfig(
            app_nodes=app_nodes,
            pool_max=pool_max,
            db_max_connections=db_max_connections,
            db_cpus=db_cpus,
            db_instances=db_instances,
            lb_maxconn=lb_maxconn,
        )
        out = Output.of(ctx)
        out.progress(f"starting the testbed (PostgreSQL, {app_nodes} app nodes, balancer) ...")
        out.progress(f"state file: {state}", VERBOSE)
        st = up(config, state, lb_port=port, stats_port=stats_port)
        facts = snapshot(st)
        if as_json:
            typer.echo(json.dumps(describe(st, state, "facts", facts), indent=2))
        else:
            stats = f"http://127.0.0.1:{st.lb_stats_port}/metrics"
            typer.echo(f"testbed up: {st.base_url}  (stats {stats})")
            typer.echo(json.dumps(facts, indent=2))
        out.progress(next_steps(st.base_url, state))

    @group.command("down")
    def down_cmd(state: StateOpt = DEFAULT_STATE_PATH) -> None:
        """Stop every process of the testbed and remove its data (always safe to run)."""
        from loadtrial.testbed import down

        stopped = down(state)
        typer.echo(f"testbed down ({', '.join(stopped) or 'nothing was running'})")

    @group.command("status")
    def status_cmd(
        state: StateOpt = DEFAULT_STATE_PATH,
        observe: bool = typer.Option(False, help="print the observe entries instead"),
        as_json: JsonOpt = False,
    ) -> None:
        """Print the facts read back from the running testbed (exit 1 when it is down)."""
        from loadtrial.testbed import load_state, observe_entries
        from loadtrial.testbed.facts import snapshot

        st = load_state(state)
        if st is None:
            raise CommandExit(f"testbed is down (no state file {state})", ExitCode.FAILED)
        body = observe_entries(st) if observe else snapshot(st)
        if as_json:
            key = "observe" if observe else "facts"
            typer.echo(json.dumps(describe(st, state, key, body), indent=2))
            return
        typer.echo(f"testbed: {st.base_url}  root {st.root}")
        typer.echo(json.dumps(body, indent=2))

    @app.command("demo")
    def demo_cmd(
        ctx: typer.Context,
        story: str = typer.Argument("db-connections", help="the story to tell (see --list)"),
        list_: bool = typer.Option(False, "--list", help="list the stories and exit"),
        keep: bool = typer.Option(False, "--keep", help="leave the testbed up afterwards"),
        quick: bool = typer.Option(False, "--quick", help="3/4-length runs (the repetitions stay)"),
    ) -> None:
        """Tell a bottleneck story (default: db-connections) on a testbed started for it."""
        from loadtrial.commands.demo import run_demo, story_lines

        if list_:
            typer.echo("\n".join(story_lines()))
            return
        # the demo's narration is progress: to stderr, and -q silences it (the verdict stays)
        code = run_demo(Output.of(ctx).progress, story=story, keep=keep, quick=quick)
        if code != ExitCode.OK:
            raise CommandExit(f"the demo trial ended with exit code {code}", code)
