"""Convert the official NATS-Bench topology files (NAS-Bench-201) into nasforge's table format.

Needs the `nats_bench` package and its benchmark files (e.g. `NATS-tss-v1_0-3ffb9-simple`):

    python -m nasforge.tables.convert --nats PATH/NATS-tss-v1_0-3ffb9-simple --out nb201.csv.gz

`convert(api, out)` takes any object with NATS-Bench's query methods (`len`, `arch(i)`,
`get_more_info(i, dataset, hp=..., is_random=False)`, `get_cost_info(i, dataset)`), so it is tested with a
stand-in; the seed-spread columns are left empty because the simple API reports seed means only.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nasforge.errors import DataError
from nasforge.tables.nb201 import REQUIRED_COLUMNS

# (column, dataset, hp, key of get_more_info)
_ACCURACIES = [
    ("c10valid_valid_acc_200", "cifar10-valid", "200", "valid-accuracy"),
    ("c10valid_test_acc_200", "cifar10-valid", "200", "test-accuracy"),
    ("c10valid_train_acc_200", "cifar10-valid", "200", "train-accuracy"),
    ("c10valid_valid_loss_200", "cifar10-valid", "200", "valid-loss"),
    ("c10valid_train_time_200", "cifar10-valid", "200", "train-all-time"),
    ("c10valid_train_time_per_epoch", "cifar10-valid", "200", "train-per-time"),
    ("c10_test_acc_200", "cifar10", "200", "test-accuracy"),
    ("c100_valid_acc_200", "cifar100", "200", "valid-accuracy"),
    ("c100_test_acc_200", "cifar100", "200", "test-accuracy"),
    ("c100_train_time_200", "cifar100", "200", "train-all-time"),
    ("in16_valid_acc_200", "ImageNet16-120", "200", "valid-accuracy"),
    ("in16_test_acc_200", "ImageNet16-120", "200", "test-accuracy"),
    ("in16_train_time_200", "ImageNet16-120", "200", "train-all-time"),
    ("c10valid_valid_acc_12", "cifar10-valid", "12", "valid-accuracy"),
    ("c10_test_acc_12", "cifar10", "12", "test-accuracy"),
    ("c100_valid_acc_12", "cifar100", "12", "valid-accuracy"),
    ("c100_test_acc_12", "cifar100", "12", "test-accuracy"),
    ("in16_valid_acc_12", "ImageNet16-120", "12", "valid-accuracy"),
    ("in16_test_acc_12", "ImageNet16-120", "12", "test-accuracy"),
]
_PARAMS = [("c10_params_mb", "cifar10"), ("c100_params_mb", "cifar100"), ("in16_params_mb", "ImageNet16-120")]


def convert(api: Any, out: str | Path, unique_key: Callable[[int], str] | None = None) -> Path:
    """Write every cell of `api` to `out` (gzipped CSV). `unique_key(i)` gives the isomorphism class; by
    default `api.get_unique_str(i)` when the API has it, else the arch string itself (no merging)."""
    n = len(api)
    if n != 15625:
        raise DataError(f"A NAS-Bench-201 topology API has 15,625 cells, but this one has {n}; pass the 'tss' API.")
    if unique_key is None:
        unique_key = getattr(api, "get_unique_str", None) or api.arch
    path = Path(out)
    with gzip.open(path, "wt", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(REQUIRED_COLUMNS)
        for i in range(n):
            infos: dict[tuple[str, str], dict[str, Any]] = {}
            row: dict[str, Any] = {"arch_index": i, "arch_str": api.arch(i), "unique_str": unique_key(i)}
            for column, dataset, hp, key in _ACCURACIES:
                if (dataset, hp) not in infos:
                    infos[(dataset, hp)] = api.get_more_info(i, dataset, hp=hp, is_random=False)
                row[column] = infos[(dataset, hp)].get(key, math.nan)
            for column, dataset in _PARAMS:
                row[column] = api.get_cost_info(i, dataset)["params"]
            row["n_seeds_200"] = ""
            row["c10valid_valid_acc_200_std"] = ""
            writer.writerow(
                [
                    "" if isinstance(row.get(c), float) and math.isnan(row[c]) else row.get(c, "")
                    for c in REQUIRED_COLUMNS
                ]
            )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nats", required=True, help="NATS-Bench topology benchmark file or folder")
    parser.add_argument("--out", default="nb201.csv.gz")
    args = parser.parse_args(argv)
    try:
        from nats_bench import create
    except ImportError:
        parser.error("the converter needs the nats_bench package: pip install nats_bench")
    api = create(args.nats, "tss", fast_mode=True, verbose=False)
    print(f"wrote {convert(api, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
