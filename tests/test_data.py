"""Big Mart data: the generator's schema and quirks, cleaning, encoding, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline import data
from pipeline.errors import DataError


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return data.generate_raw()


def test_generator_has_schema_size_and_quirks(raw):
    assert list(raw.columns) == data.RAW_COLUMNS
    assert len(raw) == 8523
    assert 0.1 < raw["Item_Weight"].isna().mean() < 0.25
    assert raw["Outlet_Size"].isna().any()
    assert {"LF", "low fat", "reg"} <= set(raw["Item_Fat_Content"])
    assert (raw["Item_Visibility"] == 0).mean() > 0.03
    assert raw[data.TARGET].min() > 0


def test_generator_is_deterministic(raw):
    pd.testing.assert_frame_equal(raw, data.generate_raw(seed=0))
    assert not raw.equals(data.generate_raw(seed=1))


def test_cleaning_normalises_fat_content(raw):
    cleaned = data.clean(raw)
    assert set(cleaned["Item_Fat_Content"]) == {"Low Fat", "Regular", "Non-Edible"}
    assert (cleaned.loc[cleaned["Item_Category"] == "NC", "Item_Fat_Content"] == "Non-Edible").all()


def test_prepared_matrices_have_label_first_and_no_missing_values(raw):
    prepared = data.prepare(raw, 0.2, 42)
    assert len(prepared.train) + len(prepared.validation) == 8523
    assert len(prepared.validation) == 1704
    assert list(prepared.train.columns) == [data.TARGET, *data.FEATURES]
    assert not prepared.train.isna().any().any()
    assert not prepared.validation.isna().any().any()
    assert (prepared.train["Item_Visibility"] > 0).all()


def test_split_is_deterministic(raw):
    first, second = data.prepare(raw, 0.2, 42), data.prepare(raw, 0.2, 42)
    pd.testing.assert_frame_equal(first.train, second.train)
    assert first.encoding == second.encoding


def test_written_files_are_headerless_csv(raw, tmp_path):
    paths = data.prepare(raw.head(200), 0.2, 1).write(tmp_path)
    lines = paths["train"].read_text().splitlines()
    assert len(lines) == 160
    first = [float(v) for v in lines[0].split(",")]
    assert len(first) == 1 + len(data.FEATURES)
    encoding = data.Encoding.from_json(paths["encoding"].read_text())
    assert encoding.categories["Outlet_Type"]


def test_serving_encoding_matches_training_encoding(raw):
    prepared = data.prepare(raw, 0.2, 42)
    rows = raw.drop(columns=[data.TARGET]).head(50)
    again = data.encode(rows, data.Encoding.from_json(prepared.encoding.to_json()))
    assert again.shape == (50, len(data.FEATURES))
    assert not again.isna().any().any()


def test_unknown_category_encodes_as_minus_one(raw):
    encoding = data.prepare(raw, 0.2, 42).encoding
    row = raw.drop(columns=[data.TARGET]).head(1).copy()
    row["Outlet_Type"] = "Hypermarket"
    assert data.encode(row, encoding)["Outlet_Type"].iloc[0] == -1


def test_missing_weight_is_imputed_from_the_same_item(raw):
    encoding = data.prepare(raw, 0.2, 42).encoding
    item = next(iter(encoding.item_weight))
    row = raw.drop(columns=[data.TARGET]).head(1).copy()
    row["Item_Identifier"] = item
    row["Item_Weight"] = np.nan
    assert data.encode(row, encoding)["Item_Weight"].iloc[0] == pytest.approx(encoding.item_weight[item])


def test_real_csv_is_accepted(raw, tmp_path):
    path = tmp_path / "Train.csv"
    raw.head(100).to_csv(path, index=False)
    assert len(data.read_raw(path)) == 100


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("a,b\n1,2\n", "missing column(s) Item_Identifier"),
        (None, "must be numeric but has 'heavy'"),
    ],
)
def test_bad_files_are_rejected_with_a_reason(raw, tmp_path, content, message):
    path = tmp_path / "Train.csv"
    if content is None:
        bad = raw.head(5).copy()
        bad["Item_Weight"] = bad["Item_Weight"].astype(object)
        bad.loc[2, "Item_Weight"] = "heavy"
        bad.to_csv(path, index=False)
    else:
        path.write_text(content)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        data.read_raw(path)


def test_unreadable_paths(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        data.read_raw(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a directory"):
        data.read_raw(tmp_path)


def test_unwritable_output_folder(raw, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataError, match="cannot write prepared data"):
        data.prepare(raw.head(50), 0.2, 1).write(blocker / "sub")
