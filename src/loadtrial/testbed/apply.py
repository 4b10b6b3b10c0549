"""Changing a running testbed to a new configuration, restarting only what changed.

In: the state file and the wanted `TestbedConfig`; a `step` callback that runs and
records each action (the provider journals them). Out: the new `TestbedState`.

Order: db instances (count, then the writer's size: restart for max_connections, live
re-pinning for CPUs, or, with `failover_on_resize`, resize the writer and promote the other
instance as Aurora does), then app nodes (pool size change restarts them, a count change
adds or removes nodes), then the balancer's backend list.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from pathlib import Path

from loadtrial.errors import ProviderError
from loadtrial.testbed import balancer, control, db, lb_haproxy
from loadtrial.testbed.book import Book
from loadtrial.testbed.model import DbInstance, TestbedConfig, TestbedState, load_state
from loadtrial.testbed.procs import stop_proc

Step = Callable[[str, Callable[[], None]], None]


def run_step(name: str, action: Callable[[], None]) -> None:
    """The plain `step`: just run the action."""
    action()


def apply_config(state_path: Path, wanted: TestbedConfig, step: Step = run_step) -> TestbedState:
    """Bring the testbed in `state_path` to `wanted`; return the new state."""
    state = load_state(state_path)
    if state is None:
        raise ProviderError("the testbed is not up", hint="run `loadtrial testbed up` first")
    lb_kind = lb_haproxy.resolve(wanted.lb)
    if lb_kind == "haproxy" and not lb_haproxy.available():
        raise ProviderError("lb: haproxy is not installed", hint="use lb: builtin or auto")
    book = Book(state, state_path)
    endpoint_before = book.state.writer_port
    maxconn_before = book.state.config.lb_maxconn
    _apply_instances(book, wanted, step)
    resized = _apply_writer_size(book, wanted, step)
    # Fresh pools after a db restart or failover: psycopg_pool can stay short of max_size
    # after a spell of refused connections, which would carry one arm's state into the next.
    apps_need_restart = (
        resized
        or wanted.pool_max != book.state.config.pool_max
        or book.state.writer_port != endpoint_before
    )
    book.update(config=wanted)  # add_app reads pool_max from here
    _apply_apps(book, wanted, apps_need_restart, step)
    if lb_kind != book.state.lb_kind:
        step(f"replace the {book.state.lb_kind} balancer by {lb_kind}", lambda: _swap_lb(book))
    elif wanted.lb_maxconn != maxconn_before:
        limit = f"lb_maxconn={wanted.lb_maxconn}"
        step(f"restart the {lb_kind} balancer with {limit}", lambda: _swap_lb(book))
    book.update(config=wanted)
    return book.state


def _apply_instances(book: Book, wanted: TestbedConfig, step: Step) -> None:
    """Add or remove db instances; start or stop the writer endpoint to match."""
    have = len(book.state.dbs)
    root = Path(book.state.root)
    cfg = book.state.config
    for i in range(have + 1, wanted.db_instances + 1):
        step(
            f"start db instance db-{i}",
            lambda i=i: control.add_db(  # type: ignore[misc]
                book, root / "template", f"db-{i}", cfg.db_max_connections, cfg.db_cpus
            ),
        )
    if wanted.db_instances > 1 and book.state.endpoint is None:
        step("start the writer endpoint", lambda: control.start_endpoint(book))
    for inst in book.state.dbs[wanted.db_instances :]:
        if inst.proc.name == book.state.writer:
            control.point_endpoint(book, book.state.dbs[0].proc.name)
        step(f"stop db instance {inst.proc.name}", lambda inst=inst: _drop_db(book, inst))  # type: ignore[misc]
    if wanted.db_instances == 1 and book.state.endpoint is not None:
        endpoint = book.state.endpoint
        step("stop the writer endpoint", lambda: stop_proc(endpoint))
        book.update(endpoint=None, writer=book.state.dbs[0].proc.name)


def _drop_db(book: Book, inst: DbInstance) -> None:
    db.stop_db(inst)
    book.update(dbs=tuple(d for d in book.state.dbs if d.proc.name != inst.proc.name))


def _apply_writer_size(book: Book, wanted: TestbedConfig, step: Step) -> bool:
    """Resize the writer when its size differs from the wanted one; True when it did."""
    writer = book.state.db(book.state.writer)
    if (writer.max_connections, writer.cpus) == (wanted.db_max_connections, wanted.db_cpus):
        return False
    size = f"max_connections={wanted.db_max_connections}, cpus={wanted.db_cpus}"
    if writer.max_connections != wanted.db_max_connections:
        step(
            f"restart {writer.proc.name} with {size}",
            lambda: _resize(book, writer, wanted, restart=True),
        )
    else:
        step(f"re-pin {writer.proc.name} to {size}", lambda: _resize(book, writer, wanted, False))
    others = [d for d in book.state.dbs if d.proc.name != writer.proc.name]
    if wanted.failover_on_resize and others:
        promoted = others[0].proc.name
        step(
            f"failover: promote {promoted} to writer (resize of {writer.proc.name})",
            lambda: control.point_endpoint(book, promoted),
        )
    _check_pools(book)
    return True


def _resize(book: Book, inst: DbInstance, wanted: TestbedConfig, restart: bool) -> None:
    if restart:
        control.restart_db(book, inst, wanted.db_max_connections, wanted.db_cpus)
    else:
        new = db.set_cpus(inst, wanted.db_cpus)
        book.update(dbs=tuple(new if d.proc.name == new.proc.name else d for d in book.state.dbs))


def _check_pools(book: Book) -> None:
    """Ask every app node to drop dead pooled connections (after a db restart or failover)."""
    for app in book.state.apps:
        request = urllib.request.Request(
            f"http://127.0.0.1:{app.port}/admin/check-pool", data=b"", method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5):
                pass
        except OSError:
            continue  # a node that does not answer is counted as not live in the snapshot


def _apply_apps(book: Book, wanted: TestbedConfig, restart: bool, step: Step) -> None:
    """Restart, add or remove app nodes, then update the balancer."""
    if restart and book.state.apps:
        names = ", ".join(a.name for a in book.state.apps)
        step(f"stop app nodes {names} (pool_max or db changed)", lambda: _stop_apps(book))
    have = len(book.state.apps)
    for i in range(have + 1, wanted.app_nodes + 1):
        step(f"start app node app-{i}", lambda i=i: _add_app(book, f"app-{i}"))  # type: ignore[misc]
    for app in book.state.apps[wanted.app_nodes :]:
        step(f"stop app node {app.name}", lambda app=app: _stop_app(book, app.name))  # type: ignore[misc]
    step("update the balancer's backends", lambda: _sync_lb(book, wanted.app_nodes))


def _swap_lb(book: Book) -> None:
    """Stop the balancer and start the configured kind on the same ports."""
    old = book.state.lb
    port, stats_port = (old.port, book.state.lb_stats_port) if old else (0, 0)
    if old is not None:
        stop_proc(old)
    book.update(lb=None)
    balancer.start_lb(book, port, stats_port)
    balancer.wait_healthy(book.state, len(book.state.apps))


def _add_app(book: Book, name: str) -> None:
    control.add_app(book, name)


def _stop_app(book: Book, name: str) -> None:
    for app in book.state.apps:
        if app.name == name:
            stop_proc(app)
    book.update(apps=tuple(a for a in book.state.apps if a.name != name))
    balancer.write_backends(book)


def _stop_apps(book: Book) -> None:
    for app in book.state.apps:
        stop_proc(app)
    book.update(apps=())
    balancer.write_backends(book)


def _sync_lb(book: Book, nodes: int) -> None:
    balancer.write_backends(book)
    balancer.wait_healthy(book.state, nodes)
