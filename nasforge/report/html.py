"""The experiment report: one self-contained HTML file (inline CSS and SVG, no scripts, nothing fetched).

Every string from the storage (experiment name, arch values, errors) is escaped on the way in.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from nasforge.report.arch_view import cell_svg, format_count, layer_table
from nasforge.report.data import ExperimentView, load_view, trial_table
from nasforge.report.svg import Point, scatter_chart
from nasforge.storage import BaseStorage
from nasforge.trial import TrialRecord

__all__ = ["STYLE", "render_body", "render_report", "write_report"]

SHOWN_EFFECTS = 12

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1080px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 12.5px; } td, th { padding: 2px 8px; text-align: left; }
th { background: #f4f4f4; position: sticky; top: 0; } tr:nth-child(even) td { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } .muted { color: #777; }
.chart text, .cell text { font-size: 11px; fill: #333; } .chart text.axis { font-size: 12px; }
.bar { display: inline-block; height: 10px; background: #4c78a8; vertical-align: middle; }
.state-failed td { color: #a33; } .state-running td { color: #2a6; } .scroll { max-height: 480px; overflow: auto; }
.facts td:first-child { color: #555; padding-right: 16px; } .charts { display: flex; flex-wrap: wrap; gap: 12px; }
.effects { display: flex; flex-wrap: wrap; gap: 8px 28px; } .effects h3 { font-size: 13px; margin: 8px 0 2px; }
"""


def write_report(name: str, storage: str | BaseStorage, path: str | Path) -> Path:
    """Write the report of experiment `name` to the HTML file `path`; returns the path."""
    out = Path(path)
    html = render_report(load_view(name, storage))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


def render_report(view: ExperimentView, head_extra: str = "") -> str:
    """The whole page: title, style and `render_body`."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(view.name)} - nasforge report</title><style>{STYLE}</style>{head_extra}</head>"
        f"<body>{render_body(view)}</body></html>\n"
    )


def render_body(view: ExperimentView) -> str:
    parts = [_header(view), _progress(view), _costs(view), _front(view), _effects(view), _best_arch(view)]
    parts.append(_trials(view))
    return "\n".join(p for p in parts if p)


def _num(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e5 else format_count(v)
    return escape(str(v))


def _table(rows: Sequence[Mapping[str, Any]], cls: str = "", row_class: str | None = None) -> str:
    if not rows:
        return '<p class="muted">(none)</p>'
    cols = list(rows[0])
    head = "".join(f"<th>{escape(str(c))}</th>" for c in cols)
    body = []
    for r in rows:
        css = f' class="state-{escape(str(r.get(row_class)))}"' if row_class else ""
        cells = "".join(
            f'<td class="num">{_num(r[c])}</td>'
            if isinstance(r[c], (int, float)) and not isinstance(r[c], bool)
            else f"<td>{_num(r[c])}</td>"
            for c in cols
        )
        body.append(f"<tr{css}>{cells}</tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _header(view: ExperimentView) -> str:
    s = view.summary()
    spec = view.config.get("spec") or {}
    facts: list[tuple[str, str]] = [
        ("status", view.status),
        ("trials", ", ".join(f"{v} {k}" for k, v in view.counts().items() if v and k != "trials") or "none yet"),
        ("objectives", ", ".join(f"{o.direction} {o.metric}" for o in view.objectives)),
    ]
    if view.constraints:
        facts.append(("constraints", ", ".join(map(str, view.constraints))))
    if s["best"] is not None:
        facts.append(("best", f"{_num(s['best'])} (trial {s['best_trial']})"))
    facts.append(("strategy", str(view.config.get("strategy", ""))))
    for key in ("space", "dataset"):
        if isinstance(spec.get(key), Mapping):
            facts.append((key, json.dumps(spec[key])))
        elif key == "space" and view.config.get("space_class"):
            facts.append((key, str(view.config["space_class"])))
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in facts)
    return (
        f'<h1>{escape(view.name)}</h1><p class="muted">nasforge report, {now}</p>'
        f'<table class="facts"><tbody>{rows}</tbody></table>'
    )


def _tip(r: TrialRecord, metrics: Sequence[str]) -> str:
    values = ", ".join(f"{m}={_num(r.metrics.get(m))}" for m in metrics if m in r.metrics)
    return f"trial {r.number}: {values}"


def _progress(view: ExperimentView) -> str:
    points = view.best_so_far()
    if not points:
        return '<h2>Best so far</h2><p class="muted">No completed trials yet.</p>'
    metric = view.objective.metric
    best_trial = view.best
    # x is the count of finished trials: with parallel workers trials finish out of number order
    plotted = [
        Point(
            i + 1,
            p["value"],
            f"trial {int(p['trial'])} (finished {i + 1}.): {metric}={p['value']:.4g}",
            "best" if best_trial is not None and int(p["trial"]) == best_trial.number else "point",
        )
        for i, p in enumerate(points)
    ]
    steps = [(i + 1, p["best"]) for i, p in enumerate(points)]
    chart = scatter_chart(plotted, "trials finished", metric, step_line=steps, title=f"best {metric} so far")
    return f"<h2>Best so far</h2>{chart}"


def _costs(view: ExperimentView) -> str:
    costs = view.cost_metrics()
    if not costs:
        return ""
    metric = view.objective.metric
    front = {r.number for r in view.front}
    best = view.best
    charts = []
    for cost in costs:
        points = [
            Point(
                float(r.metrics[cost]),
                float(r.metrics[metric]),
                _tip(r, [metric, cost]),
                "best" if best is not None and r.number == best.number else "front" if r.number in front else "point",
            )
            for r in view.complete
            if cost in r.metrics
        ]
        charts.append(scatter_chart(points, cost, metric, log_x=cost in ("params", "flops")))
    return f'<h2>Trials against their cost</h2><div class="charts">{"".join(charts)}</div>'


def _front(view: ExperimentView) -> str:
    if len(view.objectives) < 2:
        return ""
    a, b = view.objectives[0].metric, view.objectives[1].metric
    front = view.front
    members = {r.number for r in front}
    points = [
        Point(float(r.metrics[b]), float(r.metrics[a]), _tip(r, [a, b]), "front" if r.number in members else "point")
        for r in view.complete
        if b in r.metrics
    ]
    chart = scatter_chart(points, b, a, connect_front=True, title="Pareto front")
    rows = [
        {"trial": r.number, **{o.metric: r.metrics.get(o.metric) for o in view.objectives}, "arch": r.arch.id}
        for r in front
    ]
    extra = f" over {', '.join(o.metric for o in view.objectives[2:])} too" if len(view.objectives) > 2 else ""
    return (
        f"<h2>Pareto front</h2><p>{len(front)} non-dominated of {len(view.complete)} completed trials "
        f"({escape(a)} against {escape(b)}{escape(extra)}).</p>{chart}{_table(rows)}"
    )


def _effects(view: ExperimentView) -> str:
    effects = view.decision_effects()
    if not effects:
        return ""
    metric = view.objective.metric
    blocks = []
    lo = min(v[2] for e in effects for v in e.values)
    hi = max(v[2] for e in effects for v in e.values)
    span = (hi - lo) or 1.0
    for e in effects[:SHOWN_EFFECTS]:
        rows = "".join(
            f"<tr><td>{escape(value)}</td><td class='num'>{n}</td><td class='num'>{mean:.4g}</td>"
            f"<td class='num'>{best:.4g}</td><td><span class='bar' style='width:{8 + 150 * (mean - lo) / span:.0f}px'>"
            "</span></td></tr>"
            for value, n, mean, best in e.values
        )
        blocks.append(
            f"<div><h3>{escape(e.label)} <span class='muted'>{100 * e.share:.0f} % of the variance</span></h3>"
            f"<table><thead><tr><th>value</th><th>trials</th><th>mean {escape(metric)}</th>"
            f"<th>best</th><th></th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
    hidden = len(effects) - SHOWN_EFFECTS
    more = f"<p class='muted'>{hidden} more decisions not shown.</p>" if hidden > 0 else ""
    return (
        "<h2>What each decision did</h2><p class='muted'>Completed trials grouped by each decision's value, the "
        "decisions that explain most of the objective's variance first (a first-order view: decisions tried "
        f"together are not separated).</p><div class='effects'>{''.join(blocks)}</div>{more}"
    )


def _best_arch(view: ExperimentView) -> str:
    best = view.best
    if best is None:
        return ""
    parts = [f"<h2>Best architecture: trial {best.number} <span class='muted'>({escape(best.arch.id)})</span></h2>"]
    cell = cell_svg(best.arch)
    if cell is not None:
        parts.append(cell)
    decisions = [{"decision": k, "value": v if isinstance(v, str) else json.dumps(v)} for k, v in best.arch.items()]
    parts.append(_table(decisions))
    layers = layer_table(view.config.get("space_spec"), best.arch)
    if layers:
        total = sum(r["params"] for r in layers)
        parts.append(f"<h3>Layers <span class='muted'>({format_count(total)} parameters)</span></h3>")
        parts.append(f'<div class="scroll">{_table(layers)}</div>')
    return "".join(parts)


def _trials(view: ExperimentView) -> str:
    rows = trial_table(view)
    return f'<h2>All trials ({len(rows)})</h2><div class="scroll">{_table(rows, row_class="state")}</div>'
