"""Observer `process`: a group of local processes, e.g. every app-node worker (psutil).

In: `{kind: process, as: app}` with one way to pick the group:
  `match: uvicorn`        regex searched in the process name or its command line
  `name: postgres`        exact process name
  `cmdline: "gunicorn.*app:app"`  regex searched in the command line only
  `pids: [1234, 1235]`    fixed pids;  `pid_file: /run/app.pid`  pid read each tick
  and `children: true` (default) to add each match's descendants. loadtrial itself and
  its load workers (copies of its process) are never part of a group.
Out per tick (tier = `as`, default "process"):
  cpu.percent (of one core, capacity 100 × cores they may use), cpu.util (ratio),
  memory.rss_bytes (capacity = host memory), processes.count,
  connections.open (inet sockets; off with `connections: false`).
The group is looked up again every tick, so restarted or added nodes are followed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

import psutil

from loadtrial.errors import Problem
from loadtrial.observe import _config, _proc
from loadtrial.observe.model import Sample

_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)
_PICKERS = ("match", "name", "cmdline", "pids", "pid_file")


class ProcessObserver:
    """CPU, memory, count and sockets of a process group found anew each tick."""

    kind = "process"

    def __init__(self, tier: str, interval_s: float | None, entry: Mapping[str, Any]) -> None:
        self.tier, self.interval_s = tier, interval_s
        self._match = re.compile(entry["match"]) if entry.get("match") else None
        self._cmdline = re.compile(entry["cmdline"]) if entry.get("cmdline") else None
        self._name = str(entry.get("name") or "")
        self._pids = tuple(int(p) for p in entry.get("pids") or ())
        self._pid_file = str(entry.get("pid_file") or "")
        self._children = bool(entry.get("children", True))
        self._connections = bool(entry.get("connections", True))
        self._meter = _proc.CpuMeter()
        self._mem_total = float(psutil.virtual_memory().total)

    def start(self) -> None:
        self._meter = _proc.CpuMeter()

    def stop(self) -> None:
        return None

    def sample(self, t_s: float) -> list[Sample]:
        """Find the group, then read CPU, memory, count and open sockets."""
        group = self.find()
        rss, conns = 0.0, 0
        for proc in group:
            try:
                rss += proc.memory_info().rss
                if self._connections:
                    conns += len(proc.net_connections(kind="inet"))
            except _GONE:
                continue
        pct = self._meter.percent(group, time.monotonic())
        out = [
            Sample(t_s, f"{self.tier}.processes.count", float(len(group)), "count"),
            Sample(t_s, f"{self.tier}.memory.rss_bytes", rss, "bytes", self._mem_total),
            *_proc.cpu_samples(self.tier, pct, _proc.cores_of(group), t_s),
        ]
        if self._connections:
            out.append(Sample(t_s, f"{self.tier}.connections.open", float(conns), "count"))
        return out

    def find(self) -> list[psutil.Process]:
        """Return the group's processes now (matches plus, optionally, descendants)."""
        mine = _proc.own_pids()
        found: dict[int, psutil.Process] = {}
        for proc in self._roots():
            for member in _proc.tree(proc) if self._children else [proc]:
                if member.pid not in mine:
                    found.setdefault(member.pid, member)
        return list(found.values())

    def _roots(self) -> list[psutil.Process]:
        """Return the processes picked by pids, pid file, name or regex."""
        if self._pids or self._pid_file:
            listed = [_alive(p) for p in self._pids]
            if self._pid_file:
                listed.append(_proc.process_from_pid_file(self._pid_file))
            return [p for p in listed if p is not None]
        return [p for p in psutil.process_iter(["name", "cmdline"]) if self._picks(p)]

    def _picks(self, proc: psutil.Process) -> bool:
        """True when a process matches the name / regex rules."""
        name = proc.info.get("name") or ""
        cmdline = " ".join(proc.info.get("cmdline") or ())
        if self._name and name != self._name:
            return False
        if self._cmdline and not self._cmdline.search(cmdline):
            return False
        return not (self._match and not (self._match.search(name) or self._match.search(cmdline)))


def _alive(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except _GONE:
        return None


def create(entry: Mapping[str, Any]) -> ProcessObserver:
    """Return a process-group observer for one `observe:` entry."""
    return ProcessObserver(_config.tier(entry, "process"), _config.interval_s(entry), entry)


def _is_pid_list(value: Any) -> str:
    ok = isinstance(value, list | tuple) and all(
        isinstance(p, int) and not isinstance(p, bool) and p > 0 for p in value
    )
    return "" if ok else "expected a list of process ids"


def problems(entry: Mapping[str, Any], path: str) -> list[Problem]:
    """Return every problem with a process entry (it must say how to find the group)."""
    checks = {
        "match": _config.is_regex,
        "cmdline": _config.is_regex,
        "name": _config.is_str,
        "pids": _is_pid_list,
        "pid_file": _config.is_str,
        "children": _config.is_bool,
        "connections": _config.is_bool,
    }
    found = _config.check_entry(entry, path, checks)
    if not any(entry.get(k) for k in _PICKERS):
        found.append(
            Problem(
                path,
                "a process observer needs a way to find its processes",
                "add match:, name:, cmdline:, pids: or pid_file:",
            )
        )
    return found
