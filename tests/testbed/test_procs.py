"""Process helpers of the testbed: stopping waits for exit, not for init's reaping."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

from loadtrial.testbed.procs import wait_gone

# a parent that starts a child, prints its pid and never reaps it (so it stays a zombie)
PARENT = (
    "import subprocess, sys, time\n"
    "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(c.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def test_a_zombie_not_ours_counts_as_gone_and_a_live_process_does_not() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = psutil.Process(int(parent.stdout.readline()))
        assert wait_gone([child], 0.3) == [child]  # running: still there after the timeout
        os.kill(child.pid, signal.SIGKILL)
        for _ in range(200):  # until the kernel has made it a zombie of `parent`
            if child.status() == psutil.STATUS_ZOMBIE:
                break
            time.sleep(0.01)
        assert child.status() == psutil.STATUS_ZOMBIE  # nobody reaps it: it stays listed
        assert wait_gone([child], 30.0) == []  # yet it has exited: nothing to wait for
        assert not psutil.wait_procs([child], timeout=0.2)[0]  # psutil would still wait
    finally:
        parent.kill()
        parent.wait(timeout=10)
        if parent.stdout is not None:
            parent.stdout.close()
