"""Data of the load engine's door: what to send (LoadPlan) and what was measured.

In: a LoadPlan (built from CLI flags or a trial file's `load:` section).
Out: one IntervalStats per second of the run clock (merged over workers) and a LoadResult.
Histograms travel encoded (HdrHistogram's compressed base64 form, values in µs) so that
intervals are mergeable across processes and machines and storable as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

# Error kinds. HTTP errors are "http_<code>" (e.g. "http_502") for any status >= 400.
# Failed response checks are "check:<name>" (see ResponseChecks).
# "timeout": no answer by the request's deadline (intended send + timeout), in flight or
# still waiting for a connection the target kept busy; its elapsed time is in the
# corrected latency. "unsent": still waiting for a connection when the run ended.
ERROR_KINDS = ("timeout", "unsent", "connect_refused", "reset", "dns", "tls", "other")


@dataclass(frozen=True)
class ResponseChecks:
    """What a response must be for its request to count as ok (see load/checks.py).

    A failed check is an error of kind `check:<name>` (CHECK_PREFIX), the name saying
    which check: status, body_contains, body_regex, json:<path>, json_exists:<path>,
    header:<name>. `status` given: those statuses are ok (a 404 too), others fail
    `check:status`; not given: a status ≥ 400 is an http_<code> error as without checks.
    JSON paths are a small subset: `$`, then `.key` or `[index]` steps (`$.items[0].id`).
    """

    status: tuple[int, ...] = ()
    body_contains: tuple[str, ...] = ()
    body_regex: tuple[str, ...] = ()
    json_equals: tuple[tuple[str, object], ...] = ()  # (path, expected value)
    json_exists: tuple[str, ...] = ()
    header_equals: tuple[tuple[str, str], ...] = ()  # (name, value); names case-insensitive
    header_present: tuple[str, ...] = ()

    @property
    def needs_body(self) -> bool:
        """Whether judging a response needs its body (else it is never kept)."""
        return bool(self.body_contains or self.body_regex or self.json_equals or self.json_exists)

    @property
    def needs_headers(self) -> bool:
        """Whether judging a response needs its headers (else they are never kept)."""
        return bool(self.header_equals or self.header_present)


CHECK_PREFIX = "check:"  # error kinds of failed checks: "check:status", "check:json:$.id"


@dataclass(frozen=True)
class RequestSpec:
    """One request of the mix; `url` is absolute, `body` already encoded."""

    name: str
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    weight: int = 1
    checks: ResponseChecks | None = None


@dataclass(frozen=True)
class Extract:
    """A value a flow step takes from its response into the user's variable `var`:
    `json` (a JSON path, see ResponseChecks), `regex` (group 1, else the whole match),
    `header` (by name) or `cookie` (a Set-Cookie of that name)."""

    var: str
    kind: Literal["json", "regex", "header", "cookie"]
    what: str


@dataclass(frozen=True)
class FlowStep:
    """One step of a flow: request `req` of the plan (named `flow.step`), what it
    extracts, the think time after it, and the earlier step whose checks must have passed
    for it to run (its index in the flow; None: always runs)."""

    req: int
    extract: tuple[Extract, ...] = ()
    think_s: float = 0.0
    if_passed: int | None = None


@dataclass(frozen=True)
class Flow:
    """A named sequence of steps a virtual user runs in order (see load/flows.py); with
    `python` ("module:function"), that async function runs the steps instead (pyflow.py)."""

    name: str
    steps: tuple[FlowStep, ...]
    weight: int = 1
    python: str = ""


@dataclass(frozen=True)
class DataSource:
    """A data file whose rows requests read as `{{name.column}}` (see load/data.py)."""

    name: str
    path: str  # CSV with a header line; absolute (resolved against the trial file)
    pick: Literal["circular", "random", "unique"] = "circular"


@dataclass(frozen=True)
class Stage:
    """One stage of an open-model schedule: hold `rate`, or ramp linearly to `ramp_to`.

    A ramp starts from the rate the previous stage ended at (0 for the first stage).
    """

    duration_s: float
    rate_per_s: float | None = None
    ramp_to_per_s: float | None = None


@dataclass(frozen=True)
class ClosedModel:
    """N virtual users, each sending its next request when the last one finished."""

    users: int
    duration_s: float
    ramp_up_s: float = 0.0
    think_time_s: float = 0.0


@dataclass(frozen=True)
class OpenModel:
    """Arrivals on a schedule, independent of responses (no coordinated omission)."""

    stages: tuple[Stage, ...]
    poisson: bool = False
    seed: int = 0


@dataclass(frozen=True)
class LoadPlan:
    """Everything the engine needs to generate one run's load."""

    requests: tuple[RequestSpec, ...]
    model: OpenModel | ClosedModel
    timeout_s: float = 5.0
    connections: int = 50  # cap on open connections, over all workers
    workers: int = 1
    allow_hosts: tuple[str, ...] = ()  # besides this machine (by address): see loadtrial.allow
    tls_verify: bool = True  # HTTPS: verify the server's certificate
    ca_file: str = ""  # HTTPS: extra CA bundle (PEM) to trust, e.g. a self-signed test cert
    # data files that `{{name.column}}` templates in requests read (load/template.py)
    data: tuple[DataSource, ...] = ()
    # user flows: when given, arrivals (open) and users (closed) run flows, and `requests`
    # are the flows' steps (each named flow.step), not a mix of their own
    flows: tuple[Flow, ...] = ()

    @property
    def kind(self) -> Literal["open", "closed"]:
        """ "open" or "closed"."""
        return "open" if isinstance(self.model, OpenModel) else "closed"


@dataclass(frozen=True)
class IntervalStats:
    """What happened in one second of the run clock (second k covers [t0+k, t0+k+1))."""

    second: int
    offered: int = 0  # arrivals the schedule intended (open) / requests started (closed)
    sent: int = 0  # requests written to a connection
    completed: int = 0  # requests finished (response or error, sent or not: see ERROR_KINDS)
    ok: int = 0  # finished with a status < 400
    late: int = 0  # sent, but more than the lateness bound after their intended time
    dropped: int = 0  # never sent because the generator could not hold them (its queue cap)
    errors: Mapping[str, int] = field(default_factory=dict)  # kind -> count, see ERROR_KINDS
    # corrected latency (from intended send time), µs, encoded HDR: every response and
    # every `timeout` (at its elapsed time, ≥ the timeout)
    latency_hist: bytes = b""
    uncorrected_hist: bytes = b""  # latency from actual send (responses, sent timeouts), µs
    max_send_lag_us: int = 0  # worst delay of an actual send behind its intended time
    cpu_percent: float = 0.0  # generator CPU in this second, % of one core, summed over workers
    # how far the generator's dispatch ran behind its schedule (µs, encoded HDR); the
    # self-watch uses its p99 (a queue behind a full connection pool is not counted here)
    send_lag_hist: bytes = b""
    # per request name, the same figures for that name's requests alone (offered = sent,
    # no dropped, lag or CPU); empty when the plan has one name: the whole is that name's
    requests: Mapping[str, IntervalStats] = field(default_factory=dict)


def request_names(plan: LoadPlan) -> tuple[str, ...]:
    """The plan's request names, each once, in the order they first appear."""
    return tuple(dict.fromkeys(r.name for r in plan.requests))


def of_request(stats: IntervalStats, name: str) -> IntervalStats | None:
    """One second's figures of request `name`: its part, or the whole second when the run
    had one name (recorded without parts); None when the name sent nothing that second."""
    if not stats.requests:
        return stats
    return stats.requests.get(name)


def request_seconds(seconds: Iterable[IntervalStats], name: str) -> list[IntervalStats]:
    """The seconds of request `name` alone (see `of_request`), in the order given."""
    return [part for s in seconds if (part := of_request(s, name)) is not None]


@dataclass(frozen=True)
class ActorPlacement:
    """Where one distributed generator ran and how its clock compared to the driver's."""

    worker: int
    node_id: str
    node_ip: str
    pid: int
    clock_offset_ms: float  # its wall clock minus the driver's (corrected for)
    clock_uncertainty_ms: float  # half the best round trip of the offset measurement


@dataclass(frozen=True)
class EngineProvenance:
    """Which engine generated the load: "local" workers or "ray" actors on nodes."""

    engine: str
    workers: int
    address: str = ""  # the Ray cluster
    nodes: tuple[str, ...] = ()  # node ids the actors ran on
    actors: tuple[ActorPlacement, ...] = ()

    @property
    def t0_spread_bound_ms(self) -> float:
        """How far apart the workers' second 0 may be, as measured (0 on one host)."""
        return 2 * max((a.clock_uncertainty_ms for a in self.actors), default=0.0)


@dataclass(frozen=True)
class LoadResult:
    """The outcome of one load run."""

    plan: LoadPlan
    t0: float  # monotonic time of second 0
    started_at: float  # Unix time of second 0
    intervals: tuple[IntervalStats, ...]
    interrupted: bool = False  # stopped by the user (Ctrl-C) or by the caller's stop event
    valid: bool = True  # False when the generator, not the target, limited the load
    invalid_reasons: tuple[str, ...] = ()
    duration_s: float = 0.0  # seconds of schedule actually run (less than planned if stopped)
    partial_seconds: tuple[int, ...] = ()  # seconds lacking the share of a lost worker
    provenance: EngineProvenance = field(default_factory=lambda: EngineProvenance("local", 1))
