"""YAML with line numbers, and `${VAR}` substitution after parsing.

In: the raw text of a trial file and an environment mapping. Out: `ParsedYaml`, the plain
data (mappings, lists, scalars) with every `${VAR}` / `${VAR:-default}` in string scalars
replaced, a map from field path ("load.stages[1].rate") to its 1-based line, and the
problems found on the way (syntax errors, duplicate keys, unset variables). The raw text
is never modified, so secrets taken from the environment stay out of the store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from loadtrial.errors import Problem

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class ParsedYaml:
    """Plain data of a YAML document plus where each field path sits."""

    data: Any
    lines: Mapping[str, int]
    problems: tuple[Problem, ...] = ()
    env_paths: tuple[str, ...] = field(default=())  # paths whose value came from ${VAR}


def join_path(parent: str, key: str | int) -> str:
    """Return the dotted field path of `key` under `parent` ("a.b", "a[0]")."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def parse_yaml(
    text: str, env: Mapping[str, str], file: str, *, unset_ok: bool = False
) -> ParsedYaml:
    """Parse `text`; on a syntax error return no data and one located problem.

    `unset_ok`: an unset ${VAR} without a default becomes "" silently (re-reading stored
    text for analysis, where secrets are neither available nor needed).
    """
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or "invalid YAML"
        hint = "fix the YAML syntax (indentation, quotes, a missing ':' or ']')"
        return ParsedYaml(None, {}, (Problem("", f"YAML: {what}", hint, file, line),))
    except yaml.YAMLError as exc:
        return ParsedYaml(None, {}, (Problem("", f"YAML: {exc}", "fix the YAML syntax", file),))
    lines: dict[str, int] = {}
    problems: list[Problem] = []
    if node is not None:
        _walk(node, "", lines, problems, file)
    env_paths: list[str] = []
    env_problems: list[Problem] = []
    data = _substitute(data, "", env, lines, env_problems, env_paths, file)
    if not unset_ok:
        problems += env_problems
    return ParsedYaml(data, lines, tuple(problems), tuple(env_paths))


def _walk(node: yaml.Node, path: str, lines: dict[str, int], out: list[Problem], file: str) -> None:
    """Record the line of every field path below `node`; report duplicate keys."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            sub = join_path(path, key)
            line = key_node.start_mark.line + 1
            if key in seen:
                hint = "keep one of them; YAML would silently use the last"
                out.append(Problem(sub, f"duplicate key {key!r}", hint, file, line))
            seen.add(key)
            lines[sub] = line
            _walk(value_node, sub, lines, out, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = join_path(path, i)
            lines[sub] = item.start_mark.line + 1
            _walk(item, sub, lines, out, file)


def _substitute(
    data: Any,
    path: str,
    env: Mapping[str, str],
    lines: Mapping[str, int],
    out: list[Problem],
    env_paths: list[str],
    file: str,
) -> Any:
    """Return `data` with ${VAR} replaced in every string; unset variables are problems."""
    if isinstance(data, dict):
        return {
            k: _substitute(v, join_path(path, str(k)), env, lines, out, env_paths, file)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [
            _substitute(v, join_path(path, i), env, lines, out, env_paths, file)
            for i, v in enumerate(data)
        ]
    if not isinstance(data, str) or "${" not in data:
        return data

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        hint = f"export {name}=... before running, or write ${{{name}:-default}}"
        out.append(
            Problem(path, f"environment variable {name} is not set", hint, file, lines.get(path))
        )
        return ""

    env_paths.append(path)
    return _VAR.sub(one, data)


def line_of(lines: Mapping[str, int], path: str) -> int | None:
    """Return the line of `path`, or of its nearest ancestor present in the file."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None
