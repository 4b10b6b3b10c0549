"""The `observe:` entries' models (observe.settings): a wrong type, an unknown key or an
unknown kind in the trial file is one located problem, `file:line: field: what (form)`;
the JSON Schema describes every kind as a union on `kind`; a dump holds only what the user
wrote (so the kinds' own defaults apply)."""

from __future__ import annotations

import pytest
from written import written

from loadtrial.errors import SpecError
from loadtrial.observe import OBSERVERS, observer_problems
from loadtrial.spec import parse_trial_text, trial_json_schema

HEAD = """\
name: t
target: {base_url: "http://127.0.0.1:8080"}
load:
  stages: [{rate: 5, duration: 2s}]
observe:
"""


def _rendered(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_trial_text(HEAD + text, "trial.yaml", {})
    return [p.render() for p in info.value.problems]


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (
            "  - kind: process\n    match: uvicorn\n    process_cores: many\n",
            "trial.yaml:8: observe[0].process_cores: input should be a valid integer",
        ),
        (
            "  - {kind: postgres, dsn: 'postgresql://127.0.0.1/x', cpu: 3}\n",
            "trial.yaml:6: observe[0].cpu: input should be 'auto', True or False",
        ),
        (
            "  - {kind: host}\n  - kind: postgres\n    dns: x\n",
            "trial.yaml:8: observe[1].dns: unknown field 'dns' (did you mean 'dsn'?)",
        ),
        ("  - {kind: telepathy}\n", "trial.yaml:6: observe[0].kind: unknown observer kind"),
        ("  - {as: db}\n", "trial.yaml:6: observe[0].kind: is required but missing"),
        (
            "  - kind: prometheus\n    url: http://127.0.0.1:1/metrics\n    metrics: [{nme: a}]\n",
            "trial.yaml:8: observe[0].metrics[0].nme: unknown field 'nme' (did you mean 'name'?)",
        ),
        (
            "  - {kind: host, as: 'bad alias'}\n",
            "trial.yaml:6: observe[0].as: string should match pattern",
        ),
    ],
)
def test_a_wrong_entry_is_one_located_problem(entries: str, expected: str) -> None:
    found = _rendered(entries)
    assert any(r.startswith(expected) for r in found), found


def test_every_field_of_a_wrong_entry_is_reported_at_once() -> None:
    found = _rendered("  - {kind: mysql, port: 0, cpu: maybe, pasword: x}\n")
    fields = sorted(r.split(": ")[1] for r in found)
    assert fields == ["observe[0].cpu", "observe[0].pasword", "observe[0].port"], found


def test_schema_describes_each_kind_as_a_union_on_kind() -> None:
    schema = trial_json_schema()
    items = schema["properties"]["observe"]["anyOf"][0]["items"]
    assert items["discriminator"]["propertyName"] == "kind"
    assert set(items["discriminator"]["mapping"]) == set(OBSERVERS)
    postgres = schema["$defs"]["PostgresSettings"]
    assert "dsn" in postgres["required"] and postgres["additionalProperties"] is False


def test_a_dump_holds_only_the_keys_written() -> None:
    entry = written({"kind": "postgres", "dsn": "postgresql://127.0.0.1/x", "as": "db"})
    assert entry == {"kind": "postgres", "dsn": "postgresql://127.0.0.1/x", "as": "db"}
    prom = written({"kind": "prometheus", "url": "http://x/m", "metrics": ["up"]})
    assert list(prom["metrics"]) == [{"name": "up"}]  # a bare name is short for {name: ...}


def test_what_a_type_cannot_say_is_left_to_the_kind() -> None:
    found = observer_problems(written({"kind": "postgres", "dsn": "host=a port"}), "observe[0]")
    assert [p.field for p in found] == ["observe[0].dsn"]
    prom = {"kind": "prometheus", "url": "ftp://x", "labels": {"code": "5(("}}
    fields = {p.field for p in observer_problems(written(prom), "observe[2]")}
    assert fields == {"observe[2].url", "observe[2].metrics", "observe[2].labels.code"}


def test_create_takes_the_model_and_its_defaults() -> None:
    """The door reads an entry once into its kind's model; `create` takes the model, and
    the defaults it has not been given are the model's (one place: the schema shows them)."""
    from pydantic import ValidationError

    from loadtrial.observe import make_observer
    from loadtrial.observe.settings import PrometheusSettings

    schema = PrometheusSettings.model_json_schema()["properties"]
    obs = make_observer(
        {"kind": "prometheus", "url": "http://127.0.0.1:9/metrics", "metrics": ["up"]}
    )
    assert obs.tier == "prometheus" and schema["timeout"]["default"] == 2.0
    assert obs._timeout_s == 2.0  # type: ignore[attr-defined]  # the model's default, not a copy
    with pytest.raises(ValidationError, match="no_such_key"):
        make_observer({"kind": "host", "no_such_key": 1})
