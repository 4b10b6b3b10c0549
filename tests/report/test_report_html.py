"""The HTML page: self-contained, escaped everywhere, small; the terminal summary; JSON."""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
from pathlib import Path

import pytest
import report_synth as synthetic
from rich.console import Console

from loadtrial.report import print_summary, to_json, write_html
from loadtrial.report.page import plotly_js, plotly_js_gzip_base64, script_json

EVIL = "<script>alert('x')</script><!--"


def _without_plotly(page: str) -> str:
    """The page minus the embedded plotly.js bundle (third-party code we do not write)."""
    bundle = plotly_js_gzip_base64() if 'id="plotly-gz"' in page else plotly_js()
    assert page.count(bundle) == 1
    return page.replace(bundle, "")


@pytest.fixture(scope="module")
def evil_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, synthetic.Scenario]:
    sc = synthetic.Scenario(
        arms=(f"arm{EVIL}", "b</script>", "c&amp;"),
        repeat=1,
        seconds=12,
        hypothesis=f"hyp {EVIL}",
        fact_suffix=EVIL,
        event_message=f"event {EVIL}",
        name=f"name{EVIL}",
        values_per_second=30,
    )
    data, trial, findings = synthetic.scenario(sc)
    path = write_html(data, trial, findings, tmp_path_factory.mktemp("r") / "evil.html")
    return path.read_text(encoding="utf-8"), sc


def test_no_hostile_string_survives_unescaped(evil_page: tuple[str, synthetic.Scenario]) -> None:
    page, _ = evil_page
    ours = _without_plotly(page)
    # exactly our three script elements, none opened or closed by data
    assert len(re.findall(r"<script", ours, re.IGNORECASE)) == 3
    assert len(re.findall(r"</script", ours, re.IGNORECASE)) == 3
    assert "<!--" not in ours
    assert "alert('x')</script>" not in ours
    # the escaped text is there where people read it
    assert "hyp &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&lt;!--" in ours
    assert "event &lt;script&gt;" in ours  # the all-findings / evidence text
    assert "c&amp;amp;" in ours


def test_embedded_json_round_trips_the_original_strings(
    evil_page: tuple[str, synthetic.Scenario],
) -> None:
    page, sc = evil_page
    match = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S
    )
    assert match is not None
    raw = match.group(1)
    assert "<" not in raw and ">" not in raw and "&" not in raw.replace("\\u0026", "")
    data = json.loads(raw)
    assert [r["arm"] for r in data["runs"]] == list(sc.arms)
    assert any(sc.event_message in e["label"] for r in data["runs"] for e in r["events"])


def test_script_json_escapes_what_could_end_a_script() -> None:
    text = script_json({"a": "</script><!--<b>&\u2028"})
    assert "</" not in text and "<!--" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!--<b>&\u2028"}


def test_page_is_self_contained(evil_page: tuple[str, synthetic.Scenario]) -> None:
    ours = _without_plotly(evil_page[0])
    assert not re.search(r"https?://", ours)
    assert not re.search(r"\b(src|href)\s*=", ours, re.IGNORECASE)
    assert "@import" not in ours and "url(" not in ours


def test_plotly_is_embedded_once_packed_or_plain(tmp_path: Path) -> None:
    sc = synthetic.Scenario(repeat=1, seconds=10, values_per_second=20)
    data, trial, findings = synthetic.scenario(sc)
    packed = write_html(data, trial, findings, tmp_path / "a.html").read_text("utf-8")
    plain = write_html(data, trial, findings, tmp_path / "b.html", compress_js=False)
    plain_text = plain.read_text("utf-8")
    assert packed.count(plotly_js_gzip_base64()) == 1 and plotly_js()[:200] not in packed
    assert plain_text.count(plotly_js()) == 1 and 'id="plotly-gz"' not in plain_text
    unpacked = gzip.decompress(base64.b64decode(plotly_js_gzip_base64())).decode("utf-8")
    assert unpacked == plotly_js()
    assert len(packed) < 2_200_000 < 4_800_000 < len(plain_text)


def test_full_size_trial_stays_under_5_mb(tmp_path: Path) -> None:
    data, trial, findings = synthetic.scenario()  # 3 arms × 3 reps × 60 s
    path = write_html(data, trial, findings, tmp_path / "report.html", compress_js=False)
    size = path.stat().st_size
    assert size < 5_000_000, size  # even with plotly.js unpacked
    page = path.read_text(encoding="utf-8")
    for section in ("verdict", "bottleneck", "arms", "timelines", "environment", "provenance"):
        assert f'id="{section}"' in page
    assert page.count('data-chart="run"') == 9
    assert page.index('id="verdict"') < page.index('id="bottleneck"') < page.index('id="arms"')


def test_terminal_summary_mirrors_the_verdict() -> None:
    sc = synthetic.Scenario(repeat=1, seconds=12, values_per_second=20, hypothesis="[bold]x[/]")
    data, trial, findings = synthetic.scenario(sc)
    out = io.StringIO()
    print_summary(data, trial, findings, Console(file=out, width=120, color_system=None))
    text = out.getvalue()
    assert "[bold]x[/]" in text  # user text is not parsed as markup
    assert "INCONCLUSIVE" in text and "bigger-db meets the SLO" in text  # its writer flipped
    assert "confounder db.writer" in text and "Bottleneck:" in text
    assert "FAIL" in text and "PASS" in text


def test_json_has_the_same_content() -> None:
    sc = synthetic.Scenario(repeat=1, seconds=12, values_per_second=20)
    data, trial, findings = synthetic.scenario(sc)
    doc = json.loads(json.dumps(to_json(data, trial, findings), allow_nan=False))
    assert doc["format"] == "loadtrial.report/1"
    assert doc["overall"] == "inconclusive"
    # one run per arm: the comparison decides nothing; the writer flip confounds claim 1
    assert [c["status"] for c in doc["claims"]] == ["inconclusive", "inconclusive"]
    finding = {f["subject"]: f for f in doc["findings"] if f["kind"] == "verdict"}
    assert [finding[f"claim {i}"]["status"] for i in (1, 2)] == ["inconclusive"] * 2
    assert {a["arm"] for a in doc["arms"]} == set(sc.arms)
    assert doc["provenance"]["trial_name"] == sc.name


def test_hostile_strings_through_the_real_analysis_stay_escaped(tmp_path: Path) -> None:
    import loadtrial.analysis as analysis

    sc = synthetic.Scenario(
        arms=(f"x{EVIL}", "y</script>", "z"),
        repeat=2,
        seconds=15,
        hypothesis=EVIL,
        fact_suffix=EVIL,
        event_message=EVIL,
        values_per_second=30,
    )
    data, trial, _ = synthetic.scenario(sc)
    findings = analysis.analyze_trial(data, trial)
    page = write_html(data, trial, findings, tmp_path / "r.html").read_text("utf-8")
    ours = _without_plotly(page)
    assert len(re.findall(r"<script", ours, re.IGNORECASE)) == 3
    assert len(re.findall(r"</script", ours, re.IGNORECASE)) == 3
    assert "<!--" not in ours


def test_first_screen_tells_what_broke_and_quotes_an_effect_once() -> None:
    from dataclasses import replace

    from loadtrial.report import build_report
    from loadtrial.report.model import ClaimView
    from loadtrial.report.sections import evidence_list, verdict

    sc = synthetic.Scenario(repeat=1, seconds=12, values_per_second=20)
    r = build_report(*synthetic.scenario(sc))
    head = verdict(r)
    broke = "db connections (db.connections.used at 100% of 20) in baseline, more-app-nodes"
    assert f'<dl class="story"><div><dt>What broke</dt><dd>{broke}</dd>' in head
    assert head.index('class="story"') < head.index('class="claims"')
    quoted = "error_rate 40% vs 25% (+62%, 95% CI +32%..+76%, p=4.6e-08); significantly higher"
    claim = ClaimView(
        3, "c", "supported", quoted, 0.62, 0.32, 0.76, "relative error_rate", False, {}
    )
    r2 = replace(r, claims=(claim,))
    assert 'class="effect"' not in verdict(r2) and quoted in verdict(r2)
    bare = replace(claim, summary="supported")
    assert 'class="effect"' in verdict(replace(r, claims=(bare,)))
    assert "<dd>100%</dd>" in evidence_list({"peak_util": 1.0})
    out = io.StringIO()
    print_summary(*synthetic.scenario(sc), Console(file=out, width=120, color_system=None))
    assert f"What broke: {broke}" in " ".join(out.getvalue().split())


def test_a_trial_without_claims_is_not_greyed_out() -> None:
    from loadtrial.report import build_report
    from loadtrial.report.sections import verdict

    sc = synthetic.Scenario(repeat=1, seconds=12, values_per_second=20)
    data, trial, findings = synthetic.scenario(sc)
    bare = trial.model_copy(update={"expect": ()})
    head = verdict(build_report(data, bare, [f for f in findings if f.kind != "verdict"]))
    assert head.startswith('<section id="verdict" class="card verdict neutral">')
    assert '<li class="claim none">No claims declared' in head
    assert "verdict muted" not in head  # .muted greyed and shrank every line of the card
