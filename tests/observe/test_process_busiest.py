"""`cpu.busiest_util`: the busiest single process against the cores ONE process can use."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import psutil
import pytest
from pydantic import ValidationError
from written import written

from loadtrial.observe import make_observer, observer_problems

SPIN = "import time\nend=time.monotonic()+30\nwhile time.monotonic()<end: pass\n"
IDLE = "import time\ntime.sleep(30)\n"


@pytest.fixture
def spinner() -> Iterator[str]:
    """One process spinning on one core and one sleeping, tagged with a unique token."""
    token = f"lt-busiest-{uuid.uuid4().hex[:8]}"
    procs = [
        subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", SPIN, token]),
        subprocess.Popen([sys.executable, "-c", IDLE, token]),
    ]
    try:
        _started(token, 2)
        yield token
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=5)


def _started(token: str, count: int) -> None:
    """Wait (10 s at most) until `count` processes carry `token` on their command line: a
    child that has not exec'd yet still shows pytest's, and an observer that finds no
    process at its first tick has no rate at its second (seen once on a busy machine)."""
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        found = sum(
            1 for p in psutil.process_iter(["cmdline"]) if token in (p.info["cmdline"] or ())
        )
        if found >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{count} processes with {token} did not start within 10 s")


def _two_ticks(entry: dict[str, object]) -> dict[str, float]:
    _started(str(entry["cmdline"]), 1)
    obs = make_observer(entry)
    obs.start()
    obs.sample(0.0)
    time.sleep(1.0)
    return {s.name: s.value for s in obs.sample(1.0) if s.name.startswith("app.cpu")}


def test_busiest_util_is_the_busiest_process_of_one_core(spinner: str) -> None:
    got = _two_ticks({"kind": "process", "cmdline": spinner, "as": "app"})
    one_core_share = got["app.cpu.percent"] / 100.0  # nearly all of it is the spinner's
    # the spinner's own core, not the group's cores (cpu.util divides by all of them)
    assert got["app.cpu.busiest_util"] >= 0.9 * one_core_share - 0.02, got
    assert got["app.cpu.busiest_util"] <= 1.0
    assert got["app.cpu.busiest_util"] > 0.2, got  # it spins, even on a busy machine


def test_process_cores_is_capped_to_the_cores_the_process_may_use(spinner: str) -> None:
    # the spinner may only use core 0: process_cores 8 still means one core for it
    got = _two_ticks({"kind": "process", "cmdline": spinner, "as": "app", "process_cores": 8})
    assert got["app.cpu.busiest_util"] >= 0.9 * got["app.cpu.percent"] / 100.0 - 0.02, got


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores")
def test_process_cores_divides_a_multi_core_process() -> None:
    token = f"lt-busiest-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen([sys.executable, "-c", SPIN, token])  # may run on every core
    try:
        got = _two_ticks({"kind": "process", "cmdline": token, "as": "app", "process_cores": 2})
    finally:
        proc.kill()
        proc.wait(timeout=5)
    # one spinning thread keeps one core busy: half of the two a threaded server could use
    assert got["app.cpu.busiest_util"] <= 0.55, got
    assert got["app.cpu.busiest_util"] >= 0.9 * got["app.cpu.percent"] / 200.0 - 0.02, got


def test_process_cores_must_be_a_whole_number() -> None:
    entry = {"kind": "process", "match": "x", "process_cores": 0}
    with pytest.raises(ValidationError, match="process_cores"):
        written(entry)
    assert observer_problems(written({**entry, "process_cores": 4}), "o") == []
