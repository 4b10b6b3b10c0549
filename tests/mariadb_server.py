"""A private MariaDB server for one test session: its own data directory, its own port on
127.0.0.1, root without a password; the machine's own server (if any) is never touched.

In: the `mariadbd` and `mariadb-install-db` executables and an empty directory. Out: a
`MariaDB` with the connection parameters, and the running process (stop it with `stop`).
As root the server runs as root (`--user=root`) on a directory root owns; otherwise as the
current user on a directory that user owns, so no permission is ever widened.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# small files and buffers: the suite needs a working server, not a fast one
SMALL = (
    "--innodb-log-file-size=4M",
    "--innodb-data-file-path=ibdata1:4M:autoextend",
    "--innodb-buffer-pool-size=16M",
    "--skip-name-resolve",
)
READY_TIMEOUT_S = 120.0


class MariaDBStartError(RuntimeError):
    """The server did not initialise or start; the message carries its log's tail."""


@dataclass(frozen=True)
class MariaDB:
    """Where the private server listens and how to log in."""

    host: str
    port: int
    user: str = "root"
    password: str = ""
    pid_file: str = ""

    def params(self) -> dict[str, Any]:
        """Keyword arguments for pymysql.connect and keys of a mysql observer entry."""
        return {"host": self.host, "port": self.port, "user": self.user, "password": self.password}


def start(mariadbd: str, install_db: str, root: Path) -> tuple[MariaDB, subprocess.Popen[bytes]]:
    """Initialise a data directory under `root` and start a server on a free port."""
    data = root / "data"
    user = ["--user=root"] if os.geteuid() == 0 else []
    init = subprocess.run(
        [install_db, "--no-defaults", f"--datadir={data}", *user,
         "--auth-root-authentication-method=normal", "--skip-test-db", *SMALL],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if init.returncode != 0:
        raise MariaDBStartError(f"mariadb-install-db failed: {_tail(init.stdout + init.stderr)}")
    last = ""
    for _ in range(3):  # the free port we picked may be taken before the server binds it
        port = _free_port()
        log = root / f"error-{port}.log"
        pid_file = root / "mariadbd.pid"
        proc = subprocess.Popen(
            [mariadbd, "--no-defaults", *user, f"--datadir={data}", f"--port={port}",
             "--bind-address=127.0.0.1", f"--socket={root / 'mysqld.sock'}",
             f"--pid-file={pid_file}", f"--log-error={log}", "--skip-log-bin",
             "--max-connections=60", *SMALL],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        if _wait_listening(proc, port):
            return MariaDB("127.0.0.1", port, pid_file=str(pid_file)), proc
        stop(proc)
        last = _tail(log.read_text(errors="replace") if log.exists() else "(no log)")
    raise MariaDBStartError(f"mariadbd did not start on a private port: {last}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Shut the server down (SIGTERM, then SIGKILL after 30 s) and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def _wait_listening(proc: subprocess.Popen[bytes], port: int) -> bool:
    """True once the server accepts TCP on `port`; False if it exits or takes too long."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(text: str, lines: int = 8) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])
