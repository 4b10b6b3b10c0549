"""whatif: predict a topology from a measured arm, before provisioning it.

Door: `model_from_arm(data, trial, arm) -> WhatifModel` (measure.py), `with_settings`
(model.py: the `--set` knobs), `predict(model) -> Prediction` and `sweep`/`find_knee`
(predict.py), `self_check(data, trial) -> list[SelfCheck]` (selfcheck.py). The solver is a
SimPy simulation (simulate.py, its pools in pools.py) for finite pools, blocking and
timeouts; `formulas.py` holds the closed forms (Erlang B/C, M/M/c/K) it is checked against;
profile.py reads one request's unloaded time from a run, runstart.py how its runs start
(cold pools, the cost of a new connection). See docs/whatif.md.
"""

from __future__ import annotations

from loadtrial.whatif.measure import model_from_arm
from loadtrial.whatif.model import WhatifModel, from_doc, to_doc, with_settings
from loadtrial.whatif.predict import Figure, Prediction, find_knee, predict, sweep
from loadtrial.whatif.selfcheck import SelfCheck, SelfCheckResult, self_check

__all__ = [
    "Figure",
    "Prediction",
    "SelfCheck",
    "SelfCheckResult",
    "WhatifModel",
    "find_knee",
    "from_doc",
    "model_from_arm",
    "predict",
    "self_check",
    "sweep",
    "to_doc",
    "with_settings",
]
