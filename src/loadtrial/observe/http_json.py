"""Observer `http-json`: poll a JSON status endpoint and pick fields by dotted path.

In: `{kind: http-json, url: http://127.0.0.1:8080/status, as: app, headers: {...},
fields: [...]}` where each field is {path: pool.active, as: pool.active, unit: count,
capacity: 20 | capacity_path: pool.size, rate: false}. A path walks objects by key and
lists by index (`workers.0.busy`). `rate: true` turns a counter into `<as>` per second.
Out per tick: `tier.<as or path>` for each field found with a numeric (or boolean) value;
a missing field is a gap, an unreachable endpoint or non-JSON body is a fault.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loadtrial.errors import ObserverError, Problem
from loadtrial.observe import _http
from loadtrial.observe._rates import CounterRates
from loadtrial.observe.model import Sample
from loadtrial.observe.settings import HttpJsonSettings, JsonField


@dataclass(frozen=True)
class Field:
    """One value to pick from the document."""

    path: str
    alias: str
    unit: str = "count"
    capacity: float | None = None
    capacity_path: str = ""
    rate: bool = False


def pick(document: Any, path: str) -> float | None:
    """Return the number at a dotted path, or None when absent or not a number."""
    node = document
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif (
            isinstance(node, list)
            and part.lstrip("-").isdigit()
            and -len(node) <= int(part) < len(node)
        ):
            node = node[int(part)]
        else:
            return None
    if isinstance(node, bool):
        return float(node)
    return float(node) if isinstance(node, int | float) else None


class HttpJsonObserver:
    """Polls one JSON endpoint."""

    kind = "http-json"

    def __init__(
        self,
        tier: str,
        interval_s: float | None,
        url: str,
        timeout_s: float,
        headers: Mapping[str, str],
        fields: tuple[Field, ...],
    ) -> None:
        self.tier, self.interval_s = tier, interval_s
        self._url, self._timeout_s, self._headers = url, timeout_s, dict(headers)
        self._fields = fields
        self._rates = CounterRates()

    def start(self) -> None:
        """Check the endpoint answers JSON before the load starts."""
        self._rates.forget()
        self._document()

    def stop(self) -> None:
        return None

    def sample(self, t_s: float) -> list[Sample]:
        """Fetch the document once and pick every field."""
        doc = self._document()
        out = []
        for f in self._fields:
            value = pick(doc, f.path)
            name = f"{self.tier}.{f.alias}"
            if value is not None and f.rate:
                value = self._rates.rate(name, value, t_s)
            if value is None:
                continue
            cap = pick(doc, f.capacity_path) if f.capacity_path else f.capacity
            out.append(Sample(t_s, name, value, f.unit, cap))
        return out

    def _document(self) -> Any:
        body = _http.fetch(self._url, self._timeout_s, self._headers)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ObserverError(f"GET {self._url} did not return JSON: {exc}") from None


def _field(item: JsonField) -> Field:
    return Field(
        path=item.path,
        alias=item.as_ or item.path,
        unit=item.unit or ("per_s" if item.rate else "count"),
        capacity=item.capacity,
        capacity_path=item.capacity_path or "",
        rate=item.rate,
    )


def create(entry: HttpJsonSettings) -> HttpJsonObserver:
    """Return a JSON poller for one `observe:` entry."""
    return HttpJsonObserver(
        entry.as_ or entry.kind,
        entry.interval,
        entry.url,
        entry.timeout,
        dict(entry.headers or {}),
        tuple(_field(item) for item in entry.fields or ()),
    )


def problems(entry: Mapping[str, Any], path: str) -> list[Problem]:
    """Return every problem with an http-json entry that its model cannot express."""
    found = [Problem(f"{path}.url", why)] if (why := _http.is_http_url(entry["url"])) else []
    if not entry.get("fields"):
        found.append(
            Problem(
                f"{path}.fields", "list the fields to pick", "e.g. fields: [{path: pool.active}]"
            )
        )
    return found
