"""From the trial file's `target:` and `load:` to the load engine's `LoadPlan`.

In: a validated `Trial` (and optionally a worker count that overrides the file's).
Out: a `LoadPlan` with absolute URLs, encoded bodies and the target's allow-list, so the
engine refuses any other host before a packet is sent.
"""

from __future__ import annotations

import json
from dataclasses import replace

from loadtrial.load.model import (
    ClosedModel,
    DataSource,
    Extract,
    Flow,
    FlowStep,
    LoadPlan,
    OpenModel,
    RequestSpec,
    ResponseChecks,
    Stage,
)
from loadtrial.load.validate import default_workers
from loadtrial.spec.model import (
    CheckSpec,
    ExtractSpec,
    FlowSpec,
    LoadSpec,
    RequestEntry,
    Trial,
    expected_statuses,
    load_duration_s,
    request_name,
    step_name,
)


def to_load_plan(trial: Trial, workers: int | None = None) -> LoadPlan:
    """Return the LoadPlan of one run of `trial` (the same for every arm)."""
    load = trial.load
    base = trial.target.base_url.rstrip("/")
    requests = tuple(_request(base, r) for r in load.requests)
    flows: tuple[Flow, ...] = ()
    if load.flows:
        requests, flows = _flows(base, load.flows)
    model: OpenModel | ClosedModel
    if load.model == "open":
        stages = tuple(Stage(st.duration, st.rate, st.ramp_to) for st in load.stages)
        model = OpenModel(stages=stages, poisson=load.poisson, seed=trial.seed)
    else:
        model = ClosedModel(
            users=_closed_users(load),
            duration_s=load_duration_s(load),
            ramp_up_s=load.ramp_up,
            think_time_s=load.think_time,
        )
    return LoadPlan(
        requests=requests,
        model=model,
        timeout_s=load.timeout,
        connections=load.connections,
        workers=workers or load.workers or _default_workers(model, load.connections),
        allow_hosts=tuple(trial.target.allow),
        flows=flows,
        data=tuple(DataSource(name, d.csv, d.pick) for name, d in load.data.items()),
    )


def _default_workers(model: OpenModel | ClosedModel, connections: int) -> int:
    """The engine's choice: one per core, no more than the schedule needs."""
    return int(default_workers(model, connections))


def _closed_users(load: LoadSpec) -> int:
    if load.users is not None:
        return load.users
    return max((st.users for st in load.stages if st.users is not None), default=1)


def _request(base: str, entry: RequestEntry) -> RequestSpec:
    """Return one request of the mix with its URL joined and its body encoded."""
    headers = dict(entry.headers)
    body = b""
    if entry.json_body is not None:
        body = json.dumps(entry.json_body, separators=(",", ":")).encode()
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    elif entry.body is not None:
        body = entry.body.encode()
    return RequestSpec(
        name=request_name(entry),
        method=entry.method.upper(),
        url=base + entry.path,
        headers=tuple(headers.items()),
        body=body,
        weight=entry.weight,
        checks=None if entry.checks is None else response_checks(entry.checks),
    )


def _flows(
    base: str, specs: tuple[FlowSpec, ...]
) -> tuple[tuple[RequestSpec, ...], tuple[Flow, ...]]:
    """The flows' steps as the plan's requests (named flow.step) and the flows."""
    requests: list[RequestSpec] = []
    flows: list[Flow] = []
    for spec in specs:
        names = [request_name(s) for s in spec.steps]
        steps = []
        for step in spec.steps:
            req = replace(_request(base, step), name=step_name(spec, step), weight=1)
            steps.append(
                FlowStep(
                    req=len(requests),
                    extract=tuple(_extract(var, ex) for var, ex in step.extract.items()),
                    think_s=step.think,
                    if_passed=None if step.if_step is None else names.index(step.if_step),
                )
            )
            requests.append(req)
        flows.append(Flow(spec.name, tuple(steps), spec.weight, spec.python or ""))
    return tuple(requests), tuple(flows)


def _extract(var: str, spec: ExtractSpec) -> Extract:
    """The engine's form of one `extract:` entry (validated: exactly one source)."""
    if spec.json_path is not None:
        return Extract(var, "json", spec.json_path)
    if spec.regex is not None:
        return Extract(var, "regex", spec.regex)
    if spec.header is not None:
        return Extract(var, "header", spec.header)
    return Extract(var, "cookie", spec.cookie or "")


def response_checks(spec: CheckSpec) -> ResponseChecks:
    """The engine's form of a request's `checks:` (validated first: statuses parse)."""
    return ResponseChecks(
        status=expected_statuses(spec.status),
        body_contains=() if spec.body_contains is None else (spec.body_contains,),
        body_regex=() if spec.body_regex is None else (spec.body_regex,),
        json_equals=tuple(spec.json_equals.items()),
        json_exists=spec.json_exists,
        header_equals=tuple(spec.header.items()),
        header_present=spec.header_present,
    )
