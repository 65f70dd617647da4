"""NASLib's published zero-cost proxy scores of NAS-Bench-201 cells: a reference for nasforge's own proxies.

The file (`naslib_zero_cost_nb201.json` from automl/NASLib, shipped xz-compressed with nasforge) maps each
dataset (`cifar10`, `cifar100`, `ImageNet16-120`) to about 725 cells; each record has the cell's single-seed
200-epoch `val_accuracy` and, per proxy (`synflow`, `snip`, `grasp`, `fisher`, `grad_norm`, `jacov`,
`nwot`, `epe_nas`, `l2_norm`, `plain`, `flops`, `params`), `{"score": ..., "time": ...}`.

NASLib's keys are op tuples (skip_connect=0, none=1, nor_conv_3x3=2, nor_conv_1x1=3, avg_pool_3x3=4) over the
edges (1,2), (1,3), (1,4), (2,3), (2,4), (3,4) of its 1-based nodes, i.e. nasforge's edges 1<-0, 2<-0, 3<-0,
2<-1, 3<-1, 3<-2; `load_naslib_zero_cost` converts them to cell strings (`|op~0|+|op~0|op~1|+|...|`).
benchmarks/zero_cost_nb201.py checks that mapping against the table's validation accuracies.

>>> cells = load_naslib_zero_cost()  # doctest: +SKIP
>>> len(cells), sorted(next(iter(cells.values())))[:3]  # doctest: +SKIP
(725, ['epe_nas', 'fisher', 'flops'])
"""

from __future__ import annotations

import json
import lzma
import os
from pathlib import Path
from typing import Any

from nasforge.datafiles import locate, open_text
from nasforge.errors import ConfigError, DataError
from nasforge.zoo.nb201 import arch_to_str

__all__ = ["NASLIB_DATASETS", "load_naslib_zero_cost", "naslib_zero_cost_path"]

FILE_NAME = "naslib_zero_cost_nb201.json"
NASLIB_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
NASLIB_EDGES = ("1<-0", "2<-0", "3<-0", "2<-1", "3<-1", "3<-2")
_OP_IDS = {str(i) for i in range(len(NASLIB_OPS))}


def naslib_zero_cost_path(path: str | os.PathLike[str] | None = None) -> Path:
    """`path` if given, else the first of `$NASFORGE_DATA/nb201/`, the bundled copy and the cache that holds
    the file (plain, .xz, .gz or .bz2)."""
    if path is not None:
        explicit = Path(path).expanduser()
        if not explicit.is_file():
            raise DataError(f"NASLib's zero-cost scores must be a file, but {str(explicit)!r} is not one.")
        return explicit
    return locate("nb201", FILE_NAME, "NASLib's zero-cost scores", "pass its path")


def load_naslib_zero_cost(
    path: str | os.PathLike[str] | None = None, dataset: str = "cifar10"
) -> dict[str, dict[str, Any]]:
    """NASLib's records of `dataset`, keyed by nasforge's cell string."""
    if dataset not in NASLIB_DATASETS:
        raise ConfigError(f"`dataset` must be one of {list(NASLIB_DATASETS)}, but got {dataset!r}.")
    file = naslib_zero_cost_path(path)
    try:
        with open_text(file) as handle:
            records = json.load(handle)[dataset]
    except (OSError, EOFError, lzma.LZMAError, ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"{str(file)!r} must be NASLib's zero-cost JSON with a {dataset!r} part, but reading it failed: {exc!r}"
        ) from exc
    if not isinstance(records, dict):
        raise DataError(
            f"The {dataset!r} part of {str(file)!r} must map cells to records, but is a {type(records).__name__}."
        )
    cells: dict[str, dict[str, Any]] = {}
    for key, record in records.items():
        ids = [v.strip() for v in key.strip("()").split(",")]
        if len(ids) != len(NASLIB_EDGES) or not all(v in _OP_IDS for v in ids):
            raise DataError(f"Keys of {str(file)!r} must be tuples of 6 op ids 0..4 (NASLib's), but one is {key!r}.")
        cells[arch_to_str({edge: NASLIB_OPS[int(v)] for edge, v in zip(NASLIB_EDGES, ids)})] = record
    return cells
