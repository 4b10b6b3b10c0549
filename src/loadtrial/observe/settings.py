"""The settings of each observer kind, as pydantic models: the shape of an `observe:` entry.

In: one item of the trial's `observe:` list (already `${ENV}`-substituted). Out: a frozen
model of its kind, picked by `kind` (`ObserverSettings`, a union discriminated on `kind`),
so a wrong type or an unknown key is a located problem of the trial file and `loadtrial
schema` describes every kind. What a type cannot say (a DSN that does not parse, a regex
that does not compile, a process entry that names no way to find its processes) is checked
by the kind's own `problems(entry, path)`. This module imports no driver (psycopg, boto3):
the spec imports it for every trial.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from loadtrial.units import Duration

Port = Annotated[int, Field(ge=1, le=65535)]
Tier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]
# read the server's CPU: auto = when it runs on this machine (one Literal, not a union with
# bool, so a wrong value is one sentence: "input should be 'auto', True or False")
Cpu = Literal["auto", True, False]


class Written(BaseModel):
    """A frozen settings model whose dump holds only the keys the user wrote.

    The observer kinds' `create` take the model itself, its defaults (held here, once);
    the dump (the trial as stored, the checks of `problems`) says only what was written.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if not isinstance(data, dict):
            return data
        fields = type(self).model_fields
        written = {n for n in self.model_fields_set} | {
            fields[n].alias for n in self.model_fields_set if fields[n].alias
        }
        return {k: v for k, v in data.items() if k in written}


class _Entry(Written):
    """Keys every observer entry takes.

    `FROM_ENV`: an ability — the keys the entry takes from its provider's settings for
    observers (`for_observers()` of `env:`) when it leaves them out.
    """

    FROM_ENV: ClassVar[frozenset[str]] = frozenset()

    as_: Tier | None = Field(default=None, alias="as")  # the tier; default: the kind
    interval: Duration | None = None  # own sampling interval; default: the sampler's
    timeout: Duration = 2.0  # network timeout of one reading, seconds


class PostgresSettings(_Entry):
    kind: Literal["postgres"]
    dsn: str = Field(min_length=1, examples=["postgresql://postgres@127.0.0.1:5432/postgres"])
    cpu: Cpu = "auto"
    probe_connect: bool = False


class MysqlSettings(_Entry):
    kind: Literal["mysql"]
    host: str = "127.0.0.1"
    port: Port = 3306
    user: str = "root"
    password: str | None = None
    database: str | None = None
    unix_socket: str | None = None  # instead of host and port
    cpu: Cpu = "auto"


class ProcessSettings(_Entry):
    kind: Literal["process"]
    match: str | None = None  # regex searched in the name or command line
    name: str | None = None
    cmdline: str | None = None  # regex searched in the command line
    pids: tuple[Annotated[int, Field(ge=1)], ...] | None = None
    pid_file: str | None = None
    children: bool = True
    connections: bool = True
    process_cores: int = Field(default=1, ge=1)


class HostSettings(_Entry):
    kind: Literal["host"]
    interfaces: tuple[str, ...] = ()  # () = every interface


class PromMetric(Written):
    """One metric to keep from a Prometheus exposition."""

    name: str = Field(min_length=1)
    labels: dict[str, str] | None = None  # label: regex
    as_: str | None = Field(default=None, alias="as")
    by: str | tuple[str, ...] | None = None
    rate: bool | None = None
    unit: str | None = None
    capacity: float | str | None = None  # a number or the name of another metric


def _named(item: Any) -> Any:
    """A bare metric name is short for `{name: ...}`."""
    return {"name": item} if isinstance(item, str) else item


# written as a name or a mapping; held as a PromMetric (one model, one error path)
MetricItem = Annotated[PromMetric, BeforeValidator(_named, json_schema_input_type=str | PromMetric)]


class PrometheusSettings(_Entry):
    kind: Literal["prometheus"]
    url: str
    metrics: tuple[MetricItem, ...] | None = None  # required: problems() says so
    labels: dict[str, str] | None = None  # label: regex, for every metric


class JsonField(Written):
    """One number picked from a JSON document."""

    path: str = Field(min_length=1, examples=["pool.active"])
    as_: str | None = Field(default=None, alias="as")
    unit: str | None = None
    capacity: float | None = None
    capacity_path: str | None = None
    rate: bool = False


class HttpJsonSettings(_Entry):
    kind: Literal["http-json"]
    url: str
    headers: dict[str, str] | None = None
    fields: tuple[JsonField, ...] | None = None  # required: problems() says so


class CloudWatchSettings(_Entry):
    FROM_ENV: ClassVar[frozenset[str]] = frozenset({"region", "endpoint_url"})  # env: aws
    kind: Literal["cloudwatch"]
    region: str | None = None
    endpoint_url: str | None = None
    load_balancer: str | None = None
    rds_instances: tuple[str, ...] | None = None
    ec2_instances: tuple[str, ...] | None = None
    period: Duration = 60.0  # CloudWatch's aggregation period, seconds
    delay: Duration = 180.0  # how late CloudWatch's figures settle, seconds


ObserverSettings = Annotated[
    PostgresSettings
    | MysqlSettings
    | ProcessSettings
    | HostSettings
    | PrometheusSettings
    | HttpJsonSettings
    | CloudWatchSettings,
    Field(discriminator="kind"),
]
