"""examples/shop-flow.yaml, shortened, against a real testbed: per-step figures, checks."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loadtrial.load import run_load, summarize
from loadtrial.spec import load_trial_file
from loadtrial.spec.convert import to_load_plan
from loadtrial.testbed import TestbedConfig, down, load_state, up

pytestmark = pytest.mark.timeout(240)
EXAMPLES = Path(__file__).parents[2] / "src" / "loadtrial" / "examples"
STEPS = ("shop.login", "shop.browse", "shop.add", "shop.cart", "shop.checkout")


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state_path = tmp_path_factory.mktemp("tb") / "state.json"
    up(TestbedConfig(), state_path)
    try:
        state = load_state(state_path)
        assert state is not None
        yield state.base_url
    finally:
        down(state_path)


def run_example(tmp_path: Path, base_url: str, *edits: tuple[str, str]) -> dict[str, Any]:
    """Run shop-flow.yaml for 3 s (edited as given) from a copy beside its users CSV."""
    text = (EXAMPLES / "shop-flow.yaml").read_text()
    for old, new in (("warmup: 2s", "warmup: 0s"), ("duration: 18s", "duration: 3s"), *edits):
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "shop-flow.yaml").write_text(text)
    shutil.copy(EXAMPLES / "shop-users.csv", tmp_path)
    trial = load_trial_file(tmp_path / "shop-flow.yaml", env={"TESTBED_URL": base_url}).trial
    return summarize(run_load(to_load_plan(trial, workers=1)))


def test_the_shop_flow_runs_every_step_with_its_own_figures(tmp_path: Path, base_url: str) -> None:
    s = run_example(tmp_path, base_url)
    assert list(s["requests"]) == list(STEPS)
    for name in STEPS:
        step = s["requests"][name]
        assert step["errors"] == {}, (name, step)
        assert step["completed"] == step["ok"] > 0, (name, step)
        assert step["latency_ms"]["p50"] > 0
    counts = [s["requests"][n]["completed"] for n in STEPS]
    # 10 flows/s for 3 s, each step once per flow (flows under way at the end finish)
    assert counts == [30] * len(STEPS)
    assert s["errors"] == {} and s["completed"] == sum(counts)


def test_a_wrong_password_fails_the_login_check_and_ends_each_flow(
    tmp_path: Path, base_url: str
) -> None:
    s = run_example(tmp_path, base_url, ('password: "{{users.password}}"', "password: wrong"))
    login = s["requests"]["shop.login"]
    assert login["errors"] == {"check:status": 30} and login["ok"] == 0
    assert set(s["requests"]) == {"shop.login"} or all(
        s["requests"][n]["completed"] == 0 for n in STEPS[1:]
    )
    assert s["errors"] == {"check:status": 30}
