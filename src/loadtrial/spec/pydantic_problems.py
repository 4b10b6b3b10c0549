"""Turn pydantic's validation errors into located, user-worded Problems.

In: a `ValidationError` from validating the trial data, the data itself and the line map.
Out: one `Problem` per mistake, with the field path as the user wrote it
("load.stages[1].duration"), the line, a plain message and a hint. Union branches that
cannot apply to the value (e.g. `observe: testbed` vs a list of observers) are dropped;
the tag of a union discriminated on a field (`kind` of an observer, `provider` of `env:`)
is not a field of the path, and an unknown or missing tag is a problem of that field.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from loadtrial.errors import Problem
from loadtrial.spec.yamlmap import join_path, line_of

Loc = tuple[str | int, ...]
_SHAPE_ERRORS = ("literal_error", "tuple_type", "list_type")
_Item = tuple[tuple[Loc, tuple[str, ...]], Any]

_HINTS: Mapping[str, str] = {
    "missing": "add it",
    "float_parsing": "write a number",
    "float_type": "write a number",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "int_from_float": "write a whole number",
    "bool_parsing": "write true or false",
    "bool_type": "write true or false",
    "string_type": "write a text value",
    "dict_type": "write a mapping of key: value lines",
    "model_type": "write a mapping of key: value lines",
    "model_attributes_type": "write a mapping of key: value lines",
    "tuple_type": "write a list",
    "list_type": "write a list",
    "greater_than_equal": "use a larger value",
    "greater_than": "use a larger value",
    "literal_error": "use one of the values listed",
}
# the fields that pick a model in the file's discriminated unions -> how a user names them
DISCRIMINATORS: Mapping[str, str] = {"kind": "observer kind", "provider": "provider"}


def problems_from_validation(
    exc: ValidationError, data: Any, lines: Mapping[str, int], file: str, root: type[BaseModel]
) -> list[Problem]:
    """Return one Problem per pydantic error, located and worded for a user."""
    raw = exc.errors(include_url=False)
    cleaned: list[_Item] = [(_clean_loc(e["loc"], data), e) for e in raw]
    cleaned = _drop_other_branches(cleaned)
    out: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for (loc, tags), err in cleaned:
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, str(err["ctx"]["discriminator"]).strip("'"))
        path = _path(loc)
        message, hint = _wording(err, loc, _Where(root, data))
        if path == "observe" and tags and err["type"] in _SHAPE_ERRORS:
            message, hint = "expected a list of observers or the word testbed", "fix the value"
        # one sentence per field: the branches of a union (str | list) fail together
        if (path, message) in seen or (tags and (path, "") in seen):
            continue
        seen.update({(path, message), (path, "")})
        line = line_of(lines, path)
        if line is None and err["type"] == "missing":
            line = 1  # a missing top-level field: the file as a whole, from its first line
        out.append(Problem(path, message, hint, file, line))
    return out


def _clean_loc(loc: Sequence[str | int], data: Any) -> tuple[Loc, tuple[str, ...]]:
    """Split a pydantic loc into the data path and the union-branch tags found inside it."""
    path: list[str | int] = []
    tags: list[str] = []
    here = data
    for part in loc:
        if _has(here, part):
            path.append(part)
            here = here[part]
        elif isinstance(here, Mapping) and part in (here.get(d) for d in DISCRIMINATORS):
            continue  # the model a discriminated union picked: not a field
        elif isinstance(part, str) and ("[" in part or part.startswith("function-")):
            tags.append(part)  # a union branch or validator wrapper, not a field
        elif isinstance(part, str) and here is not None and not isinstance(here, Mapping | list):
            tags.append(part)  # a union branch (str, bool) of a scalar value
        else:
            path.append(part)  # a missing or extra field
            here = None
    return (tuple(path), tuple(tags))


def _has(here: Any, part: str | int) -> bool:
    """True when `part` is a key of the mapping or an index of the list `here`."""
    if isinstance(here, Mapping):
        return part in here
    return isinstance(here, list) and isinstance(part, int) and 0 <= part < len(here)


def _drop_other_branches(items: list[_Item]) -> list[_Item]:
    """For union errors, keep the branch whose shape matched the value (errors inside it)."""
    deep_tags: dict[Loc, set[str]] = {}
    for (loc, tags), err in items:
        if tags and (len(loc) > 1 or err["type"] not in _SHAPE_ERRORS):
            deep_tags.setdefault(loc[:1], set()).update(tags)
    kept = []
    for (loc, tags), err in items:
        matched = deep_tags.get(loc[:1])
        if tags and matched and not set(tags) & matched:
            continue
        kept.append(((loc, tags), err))
    return kept


def _path(loc: Sequence[str | int]) -> str:
    path = ""
    for part in loc:
        path = join_path(path, part)
    return path


@dataclass(frozen=True)
class _Where:
    """The root model and the data, to find the model that holds a field."""

    root: type[BaseModel]
    data: Any


def _wording(err: Mapping[str, Any], loc: Sequence[str | int], where: _Where) -> tuple[str, str]:
    """Return (message, hint) for one pydantic error."""
    kind = str(err["type"])
    if kind == "extra_forbidden":
        return _unknown_field(loc, where)
    if kind == "missing":
        return "is required but missing", "add it"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_wording(err, loc, where)
    message = str(err["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    message = message[:1].lower() + message[1:]
    return message, _HINTS.get(kind, "see `loadtrial schema` for the expected form")


def _tag_wording(
    err: Mapping[str, Any], loc: Sequence[str | int], where: _Where
) -> tuple[str, str]:
    """An unknown or missing `kind:`/`provider:`, with the values that are known."""
    field = str(loc[-1])
    known = ", ".join(_tags(_models_at(where, loc[:-1]), field))
    if err["type"] == "union_tag_not_found":
        return "is required but missing", f"add {field}: one of {known}"
    tag = (err.get("ctx") or {}).get("tag")
    return f"unknown {DISCRIMINATORS.get(field, field)} {tag!r}", f"use one of: {known}"


def _tags(models: Sequence[type[BaseModel]], field: str) -> list[str]:
    """The values of the Literal field `field` that pick each of `models`."""
    return [str(v) for m in models if field in m.model_fields
            for v in get_args(m.model_fields[field].annotation)]  # fmt: skip


def _unknown_field(loc: Sequence[str | int], where: _Where) -> tuple[str, str]:
    """Say which field is unknown and, when close to a known one, which was meant."""
    name = str(loc[-1]) if loc else ""
    models = _models_at(where, loc[:-1])
    known = [f.alias or n for n, f in models[0].model_fields.items()] if models else []
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"unknown field {name!r}", f"did you mean {close[0]!r}?"
    if known:
        return f"unknown field {name!r}", "known fields: " + ", ".join(sorted(known))
    return f"unknown field {name!r}", "remove it"


def _models_at(where: _Where, loc: Sequence[str | int]) -> list[type[BaseModel]]:
    """The model classes that may hold the value at `loc`: one, the one a discriminated
    union picked for the data there, or every branch when the data picks none."""
    models: list[type[BaseModel]] = [where.root]
    here = where.data
    for part in loc:
        here = here[part] if _has(here, part) else None
        if isinstance(part, str) and models:
            field = _field(models[0], part)
            models = [] if field is None else _inner_models(field.annotation)
        if len(models) > 1:
            models = _picked(models, here) or models
    return models


def _field(model: type[BaseModel], name: str) -> FieldInfo | None:
    for n, f in model.model_fields.items():
        if name in (n, f.alias):
            return f
    return None


def _picked(models: list[type[BaseModel]], value: Any) -> list[type[BaseModel]]:
    """The branch whose discriminator (`kind`, `provider`) the value names."""
    if not isinstance(value, Mapping):
        return []
    return [
        m
        for m in models
        for d in DISCRIMINATORS
        if d in m.model_fields and value.get(d) in get_args(m.model_fields[d].annotation)
    ]


def _inner_models(annotation: Any) -> list[type[BaseModel]]:
    """The model classes inside an annotation (through tuples, optionals, unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _inner_models(arg)]
