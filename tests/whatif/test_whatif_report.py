"""The report's what-if section: a miss is marked and counted; unmodelled arms say why."""

from __future__ import annotations

from loadtrial.report.whatif_section import WhatifRow, section


def _row(arm: str, holds: bool, measured_errors: float) -> WhatifRow:
    return WhatifRow(arm, "baseline", (60.0, 54.0, 66.0), (1.1, 1.0, 1.2), (0.0, 0.0, 0.03),
                     "none", 60.0, 1.05, measured_errors, holds, "s")  # fmt: skip


def test_a_prediction_outside_its_interval_is_marked_and_counted() -> None:
    html = section([_row("bigger-db", True, 0.0), _row("other", False, 0.2)])
    assert "1 of 2 predictions fell outside" in html
    assert html.count("outside: do not trust") == 1
    assert html.count('class="bad"') == 1  # only the error-rate cell of the miss


def test_unmodelled_arms_are_listed_and_nothing_shows_without_rows() -> None:
    note = WhatifRow("x", "", None, None, None, "", None, None, None, True, "no model <x>")
    html = section([_row("bigger-db", True, 0.0), note])
    assert "All 1 predictions held" in html and "no model &lt;x&gt;" in html
    assert section([]) == ""
