"""Validation of `loadtrial whatif` on the testbed: every other arm predicted from the first.

For each testbed story in examples/ (`env: {provider: testbed}`, two or more arms that
differ only in knobs the model knows), brings a testbed up, runs the trial once (all arms,
as the file says), brings it down, then predicts every other arm from the first arm alone
and prints, per arm: predicted vs measured throughput (target: within 15 %), error rate
(within 5 points), p99, and the bottleneck tier (the analysis' vs the model's).

    .venv/bin/python bench/whatif_validate.py [--only db-bottleneck] [--quick]
    .venv/bin/python bench/whatif_validate.py --store PATH --trial ID   # a stored trial

Traffic goes to the testbed on 127.0.0.1 only; each story's trial stops by itself.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

from loadtrial.analysis import bottlenecks
from loadtrial.commands.analyze import trial_of_text
from loadtrial.errors import UserError
from loadtrial.store import Store
from loadtrial.store.model import TrialData
from loadtrial.whatif import model_from_arm, predict
from loadtrial.whatif.measure import arm_setting
from loadtrial.whatif.selfcheck import ARM_KNOBS, measured_figures, retarget

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
KNOWN = {*ARM_KNOBS, "lb"}  # `lb` picks the balancer's program, not a capacity
THROUGHPUT_REL = 0.15
ERROR_PP = 0.05


def stories(only: str) -> list[Path]:
    """Testbed stories whose arms differ only in what the model knows (others: said why)."""
    out = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        env = doc.get("env") or {}
        arms = doc.get("arms") or {}
        if only not in path.stem or env.get("provider") != "testbed" or len(arms) < 2:
            continue
        unknown = {k for a in arms.values() for k in a} - KNOWN
        if unknown:
            print(f"skip {path.stem}: arms set {', '.join(sorted(unknown))} (not modelled)")
            continue
        out.append(path)
    return out


def run_story(path: Path, store: Store, quick: bool) -> int:
    """Up, run the story's trial into `store`, down; return the trial id."""
    from loadtrial import testbed
    from loadtrial.commands.demo import quicken
    from loadtrial.runner import run_trial
    from loadtrial.spec import load_trial_file
    from loadtrial.testbed.model import TestbedConfig

    state_path = Path(tempfile.mkdtemp(prefix="whatif-validate-")) / "state.json"
    state = testbed.up(TestbedConfig(), state_path)
    try:
        env = {"TESTBED_URL": state.base_url, "TESTBED_STATE": str(state_path)}
        loaded = load_trial_file(path, env=env)
        if quick:
            loaded = quicken(loaded, 1.0, repeat=1)  # one repetition, full durations
        outcome = run_trial(loaded, store=store, live=False)
    finally:
        testbed.down(state_path)
    if outcome.trial_id is None:
        raise SystemExit(f"{path.stem}: the trial did not run (exit {outcome.exit_code})")
    return int(outcome.trial_id)


def _tier(name: str) -> str:
    return "none" if name in ("", "none") else name.split(".", 1)[0]


def validate(data: TrialData) -> list[dict[str, object]]:
    """Rows: every arm after the first, predicted from the first arm alone."""
    trial = trial_of_text(data.info.file_text, data.info.file_path)
    arms = list(dict.fromkeys(r.info.arm for r in data.runs))
    base = model_from_arm(data, trial, arms[0])
    measured_neck = {arm: f.status for arm, f in bottlenecks(data, trial).items()}
    rows = []
    for arm in arms:
        try:
            topology, rate = arm_setting(data, trial, arm)
        except UserError as exc:  # e.g. every run of the arm invalid (a starved generator)
            print(f"  {data.info.name}: arm {arm} not compared: {exc}")
            continue
        p = predict(retarget(base, topology, rate), replications=5)
        m = measured_figures(data, trial, arm)
        assert m is not None
        x_err = (p.throughput_per_s.value - m.throughput_per_s) / m.throughput_per_s
        e_err = p.error_rate.value - m.error_rate
        neck_ok = _tier(p.bottleneck) == _tier(measured_neck.get(arm, "none"))
        rows.append({
            "story": data.info.name, "arm": arm, "from": arms[0],
            "x_pred": p.throughput_per_s.value, "x_meas": m.throughput_per_s, "x_err": x_err,
            "e_pred": p.error_rate.value, "e_meas": m.error_rate, "e_err": e_err,
            "p99_pred": p.p99_s.value, "p99_meas": m.p99_s,
            "neck_pred": p.bottleneck, "neck_meas": measured_neck.get(arm, "none"),
            "ok": abs(x_err) <= THROUGHPUT_REL and abs(e_err) <= ERROR_PP and neck_ok,
        })  # fmt: skip
    return rows


def print_table(rows: list[dict[str, object]]) -> None:
    """The rows as the markdown table of docs/whatif.md."""
    print("| story | arm (from first arm) | ok/s pred / meas (err) | errors pred / meas "
          "(err) | p99 pred / meas | bottleneck pred / analysis | within |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['story']} | {r['arm']} (from {r['from']}) | {r['x_pred']:.1f} / "
            f"{r['x_meas']:.1f} ({r['x_err']:+.1%}) | {r['e_pred']:.1%} / {r['e_meas']:.1%} "
            f"({100 * r['e_err']:+.1f} pp) | {r['p99_pred']:.2f}s / {r['p99_meas']:.2f}s | "  # type: ignore[operator]
            f"{r['neck_pred']} / {r['neck_meas']} | {'yes' if r['ok'] else 'NO'} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="stories whose file name contains this")
    parser.add_argument("--quick", action="store_true", help="one repetition per arm")
    parser.add_argument("--store", help="validate a stored trial instead of running stories")
    parser.add_argument("--trial", type=int, help="the stored trial's id (with --store)")
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    if args.store:
        store = Store(args.store)
        trial_id = args.trial or store.latest_trial_id()
        rows += validate(store.load_trial(int(trial_id)))
    else:
        store = Store(Path(tempfile.mkdtemp(prefix="whatif-validate-")) / "results.db")
        for path in stories(args.only):
            started = time.monotonic()
            print(f"running {path.stem} on the testbed ...", flush=True)
            trial_id = run_story(path, store, args.quick)
            print(
                f"  {path.stem}: {time.monotonic() - started:.0f}s; re-validate without load:"
                f" --store {store.path} --trial {trial_id}",
                flush=True,
            )
            rows += validate(store.load_trial(trial_id))
    print_table(rows)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
