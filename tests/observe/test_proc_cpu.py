"""CPU of a process tree whose children come and go between readings (a postmaster with
per-request backends): their CPU is counted once, neither lost nor doubled."""

from __future__ import annotations

import select
import subprocess
import sys
import time

import psutil

from loadtrial.observe import _proc

# A parent that waits for "go", runs 4 short children one after another (each burning
# 0.15 s of CPU), says "done" and then idles until its stdin closes. The test reads the
# truth only while the parent idles, so no CPU falls between the truth and the meter, and
# the parent cannot exit (and take its times with it) before the last reading.
PARENT = """
import subprocess, sys
child = "import time\\nwhile time.process_time() < 0.15: pass"
print("ready", flush=True)
sys.stdin.readline()
for _ in range(4):
    subprocess.run([sys.executable, "-c", child], check=True)
print("done", flush=True)
sys.stdin.read()
"""


def _tree_total_s(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def _said(parent: subprocess.Popen[str], word: str, timeout_s: float) -> bool:
    """True when the parent's next line, read within `timeout_s`, is `word`."""
    assert parent.stdout is not None
    ready, _, _ = select.select([parent.stdout], [], [], timeout_s)
    return bool(ready) and parent.stdout.readline().strip() == word


def test_short_lived_children_are_counted_once() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdin is not None
    try:
        assert _said(parent, "ready", 60)
        root = psutil.Process(parent.pid)
        meter = _proc.CpuMeter()
        start_total = _tree_total_s(parent.pid)
        last = time.monotonic()
        meter.percent(_proc.tree(root), last)
        parent.stdin.write("go\n")
        parent.stdin.flush()
        measured_s = 0.0
        done = False
        deadline = time.monotonic() + 120
        while not done and time.monotonic() < deadline:
            # readings every 30 ms land while children are alive and after they exit
            done = _said(parent, "done", 0.03)
            now = time.monotonic()
            pct = meter.percent(_proc.tree(root), now)
            measured_s += (pct or 0.0) / 100.0 * (now - last)
            last = now
        assert done, "the parent did not finish its four children within 120 s"
        truth_s = _tree_total_s(parent.pid) - start_total
    finally:
        parent.kill()
        parent.wait(timeout=5)
        parent.stdin.close()
        if parent.stdout is not None:
            parent.stdout.close()
    # four children ran: 0.15 s of CPU each, as the kernel counts it in 10 ms ticks (a
    # child's 0.15 s may read 0.14 s: 0.59 s was seen)
    assert truth_s >= 4 * (0.15 - 0.01)
    print(f"measured {measured_s:.3f} s, truth {truth_s:.3f} s")
    assert abs(measured_s - truth_s) <= 0.05 + 0.02 * truth_s  # tick rounding only
