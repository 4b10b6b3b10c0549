"""What the suite needs from the machine, installed by the suite itself when it can.

In: an executable's name and the Debian package that ships it. Out: a `Found` with the
executable's path, or the reason it is missing (for a skip message). A missing package is
installed with `apt-get install -y` when this is a Debian-like machine and we are root,
once per machine: a file lock serialises parallel sessions (pytest-xdist workers, two
clones tested side by side), and the waiting session finds the binary already there.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# one lock for every loadtrial test session on this machine
APT_LOCK = Path(tempfile.gettempdir()) / "loadtrial-tests-apt.lock"
# daemons such as mariadbd live in sbin, which a non-root PATH often lacks
SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")
APT_TIMEOUT_S = 900


@dataclass(frozen=True)
class Found:
    """An executable's path, or why it is missing (`reason` is empty when found)."""

    path: str | None
    reason: str = ""


def which(binary: str) -> str | None:
    """The executable on PATH or in an sbin directory, or None."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN])
    return shutil.which(binary, path=path)


def ensure_binary(binary: str, package: str) -> Found:
    """Return `binary`, installing `package` through apt-get first when it is missing."""
    found = which(binary)
    if found:
        return Found(found)
    if not shutil.which("apt-get"):
        return Found(None, f"{binary} is not installed and this machine has no apt-get")
    if os.geteuid() != 0:
        return Found(None, f"{binary} is not installed: `apt-get install -y {package}` needs root")
    with APT_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        found = which(binary)  # another session may have installed it while we waited
        why = "" if found else _apt_install(package)
    found = which(binary)
    if found:
        return Found(found)
    return Found(None, f"{binary} is missing and `apt-get install -y {package}` failed: {why}")


def _apt_install(package: str) -> str:
    """Install `package`; refresh the package lists once if the first try fails.
    Returns the last lines of apt's complaint ('' on success)."""
    why = _apt(["install", "-y", "-q", package])
    if why:
        _apt(["update", "-q"])
        why = _apt(["install", "-y", "-q", package])
    return why


def _apt(args: list[str]) -> str:
    """Run apt-get non-interactively (waiting for another dpkg to finish); '' on success."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock_wait = ["-o", f"DPkg::Lock::Timeout={APT_TIMEOUT_S}"]
    try:
        done = subprocess.run(
            ["apt-get", *lock_wait, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=APT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"apt-get {args[0]} took more than {APT_TIMEOUT_S} s"
    if done.returncode == 0:
        return ""
    return " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
