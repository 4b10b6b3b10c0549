"""Shared fixtures. Tests talk to real servers on 127.0.0.1, started here or by the test.

What the tests need from the machine, the suite installs or starts itself (docs/testing.md):
HAProxy before collection (the testbed's tests choose on it at import time); Chromium and
MariaDB after collection, only when a selected test asks for the `chromium` or `mariadb`
fixture, and outside any test's timeout; a private MariaDB server runs for the session.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling
from xdist.workermanage import Producer

import machine
import mariadb_server
from mariadb_server import MariaDB

# fixture name -> (executable, Debian package)
NEEDS = {"chromium": ("chromium", "chromium"), "mariadb": ("mariadbd", "mariadb-server")}
FOUND = pytest.StashKey[dict[str, machine.Found]]()

# `make test` runs the suite on two worker processes (pytest-xdist, `-n 2`). The tests
# below measure what this machine's CPUs can do (a testbed under load, a Ray cluster, a
# generator's schedule): the scheduler below sends them to one worker as one unit, to run
# one after another, so two of them never compete for the cores their assertions depend
# on; every other test is its own unit and goes to whichever worker is free (they mostly
# wait on sockets and timers).
MACHINE_BOUND = (
    "tests/testbed/test_stories.py",
    "tests/testbed/test_demo.py",
    "tests/testbed/test_testbed.py",
    "tests/testbed/test_shop.py",
    "tests/testbed/test_shop_flow.py",
    "tests/whatif/test_whatif_testbed.py",
    "tests/load/test_distributed.py",
    "tests/load/test_distributed_faults.py",
    "tests/runner/test_runner_stall.py",
)


class MachineBoundFirst(LoadScopeScheduling):
    """xdist's scope scheduling with one scope for every MACHINE_BOUND test and one per
    test otherwise (xdist's own `xdist_group` mark does not reach the scheduler under
    pytest 9: it rewrites a node attribute pytest no longer reads)."""

    def _split_scope(self, nodeid: str) -> str:
        return "machine-bound" if nodeid.split("::", 1)[0] in MACHINE_BOUND else nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> MachineBoundFirst:
    """The scheduler of `-n N` runs (see MachineBoundFirst)."""
    return MachineBoundFirst(config, log)


def pytest_configure(config: pytest.Config) -> None:
    """Install HAProxy when missing (once per machine, under a lock); a machine that
    cannot keeps the skip and its reason on the tests that need it."""
    machine.ensure_binary("haproxy", "haproxy")
    config.stash[FOUND] = {}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the MACHINE_BOUND tests into one group: one worker runs them in turn."""
    for item in items:
        if item.nodeid.split("::", 1)[0] in MACHINE_BOUND:
            item.add_marker(pytest.mark.xdist_group("machine-bound"))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Install what the selected tests' fixtures need, before any test's clock starts."""
    wanted = {n for item in session.items for n in getattr(item, "fixturenames", ()) if n in NEEDS}
    for name in sorted(wanted):
        _found(session.config, name)


def _found(config: pytest.Config, name: str) -> machine.Found:
    """The executable behind fixture `name`, installed at most once per session."""
    found = config.stash[FOUND]
    if name not in found:
        found[name] = machine.ensure_binary(*NEEDS[name])
    return found[name]


@pytest.fixture(scope="session")
def chromium(pytestconfig: pytest.Config) -> str:
    """The chromium executable (installed through apt-get when missing)."""
    found = _found(pytestconfig, "chromium")
    if found.path is None:
        pytest.skip(found.reason)
    return found.path


@pytest.fixture(scope="session")
def mariadb(pytestconfig: pytest.Config) -> Iterator[MariaDB]:
    """A MariaDB server of this session only: private data directory, private port, root
    without a password; mariadb-server is installed through apt-get when mariadbd is missing."""
    server = _found(pytestconfig, "mariadb")
    install_db = machine.which("mariadb-install-db") or machine.which("mysql_install_db")
    if server.path is None or install_db is None:
        pytest.skip(server.reason or "mariadbd is installed but mariadb-install-db is not")
    root = Path(tempfile.mkdtemp(prefix="lt-mariadb-"))
    try:
        found, proc = mariadb_server.start(server.path, install_db, root)
        try:
            yield found
        finally:
            mariadb_server.stop(proc)
    finally:
        shutil.rmtree(root, ignore_errors=True)
