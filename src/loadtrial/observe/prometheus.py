"""Observer `prometheus`: scrape a text exposition endpoint and keep a chosen few metrics.

In: `{kind: prometheus, url: http://127.0.0.1:8404/metrics, as: lb, labels: {proxy: app},
metrics: [...]}` where each item of `metrics` is a metric name or a mapping
  {name, labels: {label: regex}, as: short.name, by: [label], rate: true|false,
   unit: ..., capacity: 500 | other_metric_name}
`labels` (top level and per item) keep only series whose label values fully match the
regex; matching series are summed, or split by the `by` labels (a name suffix per value).
Counters (`# TYPE counter`, names ending `_total`, histogram/summary `_count`/`_sum`/
`_bucket`) become per-second rates named `<name without _total>.per_s` unless `rate: false`.
Out per tick: `tier.<as or name>[.<by values>]` for every selected metric present.
A missing metric is simply absent from that tick (a gap), not a fault; an unreachable
endpoint is a fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loadtrial.errors import Problem
from loadtrial.observe import _config, _http
from loadtrial.observe._rates import CounterRates
from loadtrial.observe.model import Sample
from loadtrial.observe.promtext import Exposition, Metric, parse
from loadtrial.observe.settings import PrometheusSettings, PromMetric

_SAFE = re.compile(r"[^A-Za-z0-9_-]+")
_COUNTER_SUFFIXES = ("_count", "_sum", "_bucket")


@dataclass(frozen=True)
class Selection:
    """One chosen metric and how to name, filter, split and scale it."""

    name: str
    labels: tuple[tuple[str, re.Pattern[str]], ...] = ()
    alias: str = ""
    by: tuple[str, ...] = ()
    rate: bool | None = None  # None: decide from the exposition's type
    unit: str = ""
    capacity: float | str | None = None


class PrometheusObserver:
    """Scrapes one endpoint; sums or splits the selected series; rates counters."""

    kind = "prometheus"

    def __init__(
        self,
        tier: str,
        interval_s: float | None,
        url: str,
        timeout_s: float,
        selections: tuple[Selection, ...],
        labels: tuple[tuple[str, re.Pattern[str]], ...],
    ) -> None:
        self.tier, self.interval_s = tier, interval_s
        self._url, self._timeout_s = url, timeout_s
        self._selections, self._labels = selections, labels
        self._rates = CounterRates()
        self._wanted = frozenset(
            [s.name for s in selections]
            + [s.capacity for s in selections if isinstance(s.capacity, str)]
        )

    def start(self) -> None:
        """Check the endpoint answers (so a wrong URL shows before the load starts)."""
        self._rates.forget()
        _http.fetch(self._url, self._timeout_s)

    def stop(self) -> None:
        return None

    def sample(self, t_s: float) -> list[Sample]:
        """Scrape once and turn the selection into samples."""
        text = _http.fetch(self._url, self._timeout_s).decode("utf-8", "replace")
        page = parse(text, wanted=self._wanted)
        by_name: dict[str, list[Metric]] = {}
        for metric in page.metrics:
            by_name.setdefault(metric.name, []).append(metric)
        out: list[Sample] = []
        for sel in self._selections:
            out.extend(self._select(page, by_name, sel, t_s))
        return out

    def _select(
        self, page: Exposition, by_name: dict[str, list[Metric]], sel: Selection, t_s: float
    ) -> list[Sample]:
        """Return the samples of one selection (nothing when the metric is absent)."""
        groups: dict[tuple[str, ...], float] = {}
        for metric in by_name.get(sel.name, ()):
            if _keeps(metric, self._labels + sel.labels):
                key = tuple(metric.label_map().get(label, "") for label in sel.by)
                groups[key] = groups.get(key, 0.0) + metric.value
        rate = sel.rate if sel.rate is not None else is_counter(sel.name, page.types)
        base = sel.alias or (_strip_total(sel.name) + ".per_s" if rate else sel.name)
        capacity = self._capacity(by_name, sel)
        out = []
        for key, value in sorted(groups.items()):
            name = ".".join([self.tier, base, *(_SAFE.sub("_", v) or "_" for v in key)])
            if rate:
                per_s = self._rates.rate(name, value, t_s)
                if per_s is not None:
                    out.append(Sample(t_s, name, per_s, sel.unit or "per_s", capacity))
            else:
                out.append(Sample(t_s, name, value, sel.unit or unit_of(sel.name), capacity))
        return out

    def _capacity(self, by_name: dict[str, list[Metric]], sel: Selection) -> float | None:
        """A fixed capacity, or the sum of another metric on the same page."""
        if sel.capacity is None or isinstance(sel.capacity, float):
            return sel.capacity
        values = [m.value for m in by_name.get(sel.capacity, ()) if _keeps(m, self._labels)]
        return sum(values) if values else None


def _keeps(metric: Metric, filters: tuple[tuple[str, re.Pattern[str]], ...]) -> bool:
    labels = metric.label_map()
    return all(rx.fullmatch(labels.get(label, "")) for label, rx in filters)


def is_counter(name: str, types: Mapping[str, str]) -> bool:
    """True when a series counts up: declared counter, `_total`, or histogram parts."""
    if types.get(name) == "counter" or types.get(_strip_total(name)) == "counter":
        return True
    if name.endswith("_total"):
        return True
    for suffix in _COUNTER_SUFFIXES:
        family = name.removesuffix(suffix)
        if name.endswith(suffix) and types.get(family) in ("histogram", "summary"):
            return True
    return False


def unit_of(name: str) -> str:
    """Guess a gauge's unit from the Prometheus naming convention."""
    for suffix, unit in (("_bytes", "bytes"), ("_seconds", "s"), ("_ratio", "ratio")):
        if name.endswith(suffix):
            return unit
    return "count"


def _strip_total(name: str) -> str:
    return name.removesuffix("_total")


def _filters(raw: Mapping[str, str] | None) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((k, re.compile(v)) for k, v in (raw or {}).items())


def _selection(item: PromMetric) -> Selection:
    by = item.by or ()
    return Selection(
        name=item.name,
        labels=_filters(item.labels),
        alias=item.as_ or "",
        by=(by,) if isinstance(by, str) else by,
        rate=item.rate,
        unit=item.unit or "",
        capacity=item.capacity,
    )


def create(entry: PrometheusSettings) -> PrometheusObserver:
    """Return a Prometheus scraper for one `observe:` entry."""
    return PrometheusObserver(
        entry.as_ or entry.kind,
        entry.interval,
        entry.url,
        entry.timeout,
        tuple(_selection(item) for item in entry.metrics or ()),
        _filters(entry.labels),
    )


def _label_problems(raw: Mapping[str, str] | None, path: str) -> list[Problem]:
    return [
        Problem(f"{path}.{k}", why) for k, v in (raw or {}).items() if (why := _config.is_regex(v))
    ]


def problems(entry: Mapping[str, Any], path: str) -> list[Problem]:
    """Return every problem with a prometheus entry that its model cannot express."""
    found = [Problem(f"{path}.url", why)] if (why := _http.is_http_url(entry["url"])) else []
    items = entry.get("metrics") or ()
    if not items:
        found.append(
            Problem(
                f"{path}.metrics",
                "list the metrics to keep",
                "e.g. metrics: [haproxy_backend_current_sessions]",
            )
        )
    for i, item in enumerate(items):
        found += _label_problems(item.get("labels"), f"{path}.metrics[{i}].labels")
    return found + _label_problems(entry.get("labels"), f"{path}.labels")
