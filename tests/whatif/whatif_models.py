"""Small hand-built what-if models whose answers queueing theory knows."""

from __future__ import annotations

from loadtrial.load.model import Stage
from loadtrial.whatif.model import (
    PROFILE_PERCENTS,
    Demands,
    Estimate,
    Timeouts,
    Topology,
    WhatifModel,
)


def station(
    *,
    rate: float,
    db_share: float = 0.0,
    hold_s: float = 0.0,
    app_cpu_s: float = 0.0,
    cores: float = 1.0,
    nodes: int = 1,
    pool_max: int = 10,
    db_max: int = 1000,
    lb_maxconn: int = 0,
    pool_wait_s: float = 2.0,
    lb_queue_s: float = 1.0,
    request_s: float = 60.0,
    health_answer_s: float = 1000.0,
    profile_s: float = 0.0,
    warm_nodes: int = 0,
    warm_per_node: int = 0,
    run_s: float = 30.0,
    warmup_s: float = 2.0,
    host_cores: float = 0.0,
    other_cpu_s: float = 0.0,
    db_cpu_s: float = 0.0,
    connect_s: float = 0.0,
) -> WhatifModel:
    """A model with a flat profile (every request's fixed time `profile_s`), Poisson
    arrivals at a constant `rate` for `run_s` (the first `warmup_s` not measured), no
    measurement error and no reserved db slots."""
    return WhatifModel(
        source="test",
        rate_per_s=rate,
        poisson=True,
        topology=Topology(
            app_nodes=nodes,
            app_cores_per_node=cores,
            pool_max=pool_max,
            db_max_connections=db_max,
            db_reserved_connections=0,
            db_other_connections=0,
            db_cpus=1.0,
            lb_maxconn=lb_maxconn,
            warm_nodes=warm_nodes,
            warm_connections_per_node=warm_per_node,
            host_cores=host_cores,
        ),
        demands=Demands(
            db_share=Estimate(db_share),
            hold_s=Estimate(hold_s),
            app_cpu_s=Estimate(app_cpu_s),
            db_cpu_s=Estimate(db_cpu_s),
            other_cpu_s=Estimate(other_cpu_s),
            connect_s=Estimate(connect_s),
        ),
        timeouts=Timeouts(pool_wait_s, lb_queue_s, request_s, 1.0, health_answer_s),
        profile_s=(profile_s,) * len(PROFILE_PERCENTS),
        stages=(Stage(run_s, rate),),
        warmup_s=warmup_s,
    )
