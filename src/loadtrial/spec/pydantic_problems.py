"""Turn pydantic's validation errors into located, user-worded Problems.

In: a `ValidationError` from validating the trial data, the data itself and the line map.
Out: one `Problem` per mistake, with the field path as the user wrote it
("load.stages[1].duration"), the line, a plain message and a hint. Union branches that
cannot apply to the value (e.g. `observe: testbed` vs a list of observers) are dropped.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from loadtrial.errors import Problem
from loadtrial.spec.yamlmap import join_path, line_of

Loc = tuple[str | int, ...]
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
        path = _path(loc)
        message, hint = _wording(err, loc, root)
        if tags and err["type"] in ("literal_error", "tuple_type", "list_type"):
            message, hint = "expected a list of observers or the word testbed", "fix the value"
        if (path, message) in seen:
            continue
        seen.add((path, message))
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
        elif isinstance(part, str) and ("[" in part or part.startswith("function-")):
            tags.append(part)  # a union branch or validator wrapper, not a field
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
        if tags and err["type"] not in ("literal_error", "tuple_type", "list_type"):
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


def _wording(
    err: Mapping[str, Any], loc: Sequence[str | int], root: type[BaseModel]
) -> tuple[str, str]:
    """Return (message, hint) for one pydantic error."""
    kind = str(err["type"])
    if kind == "extra_forbidden":
        return _unknown_field(loc, root)
    if kind == "missing":
        return "is required but missing", "add it"
    message = str(err["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    message = message[:1].lower() + message[1:]
    return message, _HINTS.get(kind, "see `loadtrial schema` for the expected form")


def _unknown_field(loc: Sequence[str | int], root: type[BaseModel]) -> tuple[str, str]:
    """Say which field is unknown and, when close to a known one, which was meant."""
    name = str(loc[-1]) if loc else ""
    known = _fields_at(root, loc[:-1])
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"unknown field {name!r}", f"did you mean {close[0]!r}?"
    if known:
        return f"unknown field {name!r}", "known fields: " + ", ".join(sorted(known))
    return f"unknown field {name!r}", "remove it"


def _fields_at(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Return the field names (aliases where set) of the model found at `loc`."""
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        model = _field_model(model, part)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _field_model(model: type[BaseModel], name: str) -> Any:
    """Return the model class a field holds (looking through tuples and optionals)."""
    for n, f in model.model_fields.items():
        if name in (n, f.alias):
            return _inner_model(f.annotation)
    return None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
