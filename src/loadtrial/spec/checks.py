"""Semantic checks of a trial that pydantic's field types cannot express.

In: a validated `Trial` and the field-path → line map. Out: `Checked`, every problem found
(not just the first) plus notes on what could not be checked yet (an observer or provider
module that is not installed or not built). Observer and provider keys are checked through
their folders' doors (`observer_problems`, `provider_problems`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from loadtrial.allow import refusal
from loadtrial.env import provider_problems
from loadtrial.errors import Problem
from loadtrial.load.checks import parse_path
from loadtrial.load.validate import plan_problems
from loadtrial.observe import observer_problems
from loadtrial.spec.convert import to_load_plan
from loadtrial.spec.model import (
    CheckSpec,
    LoadSpec,
    RequestEntry,
    Trial,
    expected_statuses,
    load_duration_s,
    load_request_names,
)
from loadtrial.spec.templates import flow_problems, template_problems, unset_env_notes
from loadtrial.spec.yamlmap import line_of

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")  # HEAD: the engine cannot
LOAD_METRICS = ("error_rate", "p50", "p99")


@dataclass(frozen=True)
class Checked:
    """Problems (located) and notes (what could not be checked)."""

    problems: tuple[Problem, ...]
    notes: tuple[str, ...]


def check_trial(
    trial: Trial, lines: Mapping[str, int], file: str, environ: Mapping[str, str] | None = None
) -> Checked:
    """Return every semantic problem of `trial`, each with its file and line; `environ`
    (the environment of the run, when known) adds notes on unset {{env.X}} values."""
    found: list[Problem] = []
    found += _target(trial)
    load_found = _load(trial.load)
    found += load_found or _engine(trial)
    found += _arms_and_claims(trial)
    found += _named_requests(trial)
    found += _scale(trial)
    found += _abort(trial)
    observer_found, notes = _observers(trial)
    provider_found, provider_notes = _provider(trial)
    found += observer_found + provider_found
    notes += _replication_notes(trial)
    if environ is not None:
        notes += unset_env_notes(trial.load, environ)
    located = tuple(
        Problem(p.field, p.message, p.hint, file, p.line or line_of(lines, p.field)) for p in found
    )
    return Checked(located, tuple(notes + provider_notes))


def host_of(base_url: str) -> str:
    """Return the lower-case host of a URL ('' when there is none)."""
    try:
        return (urlsplit(base_url).hostname or "").lower()
    except ValueError:
        return ""


def _target(trial: Trial) -> list[Problem]:
    url = trial.target.base_url
    parts = urlsplit(url) if "://" in url else None
    if parts is None or parts.scheme not in ("http", "https") or not host_of(url):
        hint = "write a URL such as http://127.0.0.1:8080"
        return [Problem("target.base_url", f"{url!r} is not an http(s) URL with a host", hint)]
    host = host_of(url)
    why = refusal(host, trial.target.allow)
    if why:
        return [
            Problem(
                "target.base_url",
                f"{why} and target.allow does not name it; nothing will be sent",
                f"add {host} to target.allow if you own it and mean to load it",
            )
        ]
    return []


def _load(load: LoadSpec) -> list[Problem]:
    out = list(_load_shape(load))
    total = load_duration_s(load)
    if total > 0 and load.warmup >= total:
        out.append(
            Problem("load.warmup", "warmup is as long as the whole load", "shorten the warmup")
        )
    if load.timeout <= 0:
        out.append(Problem("load.timeout", "must be longer than 0s", "e.g. 5s"))
    if not load.requests:
        out.append(Problem("load.requests", "no requests", "add - {path: /} or leave it out"))
    for i, req in enumerate(load.requests):
        out += _request(req, f"load.requests[{i}]")
    for i, flow in enumerate(load.flows):
        for j, step in enumerate(flow.steps):
            out += _request(step, f"load.flows[{i}].steps[{j}]")
    return out + template_problems(load) + flow_problems(load)


def _request(req: RequestEntry, path: str) -> list[Problem]:
    """Problems of one request (or flow step): method, path, body, checks."""
    out: list[Problem] = []
    if req.method.upper() not in METHODS:
        what = (
            "HEAD is not supported by the load engine"
            if req.method.upper() == "HEAD"
            else f"unknown method {req.method!r}"
        )
        out.append(Problem(f"{path}.method", what, "use one of: " + ", ".join(METHODS)))
    if not req.path.startswith("/"):
        hint = "paths start with / and are joined to target.base_url"
        out.append(Problem(f"{path}.path", f"path {req.path!r} does not start with /", hint))
    if req.body is not None and req.json_body is not None:
        out.append(Problem(path, "both body and json are given", "keep one of them"))
    if req.checks is not None:
        out += _checks(req.checks, f"{path}.checks")
    return out


def _checks(checks: CheckSpec, path: str) -> list[Problem]:
    """Problems of one request's `checks:`: statuses, the regex, the JSON paths."""
    out: list[Problem] = []
    try:
        expected_statuses(checks.status)
    except ValueError as exc:
        out.append(Problem(f"{path}.status", str(exc), 'e.g. status: [200, "300-399"]'))
    if checks.body_regex is not None:
        try:
            re.compile(checks.body_regex)
        except re.error as exc:
            what = f"not a regular expression: {exc}"
            out.append(Problem(f"{path}.body_regex", what, "e.g. id=\\d+"))
    paths = [("json", p) for p in checks.json_equals] + [
        ("json_exists", p) for p in checks.json_exists
    ]
    for field, json_path in paths:
        try:
            parse_path(json_path)
        except ValueError as exc:
            hint = "a path is $ then .key or [index] steps, e.g. $.items[0].id"
            out.append(Problem(f"{path}.{field}", str(exc), hint))
    return out


def _named_requests(trial: Trial) -> list[Problem]:
    """`slo.request`, claims' and abort rules' `request` must name a request of the load."""
    names = load_request_names(trial.load)
    hint = f"requests are: {', '.join(names)}; a request's name is its name:, else METHOD /path"
    named = [("slo.request", trial.slo.request)]
    named += [(f"expect[{i}].request", c.request) for i, c in enumerate(trial.expect)]
    named += [(f"abort[{i}].request", r.request) for i, r in enumerate(trial.abort)]
    out = [
        Problem(field, f"unknown request {name!r}", hint)
        for field, name in named
        if name is not None and name not in names
    ]
    for i, rule in enumerate(trial.abort):
        if rule.request is not None and rule.metric not in ("error_rate", "p50", "p99"):
            why = f"request scopes a load metric (error_rate, p50, p99), not {rule.metric}"
            out.append(Problem(f"abort[{i}].request", why, "drop request: or use a load metric"))
    for i, claim in enumerate(trial.expect):
        if claim.request is not None and claim.meets_slo is not None:
            why = "a meets_slo claim follows the slo; name the request in slo.request"
            out.append(Problem(f"expect[{i}].request", why, "or compare arms on it: vs, metric"))
    return out


def _engine(trial: Trial) -> list[Problem]:
    """What the load engine itself would refuse in this trial's plan."""
    hint = "fix the load settings"
    return [Problem("load", text, hint) for text in plan_problems(to_load_plan(trial))]


def _load_shape(load: LoadSpec) -> Iterator[Problem]:
    """Problems with the stages/users for the chosen model."""
    if load.model == "open":
        if not load.stages:
            yield Problem(
                "load.stages", "an open-model load needs stages", "add - {rate: 50, duration: 30s}"
            )
        for i, st in enumerate(load.stages):
            if st.users is not None:
                hint = "use rate or ramp_to, or set load.model: closed"
                yield Problem(f"load.stages[{i}].users", "users belongs to the closed model", hint)
            if st.duration <= 0:
                yield Problem(f"load.stages[{i}].duration", "must be longer than 0s", "e.g. 30s")
        return
    stage_users = [st for st in load.stages if st.users is not None]
    if any(st.users is None for st in load.stages):
        hint = "use users: and duration:, or set load.model: open"
        yield Problem("load.stages", "rate and ramp_to belong to the open model", hint)
    if len(stage_users) > 1:
        yield Problem("load.stages", "the closed model takes one stage", "use users: and duration:")
    if load.users is None and not stage_users:
        yield Problem("load.users", "a closed-model load needs users", "add users: 20")
    if load_duration_s(load) <= 0:
        yield Problem("load.duration", "a closed-model load needs a duration", "add duration: 30s")


def _arms_and_claims(trial: Trial) -> list[Problem]:
    out: list[Problem] = []
    if not trial.arms:
        out.append(Problem("arms", "no arms", "add at least one: arms: {baseline: {}}"))
    known = ", ".join(trial.arms) or "none"
    slo_given = trial.slo.declared()
    for i, claim in enumerate(trial.expect):
        if claim.arm not in trial.arms:
            out.append(
                Problem(f"expect[{i}].arm", f"unknown arm {claim.arm!r}", f"arms are: {known}")
            )
        if claim.vs is not None and claim.vs not in trial.arms:
            out.append(
                Problem(f"expect[{i}].vs", f"unknown arm {claim.vs!r}", f"arms are: {known}")
            )
        elif claim.vs is not None and claim.vs == claim.arm:
            hint = "compare with another arm"
            out.append(Problem(f"expect[{i}].vs", f"compares arm {claim.arm!r} with itself", hint))
        if claim.meets_slo is not None and not slo_given:
            hint = "add slo: {p99: 500ms, error_rate: 0.1%}"
            out.append(Problem(f"expect[{i}].meets_slo", "there is no slo to meet", hint))
    return out


def _replication_notes(trial: Trial) -> list[str]:
    """A warning when claims compare arms that run once: nothing can be decided then."""
    compared = [i for i, c in enumerate(trial.expect) if c.vs is not None]
    if not compared or trial.repeat >= 2:
        return []
    which = ", ".join(f"expect[{i}]" for i in compared)
    return [
        f"warning: {which} compare arms, but repeat is {trial.repeat}: one run per arm cannot "
        "tell a difference between arms from one between runs, so these claims will be "
        "inconclusive (set repeat: 3, or leave repeat out to get 3)"
    ]


def _scale(trial: Trial) -> list[Problem]:
    """`scale:` must name a parameter every arm sets to a positive whole number."""
    if trial.scale is None:
        return []
    values = [p.get(trial.scale) for p in trial.arms.values()]
    if all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        return []
    params = sorted({k for p in trial.arms.values() for k in p}) or ["none"]
    return [
        Problem(
            "scale",
            f"{trial.scale!r} is not a whole-number parameter of every arm",
            f"name the count the arms vary; arm parameters: {', '.join(params)}",
        )
    ]


def _abort(trial: Trial) -> list[Problem]:
    out: list[Problem] = []
    tiers = (
        set(trial.env.own_tiers())  # the provider's own observers' (its declaration)
        if trial.observe == "testbed"
        else {e.as_ or e.kind for e in trial.observe}
    )
    for i, rule in enumerate(trial.abort):
        path = f"abort[{i}]"
        if rule.for_ <= 0:
            out.append(Problem(f"{path}.for", "must be longer than 0s", "e.g. 10s"))
        if rule.metric in LOAD_METRICS:
            if rule.metric == "error_rate" and rule.above > 1:
                out.append(Problem(f"{path}.above", "an error rate lies in 0%..100%", "e.g. 50%"))
            continue
        tier = rule.metric.split(".", 1)[0]
        if "." not in rule.metric or tier not in tiers:
            hint = "use error_rate, p50, p99 or an observed metric such as db.cpu.util"
            if tiers:
                hint += " (tiers: " + ", ".join(sorted(tiers)) + ")"
            out.append(Problem(f"{path}.metric", f"unknown metric {rule.metric!r}", hint))
    return out


def _observers(trial: Trial) -> tuple[list[Problem], list[str]]:
    """Problems of each observe entry, through the observers' door."""
    if trial.observe == "testbed":
        if trial.env.own_tiers():
            return [], []
        hint = "use env: {provider: testbed}, or list the observers"
        what = f"the {trial.env.provider} provider has no observers of its own"
        return [Problem("observe", what, hint)], []
    out: list[Problem] = []
    notes: list[str] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(trial.observe):
        path = f"observe[{i}]"
        alias = entry.as_ or entry.kind
        if alias in seen:
            hint = "give each observer its own as: name"
            out.append(Problem(f"{path}.as", f"tier {alias!r} is used twice", hint))
        seen[alias] = i
        out += observer_problems(entry.model_dump(by_alias=True, exclude_unset=True), path)
    return out, notes


def _provider(trial: Trial) -> tuple[list[Problem], list[str]]:
    """Problems of the env settings and arm parameters, through the providers' door."""
    settings = trial.env.model_dump(exclude={"provider"})
    name = trial.env.provider
    return provider_problems(name, settings, trial.arms), []
