"""Bringing the testbed up and down, component by component, always via the state file.

In: a `TestbedConfig` and the state file's path. Out: a running system (db instances, an
optional writer endpoint, app nodes, a balancer) and its `TestbedState`, saved after every
process start, so `down` finds everything even when `up` was killed half-way. `down` also
sweeps any process whose command line names the testbed's root directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import psutil
import psycopg

from loadtrial.errors import ProviderError, UserError
from loadtrial.testbed import balancer, db, lb_haproxy
from loadtrial.testbed.book import Book
from loadtrial.testbed.model import (
    DbInstance,
    Proc,
    TestbedConfig,
    TestbedState,
    dsn,
    load_state,
)
from loadtrial.testbed.procs import (
    alive,
    listening_socket,
    python_module,
    reachable_by,
    service_user,
    spawn,
    stop_proc,
    tree,
    wait_gone,
    wait_port,
)

POOL_TIMEOUT_S = 2.0


def up(
    config: TestbedConfig, state_path: Path, *, lb_port: int = 0, stats_port: int = 0
) -> TestbedState:
    """Start the whole testbed; on any failure, stop what started and raise ProviderError."""
    old = load_state(state_path)
    if old is not None and any(alive(p.pid) for p in old.all_procs()):
        raise UserError(  # the user's to resolve, like a taken --port: exit 2, not 4
            f"a testbed is already up (state file {state_path})",
            hint=f"use it, or run `loadtrial testbed down --state {state_path}` first",
        )
    if config.lb == "haproxy" and not lb_haproxy.available():
        raise ProviderError("lb: haproxy is not installed", hint="use lb: builtin or auto")
    root = make_root()
    book = Book(TestbedState(root=str(root), config=config), state_path)
    try:
        template = db.make_template(root)
        for i in range(1, config.db_instances + 1):
            add_db(book, template, f"db-{i}", config.db_max_connections, config.db_cpus)
        book.update(writer="db-1")
        if config.db_instances > 1:
            start_endpoint(book)
        for i in range(1, config.app_nodes + 1):
            add_app(book, f"app-{i}")
        balancer.start_lb(book, lb_port, stats_port)
        balancer.wait_healthy(book.state, config.app_nodes)
    except BaseException:
        down(state_path)
        raise
    return book.state


def make_root() -> Path:
    """Create the testbed's own directory (data, logs, the db binaries' copy as root)."""
    root = Path(tempfile.mkdtemp(prefix="loadtrial-testbed-"))
    root.chmod(0o755)  # ours, new: PostgreSQL runs as another user when we are root
    user = service_user()
    if user is not None and not reachable_by(root, user):
        shutil.rmtree(root, ignore_errors=True)
        raise ProviderError(
            f"PostgreSQL runs as user {user}, who cannot enter {root.parent}",
            hint="set TMPDIR to a directory every user can enter, such as /tmp",
        )
    return root


def add_db(book: Book, template: Path, name: str, max_connections: int, cpus: int) -> None:
    """Clone the template into a new data directory and start an instance on it."""
    datadir = Path(book.state.root) / name
    if not datadir.exists():
        db.clone(template, datadir)
    inst = db.start_db(
        name, datadir, root=Path(book.state.root), max_connections=max_connections, cpus=cpus
    )
    book.update(dbs=(*book.state.dbs, inst))


def restart_db(book: Book, inst: DbInstance, max_connections: int, cpus: int) -> DbInstance:
    """Restart one instance with a new size, on the same port (clients reconnect)."""
    db.stop_db(inst)
    new = db.start_db(
        inst.proc.name,
        Path(inst.datadir),
        root=Path(book.state.root),
        max_connections=max_connections,
        cpus=cpus,
        port=inst.proc.port,
    )
    book.update(dbs=tuple(new if d.proc.name == new.proc.name else d for d in book.state.dbs))
    return new


def start_endpoint(book: Book) -> None:
    """Start the writer endpoint (TCP proxy) pointing at the current writer."""
    root = Path(book.state.root)
    target = root / "writer.txt"
    target.write_text(f"127.0.0.1:{book.state.db(book.state.writer).proc.port}")
    sock = listening_socket()
    port = sock.getsockname()[1]
    argv = python_module(
        "loadtrial.testbed.tcpproxy", "--fd", str(sock.fileno()), "--target-file", str(target)
    )
    try:
        proc = spawn("writer-endpoint", argv, log=root / "writer-endpoint.log", port=port,
                     pass_fds=[sock.fileno()])  # fmt: skip
    finally:
        sock.close()
    book.update(endpoint=proc)
    wait_port(port, proc)


def point_endpoint(book: Book, writer: str) -> None:
    """Make `writer` the instance the writer endpoint reaches (a failover)."""
    target = Path(book.state.root) / "writer.txt"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(f"127.0.0.1:{book.state.db(writer).proc.port}")
    os.replace(tmp, target)
    book.update(writer=writer)
    wait_writer(book.state, writer)


def wait_writer(state: TestbedState, writer: str, timeout_s: float = 5.0) -> None:
    """Wait until the writer endpoint reaches `writer` (it re-reads its target every 0.2 s)."""
    wanted = os.path.realpath(state.db(writer).datadir)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.Error):
            with psycopg.connect(dsn(state.writer_port), connect_timeout=2) as conn:
                row = conn.execute("SHOW data_directory").fetchone()
            if row and os.path.realpath(str(row[0])) == wanted:
                return
        time.sleep(0.1)
    raise ProviderError(f"the writer endpoint did not switch to {writer} in {timeout_s:.0f}s")


def add_app(book: Book, name: str) -> Proc:
    """Start one app node on a fresh port, connected to the writer."""
    root = Path(book.state.root)
    sock = listening_socket()
    port = sock.getsockname()[1]
    env = {
        "LT_NODE": name,
        "LT_DSN": dsn(book.state.writer_port, user="app"),
        "LT_POOL_MAX": str(book.state.config.pool_max),
        "LT_POOL_TIMEOUT_S": str(POOL_TIMEOUT_S),
    }
    argv = python_module("loadtrial.testbed.app", "--fd", str(sock.fileno()), "--tag", str(root))
    try:
        proc = spawn(name, argv, log=root / f"{name}.log", port=port, env=env,
                     pass_fds=[sock.fileno()])  # fmt: skip
    finally:
        sock.close()
    book.update(apps=(*book.state.apps, proc))
    wait_port(port, proc)
    return proc


def down(state_path: Path) -> list[str]:
    """Stop everything the state file names (and any stray process of its root); return names."""
    state = load_state(state_path)
    if state is None:
        return []
    stopped: list[str] = []
    for proc in state.all_procs():
        if alive(proc.pid):
            stopped.append(proc.name)
        if proc.name.startswith("db-"):
            db.stop_db_proc(proc.pid, proc.pgid, proc.name)
        else:
            stop_proc(proc)
    stopped += sweep(state.root)
    shutil.rmtree(state.root, ignore_errors=True)
    state_path.unlink(missing_ok=True)
    return stopped


def sweep(root: str) -> list[str]:
    """Kill any process whose command line mentions `root`, with its descendants (an
    initdb or a seeding server left by a killed `up`, whose pids never reached the file)."""
    killed: list[str] = []
    for candidate in psutil.process_iter(["pid", "cmdline"]):
        cmdline = candidate.info.get("cmdline") or []
        mine = any(part == root or part.startswith(root + "/") for part in cmdline)
        if not mine or candidate.pid == os.getpid():
            continue
        members = tree(candidate.pid)
        for member in reversed(members):  # children first, so none is re-parented and missed
            with contextlib.suppress(psutil.Error):
                member.kill()
        wait_gone(members, 3.0)
        killed.append(f"stray pid {candidate.pid}")
    return killed
