"""Providers and observers declare abilities; nothing special-cases them by name:
`observe: testbed` is the provider's own observers (`own_tiers`, `observers`), a cloudwatch
entry takes the region of an aws `env:` (`FROM_ENV` × `for_observers`), and which facts an
arm parameter governs is the provider's declaration (`governance`), carried by the trial."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtrial.abilities import ParamFacts
from loadtrial.env import provider_observers
from loadtrial.errors import LoadtrialError, SpecError, UserError
from loadtrial.runner.support import observe_entries
from loadtrial.spec import parse_trial_text

HEAD = """\
name: t
target: {base_url: "http://127.0.0.1:8080"}
load:
  stages: [{rate: 5, duration: 2s}]
"""


def _trial(text: str):  # type: ignore[no-untyped-def]
    return parse_trial_text(HEAD + text, "trial.yaml", {}).trial


def test_observe_testbed_needs_a_provider_that_observes_itself() -> None:
    with pytest.raises(SpecError) as info:
        _trial("observe: testbed\nenv: {provider: shell}\n")
    (problem,) = info.value.problems
    assert problem.render().startswith(
        "trial.yaml:5: observe: the shell provider has no observers of its own"
    )
    with pytest.raises(UserError, match="no observers of its own"):
        provider_observers("none", {})


def test_abort_rules_know_the_tiers_the_provider_declares() -> None:
    ok = (
        "observe: testbed\nenv: {provider: testbed}\nabort: [{metric: host.cpu.util, above: 90%}]\n"
    )
    assert _trial(ok).abort[0].metric == "host.cpu.util"
    with pytest.raises(SpecError) as info:
        _trial(ok.replace("host.cpu.util", "cache.hit_ratio"))
    assert "(tiers: app, db, host, lb)" in info.value.problems[0].render()


def test_the_testbed_gives_its_entries_or_names_its_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"  # no testbed is up here
    trial = _trial(f"observe: testbed\nenv: {{provider: testbed, state: '{state}'}}\n")
    assert trial.env.own_tiers() == ("lb", "app", "db", "host")
    with pytest.raises(LoadtrialError, match=f"no testbed is up \\(no state at {state}\\)"):
        observe_entries(trial)


def test_an_observer_takes_from_the_env_only_what_it_declares() -> None:
    trial = _trial(
        "observe:\n  - {kind: cloudwatch, load_balancer: app/shop/1}\n"
        "  - {kind: cloudwatch, as: cw2, region: us-east-1, load_balancer: app/shop/1}\n"
        "  - {kind: host}\n"
        "env: {provider: aws, region: eu-west-1, endpoint_url: 'http://127.0.0.1:5000'}\n"
    )
    first, second, host = observe_entries(trial)
    assert (first["region"], first["endpoint_url"]) == ("eu-west-1", "http://127.0.0.1:5000")
    assert second["region"] == "us-east-1"  # its own wins
    assert host == {"kind": "host"}  # a host entry declares nothing to take
    shell = _trial("observe:\n  - {kind: cloudwatch, load_balancer: x}\nenv: {provider: shell}\n")
    assert "region" not in observe_entries(shell)[0]  # a shell env offers nothing


def test_the_trial_carries_the_providers_declaration() -> None:
    testbed = _trial("env: {provider: testbed}\n").env.governance()
    assert testbed["db_cpus"].governs == ("db.cpus", "db.*.cpus")
    assert _trial("env: {provider: none}\n").env.governance() == {}
    shell = _trial(
        "env:\n  provider: shell\n  governs: {db_size: [db.instance_class, 'db.*.class'], n: x}\n"
    )
    assert shell.env.governance() == {
        "db_size": ParamFacts(("db.instance_class", "db.*.class")),
        "n": ParamFacts(("x",)),
    }
