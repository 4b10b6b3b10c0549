"""Salvage a trial that failed field validation, so its semantic checks still run.

In: the trial data and the field paths pydantic rejected. Out: a `Trial` built from a copy
of the data without the rejected parts (an invalid value dropped, falling back to its
default; a mapping dropped when a required field of it is missing; a whole list dropped
when one of its items is wrong, so that list indexes never shift), or None when nothing
sensible is left. Used only to report *all* problems at once; never to run a trial.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from loadtrial.spec.model import Trial

MAX_ROUNDS = 5


def salvage(data: dict[str, Any]) -> Trial | None:
    """Return a Trial from `data` minus the parts pydantic rejects, or None."""
    work = copy.deepcopy(data)
    for _ in range(MAX_ROUNDS):
        try:
            return Trial.model_validate(work)
        except ValidationError as exc:
            removed = False
            for err in exc.errors(include_url=False):
                loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
                removed |= _remove(work, _cut(loc, err["type"] == "missing"))
            if not removed:
                return None
    return None


def _cut(loc: Sequence[str | int], missing: bool) -> Sequence[str | int]:
    """Return the part to drop: up to the first list index, or the missing field's owner."""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            return loc[:i]
    return loc[:-1] if missing else loc


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
