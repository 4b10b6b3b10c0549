"""Observer `host`: the whole machine loadtrial runs on (psutil), e.g. a testbed host.

In: `{kind: host, as: lb, interfaces: [eth0]}` (interfaces optional: default all but lo).
Out per tick (tier = `as`, default "host"):
  cpu.percent (of one core, capacity 100 × cores), cpu.util (ratio), cpu.iowait_percent,
  memory.used_bytes (capacity = total), memory.available_bytes, load.1m (capacity = cores),
  net.rx_bytes_per_s, net.tx_bytes_per_s, net.errors_per_s (errors + drops, both ways),
  tcp.inuse and tcp.time_wait (Linux /proc/net/sockstat; ephemeral-port trouble shows here).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import psutil

from loadtrial.errors import Problem
from loadtrial.observe._rates import CounterRates
from loadtrial.observe.model import Sample
from loadtrial.observe.settings import HostSettings

_SOCKSTAT = "/proc/net/sockstat"


_BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq", "steal")


class HostObserver:
    """Whole-host CPU, memory, load, network and TCP sockets."""

    kind = "host"

    def __init__(self, tier: str, interval_s: float | None, interfaces: tuple[str, ...]) -> None:
        self.tier, self.interval_s = tier, interval_s
        self._interfaces = interfaces
        self._rates = CounterRates()
        self._cores = psutil.cpu_count() or 1

    def start(self) -> None:
        self._rates.forget()

    def stop(self) -> None:
        return None

    def sample(self, t_s: float) -> list[Sample]:
        """Read CPU, memory, load, network and sockets; rates need two readings."""
        return [*self._cpu(t_s), *self._memory(t_s), *self._net(t_s), *self._tcp(t_s)]

    def _cpu(self, t_s: float) -> list[Sample]:
        times = psutil.cpu_times()
        # only fields that never go backwards: total - idle - iowait does (Linux's iowait
        # may decrease), and a decreasing counter reads as a reset, i.e. a missing sample;
        # guest time is already inside user time
        busy = sum(getattr(times, f, 0.0) for f in _BUSY_FIELDS)
        now = time.monotonic()  # CPU seconds over real seconds, not over the tick grid
        busy_rate = self._rates.rate("busy", busy, now)
        iowait_rate = self._rates.rate("iowait", getattr(times, "iowait", 0.0), now)
        load1 = psutil.getloadavg()[0]
        out = [Sample(t_s, f"{self.tier}.load.1m", round(load1, 3), "count", float(self._cores))]
        if busy_rate is not None:
            cap = 100.0 * self._cores
            pct = min(busy_rate * 100.0, cap)  # tick-counted CPU time can overshoot a hair
            out.append(Sample(t_s, f"{self.tier}.cpu.percent", round(pct, 3), "percent", cap))
            out.append(Sample(t_s, f"{self.tier}.cpu.util", round(pct / cap, 5), "ratio", 1.0))
        if iowait_rate is not None:
            out.append(
                Sample(
                    t_s,
                    f"{self.tier}.cpu.iowait_percent",
                    round(iowait_rate * 100, 3),
                    "percent",
                    100.0 * self._cores,
                )
            )
        return out

    def _memory(self, t_s: float) -> list[Sample]:
        mem = psutil.virtual_memory()
        total = float(mem.total)
        return [
            Sample(
                t_s,
                f"{self.tier}.memory.used_bytes",
                float(mem.total - mem.available),
                "bytes",
                total,
            ),
            Sample(t_s, f"{self.tier}.memory.available_bytes", float(mem.available), "bytes"),
        ]

    def _net(self, t_s: float) -> list[Sample]:
        nics = psutil.net_io_counters(pernic=True)
        wanted = [n for n in nics if (n in self._interfaces if self._interfaces else n != "lo")]
        rx = sum(nics[n].bytes_recv for n in wanted)
        tx = sum(nics[n].bytes_sent for n in wanted)
        err = sum(nics[n].errin + nics[n].errout + nics[n].dropin + nics[n].dropout for n in wanted)
        out: list[Sample] = []
        for stat, value in (("rx_bytes_per_s", rx), ("tx_bytes_per_s", tx), ("errors_per_s", err)):
            rate = self._rates.rate(stat, float(value), t_s)
            if rate is not None:
                out.append(Sample(t_s, f"{self.tier}.net.{stat}", round(rate, 3), "per_s"))
        return out

    def _tcp(self, t_s: float) -> list[Sample]:
        counts = read_sockstat()
        return [
            Sample(t_s, f"{self.tier}.tcp.{key}", float(counts[key]), "count")
            for key in ("inuse", "time_wait")
            if key in counts
        ]


def read_sockstat(path: str = _SOCKSTAT) -> dict[str, int]:
    """Return TCP socket counts from /proc/net/sockstat ({} where there is none)."""
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("TCP:"):
                    parts = line.split()[1:]
                    pairs = dict(zip(parts[::2], parts[1::2], strict=False))
                    return {
                        "inuse": int(pairs.get("inuse", 0)),
                        "time_wait": int(pairs.get("tw", 0)),
                    }
    except (OSError, ValueError):
        return {}
    return {}


def create(entry: HostSettings) -> HostObserver:
    """Return a host observer for one `observe:` entry."""
    return HostObserver(entry.as_ or entry.kind, entry.interval, entry.interfaces)


def problems(entry: Mapping[str, Any], path: str) -> list[Problem]:
    """A host entry has no problem its model (observe.settings) does not catch."""
    return []
