"""Reading one `observe:` entry, shared by every observer kind.

In: the entry mapping as the user wrote it, its shape already checked by its model in
`observe.settings` (types, unknown keys, required keys). Out: for `problems`, the checks a
type cannot express (a regular expression that does not compile), each naming its field.
(`create` takes the model itself.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from loadtrial.errors import Problem


def is_regex(value: Any) -> str:
    if not isinstance(value, str):
        return "expected a regular expression (a string)"
    try:
        re.compile(value)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    return ""


def regex_problems(entry: Mapping[str, Any], path: str, keys: tuple[str, ...]) -> list[Problem]:
    """A problem for each of `keys` whose value does not compile as a regular expression."""
    return [
        Problem(f"{path}.{key}", why)
        for key in keys
        if entry.get(key) is not None and (why := is_regex(entry[key]))
    ]
