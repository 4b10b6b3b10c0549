"""Every validation message of a trial file: located by line, worded for a user, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtrial.errors import ExitCode, SpecError
from loadtrial.spec import load_trial_file, parse_trial_text

GOOD = """\
name: t
target:
  base_url: http://127.0.0.1:8080
load:
  stages:
    - {rate: 10, duration: 2s}
arms:
  a: {}
  b: {}
"""


def _problems(text: str, env: dict[str, str] | None = None) -> list[tuple[int | None, str, str]]:
    with pytest.raises(SpecError) as info:
        parse_trial_text(text, "t.yaml", env or {})
    assert info.value.exit_code == ExitCode.INVALID_INPUT
    return [(p.line, p.field, p.render()) for p in info.value.problems]


# (file text, line, field, words in the rendered message)
CASES = [
    ("name: t\ntarget: [\n", 3, "", "YAML:"),
    ("", None, "", "the file is empty"),
    ("- a\n- b\n", 1, "", "a trial file is a mapping"),
    (GOOD + "name: u\n", 10, "name", "duplicate key 'name'"),
    (GOOD.replace("name: t\n", ""), 1, "name", "name: is required but missing (add it)"),
    (GOOD + "repat: 2\n", 10, "repat", "unknown field 'repat' (did you mean 'repeat'?)"),
    (GOOD.replace("base_url:", "base_ulr:"), 3, "target.base_ulr", "did you mean 'base_url'?"),
    (GOOD.replace("rate: 10", "rate: lots"), 6, "load.stages[0].rate", "valid number"),
    (GOOD.replace("2s}", "2 weeks}"), 6, "load.stages[0].duration", "expected a duration"),
    (GOOD.replace("rate: 10,", "rate: 10, ramp_to: 5,"), 6, "load.stages[0]", "exactly one of"),
    (GOOD + "order: shuffled\n", 10, "order", "'interleaved', 'randomized' or 'sequential'"),
    (GOOD + "repeat: 0\n", 10, "repeat", "greater than or equal to 1"),
    (GOOD + "slo: {error_rate: 150%}\n", 10, "slo.error_rate", "between 0% and 100%"),
    (GOOD + "expect:\n  - {arm: a}\n", 11, "expect[0]", "a claim needs meets_slo"),
    (GOOD + "expect:\n  - {arm: c, meets_slo: false}\n", 11, "expect[0].arm", "unknown arm 'c'"),
    (
        GOOD + "expect:\n  - {arm: a, vs: a, metric: p99, expect: lower}\n",
        11,
        "expect[0].vs",
        "compares arm 'a' with itself",
    ),
    (
        GOOD.replace("load:\n", "load:\n  requests: [{path: /, method: head}]\n"),
        5,
        "load.requests[0].method",
        "HEAD is not supported",
    ),
    (
        GOOD + "slo: {p99: 1s}\nexpect:\n  - {arm: a, vs: z, metric: p99, expect: lower}\n",
        12,
        "expect[0].vs",
        "unknown arm 'z' (arms are: a, b)",
    ),
    (GOOD + "expect:\n  - {arm: a, meets_slo: true}\n", 11, "expect[0].meets_slo", "no slo"),
    (
        GOOD.replace("127.0.0.1:8080", "10.1.2.3"),
        3,
        "target.base_url",
        "10.1.2.3 is not this machine and target.allow does not name it",
    ),
    (GOOD.replace("http://127.0.0.1:8080", "ftp://x"), 3, "target.base_url", "http(s) URL"),
    (
        GOOD.replace("stages:\n    - {rate: 10, duration: 2s}\n", "stages: []\n"),
        5,
        "load.stages",
        "needs stages",
    ),
    (GOOD.replace("rate: 10", "users: 10"), 6, "load.stages[0].users", "closed model"),
    (
        GOOD.replace("load:\n", "load:\n  model: closed\n  duration: 5s\n").replace(
            "  stages:\n    - {rate: 10, duration: 2s}\n", ""
        ),
        4,  # the `load:` line: users is missing from it
        "load.users",
        "needs users",
    ),
    (GOOD.replace("load:\n", "load:\n  warmup: 5s\n"), 5, "load.warmup", "as long as"),
    (
        GOOD.replace("load:\n", "load:\n  requests:\n    - {path: x}\n"),
        6,
        "load.requests[0].path",
        "does not start with /",
    ),
    (
        GOOD.replace("load:\n", "load:\n  requests:\n    - {method: FETCH}\n"),
        6,
        "load.requests[0].method",
        "unknown method 'FETCH'",
    ),
    (
        GOOD.replace("load:\n", "load:\n  requests:\n    - {body: x, json: {a: 1}}\n"),
        6,
        "load.requests[0]",
        "both body and json",
    ),
    (GOOD + "abort:\n  - {metric: latency, above: 1s}\n", 11, "abort[0].metric", "unknown metric"),
    (GOOD + "abort:\n  - {metric: error_rate, above: 2}\n", 11, "abort[0].above", "0%..100%"),
    (
        GOOD + "abort:\n  - {metric: error_rate, above: 5%, for: 0s}\n",
        11,
        "abort[0].for",
        "longer than 0s",
    ),
    (GOOD + "observe:\n  - {kind: telepathy}\n", 11, "observe[0].kind", "unknown observer kind"),
    (GOOD + "observe:\n  - {as: db}\n", 11, "observe[0].kind", "is required"),
    (GOOD + "observe: everything\n", 10, "observe", "list of observers or the word testbed"),
    (GOOD + "env: {provider: magic}\n", 10, "env.provider", "unknown provider 'magic'"),
    (GOOD + "env: {provider: none, apply: x}\n", 10, "env.apply", "unknown field 'apply'"),
    (GOOD + "env: {provider: shell, apply: 'echo {n}'}\n", 8, "arms.a", "uses {n}"),
    (GOOD.replace("8080", "${PORT}"), 3, "target.base_url", "environment variable PORT is not set"),
    (GOOD.replace("load:\n", "load:\n  timeout: 0s\n"), 5, "load.timeout", "longer than 0s"),
    (GOOD.replace("load:\n", "load:\n  requests: []\n"), 5, "load.requests", "no requests"),
    (GOOD.replace("  a: {}\n", "  a: 3\n"), 8, "arms.a", "valid dictionary"),
    (GOOD + "pause_between_runs: soon\n", 10, "pause_between_runs", "expected a duration"),
]


@pytest.mark.parametrize(("text", "line", "field", "words"), CASES)
def test_each_problem_is_located_and_explained(
    text: str, line: int | None, field: str, words: str
) -> None:
    found = _problems(text)
    assert any(ln == line and f == field and words in r for ln, f, r in found), found


def test_all_problems_are_reported_at_once() -> None:
    text = (
        GOOD.replace("rate: 10", "rate: x").replace("127.0.0.1:8080", "10.9.9.9")
        + "order: nope\nexpect:\n  - {arm: ghost, meets_slo: false}\n"
    )
    fields = [f for _, f, _ in _problems(text)]
    assert fields == [
        "target.base_url",
        "load.stages[0].rate",
        "order",
        "expect[0].arm",
        "expect[0].meets_slo",  # meets_slo without an slo: to meet
    ]


TEN_MISTAKES = """\
hypothesis: a missing name must not hide the other nine mistakes
target: {base_url: "http://10.1.2.3:8080", alow: [127.0.0.1]}
load:
  warmup: 1x
  stages: [{rate: 40, users: 5, duration: 4s}]
env: {provider: shel}
observe: [{kind: postgress, as: db}]
arms: {fast: {}, slow: {}}
repeat: -2
slo: {p99: 10ms, error_rate: 1%%}
expect:
  - {arm: slwo, vs: fast, metric: p99, expect: higher}
"""


def test_a_missing_required_field_does_not_hide_the_semantic_checks() -> None:
    found = {(line, field) for line, field, _ in _problems(TEN_MISTAKES)}
    assert found == {
        (1, "name"),
        (2, "target.alow"),
        (2, "target.base_url"),  # not on the allow-list
        (4, "load.warmup"),
        (5, "load.stages[0]"),
        (6, "env.provider"),
        (7, "observe[0].kind"),
        (9, "repeat"),
        (10, "slo.error_rate"),
        (12, "expect[0].arm"),
    }


def test_a_missing_target_or_load_still_checks_the_rest() -> None:
    text = "name: t\nexpect:\n  - {arm: ghost, meets_slo: false}\norder: nope\n"
    found = {(line, field) for line, field, _ in _problems(text)}
    assert {(1, "target"), (1, "load"), (4, "order"), (3, "expect[0].arm")} <= found


def test_rendered_form_is_file_line_field_message_hint(tmp_path: Path) -> None:
    path = tmp_path / "trial.yaml"
    path.write_text(GOOD + "repat: 2\n")
    with pytest.raises(SpecError) as info:
        load_trial_file(path)
    assert info.value.render() == (
        f"{path}:10: repat: unknown field 'repat' (did you mean 'repeat'?)"
    )


def test_an_empty_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    with pytest.raises(SpecError) as info:
        load_trial_file(path)
    assert info.value.render().startswith(f"{path}: the file is empty")


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    from loadtrial.errors import UserError

    with pytest.raises(UserError, match="no trial file"):
        load_trial_file(tmp_path / "nope.yaml")


VS_CLAIM = "slo: {p99: 1s}\nexpect:\n  - {arm: b, vs: a, metric: p99, expect: lower}\n"


def test_claims_that_compare_arms_default_to_three_repetitions() -> None:
    assert parse_trial_text(GOOD + VS_CLAIM, "t.yaml", {}).trial.repeat == 3
    assert parse_trial_text(GOOD, "t.yaml", {}).trial.repeat == 1  # nothing compared
    assert parse_trial_text(GOOD + VS_CLAIM + "repeat: 2\n", "t.yaml", {}).trial.repeat == 2


def test_an_explicit_single_run_with_comparisons_is_warned_about() -> None:
    loaded = parse_trial_text(GOOD + VS_CLAIM + "repeat: 1\n", "t.yaml", {})
    warning = [n for n in loaded.notes if n.startswith("warning: expect[0] compare arms")]
    assert warning and "set repeat: 3" in warning[0]
    assert not parse_trial_text(GOOD + VS_CLAIM, "t.yaml", {}).notes


def test_scale_must_name_a_count_every_arm_sets() -> None:
    text = GOOD.replace("a: {}", "a: {app_nodes: 1}").replace("b: {}", "b: {app_nodes: x}")
    problems = _problems(text + "scale: app_nodes\n")
    assert problems == [
        (10, "scale", "t.yaml:10: scale: 'app_nodes' is not a whole-number parameter of every "
         "arm (name the count the arms vary; arm parameters: app_nodes)"),
    ]  # fmt: skip


def test_an_unset_variable_is_one_problem_not_also_an_empty_value() -> None:
    text = (
        "name: t\ntarget: {base_url: 'http://127.0.0.1:8080'}\n"
        "load: {stages: [{rate: 5, duration: 2s}]}\n"
        "observe:\n  - {kind: postgres, dsn: '${DB_URL}', as: db}\n"
    )
    with pytest.raises(SpecError) as info:
        parse_trial_text(text, "t.yaml", {})
    rendered = [p.render() for p in info.value.problems]
    assert rendered == [
        "t.yaml:5: observe[0].dsn: environment variable DB_URL is not set "
        "(export DB_URL=... before running, or write ${DB_URL:-default})"
    ]
