"""Big Mart sales data: schema, synthetic generator, cleaning, encoding and the training files.

The built-in XGBoost algorithm reads CSV without a header and with the label in the first
column. The encoding learnt from the training rows is saved beside the data (``encoding.json``)
so that anything calling the endpoint prepares rows exactly as training did.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import DataError

TARGET = "Item_Outlet_Sales"
COLUMNS = {
    "Item_Identifier": "text",
    "Item_Weight": "number",
    "Item_Fat_Content": "text",
    "Item_Visibility": "number",
    "Item_Type": "text",
    "Item_MRP": "number",
    "Outlet_Identifier": "text",
    "Outlet_Establishment_Year": "number",
    "Outlet_Size": "text",
    "Outlet_Location_Type": "text",
    "Outlet_Type": "text",
}
RAW_COLUMNS = [*COLUMNS, TARGET]
DEFAULT_ROWS = 8523
# The data set was collected in 2013: outlet age is counted from then.
REFERENCE_YEAR = 2013
FAT_CONTENT = {"low fat": "Low Fat", "lf": "Low Fat", "reg": "Regular", "regular": "Regular"}
CATEGORICAL = [
    "Item_Fat_Content",
    "Item_Type",
    "Outlet_Identifier",
    "Outlet_Size",
    "Outlet_Location_Type",
    "Outlet_Type",
    "Item_Category",
]
FEATURES = [
    "Item_Weight",
    "Item_Fat_Content",
    "Item_Visibility",
    "Item_Type",
    "Item_MRP",
    "Outlet_Identifier",
    "Outlet_Years",
    "Outlet_Size",
    "Outlet_Location_Type",
    "Outlet_Type",
    "Item_Category",
]
ENCODING_VERSION = 1

ITEM_TYPES = {
    "FD": [
        "Dairy",
        "Snack Foods",
        "Fruits and Vegetables",
        "Baking Goods",
        "Frozen Foods",
        "Meat",
        "Canned",
        "Breads",
        "Starchy Foods",
        "Breakfast",
        "Seafood",
    ],
    "DR": ["Soft Drinks", "Hard Drinks", "Dairy"],
    "NC": ["Household", "Health and Hygiene", "Others"],
}
# The ten outlets of the real data set: (id, year, size or None, location tier, type).
OUTLETS = [
    ("OUT010", 1998, None, "Tier 3", "Grocery Store"),
    ("OUT013", 1987, "High", "Tier 3", "Supermarket Type1"),
    ("OUT017", 2007, None, "Tier 2", "Supermarket Type1"),
    ("OUT018", 2009, "Medium", "Tier 3", "Supermarket Type2"),
    ("OUT019", 1985, "Small", "Tier 1", "Grocery Store"),
    ("OUT027", 1985, "Medium", "Tier 3", "Supermarket Type3"),
    ("OUT035", 2004, "Small", "Tier 2", "Supermarket Type1"),
    ("OUT045", 2002, None, "Tier 2", "Supermarket Type1"),
    ("OUT046", 1997, "Small", "Tier 1", "Supermarket Type1"),
    ("OUT049", 1999, "Medium", "Tier 1", "Supermarket Type1"),
]
OUTLET_SALES_FACTOR = {
    "Grocery Store": 0.15,
    "Supermarket Type1": 1.0,
    "Supermarket Type2": 0.85,
    "Supermarket Type3": 1.7,
}


def generate_raw(rows: int = DEFAULT_ROWS, seed: int = 0) -> pd.DataFrame:
    """A deterministic table with the Big Mart schema, size and quirks (for offline use).

    Quirks kept from the real set: missing ``Item_Weight`` (~17%) and ``Outlet_Size`` (three
    outlets), fat content spelt 'LF'/'low fat'/'reg', and zero ``Item_Visibility`` (~6%).
    """
    if rows < 10:
        raise DataError(f"rows = {rows} is too small to split into training and validation (need at least 10)")
    rng = np.random.default_rng(seed)
    n_items = max(10, min(1559, rows // 5))
    prefixes = rng.choice(["FD", "DR", "NC"], size=n_items, p=[0.72, 0.09, 0.19])
    items = pd.DataFrame(
        {
            "Item_Identifier": [f"{p}{chr(65 + i % 26)}{i // 26 % 100:02d}" for i, p in enumerate(prefixes)],
            "Item_Weight": np.round(rng.uniform(4.5, 21.5, n_items), 3),
            "Item_Fat_Content": np.where(
                prefixes == "NC", "Low Fat", rng.choice(["Low Fat", "Regular"], n_items, p=[0.65, 0.35])
            ),
            "Item_Type": [ITEM_TYPES[p][rng.integers(len(ITEM_TYPES[p]))] for p in prefixes],
            "Item_MRP": np.round(rng.uniform(31.0, 267.0, n_items), 4),
            "Base_Visibility": rng.uniform(0.01, 0.2, n_items),
        }
    )
    item_index = rng.integers(0, n_items, rows)
    outlet_index = rng.integers(0, len(OUTLETS), rows)
    table = items.iloc[item_index].reset_index(drop=True)
    outlets = pd.DataFrame(
        OUTLETS,
        columns=[
            "Outlet_Identifier",
            "Outlet_Establishment_Year",
            "Outlet_Size",
            "Outlet_Location_Type",
            "Outlet_Type",
        ],
    )
    table = pd.concat([table, outlets.iloc[outlet_index].reset_index(drop=True)], axis=1)

    visibility = table["Base_Visibility"] * rng.uniform(0.7, 1.3, rows)
    visibility[rng.random(rows) < 0.06] = 0.0
    table["Item_Visibility"] = np.round(visibility, 6)
    weights = table["Item_Weight"].astype(float)
    weights[rng.random(rows) < 0.17] = np.nan
    table["Item_Weight"] = weights
    spelling = rng.random(rows)
    fat = table["Item_Fat_Content"].astype(object)
    fat[(fat == "Low Fat") & (spelling < 0.08)] = "LF"
    fat[(fat == "Low Fat") & (spelling > 0.96)] = "low fat"
    fat[(fat == "Regular") & (spelling < 0.05)] = "reg"
    table["Item_Fat_Content"] = fat

    factor = table["Outlet_Type"].map(OUTLET_SALES_FACTOR).astype(float)
    age = REFERENCE_YEAR - table["Outlet_Establishment_Year"]
    sales = table["Item_MRP"] * (14.0 * factor + 0.04 * age) * rng.lognormal(0.0, 0.25, rows)
    sales -= 1500.0 * table["Item_Visibility"]
    table[TARGET] = np.round(np.clip(sales, 33.29, None), 4)
    return table[RAW_COLUMNS].copy()


def read_raw(path: str | Path) -> pd.DataFrame:
    """Read a Big Mart CSV (e.g. the real ``Train.csv``) and check its schema and types."""
    path = Path(path)
    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"data file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise DataError(f"data file {str(path)!r} is a directory; pass the CSV file itself") from None
    except PermissionError:
        raise DataError(f"data file {str(path)!r} cannot be read (permission denied)") from None
    except pd.errors.EmptyDataError:
        raise DataError(
            f"data file {str(path)!r} is empty; expected a CSV with a header row and the Big Mart columns"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"data file {str(path)!r} is not a readable CSV: {exc}") from None
    check_schema(table, str(path), require_target=True)
    return table


def check_schema(table: pd.DataFrame, source: str, *, require_target: bool) -> None:
    """Raise DataError naming every missing column and every column of the wrong type."""
    expected = RAW_COLUMNS if require_target else list(COLUMNS)
    problems = []
    missing = [c for c in expected if c not in table.columns]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if table.empty:
        problems.append("it has no rows")
    numeric = [c for c, kind in COLUMNS.items() if kind == "number"] + ([TARGET] if require_target else [])
    for column in numeric:
        if column in table.columns:
            values = pd.to_numeric(table[column], errors="coerce")
            bad = table[column][values.isna() & table[column].notna()]
            if len(bad):
                problems.append(f"column {column} must be numeric but has {bad.iloc[0]!r} (row {bad.index[0] + 2})")
    if require_target and TARGET in table.columns and table[TARGET].isna().any():
        row = int(table[TARGET].isna().idxmax()) + 2
        problems.append(f"column {TARGET} (the label) is empty on row {row}")
    if problems:
        raise DataError(f"{source} is not Big Mart data: " + "; ".join(problems))


def clean(table: pd.DataFrame) -> pd.DataFrame:
    """Normalise the raw quirks that do not need learnt statistics (spellings, derived columns)."""
    result = table.copy()
    fat = result["Item_Fat_Content"].astype(str).str.strip()
    result["Item_Fat_Content"] = fat.str.lower().map(FAT_CONTENT).fillna(fat)
    result["Item_Category"] = result["Item_Identifier"].astype(str).str[:2]
    # Non-consumables have no fat content; the real data labels them 'Low Fat' anyway.
    result.loc[result["Item_Category"] == "NC", "Item_Fat_Content"] = "Non-Edible"
    result["Outlet_Years"] = REFERENCE_YEAR - pd.to_numeric(result["Outlet_Establishment_Year"])
    for column in ("Item_Weight", "Item_Visibility", "Item_MRP"):
        result[column] = pd.to_numeric(result[column], errors="coerce")
    return result


@dataclass(frozen=True)
class Encoding:
    """What training learnt about the data, applied identically when serving."""

    categories: dict[str, list[str]]
    item_weight: dict[str, float]
    mean_weight: float
    item_visibility: dict[str, float]
    mean_visibility: float
    outlet_size_by_type: dict[str, str]
    version: int = ENCODING_VERSION

    def to_json(self) -> str:
        """Stable JSON (sorted keys) for ``encoding.json``."""
        return json.dumps(self.__dict__, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Encoding:
        """Read an ``encoding.json`` written by :meth:`to_json`."""
        try:
            data = json.loads(text)
            if data.get("version") != ENCODING_VERSION:
                raise DataError(
                    f"encoding version {data.get('version')!r} is not supported (expected {ENCODING_VERSION})"
                )
            return cls(**data)
        except (json.JSONDecodeError, TypeError, AttributeError) as exc:
            raise DataError(f"encoding.json is not a valid encoding: {exc}") from None


def fit_encoding(cleaned: pd.DataFrame) -> Encoding:
    """Learn category codes and imputation values from cleaned training rows."""
    weights = cleaned.groupby("Item_Identifier")["Item_Weight"].mean().dropna()
    visible = cleaned[cleaned["Item_Visibility"] > 0]
    visibility = visible.groupby("Item_Identifier")["Item_Visibility"].mean()
    sizes = (
        cleaned.dropna(subset=["Outlet_Size"])
        .groupby("Outlet_Type")["Outlet_Size"]
        .agg(lambda s: s.mode().sort_values().iloc[0])
    )
    overall_size = cleaned["Outlet_Size"].dropna().mode()
    categories = {}
    for column in CATEGORICAL:
        values = cleaned[column].dropna().astype(str)
        if column == "Outlet_Size":
            values = pd.concat([values, pd.Series(sizes.values, dtype=str)])
        categories[column] = sorted(values.unique().tolist())
    size_by_type = {str(k): str(v) for k, v in sizes.items()}
    for outlet_type in categories["Outlet_Type"]:
        if outlet_type not in size_by_type and len(overall_size):
            size_by_type[outlet_type] = str(overall_size.iloc[0])
    return Encoding(
        categories=categories,
        item_weight={str(k): round(float(v), 6) for k, v in weights.items()},
        mean_weight=round(float(cleaned["Item_Weight"].mean()), 6),
        item_visibility={str(k): round(float(v), 6) for k, v in visibility.items()},
        mean_visibility=round(float(visible["Item_Visibility"].mean()), 6) if len(visible) else 0.0,
        outlet_size_by_type=size_by_type,
    )


def encode(table: pd.DataFrame, encoding: Encoding) -> pd.DataFrame:
    """Turn raw rows into the model's numeric features, in :data:`FEATURES` order.

    Unknown categories become -1, so a new outlet or item type still gets a prediction.
    """
    check_schema(table, "input rows", require_target=False)
    rows = clean(table)
    weight = rows["Item_Weight"].fillna(rows["Item_Identifier"].map(encoding.item_weight))
    rows["Item_Weight"] = weight.fillna(encoding.mean_weight)
    zero = rows["Item_Visibility"].isna() | (rows["Item_Visibility"] <= 0)
    replacement = rows["Item_Identifier"].map(encoding.item_visibility).fillna(encoding.mean_visibility)
    rows["Item_Visibility"] = rows["Item_Visibility"].where(~zero, replacement)
    missing_size = rows["Outlet_Size"].isna()
    rows.loc[missing_size, "Outlet_Size"] = rows.loc[missing_size, "Outlet_Type"].map(encoding.outlet_size_by_type)
    for column in CATEGORICAL:
        codes = {value: index for index, value in enumerate(encoding.categories[column])}
        rows[column] = rows[column].astype(str).map(codes).fillna(-1).astype(int)
    return rows[FEATURES].astype(float)


@dataclass(frozen=True)
class PreparedData:
    """Encoded training and validation matrices (label first) and the encoding that made them.

    The matrices are not changed after ``prepare`` makes them; their CSV is rendered once."""

    train: pd.DataFrame
    validation: pd.DataFrame
    encoding: Encoding
    _csv: dict[str, bytes] = field(default_factory=dict, init=False, repr=False, compare=False)

    def csv(self, name: str) -> bytes:
        """The ``train`` or ``validation`` matrix as the algorithm reads it: CSV, label first, no header."""
        # Written to the work folder and uploaded: pandas renders 8,500 rows in ~0.1 s each time.
        if name not in self._csv:
            self._csv[name] = getattr(self, name).to_csv(header=False, index=False, float_format="%.10g").encode()
        return self._csv[name]

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Write ``train/train.csv``, ``validation/validation.csv`` and ``encoding.json``."""
        folder = Path(folder)
        paths = {
            "train": folder / "train" / "train.csv",
            "validation": folder / "validation" / "validation.csv",
            "encoding": folder / "encoding.json",
        }
        try:
            for name in ("train", "validation"):
                paths[name].parent.mkdir(parents=True, exist_ok=True)
                paths[name].write_bytes(self.csv(name))
            paths["encoding"].write_text(self.encoding.to_json())
        except OSError as exc:
            raise DataError(f"cannot write prepared data to {str(folder)!r}: {exc.strerror or exc}") from None
        return paths


def prepare(table: pd.DataFrame, validation_fraction: float = 0.2, seed: int = 42) -> PreparedData:
    """Clean, split (deterministically), fit the encoding on the training part, and encode both."""
    if not 0 < validation_fraction < 1:
        raise DataError(f"validation_fraction = {validation_fraction} must be between 0 and 1")
    check_schema(table, "input table", require_target=True)
    order = np.random.default_rng(seed).permutation(len(table))
    n_validation = max(1, math.floor(len(table) * validation_fraction))
    if len(table) - n_validation < 1:
        raise DataError(f"{len(table)} rows are too few to split with validation_fraction = {validation_fraction}")
    validation_rows = table.iloc[order[:n_validation]].reset_index(drop=True)
    train_rows = table.iloc[order[n_validation:]].reset_index(drop=True)
    encoding = fit_encoding(clean(train_rows))

    def matrix(rows: pd.DataFrame) -> pd.DataFrame:
        features = encode(rows, encoding)
        features.insert(0, TARGET, pd.to_numeric(rows[TARGET]).astype(float))
        return features

    return PreparedData(matrix(train_rows), matrix(validation_rows), encoding)


def sample_rows(rows: int = 5, seed: int = 7) -> pd.DataFrame:
    """Raw rows (without the label) for calling the endpoint, as a user of the model would send."""
    return generate_raw(max(rows, 10), seed=seed).drop(columns=[TARGET]).head(rows)


def to_csv_payload(features: pd.DataFrame) -> bytes:
    """Encoded feature rows as the text/csv body the XGBoost container expects (no label)."""
    return features.to_csv(header=False, index=False, float_format="%.10g").encode()


def describe(prepared: PreparedData) -> dict[str, Any]:
    """A short summary of prepared data for progress output."""
    return {
        "train_rows": len(prepared.train),
        "validation_rows": len(prepared.validation),
        "features": len(FEATURES),
    }
