"""What the undo journal costs a provider step: one `intended` row before it and one
settle after, each synced to disk (synchronous=FULL), against the step's Action row
(synchronous=NORMAL), measured on a store in a temporary folder.

A provider step (an SSH command, an instance stop, a database restart) takes from tens
of milliseconds to minutes; the figures say how small a share the journal adds.

    python bench/journal_writes.py [--steps 500]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from loadtrial.env.model import DONE, Action
from loadtrial.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "r.db") as store:
        trial = store.create_trial(name="bench")
        journal_us: list[float] = []
        action_us: list[float] = []
        for k in range(args.steps):
            t = time.perf_counter()
            entry = store.journal_intend(trial, None, env_key="bench", provider="shell",
                                         name=f"step {k}", undo={"revert": ["true"]})  # fmt: skip
            store.journal_settle(entry, DONE)
            journal_us.append((time.perf_counter() - t) * 1e6)
            t = time.perf_counter()
            store.add_action(trial, None, Action(f"step {k}", 0.0, 0.0, "ok"))
            action_us.append((time.perf_counter() - t) * 1e6)
    jm, am = statistics.median(journal_us), statistics.median(action_us)
    print(f"journal intend+settle (synced): median {jm:.0f} µs, "
          f"p95 {statistics.quantiles(journal_us, n=20)[-1]:.0f} µs per step")  # fmt: skip
    print(f"action row (not synced):        median {am:.0f} µs")
    print(f"ratio journal / action: {jm / am:.1f}x over {args.steps} steps")


if __name__ == "__main__":
    main()
