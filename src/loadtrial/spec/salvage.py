"""Salvage a trial that failed field validation, so its semantic checks still run.

In: the trial data and the field paths pydantic rejected. Out: a `Trial` built from a copy
of the data without the rejected parts (an invalid value dropped, falling back to its
default; a missing required field filled with a placeholder when it has one, else its
mapping dropped; a whole list dropped when one of its items is wrong, so that list indexes
never shift), or None when nothing sensible is left. Problems the placeholders cause are
about fields already reported, so the loader leaves them out. Used only to report *all*
problems at once; never to run a trial.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from loadtrial.spec.model import Trial

MAX_ROUNDS = 5
# Stand-ins for required fields, so that e.g. a missing `name` does not hide every other check.
PLACEHOLDERS: dict[str, Any] = {
    "name": "",
    "target": {"base_url": ""},
    "base_url": "",
    "load": {},
    "kind": "",
    "metric": "",
    "arm": "",
}


def salvage(data: dict[str, Any], context: dict[str, Any] | None = None) -> Trial | None:
    """Return a Trial from `data` minus the parts pydantic rejects, or None; `context` is
    the validation context of the whole file (its `base_dir` for relative data files)."""
    work = copy.deepcopy(data)
    for _ in range(MAX_ROUNDS):
        try:
            return Trial.model_validate(work, context=context)
        except ValidationError as exc:
            removed = False
            for err in exc.errors(include_url=False):
                loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
                missing = err["type"] == "missing"
                if missing and _fill(work, loc):
                    removed = True
                    continue
                removed |= _remove(work, _cut(loc, missing))
            if not removed:
                return None
    return None


def _cut(loc: Sequence[str | int], missing: bool) -> Sequence[str | int]:
    """Return the part to drop: up to the first list index, or the missing field's owner."""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            return loc[:i]
    return loc[:-1] if missing else loc


def _fill(data: Any, loc: Sequence[str | int]) -> bool:
    """Set a missing required field at `loc` to its placeholder; False when it has none."""
    if not loc or not isinstance(loc[-1], str) or loc[-1] not in PLACEHOLDERS:
        return False
    here = data
    for part in loc[:-1]:
        in_dict = isinstance(here, dict) and part in here
        in_list = isinstance(here, list) and isinstance(part, int) and 0 <= part < len(here)
        if not (in_dict or in_list):
            return False
        here = here[part]
    if not isinstance(here, dict) or loc[-1] in here:
        return False
    here[loc[-1]] = copy.deepcopy(PLACEHOLDERS[loc[-1]])
    return True


def _remove(data: Any, loc: Sequence[str | int]) -> bool:
    """Delete the item at `loc` from nested dicts/lists; False when it is not there."""
    if not loc:
        return False
    here = data
    for part in loc[:-1]:
        if not isinstance(here, dict) or part not in here:
            return False  # only mappings lie above the cut (see _cut)
        here = here[part]
    last = loc[-1]
    if isinstance(here, dict) and last in here:
        del here[last]
        return True
    return False
