"""report: one self-contained HTML page per trial, the terminal summary, and JSON.

In: the stored TrialData, the validated Trial and the analysis findings. Out:

    write_html(data, trial, findings, path) -> Path     the offline, interactive page
    print_summary(data, trial, findings, console)        the verdict section, in rich
    to_json(data, trial, findings) -> dict               the same content, as data
    build_report(data, trial, findings) -> Report        the typed document behind all three

The document (model.py) is built once by pure code (build.py, verdict.py, environment.py,
stats.py); page.py/sections.py render HTML, terminal.py the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from loadtrial.findings import Finding
from loadtrial.report import evidence
from loadtrial.report.build import build_report
from loadtrial.report.model import Report
from loadtrial.report.page import write
from loadtrial.report.terminal import print_report_summary
from loadtrial.report.verdict import story
from loadtrial.spec.model import Trial
from loadtrial.store.model import TrialData

__all__ = ["Report", "build_report", "print_summary", "to_json", "write_html"]


def write_html(
    data: TrialData,
    trial: Trial,
    findings: Sequence[Finding],
    path: Path,
    *,
    store_path: str = "",
    compress_js: bool = True,
) -> Path:
    """Write the trial's report to `path` as one offline HTML file; return the path.

    `compress_js=False` embeds plotly.js as plain script (4.8 MB instead of 2 MB) for
    browsers older than DecompressionStream (Safari < 16.4, Firefox < 113).
    """
    doc = build_report(data, trial, findings, store_path=store_path)
    return write(doc, Path(path), compress_js=compress_js)


def print_summary(
    data: TrialData, trial: Trial, findings: Sequence[Finding], console: Console
) -> None:
    """Print the verdict section (hypothesis, claims, confounders, bottleneck, arms)."""
    print_report_summary(build_report(data, trial, findings), console)


def to_json(
    data: TrialData, trial: Trial, findings: Sequence[Finding], *, store_path: str = ""
) -> dict[str, Any]:
    """Return the report's content as JSON-able data (same content as the page)."""
    report = build_report(data, trial, findings, store_path=store_path)
    doc: dict[str, Any] = evidence.doc(report)
    doc["story"] = {key: text for key, text in story(report)}  # "What broke", "Met the SLO"
    doc["format"] = "loadtrial.report/1"
    return doc
