"""The trial file's language, as pydantic models (the file boundary of loadtrial).

In: the YAML mapping of a trial file (after `${ENV}` substitution). Out: a frozen Trial.
Durations are strings such as "30s" (or numbers of seconds); percentages such as "0.1%".
Observer entries and provider settings are open mappings here: the observe/ and env/
folders validate their own keys through their doors and report problems with field paths.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from loadtrial.units import parse_duration_s, parse_fraction


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _duration(value: Any) -> float:
    return parse_duration_s(value)


class TargetSpec(_Frozen):
    base_url: str
    allow: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")


class StageSpec(_Frozen):
    duration: float
    rate: float | None = Field(default=None, ge=0)
    ramp_to: float | None = Field(default=None, ge=0)
    users: int | None = Field(default=None, ge=1)

    _dur = field_validator("duration", mode="before")(_duration)

    @model_validator(mode="after")
    def _one_shape(self) -> StageSpec:
        given = [k for k in ("rate", "ramp_to", "users") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a stage needs exactly one of rate, ramp_to or users")
        return self


class RequestEntry(_Frozen):
    name: str = ""
    method: str = "GET"
    path: str = "/"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    json_body: Any = Field(default=None, alias="json")
    weight: int = Field(default=1, ge=1)


class LoadSpec(_Frozen):
    model: Literal["open", "closed"] = "open"
    warmup: float = 0.0
    stages: tuple[StageSpec, ...] = ()
    users: int | None = Field(default=None, ge=1)  # closed model shorthand
    duration: float | None = None  # closed model shorthand
    ramp_up: float = 0.0
    think_time: float = 0.0
    poisson: bool = False
    requests: tuple[RequestEntry, ...] = (RequestEntry(),)
    timeout: float = 5.0
    connections: int = Field(default=50, ge=1)
    workers: int | None = Field(default=None, ge=1)

    _durs = field_validator(
        "warmup", "duration", "ramp_up", "think_time", "timeout", mode="before"
    )(_duration)


class ObserveEntry(BaseModel):
    """One observer: `kind`, its tier alias `as`, and kind-specific keys."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)
    kind: str
    as_: str = Field(default="", alias="as")
    interval: float = 1.0

    _iv = field_validator("interval", mode="before")(_duration)


class EnvSpec(BaseModel):
    """The provider and its shared settings (provider-specific keys allowed)."""

    model_config = ConfigDict(frozen=True, extra="allow")
    provider: str = "none"


class SloSpec(_Frozen):
    p50: float | None = None  # seconds
    p90: float | None = None
    p99: float | None = None
    p999: float | None = None
    error_rate: float | None = None  # fraction
    min_throughput: float | None = None  # req/s

    _lat = field_validator("p50", "p90", "p99", "p999", mode="before")(_duration)

    @field_validator("error_rate", mode="before")
    @classmethod
    def _frac(cls, v: Any) -> float:
        return parse_fraction(v)


class AbortRule(_Frozen):
    """Stop a run when `metric` stays above `above` for `for_` seconds.

    Metrics: "error_rate" (fraction), "p99"/"p50" (seconds), or an observed metric name
    such as "db.cpu.util" (fraction when given as a percentage).
    """

    metric: str
    above: float
    for_: float = Field(default=5.0, alias="for")

    _for = field_validator("for_", mode="before")(_duration)

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
    by_at_least: float | None = None  # relative change as a fraction ("50%")

    @field_validator("by_at_least", mode="before")
    @classmethod
    def _by(cls, v: Any) -> float | None:
        return None if v is None else parse_fraction(v)

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
    observe: tuple[ObserveEntry, ...] | Literal["testbed"] = ()
    env: EnvSpec = EnvSpec()
    arms: dict[str, dict[str, Any]] = Field(default_factory=_default_arms)
    repeat: int = Field(default=1, ge=1)
    order: Literal["interleaved", "randomized", "sequential"] = "interleaved"
    seed: int = 0
    slo: SloSpec = SloSpec()
    abort: tuple[AbortRule, ...] = ()
    expect: tuple[Claim, ...] = ()
    expected_to_vary: tuple[str, ...] = ()  # snapshot facts allowed to differ between arms
    pause_between_runs: float = 0.0

    _pause = field_validator("pause_between_runs", mode="before")(_duration)
