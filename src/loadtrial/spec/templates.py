"""Checks of a trial's templated values, data files and flows (load/template.py, data.py,
flows.py).

In: a validated `LoadSpec`. Out: a Problem for every bad `{{...}}` slot, unknown variable,
missing or unreadable data file and unknown data column, each naming its field
(`load.requests[0].headers.Authorization`) so the loader can add the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping

from loadtrial.errors import Problem
from loadtrial.load.checks import parse_path
from loadtrial.load.data import read_rows
from loadtrial.load.pyflow import load_function
from loadtrial.load.template import Template, compile_template, has_template
from loadtrial.spec.model import LoadSpec, RequestEntry, StepSpec, request_name

_HINT = "slots are {{random_int(1, 100)}}, {{uuid}}, {{seq}}, {{env.NAME}}, {{set.column}}"


def template_problems(load: LoadSpec) -> list[Problem]:
    """Every problem of the load's data files and of its requests' and flow steps'
    templates; a step may read the variables its flow's earlier steps extract."""
    columns, out = _data_columns(load)
    for i, req in enumerate(load.requests):
        for field, text in _texts(req, f"load.requests[{i}]"):
            out += _one(field, text, columns, frozenset())
    for i, flow in enumerate(load.flows):
        known: set[str] = set()
        for j, step in enumerate(flow.steps):
            for field, text in _texts(step, f"load.flows[{i}].steps[{j}]"):
                out += _one(field, text, columns, frozenset(known))
            known |= set(step.extract)
    return out


def flow_problems(load: LoadSpec) -> list[Problem]:
    """Problems of the flows' shape: requests given too, no steps, a step name twice,
    `if:` naming no earlier step, extract paths and regexes that do not compile."""
    out: list[Problem] = []
    if load.flows and "requests" in load.model_fields_set:
        hint = "a flow's steps are its requests; move the requests into a flow"
        out.append(Problem("load.requests", "both requests and flows are given", hint))
    for i, flow in enumerate(load.flows):
        path = f"load.flows[{i}]"
        if not flow.steps:
            out.append(Problem(f"{path}.steps", "a flow needs steps", "add - {path: /}"))
        if flow.python is not None:
            try:
                load_function(flow.python)
            except ValueError as exc:
                hint = "the module must be importable (PYTHONPATH) and define async def f(session)"
                out.append(Problem(f"{path}.python", str(exc), hint))
        names: list[str] = []
        for j, step in enumerate(flow.steps):
            out += _step(step, names, f"{path}.steps[{j}]")
            names.append(request_name(step))
    return out


def _step(step: StepSpec, earlier: list[str], path: str) -> list[Problem]:
    """Problems of one step: its name, `if:` and `extract:`."""
    out: list[Problem] = []
    name = request_name(step)
    if name in earlier:
        out.append(Problem(f"{path}.name", f"step {name!r} twice in the flow", "name the steps"))
    if step.if_step is not None and step.if_step not in earlier:
        known = ", ".join(earlier) or "none"
        what = f"if: {step.if_step!r} is no earlier step of this flow (earlier: {known})"
        out.append(Problem(f"{path}.if", what, "name a step before this one"))
    for var, ex in step.extract.items():
        try:
            if ex.json_path is not None:
                parse_path(ex.json_path)
            elif ex.regex is not None:
                re.compile(ex.regex)
        except (ValueError, re.error) as exc:
            hint = "a path is $ then .key or [index] steps, e.g. $.token"
            out.append(Problem(f"{path}.extract.{var}", str(exc), hint))
    return out


def _data_columns(load: LoadSpec) -> tuple[dict[str, tuple[str, ...]], list[Problem]]:
    """Each readable data file's columns, and a problem for each that cannot be read."""
    columns: dict[str, tuple[str, ...]] = {}
    out: list[Problem] = []
    for name, spec in load.data.items():
        try:
            cols, rows = read_rows(spec.csv)
        except (OSError, UnicodeDecodeError) as exc:
            why = "no such file" if isinstance(exc, FileNotFoundError) else str(exc)
            hint = "the path is relative to the trial file"
            out.append(Problem(f"load.data.{name}.csv", f"cannot read {spec.csv}: {why}", hint))
            columns[name] = ()  # known set, columns unknown: no second problem per use
            continue
        if not rows:
            hint = "a data file is CSV with a header line and at least one row"
            out.append(Problem(f"load.data.{name}.csv", f"{spec.csv} has no rows", hint))
        columns[name] = cols
    return columns, out


def _texts(req: RequestEntry, path: str) -> Iterator[tuple[str, str]]:
    """(field, text) of every request text that may hold slots."""
    yield f"{path}.path", req.path
    for k, v in req.headers.items():
        yield f"{path}.headers.{k}", v
    if req.body is not None:
        yield f"{path}.body", req.body
    if req.json_body is not None:
        yield f"{path}.json", json.dumps(req.json_body)


def unset_env_notes(load: LoadSpec, environ: Mapping[str, str]) -> list[str]:
    """A note per {{env.NAME}} the load reads that is not set here: the engine reads it
    when it sends (on its own machine: a Ray node may have it), so it is not an error,
    but here it would be sent empty."""
    names: dict[str, str] = {}
    entries = [(f"load.requests[{i}]", r) for i, r in enumerate(load.requests)]
    entries += [
        (f"load.flows[{i}].steps[{j}]", step)
        for i, flow in enumerate(load.flows)
        for j, step in enumerate(flow.steps)
    ]
    for path, req in entries:
        for field, text in _texts(req, path):
            if not has_template(text):
                continue
            try:
                tpl = compile_template(text, frozenset(_data_columns(load)[0]))
            except ValueError:
                continue  # reported as a problem
            for name in tpl.env_names:
                names.setdefault(name, field)
    return [
        f"{field}: environment variable {name} is not set here: {{{{env.{name}}}}} is sent "
        f"empty unless the generator's environment has it (export {name}=...)"
        for name, field in names.items()
        if name not in environ
    ]


def _one(
    field: str, text: str, columns: dict[str, tuple[str, ...]], variables: frozenset[str]
) -> list[Problem]:
    """Problems of one templated text (none when it has no slot)."""
    if not has_template(text):
        return []
    try:
        tpl = compile_template(text, frozenset(columns))
    except ValueError as exc:
        return [Problem(field, str(exc), _HINT)]
    return _unknown_names(field, tpl, columns, variables)


def _unknown_names(
    field: str, tpl: Template, columns: dict[str, tuple[str, ...]], variables: frozenset[str]
) -> list[Problem]:
    out = []
    for name in tpl.variables:
        if name not in variables:
            known = ", ".join(sorted(variables)) or "none here"
            hint = "a variable comes from an earlier flow step's extract:"
            out.append(Problem(field, f"unknown variable {{{{{name}}}}} (known: {known})", hint))
    for data_set, column in tpl.data_refs:
        cols = columns[data_set]
        if cols and column not in cols:
            what = f"data {data_set} has no column {column!r} (columns: {', '.join(cols)})"
            out.append(Problem(field, what, "name a column of the CSV's header line"))
    return out
