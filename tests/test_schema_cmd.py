"""`loadtrial schema`: the JSON Schema of the whole trial file, and the copy of it beside the
examples that their `# yaml-language-server: $schema=trial.schema.json` line names."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from loadtrial.cli import main
from loadtrial.commands.demo import examples_dir
from loadtrial.commands.examples import MODELINE, SCHEMA_FILE
from loadtrial.spec import load_trial_file, trial_json_schema

REGENERATE = "regenerate it: loadtrial schema > src/loadtrial/examples/trial.schema.json"


def test_schema_prints_the_whole_file_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    props = schema["properties"]
    assert props["observe"]["anyOf"][0]["items"]["discriminator"]["propertyName"] == "kind"
    assert props["env"]["discriminator"]["propertyName"] == "provider"


def test_the_examples_schema_is_the_current_one() -> None:
    shipped = json.loads((examples_dir() / SCHEMA_FILE).read_text(encoding="utf-8"))
    assert shipped == trial_json_schema(), REGENERATE


@pytest.mark.parametrize("example", sorted(p.name for p in examples_dir().glob("*.yaml")))
def test_each_example_names_the_schema_and_is_listed_by_its_description(
    example: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = examples_dir() / example
    assert path.read_text(encoding="utf-8").splitlines()[0] == MODELINE
    assert main(["examples"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(example))
    assert "yaml-language-server" not in line


def test_the_schema_is_copied_with_the_examples(tmp_path: Path) -> None:
    assert main(["examples", "--copy", str(tmp_path)]) == 0
    assert json.loads((tmp_path / SCHEMA_FILE).read_text()) == trial_json_schema()
    assert load_trial_file(tmp_path / "quick-shell.yaml").trial.name == "quick-shell"


@pytest.mark.parametrize("example", sorted(p.name for p in examples_dir().glob("*.yaml")))
def test_an_editor_validating_with_the_schema_accepts_each_example(example: str) -> None:
    data = yaml.safe_load((examples_dir() / example).read_text(encoding="utf-8"))
    assert list(_validator().iter_errors(data)) == []


def test_an_editor_validating_with_the_schema_flags_a_wrong_observer_and_env() -> None:
    data = yaml.safe_load((examples_dir() / "quick-shell.yaml").read_text(encoding="utf-8"))
    data["observe"] = [{"kind": "process", "match": "x", "process_cores": "many"}]
    data["env"]["aply"] = "touch x"
    paths = {tuple(e.absolute_path) for e in _validator().iter_errors(data)}
    assert paths == {("observe",), ("env",)}


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(trial_json_schema())
