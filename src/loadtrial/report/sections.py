"""HTML of the report's sections, rendered from the document (every string escaped).

In: a `Report`. Out: HTML fragments (str). Tables and sentences are rendered here so the
page reads (and prints) without script; charts are empty containers the page's script
fills from the embedded JSON. Any text that came from a user or a server goes through
`esc`, never into markup raw.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from loadtrial.report.evidence import fields
from loadtrial.report.model import ArmRow, Band, ClaimView, Estimate, FindingView, Report
from loadtrial.report.verdict import story
from loadtrial.units import format_duration

STATUS_CLASS = {
    "supported": "good",
    "pass": "good",
    "refuted": "bad",
    "fail": "bad",
    "mixed": "warn",
    "inconclusive": "warn",
}


def esc(value: object) -> str:
    """Escape any value for HTML text and attribute context."""
    return html.escape(str(value), quote=True)


def pill(status: str, label: str = "") -> str:
    """A status label coloured by `status` (showing `label` when given)."""
    cls = STATUS_CLASS.get(status, "muted")
    return f'<span class="pill {cls}">{esc(label or status)}</span>'


def when(unix: float | None) -> str:
    """UTC time for display."""
    if unix is None:
        return "—"
    return datetime.fromtimestamp(unix, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ms(value: float | None) -> str:
    """A latency in ms with sensible precision."""
    if value is None:
        return "—"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def est_ms(e: Estimate) -> str:
    """A latency estimate with its interval."""
    if e.value is None:
        return "—"
    ci = ""
    if e.low is not None and e.high is not None:
        ci = f'<span class="ci" title="95% CI, {esc(e.method)}">{ms(e.low)} – {ms(e.high)}</span>'
    return f'<span class="num">{ms(e.value)}</span>{ci}'


def effect_text(c: ClaimView) -> str:
    """The effect of a claim and its interval, in the effect's unit (plain text)."""
    if c.effect is None:
        return ""
    relative = c.effect_unit in ("%", "fraction") or "relative" in c.effect_unit
    unit = "" if relative else f" {c.effect_unit}".rstrip()

    def fmt(x: float) -> str:
        return f"{x:+.1%}" if relative else f"{x:+.3g}{unit}"

    text = f"effect {fmt(c.effect)}"
    if c.ci_low is not None and c.ci_high is not None:
        text += f" (95% CI {fmt(c.ci_low)} … {fmt(c.ci_high)})"
    if relative and "relative" in c.effect_unit:
        text += f" {c.effect_unit.replace('relative', '').strip()}"
    return text.strip()


def _n(count: int, noun: str) -> str:
    """ "1 run", "6 runs"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def header(r: Report) -> str:
    """The title bar."""
    p = r.provenance
    bits = [
        f"trial #{p.trial_id}",
        when(p.created_at),
        f"{_n(len(r.arms), 'arm')} × {_n(r.repeat, 'repetition')} = {_n(len(r.runs), 'run')}",
    ]
    if r.load_text:
        bits.append(f"load {r.load_text}")
    if r.slo_text:
        bits.append(f"SLO {r.slo_text}")
    meta = " · ".join(esc(b) for b in bits)
    return (
        '<header class="top"><div class="brand"><span class="logo">◆</span> loadtrial</div>'
        f'<h1>{esc(r.title)}</h1><div class="meta">{meta}</div></header>'
    )


def verdict(r: Report) -> str:
    """Verdict first: hypothesis, claims, confounders in red, arms at a glance."""
    cls = STATUS_CLASS.get(r.overall, "neutral")  # not "muted": that greys the whole card
    hypothesis = r.hypothesis or "(no hypothesis stated)"
    shaky = sum(1 for c in r.claims if c.rests_on_confounder)
    caveat = (
        f'<span class="caveat">but {shaky} of {len(r.claims)} claim(s) rest on a confounder</span>'
        if shaky
        else ""
    )
    claims = "".join(_claim(c) for c in r.claims) or (
        '<li class="claim none">No claims declared (<code>expect:</code> in the trial file): '
        "the exit code follows the arms' SLOs.</li>"
    )
    conf = ""
    if r.confounders:
        items = "".join(
            f"<li><b>{esc(fact)}</b> — {esc('; '.join(why))}</li>"
            for fact, why in grouped_confounders(r.confounders).items()
        )
        conf = f'<div class="confounders"><h3>⚠ Confounders</h3><ul>{items}</ul></div>'
    return (
        f'<section id="verdict" class="card verdict {cls}">'
        f'<div class="verdict-head"><span class="verdict-label">Verdict</span>'
        f'<span class="verdict-word {cls}">{esc(r.overall)}</span>{caveat}</div>'
        f'<blockquote class="hypothesis">{esc(hypothesis)}</blockquote>{_story(r)}'
        f'<ol class="claims">{claims}</ol>{conf}{_glance(r.arms)}</section>'
    )


def _story(r: Report) -> str:
    """What broke and what met the SLO, under the hypothesis (see verdict.story)."""
    lines = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in story(r))
    return f'<dl class="story">{lines}</dl>' if lines else ""


def grouped_confounders(found: Iterable[FindingView]) -> dict[str, list[str]]:
    """Confounder sentences grouped by fact ("confounder: " prefixes dropped)."""
    out: dict[str, list[str]] = {}
    for c in found:
        text = c.summary.removeprefix("confounder: ").strip()
        if text not in out.setdefault(c.subject, []):
            out[c.subject].append(text)
    return out


def _claim(c: ClaimView) -> str:
    """One claim line."""
    warn = ' <span class="pill bad">rests on a confounder</span>' if c.rests_on_confounder else ""
    eff = "" if "95% CI" in c.summary else effect_text(c)  # the sentence quotes it already
    eff_html = f'<div class="effect">{esc(eff)}</div>' if eff else ""
    summary = f'<div class="summary">{esc(c.summary)}</div>' if c.summary else ""
    return (
        f'<li class="claim">{pill(c.status)}<div><div class="claim-text">{esc(c.text)}{warn}</div>'
        f"{summary}{eff_html}</div></li>"
    )


def _glance(arms: Iterable[ArmRow]) -> str:
    """One tile per arm: SLO, p99, error rate, throughput."""
    tiles = []
    for a in arms:
        p99 = a.latency_ms.get("p99", Estimate(None)).value
        err = "—" if a.error_rate is None else f"{a.error_rate:.2%}"
        tput = a.throughput_per_s.value
        params = " · ".join(f"{k}={v}" for k, v in a.params.items())
        tiles.append(
            f'<div class="tile {STATUS_CLASS.get(a.slo, "neutral")}"><div class="tile-head">'
            f'<span class="arm">{esc(a.arm)}</span>{pill(a.slo, "SLO " + a.slo)}</div>'
            f'<div class="tile-params">{esc(params)}</div>'
            '<div class="kpis"><div><span class="k">p99</span>'
            f'<span class="v">{ms(p99)}</span></div>'
            f'<div><span class="k">errors</span><span class="v">{esc(err)}</span></div>'
            f'<div><span class="k">ok/s</span><span class="v">'
            f"{'—' if tput is None else f'{tput:.0f}/s'}</span></div></div></div>"
        )
    return f'<div class="tiles">{"".join(tiles)}</div>'


def bottleneck(r: Report) -> str:
    """The bottleneck sentence, its evidence chart, and every arm's own bottleneck."""
    if r.bottleneck is None:
        body = '<p class="muted">No bottleneck was identified.</p>'
    else:
        b = r.bottleneck
        where = f"arm {b.arm}" if b.arm else ""
        body = (
            f'<p class="sentence">{esc(b.summary)}</p>{evidence_list(fields(b.evidence))}'
            f'<div class="chart" id="chart-bottleneck" data-chart="bottleneck" '
            f'aria-label="evidence for {esc(where)}"></div>'
            '<p class="muted caption">Utilisation of the resource (left axis) against p99 '
            "(right, log) and errors per second (bars) on the run's clock; dashed: onset; "
            "red: saturated; grey: outside the analysed window.</p>"
        )
        others = [f for f in r.bottlenecks if f is not b]
        if others:
            items = "".join(f"<li>{esc(f.summary)}</li>" for f in others)
            body += f'<h3>Other arms</h3><ul class="others">{items}</ul>'
    return f'<section id="bottleneck" class="card"><h2>Bottleneck</h2>{body}</section>'


def evidence_list(ev: Mapping[str, Any]) -> str:
    """Render any evidence mapping (generic, escaped): scalars inline, the rest folded."""
    if not ev:
        return ""
    flat = {k: v for k, v in ev.items() if v is None or isinstance(v, str | int | float)}
    nested = {k: v for k, v in ev.items() if k not in flat}
    items = "".join(
        f"<div><dt>{esc(k)}</dt><dd>{esc(_short(v, k))}</dd></div>" for k, v in flat.items()
    )
    out = f'<dl class="evidence">{items}</dl>' if items else ""
    if nested:
        text = json.dumps(nested, ensure_ascii=False, separators=(", ", ": "), default=str)
        out += f'<details class="more"><summary>evidence</summary><pre>{esc(text)}</pre></details>'
    return out


def _short(value: Any, key: str = "") -> str:
    """A value in at most ~120 characters (floats to 4 significant digits; a utilisation
    or share as a percentage: peak_util 1.0 reads "100%")."""
    if isinstance(value, int | float) and key.endswith(("_util", "_share")):
        return f"{value:.0%}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "…"


def timelines(r: Report) -> str:
    """One chart per run on a shared time axis."""
    blocks = []
    for i, run in enumerate(r.runs):
        status = "" if run.status == "complete" else f" {pill(run.status)}"
        reason = f' <span class="muted">{esc(run.abort_reason)}</span>' if run.abort_reason else ""
        blocks.append(
            f'<div class="run"><h3>run {run.run_id} · <span class="arm">{esc(run.arm)}</span> · '
            f"repetition {run.repetition}{status}{reason}</h3>"
            f"{_run_chart(i, bool(run.t_s))}{_events(run.events)}</div>"
        )
    return (
        '<section id="timelines" class="card"><h2>Timelines</h2><p class="muted">All runs on one '
        f"time axis (0–{esc(format_duration(r.duration_s))}). Latency is measured from the "
        "intended send time; the uncorrected series are in the legend (click to show). "
        "Shaded: outside the analysed window or warm-up (grey), saturation (red); dashed line: "
        "bottleneck onset; triangles: events.</p>"
        f"{''.join(blocks)}</section>"
    )


def _run_chart(index: int, measured: bool) -> str:
    """A run's chart container, or a note when the run recorded no second of load."""
    if not measured:
        return '<p class="muted">No per-second measurements were recorded for this run.</p>'
    attrs = f'id="chart-run-{index}" data-chart="run" data-index="{index}"'
    return f'<div class="chart tall" {attrs}></div>'


def _events(events: Iterable[Band]) -> str:
    """A run's events (aborts, observer faults) as a compact list under its chart."""
    items = "".join(f"<li><b>t={e.start_s:.0f}s</b> {esc(e.label)}</li>" for e in events)
    return f'<ul class="events">{items}</ul>' if items else ""


def scalability(r: Report) -> str:
    """USL fits, when the analysis made one."""
    if not r.scalability:
        return ""
    parts = []
    for i, f in enumerate(r.scalability):
        parts.append(
            f'<h3>{esc(f.subject)}</h3><p class="sentence">{esc(f.summary)}</p>'
            f"{evidence_list({k: v for k, v in fields(f.evidence).items() if k != 'points'})}"
            f'<div class="chart" id="chart-usl-{i}" data-chart="usl" data-index="{i}"></div>'
        )
    return f'<section id="scalability" class="card"><h2>Scalability</h2>{"".join(parts)}</section>'
