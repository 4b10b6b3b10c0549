"""Confounder rules: governed facts, value tracking, volatile keys, declared variation."""

from __future__ import annotations

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


def test_governs_by_words() -> None:
    assert governs("db_max_connections", "db.max_connections")
    assert governs("app_nodes", "app.node_count")  # plurals folded
    assert governs("db_instance_class", "db.writer.instance_class")
    assert not governs("db_cpus", "db.writer")


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
    found = between_arms(runs, params)
    assert [c.fact for c in found] == ["db.writer"]
    assert confounders_between(found, "big", "small") == found
    # a single-arm claim about big rests on big's own facts: a difference with small is
    # not a reason to doubt that big ran as declared
    assert confounders_of_arm(found, "big") == []
    assert confounders_between(found, "big", "small") == found
    assert not between_arms(runs, params, expected_to_vary=["db.writer"])


def test_a_fact_that_differs_but_whose_parameter_is_equal_is_a_confounder() -> None:
    params = {"a": {"db_max_connections": 20, "x": 1}, "b": {"db_max_connections": 20, "x": 2}}
    runs = _runs(a={"db.max_connections": "20"}, b={"db.max_connections": "100"})
    assert [c.fact for c in between_arms(runs, params)] == ["db.max_connections"]


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
    found = not_in_force(runs)
    assert [(c.fact, c.arms) for c in found] == [("db.max_connections", ("bigger-db",))]
    assert "declares db_max_connections=80 but db.max_connections read 20" in found[0].why


def test_runs_without_snapshots_compare_nothing_and_absent_facts_differ() -> None:
    params = {"a": {"n": 1}, "b": {"n": 2}}
    runs = [
        RunFacts(1, "a", {}, {"before": {"db.writer": "db-1", "db.db-2.role": "reader"}}),
        RunFacts(2, "b", {}, {}),  # failed before its snapshot
    ]
    assert between_arms(runs, params) == []
    runs.append(RunFacts(3, "b", {}, {"before": {"db.writer": "db-1"}}))
    found = between_arms(runs, params)
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
    (writer,) = between_arms(runs, {"small": small, "big": big})
    assert (
        writer.why
        == "db.writer was db-2 in big but db-1 in small, and no parameter of theirs sets it"
    )
    (resize,) = not_in_force(runs)
    assert (
        resize.why
        == "big declares db_max_connections=80 but db.max_connections read 20 (runs 2, 4)"
    )
