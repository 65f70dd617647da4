"""Helpers shared by the subcommands: storage option, output formats, tables."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nasforge.trial import TrialRecord

FORMATS = ("table", "json", "yaml")


def add_storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", default="nasforge.db", help="SQLite file or SQLAlchemy URL (default: nasforge.db)")


def add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")


def record_row(record: TrialRecord, metrics: Sequence[str]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "number": record.number,
        "state": record.state.value,
        "arch_id": record.arch.id,
        "duration": None if record.duration is None else round(record.duration, 2),
    }
    for m in metrics:
        row[m] = record.metrics.get(m)
    row["error"] = record.error
    return row


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "(no rows)"
    cols = list(rows[0])
    cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
    text = str(v)
    return text if len(text) <= 60 else text[:57] + "..."


def dumps(data: Any, fmt: str = "json") -> str:
    """`data` as JSON, or as YAML with `fmt="yaml"` (block style, keys in their order)."""
    if fmt == "yaml":
        import yaml

        # through JSON first, so that what JSON writes with default=str (paths, enums) YAML writes too
        return yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False).rstrip("\n")
    return json.dumps(data, indent=2, sort_keys=False, default=str)


def exported_files(folder: Path) -> str:
    """`exported to DIR/ (weights.pt, ...)`: every file the export wrote, the formats first (as export.json
    lists them), then the rest by name (preprocessing.json, which raw inputs need, among them)."""
    listed = list(json.loads((folder / "export.json").read_text())["files"].values())
    rest = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in listed)
    return f"exported to {folder}/ ({', '.join([*listed, *rest])})"


def scores_line(metrics: dict[str, float], what: str = "the exported model") -> str | None:
    """The line that says how the exported model did on the test split: its accuracy (classification) or its
    BLEU and chrF with the copy-the-source floor (translation). None when the export was not tested."""
    if "test_acc" in metrics:
        return f"test accuracy of {what}: {100 * metrics['test_acc']:.2f} %"
    if "test_bleu" in metrics:
        extra = [f"chrF {metrics['test_chrf']:.2f}"] if "test_chrf" in metrics else []
        if "test_copy_bleu" in metrics:
            extra.append(f"copying the source scores {metrics['test_copy_bleu']:.2f}")
        tail = f" ({'; '.join(extra)})" if extra else ""
        return f"test BLEU of {what}: {metrics['test_bleu']:.2f}{tail}"
    return None
