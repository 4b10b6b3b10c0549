"""Confounder rules: facts governed as the provider declares, value tracking, volatile keys,
declared variation."""

from __future__ import annotations

from loadtrial.abilities import ParamFacts
from loadtrial.analysis.confounders import (
    RunFacts,
    between_arms,
    confounders_between,
    confounders_of_arm,
    expected,
    governs,
    is_volatile,
    within_arms,
)
from loadtrial.env.settings import TESTBED_GOVERNANCE

# what a testbed-like provider declares (the tests read the rule, not the testbed's table)
GOV = {
    "db_cpus": ParamFacts(("db.cpus", "db.*.cpus"), reads="db.cpus"),
    "app_nodes": ParamFacts(("app.nodes",), reads="app.nodes"),
    "db_max_connections": ParamFacts(
        ("db.max_connections", "db.*.max_connections"), reads="db.max_connections"
    ),
}


def test_governs_as_declared_not_by_words() -> None:
    assert governs(GOV, "db_max_connections", "db.max_connections")
    assert governs(GOV, "db_max_connections", "db.db-2.max_connections")
    assert not governs(GOV, "db_cpus", "db.writer")
    # the words of a name are no evidence: undeclared, `db_vcpu` sets nothing
    assert not governs(GOV, "db_vcpu", "db.vcpu")
    assert not governs({}, "db_max_connections", "db.max_connections")


def test_the_testbed_declares_every_parameter() -> None:
    from loadtrial.testbed.model import PARAM_NAMES

    assert set(TESTBED_GOVERNANCE) == set(PARAM_NAMES)
    assert governs(TESTBED_GOVERNANCE, "db_cpus", "db.cpus")
    assert not governs(TESTBED_GOVERNANCE, "db_cpus", "db.writer")


def test_volatile_and_expected() -> None:
    assert is_volatile("volatile.anything") and is_volatile("db.pid") and is_volatile("x.read_at")
    assert not is_volatile("db.writer")
    assert expected("db.db-1.role", ["db.*.role"]) and expected("lb.kind", ["lb."])
    assert not expected("db.writer", ["db.*.role"])


def _runs(**facts_by_arm: dict[str, str]) -> list[RunFacts]:
    return [
        RunFacts(i, arm, {}, {"before": f, "after": f})
        for i, (arm, f) in enumerate(facts_by_arm.items())
    ]


def test_between_arms_excuses_governed_and_value_tracking_facts_only() -> None:
    params = {"small": {"db_cpus": 1, "app_nodes": 2}, "big": {"db_cpus": 2, "app_nodes": 2}}
    runs = _runs(
        small={
            "db.cpus": "1",
            "db.writer": "db-1",
            "db.vcpu": "1",
            "lb.kind": "x",
            "volatile.t": "1",
        },
        big={
            "db.cpus": "2",
            "db.writer": "db-2",
            "db.vcpu": "2",
            "lb.kind": "x",
            "volatile.t": "2",
        },
    )
    found = between_arms(runs, params, GOV)
    assert [c.fact for c in found] == ["db.writer"]
    assert confounders_between(found, "big", "small") == found
    # a single-arm claim about big rests on big's own facts: a difference with small is
    # not a reason to doubt that big ran as declared
    assert confounders_of_arm(found, "big") == []
    assert confounders_between(found, "big", "small") == found
    assert not between_arms(runs, params, GOV, expected_to_vary=["db.writer"])


def test_a_difference_is_explained_only_by_a_declared_parameter() -> None:
    params = {"a": {"db_max_connections": 20}, "b": {"db_max_connections": 80}}
    runs = _runs(a={"db.db-1.max_connections": "23"}, b={"db.db-1.max_connections": "83"})
    assert between_arms(runs, params, GOV) == []
    found = between_arms(runs, params, {})  # no declaration: the name's words explain nothing
    assert [c.fact for c in found] == ["db.db-1.max_connections"]


def test_a_fact_that_differs_but_whose_parameter_is_equal_is_a_confounder() -> None:
    params = {"a": {"db_max_connections": 20, "x": 1}, "b": {"db_max_connections": 20, "x": 2}}
    runs = _runs(a={"db.max_connections": "20"}, b={"db.max_connections": "100"})
    assert [c.fact for c in between_arms(runs, params, GOV)] == ["db.max_connections"]


def test_within_arm_changes_and_repetition_disagreement() -> None:
    runs = [
        RunFacts(1, "a", {}, {"before": {"db.writer": "db-1"}, "after": {"db.writer": "db-2"}}),
        RunFacts(2, "a", {}, {"before": {"db.writer": "db-2"}, "after": {"db.writer": "db-2"}}),
    ]
    whys = [c.why for c in within_arms(runs)]
    assert any("changed during run 1" in w for w in whys)
    assert any("differs between repetitions of a" in w for w in whys)


def test_a_parameter_not_in_force_is_a_confounder_of_its_arm() -> None:
    from loadtrial.analysis.confounders import not_in_force

    facts = {"db.max_connections": "20", "db.db-2.max_connections": "80", "app.nodes": "4"}
    runs = [RunFacts(1, "bigger-db", {"db_max_connections": 80, "app_nodes": 4}, {"before": facts})]
    found = not_in_force(runs, GOV)
    assert [(c.fact, c.arms) for c in found] == [("db.max_connections", ("bigger-db",))]
    assert not_in_force(runs, {}) == []  # nothing declared as reading it back
    assert "declares db_max_connections=80 but db.max_connections read 20" in found[0].why


def test_runs_without_snapshots_compare_nothing_and_absent_facts_differ() -> None:
    params = {"a": {"n": 1}, "b": {"n": 2}}
    runs = [
        RunFacts(1, "a", {}, {"before": {"db.writer": "db-1", "db.db-2.role": "reader"}}),
        RunFacts(2, "b", {}, {}),  # failed before its snapshot
    ]
    assert between_arms(runs, params, GOV) == []
    runs.append(RunFacts(3, "b", {}, {"before": {"db.writer": "db-1"}}))
    found = between_arms(runs, params, GOV)
    assert [(c.fact, c.values["b"]) for c in found] == [("db.db-2.role", ("(absent)",))]


def test_confounder_sentences_quote_the_values_and_every_run() -> None:
    from loadtrial.analysis.confounders import not_in_force

    small = {"db_max_connections": 20, "failover_on_resize": True}
    big = {"db_max_connections": 80, "failover_on_resize": True}
    snap = {"db.writer": "db-2", "db.max_connections": "20"}
    runs = [
        RunFacts(1, "small", small, {"before": {"db.writer": "db-1", "db.max_connections": "20"}}),
        RunFacts(2, "big", big, {"before": snap}),
        RunFacts(4, "big", big, {"before": snap}),
    ]
    (writer,) = between_arms(runs, {"small": small, "big": big}, GOV)
    assert (
        writer.why
        == "db.writer was db-2 in big but db-1 in small, and no parameter of theirs sets it"
    )
    (resize,) = not_in_force(runs, GOV)
    assert (
        resize.why
        == "big declares db_max_connections=80 but db.max_connections read 20 (runs 2, 4)"
    )
