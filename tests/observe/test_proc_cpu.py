"""CPU of a process tree whose children come and go between readings (a postmaster with
per-request backends): their CPU is counted once, neither lost nor doubled."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from loadtrial.observe import _proc

# a parent that runs 4 short children one after another, each burning 0.15 s of CPU
PARENT = """
import subprocess, sys, time
child = "import time\\nwhile time.process_time() < 0.15: pass"
for _ in range(4):
    subprocess.run([sys.executable, "-c", child], check=True)
print("done", flush=True)
time.sleep(30)
"""


def _tree_total_s(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def test_short_lived_children_are_counted_once() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        root = psutil.Process(parent.pid)
        meter = _proc.CpuMeter()
        start_total = _tree_total_s(parent.pid)
        last = time.monotonic()
        meter.percent(_proc.tree(root), last)
        measured_s = 0.0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.03)  # readings land while children are alive and after they exit
            now = time.monotonic()
            pct = meter.percent(_proc.tree(root), now)
            measured_s += (pct or 0.0) / 100.0 * (now - last)
            last = now
            if parent.poll() is not None or _only_parent_left(root):
                break
        assert parent.stdout is not None and parent.stdout.readline().strip() == "done"
        now = time.monotonic()
        measured_s += (meter.percent(_proc.tree(root), now) or 0.0) / 100.0 * (now - last)
        truth_s = _tree_total_s(parent.pid) - start_total
    finally:
        parent.kill()
        parent.wait(timeout=5)
        if parent.stdout is not None:
            parent.stdout.close()
    assert truth_s >= 0.6  # four children of 0.15 s each, plus interpreter start-ups
    print(f"measured {measured_s:.3f} s, truth {truth_s:.3f} s")
    assert abs(measured_s - truth_s) <= 0.05 + 0.02 * truth_s  # tick rounding only


def _only_parent_left(root: psutil.Process) -> bool:
    """True once the four children ran and the parent is sleeping alone."""
    t = root.cpu_times()
    return not root.children() and t.children_user + t.children_system >= 0.6
