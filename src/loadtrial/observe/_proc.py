"""CPU of a changing set of local processes (psutil), shared by postgres, mysql, process.

In: the processes to measure now (e.g. a postmaster and its backends). Out: CPU percent of
one core since the previous reading (capacity = 100 × the cores they may run on).

Why not psutil's `cpu_percent`: backends come and go between readings (a PHP app opens a
connection per request), and a process that exited takes its CPU with it. Linux moves an
exited child's CPU into its parent's reaped-children times, so each process is counted as
its own time plus its reaped children's; when a child disappears and its parent is still
measured, the part of the child already counted is subtracted once. The sum is exact for
trees such as a postmaster with short-lived backends.

Beside the sum, each reading keeps every process's *own* CPU (without reaped children) per
second of the interval (`own_rates`), for the busiest-process figure of the `process`
observer: a GIL-bound server saturates at one core whatever the machine has.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from loadtrial.observe.model import Sample

_Key = tuple[int, float]  # (pid, create_time): robust to pid reuse
_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)
LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})
_HAS_PROC = os.path.exists("/proc/self/stat")
_TICKS = float(os.sysconf("SC_CLK_TCK")) if _HAS_PROC else 100.0
_BOOT_TIME = psutil.boot_time()


@dataclass(frozen=True)
class _Seen:
    cpu_s: float  # own + reaped children's user and system seconds
    parent: _Key | None
    own_s: float = 0.0  # own user and system seconds only


class CpuMeter:
    """CPU used by a set of processes between readings; one instance per group."""

    def __init__(self) -> None:
        self._prev: dict[_Key, _Seen] = {}
        self._prev_t: float | None = None
        self._prev_born = 0.0  # when the last reading was taken, on the create-time clock
        self._rates: dict[int, float] = {}

    def own_rates(self) -> dict[int, float]:
        """Own CPU seconds per second of each process (by pid) over the interval of the
        last `percent` call; empty after the first call."""
        return dict(self._rates)

    def percent(self, procs: Iterable[psutil.Process], now: float) -> float | None:
        """Return CPU % of one core since the last call (None on the first call);
        `now` is monotonic seconds of this reading."""
        born_clock = _create_clock()
        seen = _read(procs)
        used = 0.0
        own: dict[int, float] = {}
        for key, cur in seen.items():
            before = self._prev.get(key)
            if before is not None:
                used += cur.cpu_s - before.cpu_s
                own[key[0]] = cur.own_s - before.own_s
            elif self._prev_t is not None and key[1] >= self._prev_born - 0.01:
                used += cur.cpu_s  # born since the last reading: all of it is new
                own[key[0]] = cur.own_s
        for key, before in self._prev.items():
            if key not in seen and before.parent in seen:
                used -= before.cpu_s  # its parent's reaped time now holds all of it
        prev_t, self._prev, self._prev_t, self._prev_born = self._prev_t, seen, now, born_clock
        if prev_t is None or now <= prev_t:
            self._rates = {}
            return None
        self._rates = {pid: max(0.0, s) / (now - prev_t) for pid, s in own.items()}
        return max(0.0, used) / (now - prev_t) * 100.0


def _create_clock() -> float:
    """Now, on the clock of the create times read here. Linux gives a start time in ticks
    since boot and a boot time truncated to whole seconds, so a create time can lag the
    wall clock by up to a second: "born since the last reading" must compare against boot
    time plus time since boot, not `time.time()`."""
    if _HAS_PROC:
        return _BOOT_TIME + time.clock_gettime(time.CLOCK_BOOTTIME)
    return time.time()


def _read(procs: Iterable[psutil.Process]) -> dict[_Key, _Seen]:
    """Return the CPU seconds and parent of each still-running process."""
    raw: dict[int, tuple[float, float, int, float]] = {}
    for proc in procs:
        got = _read_stat(proc.pid) if _HAS_PROC else _read_psutil(proc)
        if got is not None:
            raw[proc.pid] = got
    out: dict[_Key, _Seen] = {}
    for pid, (created, cpu_s, ppid, own_s) in raw.items():
        parent = (ppid, raw[ppid][0]) if ppid in raw else None
        out[(pid, created)] = _Seen(cpu_s, parent, own_s)
    return out


def _read_stat(pid: int) -> tuple[float, float, int, float] | None:
    """(create time, own + reaped children's CPU seconds, ppid, own CPU seconds) from one
    /proc read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            stat = handle.read()
        fields = stat[stat.rfind(")") + 2 :].split()
        own_ticks = int(fields[11]) + int(fields[12])  # utime stime
        cpu_ticks = own_ticks + int(fields[13]) + int(fields[14])  # + cutime cstime
        created = _BOOT_TIME + int(fields[19]) / _TICKS
        return created, cpu_ticks / _TICKS, int(fields[1]), own_ticks / _TICKS
    except (OSError, ValueError, IndexError):
        return None


def _read_psutil(proc: psutil.Process) -> tuple[float, float, int, float] | None:
    try:
        with proc.oneshot():
            t = proc.cpu_times()
            own_s = t.user + t.system
            cpu_s = own_s + t.children_user + t.children_system
            return proc.create_time(), cpu_s, proc.ppid(), own_s
    except _GONE:
        return None


def tree(root: psutil.Process) -> list[psutil.Process]:
    """Return `root` and all its descendants (empty when root is gone)."""
    pids = _descendant_pids(root.pid)
    try:
        if pids is None:  # no /proc/<pid>/task/<tid>/children here: psutil scans all pids
            return [root, *root.children(recursive=True)]
        if not root.is_running():
            return []
    except _GONE:
        return []
    found = [root]
    for pid in pids:
        try:
            found.append(psutil.Process(pid))
        except _GONE:
            continue
    return found


def _descendant_pids(pid: int) -> list[int] | None:
    """Descendants through Linux's per-thread children lists (cheap: no full /proc scan);
    None when the kernel does not offer them."""
    if not os.path.exists(f"/proc/{pid}/task/{pid}/children"):
        return None
    found: list[int] = []
    stack = [pid]
    while stack:
        parent = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{parent}/task/{tid}/children", encoding="ascii") as handle:
                    kids = [int(k) for k in handle.read().split()]
            except (OSError, ValueError):
                continue
            found.extend(kids)
            stack.extend(kids)
    return found


def cores_of(procs: Iterable[psutil.Process]) -> int:
    """Return how many cores these processes may run on (union of their affinities)."""
    cores: set[int] = set()
    for proc in procs:
        try:
            cores.update(proc.cpu_affinity() or [])
        except (*_GONE, AttributeError):
            continue
    return len(cores) or (psutil.cpu_count() or 1)


def cpu_samples(tier: str, percent: float | None, cores: int, t_s: float) -> list[Sample]:
    """Return `tier.cpu.percent` (of one core) and `tier.cpu.util` (fraction of all)."""
    if percent is None:
        return []
    percent = min(percent, 100.0 * cores)  # tick-counted CPU time can overshoot a hair
    return [
        Sample(t_s, f"{tier}.cpu.percent", round(percent, 3), "percent", 100.0 * cores),
        Sample(t_s, f"{tier}.cpu.util", round(percent / (100.0 * cores), 5), "ratio", 1.0),
    ]


def process_from_pid_file(path: str) -> psutil.Process | None:
    """Return the process named by the first line of a pid file, if it runs here."""
    try:
        with open(path, encoding="utf-8") as handle:
            pid = int(handle.readline().strip())
        return psutil.Process(pid)
    except (OSError, ValueError, *_GONE):
        return None
