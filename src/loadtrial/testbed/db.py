"""The testbed's database: embedded PostgreSQL (from `pgserver`), seeded, sized per arm.

In: a root directory, max_connections and a CPU count. Out: running `DbInstance`s. We drive
pgserver's bundled `initdb` and `postgres` directly (not its Python wrapper) to control the
port, max_connections and CPU affinity, and to start the postmaster in its own session so
`testbed down` can end it from the state file. A seeded template data directory (~100k rows
over customers, products and orders, filled with generate_series) is copied for each
instance, so a second instance or a restart never seeds again.

As root, PostgreSQL runs as the service user `pgserver`, who may not be able to enter the
directory holding the venv (a 0700 home, a `mktemp -d` folder). It gets its own copy of
the binaries (bin, lib, share and the wheel's libs: ~30 MB, ~0.15 s) in the testbed's
root, which it can reach; no user directory is ever chmod-ed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import psycopg

from loadtrial.errors import ProviderError
from loadtrial.testbed.model import DbInstance, Proc, dsn
from loadtrial.testbed.procs import (
    alive,
    cpu_list,
    free_port,
    service_user,
    spawn,
    stop_proc,
    tree,
    wait_port,
)

SEED_SQL = """
CREATE TABLE customers (
  id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL,
  region text NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE products (
  id integer PRIMARY KEY, sku text UNIQUE NOT NULL, name text NOT NULL,
  price numeric(10,2) NOT NULL, stock integer NOT NULL);
CREATE TABLE orders (
  id bigserial PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers(id),
  product_id integer NOT NULL REFERENCES products(id), qty integer NOT NULL,
  total numeric(12,2) NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO customers
  SELECT i, 'customer ' || i, 'c' || i || '@example.test',
         (ARRAY['eu','us','apac','latam'])[1 + i % 4], now() - (i % 900) * interval '1 day'
  FROM generate_series(1, 20000) AS i;
INSERT INTO products
  SELECT i, 'SKU-' || i, 'product ' || i, round((1 + (i * 7919) % 500)::numeric, 2), 1000000
  FROM generate_series(1, 10000) AS i;
INSERT INTO orders (customer_id, product_id, qty, total, created_at)
  SELECT 1 + (i * 31) % 20000, 1 + (i * 17) % 10000, 1 + i % 5, (1 + i % 5) * (1 + i % 97),
         now() - (i % 720) * interval '1 hour'
  FROM generate_series(1, 70000) AS i;
CREATE TABLE cart_items (
  id bigserial PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers(id),
  product_id integer NOT NULL REFERENCES products(id), qty integer NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX cart_items_customer ON cart_items (customer_id);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_created ON orders (created_at);
ANALYZE;
CREATE ROLE app LOGIN;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO app;
GRANT DELETE ON cart_items TO app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app;
"""


def pgserver_install() -> Path:
    """Return pgserver's bundled PostgreSQL installation (bin, lib, share)."""
    # Located without importing pgserver: its import warns about XDG_RUNTIME_DIR.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise ProviderError(
            "the testbed needs the pgserver package", hint="pip install 'loadtrial[testbed]'"
        )
    return Path(spec.origin).parent / "pginstall"


def pg_bin(root: Path) -> Path:
    """Return the bin directory of the PostgreSQL to run for the testbed in `root`.

    Normally pgserver's own; as root, a copy in `root` (made on first use), because the
    service user may not be allowed to traverse the path to pgserver's. The copy keeps the
    wheel's layout: the binaries find their libraries at $ORIGIN/../../../pgserver.libs.
    """
    if service_user() is None:
        return pgserver_install() / "bin"
    copy = root / "pg"
    if not copy.exists():
        tmp = root / "pg.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "pgserver" / "pginstall").mkdir(parents=True)
        site = pgserver_install().parent.parent
        parts = [(site / "pgserver.libs", tmp)]
        parts += [(pgserver_install() / p, tmp / "pgserver" / "pginstall")
                  for p in ("bin", "lib", "share")]  # fmt: skip
        for source, into in parts:
            subprocess.run(["cp", "-a", str(source), str(into)], check=True, timeout=60)
        os.replace(tmp, copy)
    return copy / "pgserver" / "pginstall" / "bin"


def _own(path: Path, user: str | None) -> None:
    """Give `path` (recursively) to `user` so PostgreSQL may use it when we are root."""
    if user is not None:
        shutil.chown(path, user, user)
        subprocess.run(["chown", "-R", f"{user}:{user}", str(path)], check=True)


def make_template(root: Path) -> Path:
    """Create and seed the template data directory under `root`; return its path."""
    user = service_user()
    template = root / "template"
    template.mkdir(mode=0o700)
    _own(template, user)
    result = subprocess.run(
        [str(pg_bin(root) / "initdb"), "-D", str(template), "-U", "postgres", "--auth=trust",
         "--encoding=UTF8", "--no-sync", "--no-instructions"],
        user=user, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise ProviderError(f"initdb failed: {result.stderr.strip()[-400:]}")
    inst = start_db("seed", template, root=root, max_connections=10, cpus=os.cpu_count() or 1)
    try:
        with psycopg.connect(dsn(inst.proc.port, "postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE testbed")
        with psycopg.connect(dsn(inst.proc.port)) as conn:
            conn.execute(SEED_SQL.encode())  # bytes: one simple-protocol batch
    finally:
        stop_db(inst)
    return template


def clone(template: Path, datadir: Path) -> None:
    """Copy the template data directory to `datadir`, keeping owner and modes."""
    subprocess.run(["cp", "-a", str(template), str(datadir)], check=True, timeout=60)
    with contextlib.suppress(FileNotFoundError):
        (datadir / "postmaster.pid").unlink()


def start_db(
    name: str,
    datadir: Path,
    *,
    root: Path,
    max_connections: int,
    cpus: int,
    port: int = 0,
) -> DbInstance:
    """Start PostgreSQL on `datadir` at 127.0.0.1:`port` (0: a free one), on `cpus` CPUs."""
    last, wanted = "", port
    for _ in range(3):  # a free port can be taken between choosing and binding it
        port = wanted or free_port()
        argv = [
            str(pg_bin(root) / "postgres"), "-D", str(datadir), "-p", str(port),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
            "-c", f"max_connections={max_connections}",
            "-c", "superuser_reserved_connections=3",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "shared_buffers=32MB", "-c", "log_min_messages=fatal",
            # one request is one backend on one core: db_cpus alone bounds the db's CPU
            "-c", "max_parallel_workers_per_gather=0",
        ]  # fmt: skip
        log = root / f"{name}.log"
        proc = spawn(name, argv, log=log, port=port, user=service_user(), cpus=cpus)
        try:
            wait_ready(port, proc, timeout_s=60.0)
            return DbInstance(proc=proc, datadir=str(datadir), max_connections=max_connections,
                              cpus=cpus)  # fmt: skip
        except ProviderError as exc:
            stop_db_proc(proc.pid, proc.pgid, proc.name)
            last = exc.message
    raise ProviderError(f"PostgreSQL {name} did not start: {last}", hint=f"see {root / name}.log")


def wait_ready(port: int, proc: Proc, *, timeout_s: float) -> None:
    """Wait until PostgreSQL on `port` accepts a session, not just a TCP connection: it
    listens before recovery ends ("the database system is starting up"), which takes
    seconds on a busy host."""
    wait_port(port, proc, timeout_s=timeout_s)
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline and alive(proc.pid):
        try:
            with psycopg.connect(dsn(port, "postgres"), connect_timeout=5):
                return
        except psycopg.OperationalError as exc:
            last = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else ""
        time.sleep(0.05)
    raise ProviderError(f"{proc.name} did not accept sessions: {last}", hint=f"see {proc.log}")


def stop_db_proc(pid: int, pgid: int, name: str) -> None:
    """Fast-shutdown a postmaster (SIGINT), killing it and its backends if it lingers."""
    stop_proc(Proc(name=name, pid=pid, pgid=pgid, port=0), sig=signal.SIGINT, timeout_s=10.0)


def stop_db(inst: DbInstance) -> None:
    """Stop one instance; its data directory stays (restarts reuse it)."""
    stop_db_proc(inst.proc.pid, inst.proc.pgid, inst.proc.name)


def set_cpus(inst: DbInstance, cpus: int) -> DbInstance:
    """Pin the running postmaster and all its backends to the first `cpus` CPUs."""
    wanted = [int(c) for c in cpu_list(cpus).replace("-", ",").split(",")]
    wanted = list(range(wanted[0], wanted[-1] + 1))
    for member in tree(inst.proc.pid):
        with contextlib.suppress(psutil.Error):
            member.cpu_affinity(wanted)
    return DbInstance(proc=inst.proc, datadir=inst.datadir, max_connections=inst.max_connections,
                      cpus=cpus)  # fmt: skip


def read_facts(inst: DbInstance) -> dict[str, str]:
    """Read back the instance's size: SHOW max_connections and the postmaster's affinity."""
    facts: dict[str, str] = {"running": str(alive(inst.proc.pid)).lower()}
    try:
        with psycopg.connect(dsn(inst.proc.port), connect_timeout=5) as conn:
            row = conn.execute("SHOW max_connections").fetchone()
            facts["max_connections"] = str(row[0]) if row else ""
    except psycopg.Error as exc:
        facts["max_connections"] = f"unreadable: {str(exc).strip()[:80]}"
    try:
        facts["cpus"] = str(len(psutil.Process(inst.proc.pid).cpu_affinity() or []))
    except psutil.Error:
        facts["cpus"] = "unknown"
    return facts
