"""The `env:` models (env.settings): an unknown key or a wrong type under `env:` is one
located problem, `file:line: field: what (form)`; `provider` picks the model (a union
in the JSON Schema); a dump holds only what the user wrote, the mapping `create` reads."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from loadtrial.env import PROVIDERS
from loadtrial.env.settings import EnvSettings
from loadtrial.errors import SpecError
from loadtrial.spec import parse_trial_text, trial_json_schema

HEAD = """\
name: t
target: {base_url: "http://127.0.0.1:8080"}
load:
  stages: [{rate: 5, duration: 2s}]
env:
"""


def _rendered(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_trial_text(HEAD + text, "trial.yaml", {})
    return [p.render() for p in info.value.problems]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            "  provider: testbed\n  stat: x.json\n",
            "trial.yaml:7: env.stat: unknown field 'stat' (did you mean 'state'?)",
        ),
        (
            "  provider: shell\n  apply: touch x\n  aply: touch y\n",
            "trial.yaml:8: env.aply: unknown field 'aply' (did you mean 'apply'?)",
        ),
        (
            "  provider: shell\n  timeout: soon\n",
            "trial.yaml:7: env.timeout: expected a duration",
        ),
        ("  provider: shell\n  facts: [x]\n", "trial.yaml:7: env.facts: input should be"),
        ("  provider: mars\n", "trial.yaml:6: env.provider: unknown provider 'mars'"),
        ("  state: x.json\n", "trial.yaml:5: env.provider: is required but missing"),
        (
            "  provider: aws\n  db: {cluster: shop, keep_writr: true}\n",
            "trial.yaml:7: env.db.keep_writr: unknown field 'keep_writr' (did you mean",
        ),
    ],
)
def test_a_wrong_env_is_one_located_problem(env: str, expected: str) -> None:
    found = _rendered(env)
    assert any(r.startswith(expected) for r in found), found


def test_schema_describes_each_provider_as_a_union_on_provider() -> None:
    env = trial_json_schema()["properties"]["env"]
    assert env["discriminator"]["propertyName"] == "provider"
    assert set(env["discriminator"]["mapping"]) == set(PROVIDERS)


def test_a_dump_holds_only_the_keys_written() -> None:
    shell = TypeAdapter(EnvSettings).validate_python({"provider": "shell", "apply": "x"})
    assert shell.model_dump(exclude={"provider"}) == {"apply": "x"}
    aws = TypeAdapter(EnvSettings).validate_python({"provider": "aws", "db": {"cluster": "c"}})
    assert aws.model_dump(exclude={"provider"}) == {"db": {"cluster": "c"}}


def test_no_env_is_the_none_provider() -> None:
    text = HEAD.removesuffix("env:\n")
    assert parse_trial_text(text, "trial.yaml", {}).trial.env.provider == "none"
