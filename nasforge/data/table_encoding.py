"""How the columns of a table become the numbers an MLP reads, fitted on the training rows only.

`fit_encoding` learns, per column, what a model needs to read raw rows: for numeric columns the median
that fills a missing value and the mean and standard deviation that standardise it; for categorical ones
the levels kept for one-hot encoding (rare levels share an "other" column) and the most frequent level,
which fills a missing value. Either kind gets a missing-indicator column when the training rows lack
values. The result is plain JSON: it is written beside an exported model as `preprocessing.json`, and
`encode_rows` applies it to raw rows without nasforge's datasets.

>>> cells = {"age": ["30", "", "50"], "city": ["Oslo", "Rome", "Oslo"]}
>>> spec = fit_encoding(cells, ["age"], ["city"], min_frequency=1)
>>> spec["features"]
['age', 'age_missing', 'city=Oslo', 'city=Rome']
>>> encode_rows(spec, [{"age": 40, "city": "Oslo"}]).tolist()
[[0.0, 0.0, 1.0, 0.0]]
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nasforge.errors import DataError, suggest

__all__ = ["NA_VALUES", "encode_columns", "encode_rows", "fit_encoding", "to_text"]

#: Cells read as missing (after stripping spaces), as pandas reads them by default, plus "?" (UCI files).
NA_VALUES = ("", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "none", "<NA>", "?", "#N/A")
ENCODING_KIND = "table"
ENCODING_VERSION = 1


def to_text(value: Any) -> str:
    """A cell as the text a CSV would hold: integral floats lose their `.0`, so 415.0 matches "415"."""
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if value.is_integer():
            return str(int(value))
    if isinstance(value, (np.floating, np.integer)):
        return to_text(value.item())
    return str(value).strip()


def parse_numbers(values: Sequence[Any], na_values: Sequence[str]) -> tuple[np.ndarray, int | None]:
    """Values as float64 with NaN for missing cells, and the index of the first cell that is not a number
    (None when every present cell is one). Infinite values count as missing."""
    missing = set(na_values)
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            number = float(value)
        else:
            text = to_text(value)
            if text in missing:
                continue
            try:
                number = float(text)
            except ValueError:
                return out, i
        if math.isfinite(number):
            out[i] = number
    return out, None


def fit_encoding(
    columns: Mapping[str, Sequence[Any]],
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    max_categories: int = 20,
    min_frequency: int = 5,
    na_values: Sequence[str] = NA_VALUES,
) -> dict[str, Any]:
    """Learn the encoding of `numeric` and `categorical` columns from training cells (`columns[name]`).

    A categorical column keeps at most `max_categories` levels that appear at least `min_frequency`
    times (the most frequent first); the rest share one "other" column. Output features come in column
    order: a numeric column gives its standardised value, a categorical one its one-hot levels (then
    "other"), and either a `_missing` indicator when some training cells are missing.
    """
    specs: list[dict[str, Any]] = []
    for name in [*numeric, *categorical]:
        if name not in columns:
            raise DataError(f"fit_encoding: column {name!r} has no cells.{suggest(name, list(columns))}")
    order = [name for name in columns if name in set(numeric) | set(categorical)]
    for name in order:
        cells = columns[name]
        if name in numeric:
            values, bad = parse_numbers(cells, na_values)
            if bad is not None:
                raise DataError(f"Column {name!r} must hold numbers, but row {bad} holds {to_text(cells[bad])!r}.")
            present = values[~np.isnan(values)]
            fill = float(np.median(present)) if len(present) else 0.0
            filled = np.where(np.isnan(values), fill, values)
            mean = float(filled.mean()) if len(filled) else 0.0
            std = float(filled.std()) if len(filled) else 1.0
            specs.append(
                {
                    "name": name,
                    "type": "numeric",
                    "fill": fill,
                    "mean": mean,
                    # a constant column stays constant (zero) rather than dividing by zero
                    "std": std if std > 1e-12 else 1.0,
                    "indicator": bool(len(present) < len(values)),
                }
            )
        else:
            missing = set(na_values)
            texts = [to_text(v) for v in cells]
            counts = Counter(t for t in texts if t not in missing)
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            levels = [level for level, count in ranked if count >= min_frequency][:max_categories]
            specs.append(
                {
                    "name": name,
                    "type": "categorical",
                    "levels": levels,
                    "other": len(levels) < len(counts),
                    "fill": ranked[0][0] if ranked else "",
                    "indicator": bool(sum(counts.values()) < len(texts)),
                }
            )
    return {
        "kind": ENCODING_KIND,
        "version": ENCODING_VERSION,
        "na_values": list(na_values),
        "input_columns": [spec["name"] for spec in specs],
        "columns": specs,
        "features": feature_names(specs),
    }


def feature_names(specs: Sequence[Mapping[str, Any]]) -> list[str]:
    names: list[str] = []
    for spec in specs:
        if spec["type"] == "numeric":
            names.append(spec["name"])
        else:
            names.extend(f"{spec['name']}={level}" for level in spec["levels"])
            if spec["other"]:
                names.append(f"{spec['name']}=<other>")
        if spec["indicator"]:
            names.append(f"{spec['name']}_missing")
    return names


def encode_columns(encoding: Mapping[str, Any], columns: Mapping[str, Sequence[Any]]) -> np.ndarray:
    """Encode cells given column by column (`columns[name]` for every encoded column) as float32 (N, F)."""
    _check_encoding(encoding)
    specs = encoding["columns"]
    na_values = encoding.get("na_values", NA_VALUES)
    absent = [s["name"] for s in specs if s["name"] not in columns]
    if absent:
        raise DataError(
            f"The rows to encode must have every column the model was trained on, but lack {absent[:10]}"
            f"{suggest(absent[0], list(columns))}"
        )
    n = len(columns[specs[0]["name"]]) if specs else 0
    parts: list[np.ndarray] = []
    missing_text = set(na_values)
    for spec in specs:
        cells = columns[spec["name"]]
        if len(cells) != n:
            raise DataError(f"Every column to encode must have {n} cells, but {spec['name']!r} has {len(cells)}.")
        if spec["type"] == "numeric":
            values, bad = parse_numbers(cells, na_values)
            if bad is not None:
                raise DataError(
                    f"Column {spec['name']!r} must hold numbers, but row {bad} holds {to_text(cells[bad])!r}."
                )
            missing = np.isnan(values)
            values = (np.where(missing, spec["fill"], values) - spec["mean"]) / spec["std"]
            parts.append(values[:, None])
        else:
            texts = [to_text(v) for v in cells]
            missing = np.array([t in missing_text for t in texts], dtype=bool)
            index = {level: j for j, level in enumerate(spec["levels"])}
            width = len(index) + int(spec["other"])
            # unseen levels go to "other" when training had one, else to no column at all
            unseen = len(index) if spec["other"] else -1
            fill = index.get(spec["fill"], unseen)
            codes = np.array([fill if m else index.get(t, unseen) for t, m in zip(texts, missing)], dtype=np.int64)
            onehot = np.zeros((n, width))
            rows = np.flatnonzero(codes >= 0)
            onehot[rows, codes[rows]] = 1.0
            parts.append(onehot)
        if spec["indicator"]:
            parts.append(missing[:, None].astype(np.float64))
    if not parts:
        return np.zeros((n, 0), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32)


def encode_rows(preprocessing: Mapping[str, Any], rows: Sequence[Mapping[str, Any] | Sequence[Any]]) -> np.ndarray:
    """Encode raw rows for a model trained on a `CSVDataset`: `preprocessing` is its
    `DataSplits.info["preprocessing"]` (or the exported `preprocessing.json`), `rows` are mappings from
    column name to raw value (extra keys, such as the label, are ignored) or sequences of values in the
    order of `preprocessing["input_columns"]`. Returns float32 (N, F), ready for `torch.from_numpy`.

    >>> import json
    >>> prep = json.load(open("nasforge-out/tabular/preprocessing.json"))  # doctest: +SKIP
    >>> x = encode_rows(prep, [{"Age": 30, "Home": "rent", "Income": None}])  # doctest: +SKIP
    """
    _check_encoding(preprocessing)
    names = [s["name"] for s in preprocessing["columns"]]
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for i, row in enumerate(rows):
        if isinstance(row, Mapping):
            absent = [name for name in names if name not in row]
            if absent:
                raise DataError(
                    f"Row {i} to encode lacks columns {absent[:10]} that the model was trained on; give every "
                    f"column of {names[:20]} (None for a missing value).{suggest(absent[0], [str(k) for k in row])}"
                )
            for name in names:
                columns[name].append(row[name])
        elif isinstance(row, Sequence) and not isinstance(row, (str, bytes)):
            if len(row) != len(names):
                raise DataError(
                    f"Row {i} to encode must hold {len(names)} values in the order {names[:20]}, "
                    f"but holds {len(row)}. Pass a mapping from column name to value instead."
                )
            for name, value in zip(names, row):
                columns[name].append(value)
        else:
            raise DataError(
                f"Row {i} to encode must be a mapping from column name to value or a sequence of values, "
                f"but is {type(row).__name__}."
            )
    return encode_columns(preprocessing, columns)


def _check_encoding(encoding: Mapping[str, Any]) -> None:
    if not isinstance(encoding, Mapping) or encoding.get("kind") != ENCODING_KIND or "columns" not in encoding:
        raise DataError(
            "encode_rows needs the preprocessing of a CSVDataset (its DataSplits.info['preprocessing'] or the "
            "exported preprocessing.json), with kind 'table' and a 'columns' list, but got "
            f"{type(encoding).__name__} with keys {sorted(encoding)[:10] if isinstance(encoding, Mapping) else []}."
        )
    if encoding.get("version", ENCODING_VERSION) > ENCODING_VERSION:
        raise DataError(
            f"This preprocessing was written by a newer nasforge (version {encoding['version']}, this one reads "
            f"{ENCODING_VERSION}); upgrade nasforge to encode rows with it."
        )
