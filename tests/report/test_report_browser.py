"""The report in a real browser: headless Chromium opens it offline, draws every chart,
logs no error, asks for nothing outside the file; the first screen is kept as artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest
import report_synth as synthetic
from report_browser import check_page

from loadtrial.report import write_html

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_report_renders_in_chromium(chromium: str, tmp_path: Path) -> None:
    sc = synthetic.Scenario(repeat=2, seconds=60, values_per_second=100)
    data, trial, findings = synthetic.scenario(sc)
    page = write_html(data, trial, findings, tmp_path / "report.html", store_path="results.db")

    seen = check_page(chromium, page, tmp_path / "profile")

    ARTIFACTS.mkdir(exist_ok=True)
    for scheme, png in seen.screenshots.items():
        (ARTIFACTS / f"report-first-screen-{scheme}.png").write_bytes(png)
    assert seen.render_error is None
    assert seen.errors == []
    assert [u for u in seen.requests if not u.startswith(("file:", "data:", "blob:"))] == []
    fits = sum(1 for f in findings if f.kind == "scalability" and f.status == "fit")
    charts = 2 + len(data.runs) + fits  # bottleneck, arms, one per run, one per USL fit
    assert seen.rendered == f"{charts}/{charts}"
    assert len(seen.drawn) == charts and all(n > 0 for n in seen.drawn.values()), seen.drawn
    assert all(len(png) > 10_000 for png in seen.screenshots.values())
    assert seen.synced_range == [10, 20]  # one time axis: zooming one run zooms them all
    assert seen.pdf.startswith(b"%PDF") and len(seen.pdf) > 50_000  # print keeps the charts
    (ARTIFACTS / "report.pdf").write_bytes(seen.pdf)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_hostile_strings_do_not_run_in_the_browser_plain_js(chromium: str, tmp_path: Path) -> None:
    evil = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"
    sc = synthetic.Scenario(
        arms=(f"a{evil}", "b</script><!--"),
        repeat=1,
        seconds=20,
        hypothesis=evil,
        fact_suffix=evil,
        event_message=evil,
        values_per_second=50,
    )
    data, trial, findings = synthetic.scenario(sc)
    page = write_html(data, trial, findings, tmp_path / "evil.html", compress_js=False)

    seen = check_page(chromium, page, tmp_path / "profile")

    assert seen.errors == []
    assert [u for u in seen.requests if not u.startswith(("file:", "data:", "blob:"))] == []
    assert seen.title is not None and "pwned" not in seen.title
    assert not any(u.endswith("/x") for u in seen.requests)  # the <img src=x> never became markup
    assert seen.rendered is not None and seen.rendered.split("/")[0] == seen.rendered.split("/")[1]
