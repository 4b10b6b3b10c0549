"""Shared helpers of the load benches: a pinned nginx, installs, CPU accounting, output.

In: what a bench needs started (nginx on a core, a tool from apt). Out: running processes
the caller stops, figures as plain numbers. Everything binds 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type text/plain; return 200 "ok"; }}
  }}
}}
"""

_apt_updated = False


def free_port() -> int:
    """Return a port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_apt(binary: str, package: str) -> str | None:
    """Return the path of `binary`, installing `package` with apt-get when missing."""
    global _apt_updated
    found = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None
    )
    if found or not shutil.which("apt-get"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        _apt_updated = True
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=False, env=env)
    return shutil.which(binary) or (
        f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None
    )


def pin(core: int) -> list[str]:
    """Return the command prefix that pins a process to `core` (empty when impossible)."""
    return (
        ["taskset", "-c", str(core)]
        if shutil.which("taskset") and (os.cpu_count() or 1) > core
        else []
    )


@dataclass
class Nginx:
    """An nginx answering a tiny 200 on 127.0.0.1, pinned to one core."""

    proc: subprocess.Popen[bytes]
    port: int
    workdir: tempfile.TemporaryDirectory[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.workdir.cleanup()


def start_nginx(core: int = 0) -> Nginx | None:
    """Start nginx pinned to `core`; None when nginx is not available."""
    binary = ensure_apt("nginx", "nginx")
    if binary is None:
        return None
    work = tempfile.TemporaryDirectory(prefix="lt-nginx-")
    port = free_port()
    conf = Path(work.name) / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=work.name, port=port))
    proc = subprocess.Popen([*pin(core), binary, "-c", str(conf), "-p", work.name])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return Nginx(proc, port, work)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    work.cleanup()
    return None


def run_measured(cmd: list[str], timeout_s: float) -> tuple[str, float]:
    """Run a command to completion; return (stdout, CPU seconds it and its children used)."""
    before = os.times()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({out.returncode}): {out.stderr.strip()[-300:]}")
    return out.stdout, cpu


def load_average() -> str:
    """Return the 1/5/15-minute load average as text."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"
