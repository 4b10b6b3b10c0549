"""spec: the trial file — its pydantic models, loading with lines, checks, JSON Schema.

Door: `load_trial_file(path) -> LoadedTrial` (raises SpecError listing every problem as
``file:line: field: what is wrong (what to do)``), `parse_trial_text` for stored text,
`to_load_plan(trial, workers=None) -> LoadPlan` and `trial_json_schema()`.
"""

from __future__ import annotations

from typing import Any

from loadtrial.spec.checks import host_of
from loadtrial.spec.convert import to_load_plan
from loadtrial.spec.loader import LoadedTrial, load_trial_file, parse_trial_text
from loadtrial.spec.model import Trial, load_duration_s

__all__ = [
    "LoadedTrial",
    "Trial",
    "host_of",
    "load_duration_s",
    "load_trial_file",
    "parse_trial_text",
    "to_load_plan",
    "trial_json_schema",
]


def trial_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of a trial file (field names as written in YAML)."""
    schema = Trial.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "loadtrial trial file"
    return schema
