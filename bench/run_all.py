"""Run every benchmark script in bench/ (each prints its own figures) and say which failed.

A benchmark is any bench/*.py with a `__main__` block, except this driver. Extra
arguments after `--` go to every script; `--only WORD` runs the scripts whose name holds it.

    python bench/run_all.py [--only load_] [-- --duration 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def scripts(only: str) -> list[Path]:
    """Return the benchmark scripts to run, sorted by name."""
    out = []
    for path in sorted(HERE.glob("*.py")):
        if path.name == Path(__file__).name or only not in path.name:
            continue
        if 'if __name__ == "__main__"' in path.read_text():
            out.append(path)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run scripts whose name contains this")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per script")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    failed = []
    for path in scripts(args.only):
        print(f"\n=== {path.name} ===", flush=True)
        started = time.monotonic()
        try:
            code = subprocess.run(
                [sys.executable, str(path), *extra], timeout=args.timeout
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
        print(f"--- {path.name}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            failed.append(path.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
