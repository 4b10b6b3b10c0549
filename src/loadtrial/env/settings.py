"""The settings of each provider, as pydantic models: the shape of the trial's `env:`.

In: the trial's `env:` mapping. Out: a frozen model of its provider, picked by `provider`
(`EnvSettings`, a union discriminated on `provider`; no `env:` at all is `provider: none`),
so a wrong type or an unknown key is a located problem of the trial file and `loadtrial
schema` describes every provider. Arm parameters and what a type cannot say (an ARN that is
not one, `{field}`s an arm does not set) are checked by the provider's own `problems`.
Each provider's `create(settings, …)` takes its model (defaults held here, once); a dump
(`model_dump(exclude={"provider"})`) holds only the keys the user wrote, the mapping the
other doors (`env_key`, `problems`, `plan_calls`) read. No provider module (boto3, the
testbed) is imported here.

Each model also carries its provider's declarations (abilities), read as data by the
checks, the runner and the analysis instead of comparing provider names:
`governance()`: which snapshot facts each arm parameter sets (the confounder rule);
`own_tiers()`: the tiers its own observers cover, for `observe: testbed` (the runner gets
the entries from the provider module's `observers(settings)`); `for_observers()`: settings
an observer entry takes when it leaves them out (the AWS region of a cloudwatch entry);
`shared_host()`: whether every tier and the generator share one machine (the what-if model
then gives them the host's cores to share).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from loadtrial.abilities import Governance, ParamFacts
from loadtrial.observe.settings import Written
from loadtrial.units import Duration

Commands = str | tuple[str, ...]  # one shell command or a list run in order
FactPatterns = str | tuple[str, ...]  # fnmatch patterns of fact keys


class ProviderSettings(Written):
    """What every provider declares; a provider without an ability keeps the default."""

    def governance(self) -> Governance:
        """Which facts each arm parameter sets (none: the parameters are labels)."""
        return {}

    def own_tiers(self) -> tuple[str, ...]:
        """The tiers the provider's own observers promise samples for (`observe: testbed`);
        () when it has none."""
        return ()

    def for_observers(self) -> Mapping[str, Any]:
        """Settings an observer entry takes when it does not name its own."""
        return {}

    def shared_host(self) -> bool:
        """Whether the tiers and the load generator run on one machine, whose CPU the
        `host` tier observes (a what-if model then makes them share its cores)."""
        return False


class NoneEnv(ProviderSettings):
    """`provider: none`: arms are labels only; nothing is changed."""

    provider: Literal["none"] = "none"


class ShellEnv(ProviderSettings):
    """`provider: shell`: your commands reshape the system between arms."""

    provider: Literal["shell"]
    apply: Commands | None = None  # templates: {param} is the arm's value, shell-quoted
    revert: Commands | None = None
    facts: dict[str, str] | None = None  # fact name -> command printing its value
    timeout: Duration = 60.0  # per command, seconds
    cwd: str | None = None
    # arm parameter -> the facts its commands set, e.g. {db_size: [db.instance_class]}:
    # only you know what your scripts change
    governs: dict[str, FactPatterns] | None = None

    def governance(self) -> Governance:
        """The facts the trial declares each parameter's commands set (`governs:`)."""
        return {
            param: ParamFacts((facts,) if isinstance(facts, str) else facts)
            for param, facts in (self.governs or {}).items()
        }


# the testbed's arm parameters -> the facts its snapshot reads back (testbed/facts.py)
TESTBED_GOVERNANCE: Governance = {
    "app_nodes": ParamFacts(("app.nodes",), reads="app.nodes"),
    "pool_max": ParamFacts(("app.pool_max",), reads="app.pool_max"),
    "db_max_connections": ParamFacts(
        ("db.max_connections", "db.*.max_connections"), reads="db.max_connections"
    ),
    "db_cpus": ParamFacts(("db.cpus", "db.*.cpus"), reads="db.cpus"),
    "lb": ParamFacts(("lb.kind",)),  # "auto" reads back as the balancer it chose
    "lb_maxconn": ParamFacts(("lb.maxconn",), reads="lb.maxconn"),
    # an instance more or less: its own facts (db.<name>.*) appear or vanish
    "db_instances": ParamFacts(("db.instances", "db.*.*"), reads="db.instances"),
    # a behaviour, not a size: where the writer lands after a resize is what it exposes
    "failover_on_resize": ParamFacts(()),
}


class TestbedEnv(ProviderSettings):
    """`provider: testbed`: arms reshape the built-in testbed."""

    __test__ = False
    provider: Literal["testbed"]
    state: str | None = None  # the testbed's state file; default .loadtrial/testbed/state.json

    def governance(self) -> Governance:
        return TESTBED_GOVERNANCE

    def own_tiers(self) -> tuple[str, ...]:
        """The testbed observes its balancer, app nodes, database and host itself
        (testbed/facts.py `observe_entries_for`)."""
        return ("lb", "app", "db", "host")

    def shared_host(self) -> bool:
        """The testbed runs every tier and the generator on this machine."""
        return True


class AwsEnvTag(Written):
    key: str = "loadtrial"
    value: str = "managed"


class AwsEnvRoute53(Written):
    zone_id: str
    records: dict[str, str]  # instance id -> record name
    address: Literal["private", "public"] = "private"
    ttl: int = Field(default=60, ge=1)


class AwsEnvApp(Written):
    target_group_arn: str
    instances: tuple[str, ...] | None = None
    instance_tags: dict[str, str] | None = None
    rolling: bool = True
    drain_delay: Duration | None = None
    config_commands: tuple[str, ...] | None = None
    route53: AwsEnvRoute53 | None = None
    auto_scaling: Literal["refuse", "standby"] = "refuse"


class AwsEnvDb(Written):
    cluster: str
    instance: str | None = None
    keep_writer: bool = False
    endpoint_command: str | None = None


class AwsEnvWaits(Written):
    poll: Duration | None = None
    timeout: Duration | None = None
    db_timeout: Duration | None = None


# the aws provider's arm parameters -> the facts it reads back (env/aws/facts.py)
AWS_GOVERNANCE: Governance = {
    "app_instance_type": ParamFacts(("aws.app.*.instance_type",)),
    "app_node_count": ParamFacts(("aws.elb.*.node_count", "aws.elb.*.node_count_*")),
    "db_instance_class": ParamFacts(("aws.rds.*.*.db_instance_class",)),
}


class AwsEnv(ProviderSettings):
    """`provider: aws`: instance swaps behind an ALB, Aurora resizes (docs/aws.md)."""

    provider: Literal["aws"]
    region: str | None = None
    endpoint_url: str | None = None
    managed_tag: AwsEnvTag | None = None
    app: AwsEnvApp | None = None
    db: AwsEnvDb | None = None
    waits: AwsEnvWaits | None = None

    def governance(self) -> Governance:
        return AWS_GOVERNANCE

    def for_observers(self) -> Mapping[str, Any]:
        """Where the trial's AWS resources are: a cloudwatch entry looks there too."""
        return self.model_dump(include={"region", "endpoint_url"})


EnvSettings = Annotated[
    NoneEnv | ShellEnv | TestbedEnv | AwsEnv,
    Field(discriminator="provider"),
]
