"""The trial file's language, as pydantic models (the file boundary of loadtrial).

In: the YAML mapping of a trial file (after `${ENV}` substitution). Out: a frozen Trial.
Durations are strings such as "30s" (or numbers of seconds); percentages such as "0.1%".
Observer entries and provider settings are the observe/ and env/ folders' own models
(`observe.settings`, `env.settings`): unions on `kind` and on `provider`, so the JSON Schema
covers the whole file; what a type cannot say is checked through their doors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from loadtrial.env.settings import EnvSettings, NoneEnv
from loadtrial.observe.settings import ObserverSettings
from loadtrial.units import Duration, Fraction, parse_duration_s, parse_fraction


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class TargetSpec(_Frozen):
    base_url: str
    allow: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")


class StageSpec(_Frozen):
    duration: Duration
    rate: float | None = Field(default=None, ge=0)
    ramp_to: float | None = Field(default=None, ge=0)
    users: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_shape(self) -> StageSpec:
        given = [k for k in ("rate", "ramp_to", "users") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a stage needs exactly one of rate, ramp_to or users")
        return self


class CheckSpec(_Frozen):
    """What a response must be to count as ok (load.model.ResponseChecks; docs/trials.md).

    status: codes and ranges (`[200, "300-399"]`); json: `{"$.items[0].id": 7}` (path →
    expected value); header: `{Content-Type: application/json}` (name → value).
    """

    status: int | str | tuple[int | str, ...] | None = None
    body_contains: str | None = None
    body_regex: str | None = None
    json_equals: dict[str, Any] = Field(default_factory=dict, alias="json")
    json_exists: tuple[str, ...] = ()
    header: dict[str, str] = Field(default_factory=dict)
    header_present: tuple[str, ...] = ()


def expected_statuses(status: int | str | tuple[int | str, ...] | None) -> tuple[int, ...]:
    """The status codes a `checks.status` allows (codes and "200-299" ranges); ValueError
    naming the entry that is not a code or range of 100..599."""
    given = status if isinstance(status, tuple) else () if status is None else (status,)
    out: list[int] = []
    for item in given:
        low, _, high = str(item).strip().partition("-")
        try:
            lo, hi = int(low), int(high or low)
        except ValueError:
            raise ValueError(f"{item!r} is not a status code or a range such as 200-299") from None
        if not 100 <= lo <= hi <= 599:
            raise ValueError(f"{item!r} is not within 100..599")
        out.extend(range(lo, hi + 1))
    return tuple(sorted(set(out)))


class RequestEntry(_Frozen):
    name: str = ""
    method: str = "GET"
    path: str = "/"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    json_body: Any = Field(default=None, alias="json")
    weight: int = Field(default=1, ge=1)
    checks: CheckSpec | None = None


def request_name(entry: RequestEntry) -> str:
    """A request's name: its `name:`, else "METHOD /path" (the figures' key everywhere)."""
    return entry.name or f"{entry.method.upper()} {entry.path}"


class DataSpec(_Frozen):
    """A data file: `{csv: users.csv, pick: circular}`; requests read `{{name.column}}`.

    A relative `csv` path is relative to the trial file (resolved when the file is read,
    through the validation context's `base_dir`).
    """

    csv: str
    pick: Literal["circular", "random", "unique"] = "circular"

    @field_validator("csv")
    @classmethod
    def _relative_to_file(cls, v: str, info: ValidationInfo) -> str:
        base = (info.context or {}).get("base_dir")
        return str(Path(base) / v) if base and not Path(v).is_absolute() else v


class ExtractSpec(_Frozen):
    """Where a flow step's variable comes from: exactly one of `json` (a JSON path such
    as $.token), `regex` (group 1, else the match), `header` or `cookie` (by name)."""

    json_path: str | None = Field(default=None, alias="json")
    regex: str | None = None
    header: str | None = None
    cookie: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ExtractSpec:
        if sum(v is not None for v in (self.json_path, self.regex, self.header, self.cookie)) != 1:
            raise ValueError("an extract needs exactly one of json, regex, header or cookie")
        return self


class StepSpec(RequestEntry):
    """One step of a flow: a request (its `weight` is not used), what it extracts into
    the user's variables, the think time after it, and `if:` an earlier step's name
    whose checks must have passed for this one to run."""

    extract: dict[str, ExtractSpec] = Field(default_factory=dict)
    think: Duration = 0.0
    if_step: str | None = Field(default=None, alias="if")


class FlowSpec(_Frozen):
    """A named sequence of steps each virtual user runs in order, weighted against the
    other flows; step `s` of flow `f` has the figures of request `f.s`."""

    name: str
    weight: int = Field(default=1, ge=1)
    steps: tuple[StepSpec, ...]
    # "module:function": an async function runs the steps (by name) instead of their order
    python: str | None = None


def step_name(flow: FlowSpec, step: StepSpec) -> str:
    """A step's request name: `flow.step` (the step's name, else METHOD /path)."""
    return f"{flow.name}.{request_name(step)}"


class LoadSpec(_Frozen):
    model: Literal["open", "closed"] = "open"
    warmup: Duration = 0.0
    stages: tuple[StageSpec, ...] = ()
    users: int | None = Field(default=None, ge=1)  # closed model shorthand
    duration: Duration | None = None  # closed model shorthand
    ramp_up: Duration = 0.0
    think_time: Duration = 0.0
    poisson: bool = False
    requests: tuple[RequestEntry, ...] = (RequestEntry(),)
    timeout: Duration = 5.0
    connections: int = Field(default=50, ge=1)
    workers: int | None = Field(default=None, ge=1)  # engine processes (ray: actors per node)
    engine: Literal["local", "ray"] = "local"  # ray: generator actors on a Ray cluster
    ray_address: str = ""  # engine ray: the cluster ("" = RAY_ADDRESS or the local one)
    data: dict[str, DataSpec] = Field(default_factory=dict)  # name → CSV file
    flows: tuple[FlowSpec, ...] = ()  # user flows, instead of `requests`


def load_request_names(load: LoadSpec) -> list[str]:
    """The request names of a load, each once: its flows' steps, else its requests."""
    if load.flows:
        names = (step_name(f, s) for f in load.flows for s in f.steps)
    else:
        names = (request_name(r) for r in load.requests)
    return list(dict.fromkeys(names))


def load_duration_s(load: LoadSpec) -> float:
    """Return the length of one run's load in seconds (warmup included)."""
    if load.model == "open":
        return sum(st.duration for st in load.stages)
    if load.duration is not None:
        return load.duration
    return sum(st.duration for st in load.stages if st.users is not None)


class SloSpec(_Frozen):
    p50: Duration | None = None  # seconds
    p90: Duration | None = None
    p99: Duration | None = None
    p999: Duration | None = None
    error_rate: Fraction | None = None  # fraction
    min_throughput: float | None = None  # req/s
    # judge the SLO on this request's figures alone (a name of load.requests)
    request: str | None = None

    def declared(self) -> bool:
        """Whether any objective is set (a `request` alone declares none)."""
        return any(v is not None for k, v in self.model_dump().items() if k != "request")


class AbortRule(_Frozen):
    """Stop a run when `metric` stays above `above` for `for_` seconds.

    Metrics: "error_rate" (fraction), "p99"/"p50" (seconds), or an observed metric name
    such as "db.cpu.util" (fraction when given as a percentage). `request` scopes a load
    metric to one request name (a flow step is `flow.step`).
    """

    metric: str
    above: Annotated[float, WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}]})]
    for_: Duration = Field(default=5.0, alias="for")
    request: str | None = None

    @field_validator("above", mode="before")
    @classmethod
    def _above(cls, v: Any) -> float:
        if isinstance(v, str) and v.strip().endswith("%"):
            return parse_fraction(v)
        if isinstance(v, str) and v.strip()[-1:].isalpha():
            return parse_duration_s(v)
        return float(v)


class Claim(_Frozen):
    """One claim of the hypothesis, judged by the analysis.

    `{arm, meets_slo}` or `{arm, vs, metric, expect[, by_at_least]}` where metric is one of
    p50, p90, p99, error_rate, throughput and expect one of lower, higher, not_lower,
    not_higher, no_difference.
    """

    arm: str
    meets_slo: bool | None = None
    vs: str | None = None
    metric: Literal["p50", "p90", "p99", "error_rate", "throughput"] | None = None
    expect: Literal["lower", "higher", "not_lower", "not_higher", "no_difference"] | None = None
    by_at_least: Fraction | None = None  # relative change as a fraction ("50%")
    request: str | None = None  # compare this request's figures alone (a load.requests name)

    @model_validator(mode="after")
    def _shape(self) -> Claim:
        comparison = (self.vs, self.metric, self.expect)
        if self.meets_slo is None and None in comparison:
            raise ValueError("a claim needs meets_slo, or all of vs, metric and expect")
        return self


def _default_arms() -> dict[str, dict[str, Any]]:
    return {"default": {}}


class Trial(_Frozen):
    """A whole trial file."""

    name: str
    hypothesis: str = ""
    target: TargetSpec
    load: LoadSpec
    observe: tuple[ObserverSettings, ...] | Literal["testbed"] = ()
    env: EnvSettings = NoneEnv(provider="none")
    arms: dict[str, dict[str, Any]] = Field(default_factory=_default_arms)
    # runs per arm; when left out, 3 if a claim compares arms (one run per arm is never
    # evidence of a difference), else 1
    repeat: int = Field(default=1, ge=1)
    order: Literal["interleaved", "randomized", "sequential"] = "interleaved"
    seed: int = 0
    slo: SloSpec = SloSpec()
    abort: tuple[AbortRule, ...] = ()
    expect: tuple[Claim, ...] = ()
    expected_to_vary: tuple[str, ...] = ()  # snapshot facts allowed to differ between arms
    pause_between_runs: Duration = 0.0
    scale: str | None = None  # the arm parameter a USL is fitted over, e.g. app_nodes

    @model_validator(mode="before")
    @classmethod
    def _default_repeat(cls, v: Any) -> Any:
        """Without `repeat:`, a trial whose claims compare arms runs each arm 3 times."""
        if isinstance(v, dict) and "repeat" not in v:
            claims = v.get("expect") or ()
            if any(isinstance(c, dict) and c.get("vs") for c in claims):
                return {**v, "repeat": 3}
        return v

    @field_validator("arms", mode="before")
    @classmethod
    def _arm_shorthands(cls, v: Any) -> Any:
        """`arms: [a, b]` and `a:` with no parameters both mean `{a: {}, b: {}}`."""
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return {x: {} for x in v}
        if isinstance(v, dict):
            return {k: ({} if p is None else p) for k, p in v.items()}
        return v
