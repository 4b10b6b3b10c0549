"""Judging a response against its request's checks (ResponseChecks), off the hot path.

In: a request's `ResponseChecks`, compiled once per engine into a `Checker`; then per
response its status, headers (lower-case names, only when a check needs them) and body
(only when a check needs it). Out: `Checker.verdict(...)`: None when the status alone
decides as without checks (ok below 400, else http_<code>), "" when the response is ok
although its status alone would say otherwise (an expected 404), or the error kind of the
first failed check ("check:body_contains", ...).

JSON paths are a documented subset, not a library: `$` then `.key` or `[index]` steps,
e.g. `$.items[0].id`; keys are plain names (letters, digits, `_`, `-`). `parse_path`
raises ValueError on anything else, so `validate` can name the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from loadtrial.load.model import CHECK_PREFIX, ResponseChecks

_STEP = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]")
_MISSING = object()


def parse_path(path: str) -> tuple[str | int, ...]:
    """Return the steps of a JSON path such as `$.items[0].id` (keys and indexes)."""
    if not path.startswith("$"):
        raise ValueError(f"JSON path {path!r} must start with $")
    steps: list[str | int] = []
    at = 1
    while at < len(path):
        m = _STEP.match(path, at)
        if m is None:
            raise ValueError(f"JSON path {path!r}: expected .key or [index] at {path[at:]!r}")
        steps.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        at = m.end()
    return tuple(steps)


def lookup(doc: object, steps: tuple[str | int, ...]) -> object:
    """Return the value at `steps` in a parsed JSON document, or _MISSING."""
    for step in steps:
        in_list = isinstance(step, int) and isinstance(doc, list) and step < len(doc)
        if not (in_list or (isinstance(step, str) and isinstance(doc, dict) and step in doc)):
            return _MISSING
        doc = doc[step]  # type: ignore[index]
    return doc


@dataclass(frozen=True)
class Checker:
    """A request's checks, compiled: regexes built and JSON paths parsed once."""

    checks: ResponseChecks
    statuses: frozenset[int]
    contains: tuple[bytes, ...]  # body_contains, UTF-8
    regexes: tuple[re.Pattern[bytes], ...]
    json_equals: tuple[tuple[str, tuple[str | int, ...], object], ...]
    json_exists: tuple[tuple[str, tuple[str | int, ...]], ...]

    def verdict(self, status: int, headers: dict[str, str], body: bytes) -> str | None:
        """None: the status decides as without checks; "": ok; else the failed check's
        error kind (the first that fails: status, headers, body, then JSON)."""
        if self.statuses:
            if status not in self.statuses:
                return CHECK_PREFIX + "status"
        elif status >= 400:
            return None
        failed = self._headers(headers) or self._body(body) or self._json(body)
        if failed:
            return CHECK_PREFIX + failed
        # an expected status ≥ 400 passed: ok, against what the status alone counted
        return "" if status >= 400 else None

    def _headers(self, headers: dict[str, str]) -> str:
        for name, value in self.checks.header_equals:
            if headers.get(name.lower()) != value:
                return f"header:{name}"
        for name in self.checks.header_present:
            if name.lower() not in headers:
                return f"header:{name}"
        return ""

    def _body(self, body: bytes) -> str:
        for text in self.contains:
            if text not in body:
                return "body_contains"
        for rx in self.regexes:
            if rx.search(body) is None:
                return "body_regex"
        return ""

    def _json(self, body: bytes) -> str:
        if not (self.json_equals or self.json_exists):
            return ""
        try:
            doc = json.loads(body)
        except ValueError:
            first = self.json_equals[0][0] if self.json_equals else self.json_exists[0][0]
            return f"json:{first}"
        for path, steps, expected in self.json_equals:
            if lookup(doc, steps) != expected:
                return f"json:{path}"
        for path, steps in self.json_exists:
            if lookup(doc, steps) is _MISSING:
                return f"json_exists:{path}"
        return ""


def compile_checks(checks: ResponseChecks) -> Checker:
    """Return the Checker of a request's checks (ValueError on a bad regex or path)."""
    return Checker(
        checks,
        frozenset(checks.status),
        tuple(text.encode() for text in checks.body_contains),
        tuple(re.compile(rx.encode()) for rx in checks.body_regex),
        tuple((p, parse_path(p), v) for p, v in checks.json_equals),
        tuple((p, parse_path(p)) for p in checks.json_exists),
    )
