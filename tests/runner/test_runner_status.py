"""The trial's stored status from its runs'."""

from __future__ import annotations

from loadtrial.runner.finish import trial_status


def test_trial_status_precedence() -> None:
    assert trial_status([(1, "complete"), (2, "aborted")], False, False) == "aborted"
    assert trial_status([(1, "failed"), (2, "aborted")], False, False) == "failed"
    assert trial_status([(1, "complete")], False, True) == "failed"
    assert trial_status([(1, "interrupted")], True, False) == "interrupted"
    assert trial_status([(1, "complete")], False, False) == "complete"
