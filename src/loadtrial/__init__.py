"""loadtrial: load testing as an experiment.

A trial file states a hypothesis and the arms (configurations) that test it; loadtrial
drives the load, observes every tier on one clock, verifies the environment of every run,
names the bottleneck and judges the hypothesis. See README.md and the package folders:
spec → runner → (env, load, observe, store) → analysis → report.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
