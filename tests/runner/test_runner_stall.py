"""The story behind the verdicts issue, on real servers: an arm that answers faster between
stalls but freezes every few seconds must come out *higher* on p99, and the claim that its
p99 is lower must be refuted, quoting the same p99 as the arms table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fileserver import FileServer, trial_text

from loadtrial.cli import main

ARMS = (
    "  stalls: {behaviour: '200 5 2.5 1'}\n"  # 5 ms, but a 1 s freeze every 2.5 s
    "  steady: {behaviour: '200 150'}\n"  # 150 ms, always
)
# steady answers in 150 ms, not in a few: a generator a busy machine holds back by up to
# a tenth of that is kept by the analysis (its lag is inside the measured latency), where
# against 15 ms it lost two of three runs in CI (send lag 6.4 and 20.7 ms)
CLAIMS = """\
slo: {p99: 300ms}
expect:
  - {arm: stalls, vs: steady, metric: p99, expect: lower}
  - {arm: stalls, vs: steady, metric: p50, expect: lower}  # true; never refuted
repeat: 3
"""
# three runs per arm: a run left out as invalid (a generator slowed by a busy CI machine)
# still leaves the two that a comparison needs


@pytest.mark.slow
def test_a_faster_arm_that_stalls_is_higher_on_p99(
    file_server: FileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = trial_text(file_server, arms=ARMS, rate=40, seconds=5, extra=CLAIMS)
    text = text.replace("echo {status} 0 >", "echo {behaviour} >").replace(
        "load:\n", "load:\n  warmup: 1s\n  connections: 100\n"
    )
    trial = tmp_path / "trial.yaml"
    trial.write_text(text)
    db = str(tmp_path / "r.db")
    assert main(["run", str(trial), "--store", db, "--no-live"]) == 1  # not every claim holds
    capsys.readouterr()
    main(["analyze", "--store", db, "--json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    verdicts = [f for f in findings if f["kind"] == "verdict"]
    why = [(f["summary"], f["status"]) for f in findings if f["kind"] in ("verdict", "validity")]
    # never confidently wrong: "its p99 is lower" is refuted, and only when a busy machine
    # left an arm with fewer than two valid runs (generator lag) may it stay inconclusive
    invalid = [f["arm"] for f in findings if f["kind"] == "validity" and f["status"] == "invalid"]
    lost = [arm for arm in ("stalls", "steady") if 3 - invalid.count(arm) < 2]
    p99_claim, p50_claim = (v["status"] for v in verdicts)
    assert p99_claim == ("inconclusive" if lost else "refuted"), (why, invalid)
    assert p50_claim in ("supported", "inconclusive"), why  # it is faster between stalls
    if lost:
        pytest.skip(f"the generator was the limit in runs of {lost} on this busy machine: {why}")
    p99 = verdicts[0]["evidence"]
    assert p99["level_arm"] > 500_000 > 300_000 > p99["level_vs"]  # > 0.5 s vs < 0.3 s
    # the claim quotes the arms table's figure: one number everywhere
    assert main(["report", "--store", db, "--format", "json", "-o", str(tmp_path / "r.json")]) == 0
    arms = {a["arm"]: a for a in json.loads((tmp_path / "r.json").read_text())["arms"]}
    assert arms["stalls"]["latency_ms"]["p99"]["value"] == pytest.approx(p99["level_arm"] / 1000)
    assert arms["steady"]["latency_ms"]["p99"]["value"] == pytest.approx(p99["level_vs"] / 1000)
