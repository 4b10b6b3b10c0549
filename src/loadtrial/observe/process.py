"""Observer `process`: a group of local processes, e.g. every app-node worker (psutil).

In: `{kind: process, as: app}` with one way to pick the group:
  `match: uvicorn`        regex searched in the process name or its command line
  `name: postgres`        exact process name
  `cmdline: "gunicorn.*app:app"`  regex searched in the command line only
  `pids: [1234, 1235]`    fixed pids;  `pid_file: /run/app.pid`  pid read each tick
  and `children: true` (default) to add each match's descendants. loadtrial itself and
  its load workers (copies of its process) are never part of a group.
  `process_cores: 1` (default): how many cores ONE process of the group can keep busy.
  1 is right for Python, Node, Ruby and other GIL-bound or single-threaded servers; set
  more for a multi-threaded server (a JVM, a threaded Go/Rust server).
Out per tick (tier = `as`, default "process"):
  cpu.percent (of one core, capacity 100 × cores they may use), cpu.util (ratio),
  cpu.busiest_util (ratio, capacity 1.0): the busiest single process of the group, its own
    CPU seconds in the interval / interval seconds / min(process_cores, cores it may use),
    so a one-core server pegged at 100 % of its core reads 1.0 on a 32-core host whose
    cpu.util reads 0.03,
  memory.rss_bytes (capacity = host memory), processes.count,
  connections.open (inet sockets; off with `connections: false`).
The group is looked up again every tick, so restarted or added nodes are followed.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from typing import Any

import psutil

from loadtrial.errors import Problem
from loadtrial.observe import _config, _proc, _ptable
from loadtrial.observe.model import Sample
from loadtrial.observe.settings import ProcessSettings

_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)
_PICKERS = ("match", "name", "cmdline", "pids", "pid_file")


class ProcessObserver:
    """CPU, memory, count and sockets of a process group found anew each tick."""

    kind = "process"

    def __init__(self, entry: ProcessSettings) -> None:
        self.tier, self.interval_s = entry.as_ or entry.kind, entry.interval
        self._match = re.compile(entry.match) if entry.match else None
        self._cmdline = re.compile(entry.cmdline) if entry.cmdline else None
        self._name = entry.name or ""
        self._pids = entry.pids or ()
        self._pid_file = entry.pid_file or ""
        self._children = entry.children
        self._connections = entry.connections
        self._process_cores = entry.process_cores
        self._meter = _proc.CpuMeter()
        self._table = _ptable.ProcTable()
        self._procs: dict[tuple[int, float], psutil.Process] = {}
        self._mem_total = float(psutil.virtual_memory().total)

    def start(self) -> None:
        self._meter = _proc.CpuMeter()

    def stop(self) -> None:
        return None

    def sample(self, t_s: float) -> list[Sample]:
        """Find the group, then read CPU, memory, count and open sockets."""
        group = self.find()
        rss = 0.0
        for proc in group:
            try:
                rss += proc.memory_info().rss
            except _GONE:
                continue
        pct = self._meter.percent(group, time.monotonic())
        out = [
            Sample(t_s, f"{self.tier}.processes.count", float(len(group)), "count"),
            Sample(t_s, f"{self.tier}.memory.rss_bytes", rss, "bytes", self._mem_total),
            *_proc.cpu_samples(self.tier, pct, _proc.cores_of(group), t_s),
            *self._busiest(group, t_s),
        ]
        if self._connections:
            conns = _ptable.inet_socket_count(p.pid for p in group)
            out.append(Sample(t_s, f"{self.tier}.connections.open", float(conns), "count"))
        return out

    def _busiest(self, group: list[psutil.Process], t_s: float) -> list[Sample]:
        """`cpu.busiest_util` of the last interval (none on the first tick or when empty)."""
        rates = self._meter.own_rates()
        utils = [
            rates[p.pid] / min(self._process_cores, _proc.cores_of([p]))
            for p in group
            if p.pid in rates
        ]
        if not utils:
            return []
        busiest = min(1.0, max(utils))  # tick-counted CPU time can overshoot a hair
        return [Sample(t_s, f"{self.tier}.cpu.busiest_util", round(busiest, 5), "ratio", 1.0)]

    def find(self) -> list[psutil.Process]:
        """Return the group's processes now (matches plus, optionally, descendants)."""
        table = self._table.scan()
        roots = self._roots(table)
        members = set(roots) | (_ptable.descendants(table, roots) if self._children else set())
        members -= self._own(table)
        keep: dict[tuple[int, float], psutil.Process] = {}
        for pid in members:
            key = (pid, table[pid].start) if pid in table else (pid, 0.0)
            proc = self._procs.get(key) or _alive(pid)
            if proc is not None:
                keep[key] = proc
        self._procs = keep
        return list(keep.values())

    def _own(self, table: dict[int, _ptable.ProcInfo]) -> set[int]:
        """loadtrial's pid and its load workers (copies of this process): never targets.
        A testbed's app nodes are children too, and they are what users observe."""
        me = os.getpid()
        mine = {me}
        my_cmdline = self._table.cmdline(table[me]) if me in table else ""
        for pid in _ptable.descendants(table, [me]):
            cmdline = self._table.cmdline(table[pid])
            if cmdline == my_cmdline or "multiprocessing" in cmdline:
                mine.add(pid)
        return mine

    def _roots(self, table: dict[int, _ptable.ProcInfo]) -> list[int]:
        """Return the pids picked by pids, pid file, name or regex."""
        if self._pids or self._pid_file:
            listed = [p for p in self._pids if p in table]
            if self._pid_file:
                found = _proc.process_from_pid_file(self._pid_file)
                if found is not None:
                    listed.append(found.pid)
            return listed
        return [info.pid for info in table.values() if self._picks(info)]

    def _picks(self, info: _ptable.ProcInfo) -> bool:
        """True when a process matches the name / regex rules."""
        if self._name and not _same_name(info.name, self._name):
            return False
        if self._cmdline and not self._cmdline.search(self._table.cmdline(info)):
            return False
        if self._match:
            return bool(
                self._match.search(info.name) or self._match.search(self._table.cmdline(info))
            )
        return True


def _same_name(comm: str, wanted: str) -> bool:
    """Linux keeps 15 characters of a process name; a longer wanted name matches its start."""
    return comm == wanted or (len(comm) == 15 and wanted.startswith(comm))


def _alive(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except _GONE:
        return None


def create(entry: ProcessSettings) -> ProcessObserver:
    """Return a process-group observer for one `observe:` entry."""
    return ProcessObserver(entry)


def problems(entry: Mapping[str, Any], path: str) -> list[Problem]:
    """Return every problem with a process entry (it must say how to find the group)."""
    found = _config.regex_problems(entry, path, ("match", "cmdline"))
    if not any(entry.get(k) for k in _PICKERS):
        found.append(
            Problem(
                path,
                "a process observer needs a way to find its processes",
                "add match:, name:, cmdline:, pids: or pid_file:",
            )
        )
    return found
