"""The self-contained HTML page: sections, styles, plotly.js and the chart data in one file.

In: a `Report`. Out: one HTML string (and `write_html` writes it). Nothing in the page
points outside the file: plotly.js comes from the installed `plotly` package, embedded
once (gzip+base64 by default, which keeps a report near 2 MB; plain with
`compress_js=False` for browsers without DecompressionStream). The chart data is JSON
inside a `<script type="application/json">` with `<`, `>` and `&` written as \\u
escapes, so no `</script>` or `<!--` can ever close or confuse it.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from dataclasses import asdict
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from loadtrial.report import sections as sec
from loadtrial.report import tables, whatif_section
from loadtrial.report.evidence import doc
from loadtrial.report.model import Report, RunTimeline, TierSeries
from loadtrial.report.sections import esc, pill, when


@cache
def plotly_js() -> str:
    """The plotly.js bundle shipped with the installed plotly package (read once)."""
    from plotly.offline import get_plotlyjs

    text = str(get_plotlyjs())
    if "</script" in text.lower():  # never expected; would end our <script> early
        text = text.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")
    return text


@cache
def plotly_js_gzip_base64() -> str:
    """plotly.js gzip-compressed and base64-encoded: 1.96 MB instead of 4.8 MB.

    The page unpacks it with the browser's DecompressionStream (Chrome/Edge 80+,
    Firefox 113+, Safari 16.4+). Base64 has no `<`, so it is inert inside <script>.
    """
    raw = gzip.compress(plotly_js().encode("utf-8"), compresslevel=6, mtime=0)
    return base64.b64encode(raw).decode("ascii")


@cache
def asset(name: str) -> str:
    """One of the report's own assets (CSS, JS)."""
    return resources.files("loadtrial.report").joinpath("assets", name).read_text("utf-8")


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element: <, >, & and line separators escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(raw, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def axis_json(ts: Sequence[float]) -> dict[str, float] | list[float]:
    """A time axis as {start, step, n} when evenly spaced (the usual case), else as is."""
    n = len(ts)
    if n < 3:
        return list(ts)
    step = (ts[-1] - ts[0]) / (n - 1)
    if step > 0 and all(abs(t - (ts[0] + i * step)) < 1e-3 for i, t in enumerate(ts)):
        return {"start": ts[0], "step": round(step, 6), "n": n}
    return list(ts)


def run_json(run: RunTimeline) -> dict[str, Any]:
    """One run's chart data, compact: regular axes folded, utilisation left to the page."""
    doc = asdict(run)
    del doc["ok"]
    doc["t_s"] = axis_json(run.t_s)
    doc["tiers"] = [
        {
            "name": s.name,
            "unit": s.unit,
            "capacity": s.capacity,
            "t_s": axis_json(s.t_s),
            "values": s.values,
            # the page computes value × scale (util fraction); None: no utilisation known
            "scale": None if s.util is None else _scale(s),
        }
        for s in run.tiers
    ]
    return doc


def _scale(s: TierSeries) -> float:
    """The factor from a series' values to its utilisation fraction."""
    if s.capacity:
        return 1.0 / s.capacity
    return 0.01 if s.unit == "percent" else 1.0


def chart_data(r: Report) -> dict[str, Any]:
    """The compact data the page's script draws charts from."""
    return {
        "duration_s": r.duration_s,
        "slo_text": r.slo_text,
        "slo_p99_ms": r.slo_p99_ms,
        "runs": [run_json(run) for run in r.runs],
        "arms": [
            {
                "arm": a.arm,
                "slo": a.slo,
                "throughput": asdict(a.throughput_per_s),
                "latency": {k: asdict(v) for k, v in a.latency_ms.items()},
                "error_rate": a.error_rate,
            }
            for a in r.arms
        ],
        "bottleneck": doc(r.bottleneck) if r.bottleneck else None,
        "scalability": [doc(f) for f in r.scalability],
    }


def environment(r: Report) -> str:
    """Snapshot facts side by side per arm; the action journal."""
    heads = "".join(f"<th>{esc(a)}</th>" for a in r.env_arms)
    rows = []
    for row in r.env_rows:
        cls = "confounder" if row.confounder else "differs" if row.differs else ""
        cls += " changed" if row.changed_during_run else ""
        mark = ' <span class="pill bad">confounder</span>' if row.confounder else ""
        mark += ' <span class="pill muted">declared</span>' if row.declared and row.differs else ""
        mark += (
            ' <span class="pill warn">changed during run</span>' if row.changed_during_run else ""
        )
        cells = "".join(f"<td>{esc(row.values.get(a, ''))}</td>" for a in r.env_arms)
        rows.append(
            f'<tr class="{cls.strip()}"><th scope="row">{esc(row.key)}{mark}</th>{cells}</tr>'
        )
    facts = (
        f'<div class="table-wrap"><table class="env"><thead><tr><th>fact</th>{heads}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        if rows
        else '<p class="muted">No snapshots were recorded.</p>'
    )
    return (
        '<section id="environment" class="card"><h2>Environment</h2><p class="muted">Facts read '
        "back from the system before and after each run (\u201ca \u2192 b\u201d: changed during "
        "a run). Highlighted: differs between arms; red: not explained by the arms' "
        f"parameters.</p>{facts}{actions(r)}</section>"
    )


def actions(r: Report) -> str:
    """The provider's actions with their timings and status."""
    if not r.actions:
        return ""
    rows = "".join(
        f"<tr><td>{a.run_id if a.run_id is not None else '—'}</td><td>{esc(a.arm)}</td>"
        f"<td>{esc(a.name)}</td><td>{esc(when(a.started_at))}</td><td>{a.duration_s:.1f} s</td>"
        f"<td>{pill(a.status)}</td><td>{esc(a.error)}</td></tr>"
        for a in r.actions
    )
    return (
        '<details class="actions"><summary>Actions taken '
        f'({len(r.actions)})</summary><div class="table-wrap"><table><thead><tr><th>run</th>'
        "<th>arm</th><th>action</th><th>started</th><th>took</th><th>status</th><th>error</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></div></details>"
    )


def provenance(r: Report) -> str:
    """Trial file, version, host, store."""
    p = r.provenance
    facts = {
        "trial": f"{p.trial_name} (#{p.trial_id}), created {when(p.created_at)}",
        "trial file": f"{p.file_path} (sha {p.file_hash[:12]})",
        "loadtrial": f"{p.loadtrial_version} on Python {p.python_version}",
        "host": p.host,
        "store": p.store_path or "—",
        "report generated": when(p.generated_at),
    }
    items = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in facts.items())
    notes = "".join(f'<p class="muted">{esc(n)}</p>' for n in r.notes)
    return (
        '<section id="provenance" class="card"><h2>Provenance</h2>'
        f'<dl class="evidence">{items}</dl>'
        f"{notes}<details><summary>Trial file</summary><pre>{esc(p.file_text)}</pre></details>"
        "</section>"
    )


def plotly_script(compress: bool) -> str:
    """The plotly.js element: packed (unpacked by report.js) or as plain script."""
    if compress:
        return (
            '<script type="application/octet-stream" id="plotly-gz" data-encoding="gzip+base64">'
            f"{plotly_js_gzip_base64()}</script>"
        )
    return f"<script>{plotly_js()}</script>"


def render(r: Report, *, compress_js: bool = True) -> str:
    """Return the whole page (plotly.js packed unless `compress_js` is False)."""
    body = "".join(
        (
            sec.header(r),
            '<main class="wrap">',
            sec.verdict(r),
            sec.bottleneck(r),
            tables.arms_table(r),
            tables.requests_table(r),
            sec.timelines(r),
            environment(r),
            sec.scalability(r),
            whatif_section.section(r.whatif),
            tables.findings_list(r.findings),
            provenance(r),
            "</main>",
        )
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>{esc(r.title)} — loadtrial report</title>"
        f"<style>{asset('report.css')}</style></head><body>{body}"
        f'<script type="application/json" id="report-data">{script_json(chart_data(r))}</script>'
        f"{plotly_script(compress_js)}<script>{asset('report.js')}</script></body></html>\n"
    )


def write(r: Report, path: Path, *, compress_js: bool = True) -> Path:
    """Write the page to `path` (parents created); return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(r, compress_js=compress_js), encoding="utf-8")
    return path
