"""The process and host observers, measuring real processes on this machine."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from written import written

from loadtrial.observe import make_observer, observer_problems
from loadtrial.observe.host import read_sockstat

BUSY = "import sys,time\nend=time.monotonic()+30\nwhile time.monotonic()<end: pass\n"
IDLE = "import time\ntime.sleep(30)\n"


@pytest.fixture
def busy_group() -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """Two processes tagged with a unique token: one spinning, one sleeping."""
    token = f"lt-observe-{uuid.uuid4().hex[:8]}"
    procs = [
        subprocess.Popen([sys.executable, "-c", BUSY, token]),
        subprocess.Popen([sys.executable, "-c", IDLE, token]),
    ]
    try:
        yield token, procs
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=5)


def test_process_group_by_cmdline_regex(
    busy_group: tuple[str, list[subprocess.Popen[bytes]]],
) -> None:
    token, _procs = busy_group
    obs = make_observer({"kind": "process", "cmdline": token, "as": "app"})
    obs.start()
    obs.sample(0.0)
    time.sleep(0.5)
    got = {s.name: s for s in obs.sample(0.5)}
    assert got["app.processes.count"].value == 2.0
    cpu = got["app.cpu.percent"]
    assert cpu.unit == "percent" and cpu.capacity is not None and cpu.capacity >= 100.0
    assert cpu.value > 5.0  # one of them spins (shared machine: far below 100 is fine)
    assert 0.0 < got["app.cpu.util"].value <= 1.0
    assert got["app.memory.rss_bytes"].value > 1_000_000
    assert got["app.connections.open"].value == 0.0
    obs.stop()


def test_process_group_by_pid_file_follows_a_restart(
    tmp_path: Path, busy_group: tuple[str, list[subprocess.Popen[bytes]]]
) -> None:
    _, procs = busy_group
    pid_file = tmp_path / "app.pid"
    pid_file.write_text(f"{procs[1].pid}\n")
    obs = make_observer({"kind": "process", "pid_file": str(pid_file), "connections": False})
    obs.start()
    first = {s.name: s.value for s in obs.sample(0.0)}
    assert first["process.processes.count"] == 1.0
    assert "process.connections.open" not in first
    pid_file.write_text("999999999\n")  # the process is gone: an empty group, not a crash
    assert {s.name: s.value for s in obs.sample(1.0)}["process.processes.count"] == 0.0


def test_loadtrial_itself_is_never_in_a_group() -> None:
    obs = make_observer({"kind": "process", "match": "python|pytest"})
    pids = {p.pid for p in obs.find()}  # type: ignore[attr-defined]
    import os

    assert os.getpid() not in pids


def test_host_observer_reports_the_machine() -> None:
    obs = make_observer({"kind": "host", "as": "lb"})
    obs.start()
    obs.sample(0.0)
    time.sleep(0.2)
    got = {s.name: s for s in obs.sample(0.2)}
    for name in (
        "lb.cpu.percent",
        "lb.cpu.util",
        "lb.memory.used_bytes",
        "lb.load.1m",
        "lb.net.rx_bytes_per_s",
        "lb.net.tx_bytes_per_s",
    ):
        assert name in got, name
    assert got["lb.memory.used_bytes"].capacity is not None
    assert 0.0 <= got["lb.cpu.util"].value <= 1.0
    if Path("/proc/net/sockstat").exists():
        assert "lb.tcp.inuse" in got and read_sockstat()["inuse"] >= 0


def test_process_problems() -> None:
    found = observer_problems(written({"kind": "process"}), "observe[1]")
    assert [p.field for p in found] == ["observe[1]"]
    bad = observer_problems(written({"kind": "process", "match": "(["}), "observe[1]")
    assert {p.field for p in bad} == {"observe[1].match"}


FORK_THEN_EXEC = """
import os, sys, time
token = sys.argv[1]  # passed on to the exec'd child only
pid = os.fork()
if pid == 0:
    time.sleep(0.6)  # a forked child shows its parent's command line until it execs
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(30)", token])
print("forked", flush=True)
os.waitpid(pid, 0)
"""


def test_a_process_is_matched_once_it_has_execd() -> None:
    token = f"lt-exec-{uuid.uuid4().hex[:8]}"
    launcher = subprocess.Popen(
        [sys.executable, "-c", FORK_THEN_EXEC, token], stdout=subprocess.PIPE, text=True
    )
    try:
        assert launcher.stdout is not None and launcher.stdout.readline().strip() == "forked"
        # `-c <sleep> token` is only in the exec'd command line; before the exec the
        # child shows the launcher's, which ends in the token too, so match the sleep
        obs = make_observer({"kind": "process", "cmdline": "time.sleep\\(30\\) " + token})
        obs.start()
        early = {s.name: s.value for s in obs.sample(0.0)}
        deadline = time.monotonic() + 10
        late = early
        while time.monotonic() < deadline and late["process.processes.count"] < 1:
            time.sleep(0.1)
            late = {s.name: s.value for s in obs.sample(1.0)}
        assert late["process.processes.count"] == 1.0
    finally:
        for child in psutil.Process(launcher.pid).children(recursive=True):
            child.kill()
        launcher.kill()
        launcher.wait(timeout=5)
        if launcher.stdout is not None:
            launcher.stdout.close()
