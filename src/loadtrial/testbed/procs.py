"""Starting and ending the testbed's processes so that none is ever left behind.

In: an argv, a log path, optional user, CPU set and inherited listening sockets.
Out: a `Proc` (pid, process group, port). Every process starts in its own session, so its
process group survives the death of `loadtrial` and `stop_proc` can end it with all its
children later, from the state file alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import psutil

from loadtrial.errors import ProviderError, UserError
from loadtrial.testbed.model import Proc


def listening_socket(port: int = 0) -> socket.socket:
    """Return a TCP socket listening on 127.0.0.1:`port` (0: the OS chooses), inheritable."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        error = UserError if port else ProviderError  # a port the user chose is a bad flag
        raise error(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror}",
            hint="choose another port (--port, --stats-port), or stop what uses it",
        ) from None
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def set_nodelay(writer: asyncio.StreamWriter) -> None:
    """Turn Nagle off on a stream's TCP socket: HTTP written in two pieces (head, body)
    must not wait for the peer's delayed ACK (~40 ms on Linux loopback)."""
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def free_port() -> int:
    """Return a port that was free a moment ago (for servers that cannot take a socket)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int) -> list[int]:
    """Return `count` distinct ports that were free a moment ago (all held while choosing,
    so the OS cannot hand out the same one twice)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def service_user() -> str | None:
    """Return the user PostgreSQL must run as: None normally, "pgserver" when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("pgserver")
    except KeyError:
        # PostgreSQL refuses to run as root; create the same user pgserver itself would.
        subprocess.run(["useradd", "--system", "--no-create-home", "pgserver"], check=False)
    return "pgserver"


def reachable_by(path: Path, user: str) -> bool:
    """True when `user` may enter `path` (search permission on it and every parent)."""
    test = subprocess.run(["test", "-x", str(path)], user=user, check=False, timeout=10)
    return test.returncode == 0


def spawn(
    name: str,
    argv: list[str],
    *,
    log: Path,
    port: int,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
    pass_fds: Iterable[int] = (),
    cpus: int | None = None,
) -> Proc:
    """Start `argv` in a new session (own process group); stdout/stderr go to `log`."""
    if cpus is not None:
        argv = ["taskset", "-c", cpu_list(cpus), *argv]
    full_env = {**os.environ, **(env or {})}
    with open(log, "ab") as out:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            user=user,
            pass_fds=tuple(pass_fds),
            start_new_session=True,
            close_fds=True,
        )
    # A daemon outlives this object: `stop_proc` reaps it (waitpid), and marking it done
    # keeps Popen.__del__ from warning "still running" about a process we meant to leave.
    popen.returncode = 0
    return Proc(name=name, pid=popen.pid, pgid=popen.pid, port=port, log=str(log))


def python_module(module: str, *args: str) -> list[str]:
    """Return the argv that runs `python -m module args` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def cpu_list(cpus: int) -> str:
    """Return the taskset list for the first `cpus` CPUs of this machine, e.g. "0-1"."""
    total = os.cpu_count() or 1
    n = max(1, min(cpus, total))
    return "0" if n == 1 else f"0-{n - 1}"


def alive(pid: int) -> bool:
    """True when `pid` is a running (not zombie) process."""
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def tree(pid: int) -> list[psutil.Process]:
    """Return `pid` and all its descendants that are still there."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _running(member: psutil.Process) -> bool:
    try:
        return member.is_running() and member.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_gone(members: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Wait until every member has exited; return those still running after `timeout_s`.

    A zombie counts as gone: it holds no port or file any more, and one that is not our
    child is reaped by init whenever init gets to it (psutil.wait_procs waits for that
    reaping, ~1-2 s per process in a container, which made `down` take 8 s).
    """
    deadline = time.monotonic() + timeout_s
    left, pause = list(members), 0.005
    while left:
        for member in left:  # reap our own children at once (the rest is init's)
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(member.pid, os.WNOHANG)
        left = [m for m in left if _running(m)]
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
    return left


def stop_proc(proc: Proc, *, sig: int = signal.SIGTERM, timeout_s: float = 8.0) -> None:
    """End `proc`, its process group and its descendants: `sig` first, SIGKILL if needed."""
    members = tree(proc.pid)
    with contextlib.suppress(OSError):
        os.killpg(proc.pgid, sig)
    for member in members:
        with contextlib.suppress(psutil.Error):
            member.send_signal(sig)
    left = wait_gone(members, timeout_s)
    for member in left:
        with contextlib.suppress(psutil.Error):
            member.kill()
    with contextlib.suppress(OSError):
        os.killpg(proc.pgid, signal.SIGKILL)
    wait_gone(left, 3.0)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(proc.pid, os.WNOHANG)


def wait_port(port: int, proc: Proc, *, timeout_s: float = 20.0) -> None:
    """Wait until something accepts on 127.0.0.1:`port`; raise if `proc` dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if not alive(proc.pid):
            break
        time.sleep(0.05)
    raise ProviderError(
        f"{proc.name} did not start listening on port {port}",
        hint=f"see its log {proc.log}",
    )


def port_in_use(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), 0.3):
            return True
    except OSError:
        return False
