"""A picture of one arch: its cell as a graph (for cell spaces such as NAS-Bench-201), and its network as
a layer list with output shapes and parameter counts (when the space can be rebuilt from the stored spec).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from html import escape
from typing import Any

from nasforge.space import Arch

__all__ = ["cell_svg", "layer_table"]

_EDGE = re.compile(r"^(\d+)<-(\d+)$")
_ABSENT = {"none", "zero"}


def cell_svg(arch: Mapping[str, Any]) -> str | None:
    """The cell as nodes in a row and one labelled arc per operation, or None unless every decision is an
    edge `"i<-j"` (node i takes operation value from node j)."""
    edges = []
    for label, op in arch.items():
        m = _EDGE.match(str(label))
        if m is None:
            return None
        edges.append((int(m.group(2)), int(m.group(1)), str(op)))
    if not edges:
        return None
    n = max(max(a, b) for a, b, _ in edges) + 1
    gap, width = 150, 150 * (n - 1) + 80
    levels = {(a, b): i for i, (a, b, _) in enumerate(sorted(edges, key=lambda e: (e[1] - e[0], e[0])))}
    height = 70 + 34 * max(1, max(b - a for a, b, _ in edges))
    base = height - 30
    out = [
        f'<svg class="cell" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        'aria-label="cell graph" xmlns="http://www.w3.org/2000/svg">'
    ]
    for a, b, op in edges:
        if op.lower() in _ABSENT:
            continue
        x1, x2 = 40 + gap * a, 40 + gap * b
        rise = 26 * (b - a) + 6 * (levels[(a, b)] % 2)
        mid = (x1 + x2) / 2
        out.append(
            f'<path d="M{x1} {base} Q{mid} {base - 2 * rise} {x2} {base}" fill="none" stroke="#4c78a8" '
            'stroke-width="1.6" marker-end="url(#arrow)"/>'
        )
        out.append(f'<text x="{mid:.0f}" y="{base - rise - 3:.0f}" text-anchor="middle">{escape(op)}</text>')
    for i in range(n):
        out.append(f'<circle cx="{40 + gap * i}" cy="{base}" r="13" fill="#fff" stroke="#333"/>')
        out.append(f'<text x="{40 + gap * i}" y="{base + 4}" text-anchor="middle">{i}</text>')
    out.insert(
        1,
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="22" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#4c78a8"/></marker></defs>',
    )
    out.append("</svg>")
    return "".join(out)


def layer_table(space_spec: Mapping[str, Any] | None, arch: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The frozen network's layers in the order they run, with output shapes and parameters; None when the
    space cannot be rebuilt here (its package missing, its arguments not stored) or not traced."""
    if not space_spec:
        return None
    try:
        import torch
        import torch.fx
        from torch.fx.passes.shape_prop import ShapeProp

        from nasforge.export.exporter import space_from_spec

        space = space_from_spec(space_spec)
        model = space.freeze(Arch(arch)).eval()
        traced = torch.fx.symbolic_trace(model)
        shape = space_spec.get("kwargs", {}).get("input_shape")
        if shape is not None:
            ShapeProp(traced).propagate(torch.zeros(1, *shape))
    except Exception:  # the report must not fail for the drawing: it falls back to the decision table
        return None
    rows = []
    for node in traced.graph.nodes:
        if node.op not in ("call_module", "call_function", "call_method"):
            continue
        meta = node.meta.get("tensor_meta")
        out_shape = "x".join(str(d) for d in meta.shape[1:]) if hasattr(meta, "shape") else ""
        if node.op == "call_module":
            module = traced.get_submodule(node.target)
            kind = type(module).__name__
            params = sum(p.numel() for p in module.parameters())
            rows.append({"layer": str(node.target), "type": kind, "output": out_shape, "params": params})
        else:
            name = getattr(node.target, "__name__", str(node.target))
            rows.append({"layer": node.name, "type": name, "output": out_shape, "params": 0})
    return rows


def format_count(n: float) -> str:
    if not math.isfinite(n):
        return ""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:g}"
