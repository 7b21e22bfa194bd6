"""Real data, offline: the bundled Adult and German Credit datasets, and a checked CSV reader.

The datasets live gzip-compressed inside the package (``mlkit/datasets/``, attribution in
``SOURCES.md`` there); the md5 of the decompressed bytes is verified on every load, so a
corrupted install fails loudly instead of training on garbage.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..paths import data_dir
from .errors import ChecksumError, DataError, DataValidationError, MalformedCSVError, Problem
from .schema import Schema, kind_of

__all__ = [
    "ADULT_COLUMNS",
    "BUNDLED_MD5",
    "GERMAN_CREDIT_COLUMNS",
    "GERMAN_CREDIT_COSTS",
    "load_adult",
    "load_german_credit",
    "read_bundled",
    "read_csv",
]

# md5 of the *decompressed* bytes, from /work/shared/datasets/SOURCES.md (UCI originals).
BUNDLED_MD5 = {
    "adult.data.gz": "5d7c39d7b8804f071cdd1f2a7c460872",
    "adult.test.gz": "35238206dfdf7f1fe215bbb874adecdc",
    "german.data.gz": "6b94c2e35480e671545e52a808a8a549",
}


def read_bundled(name: str) -> bytes:
    """Decompressed bytes of a bundled file, md5-verified.

    Raises
    ------
    FileNotFoundError
        If the package was installed without its data files.
    ChecksumError
        If the bytes do not match the recorded md5.
    """
    if name not in BUNDLED_MD5:
        raise DataError(f"unknown bundled file {name!r}; expected one of {sorted(BUNDLED_MD5)}")
    path = data_dir() / name
    if not path.is_file():
        raise FileNotFoundError(
            f"bundled dataset {path} is missing; reinstall mlkit-suite with its package data"
        )
    raw = gzip.decompress(path.read_bytes())
    digest = hashlib.md5(raw).hexdigest()  # noqa: S324 - integrity check, not security
    if digest != BUNDLED_MD5[name]:
        raise ChecksumError(
            f"bundled dataset {path}: md5 of the decompressed bytes is {digest}, expected "
            f"{BUNDLED_MD5[name]}; the file is corrupted (reinstall the package)"
        )
    return raw


def _to_dask(df: pd.DataFrame, as_dask: bool, npartitions: int | None):
    if not as_dask:
        if npartitions is not None:
            raise DataError("npartitions is only used with as_dask=True")
        return df
    import dask.dataframe as dd

    return dd.from_pandas(df, npartitions=npartitions or 1, sort=True)


# --------------------------------------------------------------------------- Adult

ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]
_ADULT_CATEGORICAL = [
    "workclass",
    "education",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native_country",
]


def _parse_adult(name: str, skiprows: int) -> pd.DataFrame:
    raw = read_bundled(name)
    df = pd.read_csv(
        io.BytesIO(raw),
        header=None,
        names=ADULT_COLUMNS,
        skiprows=skiprows,
        skipinitialspace=True,
        na_values=["?"],
        keep_default_na=False,
        skip_blank_lines=True,
        dtype={c: "str" for c in [*_ADULT_CATEGORICAL, "income"]},
    )
    label = df["income"].str.rstrip(".")
    bad = ~label.isin([">50K", "<=50K"])
    if bad.any():  # pragma: no cover - guarded by the checksum
        raise DataError(f"{name}: unexpected income labels {sorted(label[bad].unique())[:5]}")
    df["income"] = (label == ">50K").astype("int8")
    for col in ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]:
        df[col] = df[col].astype("int64")
    return df


@functools.lru_cache(maxsize=1)
def _adult_splits() -> tuple[pd.DataFrame, pd.DataFrame]:
    train = _parse_adult("adult.data.gz", skiprows=0)
    test = _parse_adult("adult.test.gz", skiprows=1)  # first line: "|1x3 Cross validator"
    # One category set for both splits, so train and test frames concatenate and encode alike.
    for col in _ADULT_CATEGORICAL:
        cats = sorted(set(train[col].dropna()) | set(test[col].dropna()))
        dtype = pd.CategoricalDtype(cats)
        train[col] = train[col].astype(dtype)
        test[col] = test[col].astype(dtype)
    return train, test


def load_adult(split: str = "train", *, as_dask: bool = False, npartitions: int | None = None):
    """The Adult (Census Income) dataset, UCI, Becker and Kohavi 1996 (CC BY 4.0).

    Parameters
    ----------
    split : {"train", "test", "all"}
        The published splits: 32,561 train rows, 16,281 test rows, 48,842 together
        (train first, then test, with a fresh 0..n-1 index).
    as_dask : bool
        Return a Dask DataFrame (``npartitions`` partitions, default 1) instead of pandas.

    Returns
    -------
    DataFrame with snake_case columns (``education_num``, ``hours_per_week`` ...), the eight
    text attributes as categoricals (``?`` read as missing), integer numerics, and the target
    ``income`` as int8: 1 for ``>50K`` (the test split's trailing ``.`` removed), 0 otherwise.
    """
    if split not in {"train", "test", "all"}:
        raise DataError(f"load_adult: split must be 'train', 'test' or 'all', got {split!r}")
    train, test = _adult_splits()
    if split == "train":
        df = train.copy()
    elif split == "test":
        df = test.copy()
    else:
        df = pd.concat([train, test], ignore_index=True)
    df.attrs["source"] = "UCI Adult (Becker & Kohavi 1996), CC BY 4.0, doi:10.24432/C5XW20"
    df.attrs["target"] = "income"
    return _to_dask(df, as_dask, npartitions)


# --------------------------------------------------------------------------- German Credit

GERMAN_CREDIT_COLUMNS = [
    "checking_account",
    "duration_months",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "employed_since",
    "installment_rate",
    "personal_status_sex",
    "other_debtors",
    "residence_since",
    "property",
    "age",
    "other_installment_plans",
    "housing",
    "existing_credits",
    "job",
    "people_liable",
    "telephone",
    "foreign_worker",
]

_GERMAN_CODES: dict[str, dict[str, str]] = {
    "checking_account": {"A11": "< 0 DM", "A12": "0-200 DM", "A13": ">= 200 DM or salary", "A14": "none"},
    "credit_history": {
        "A30": "no credits / all paid",
        "A31": "all paid at this bank",
        "A32": "existing paid till now",
        "A33": "past delays",
        "A34": "critical account",
    },
    "purpose": {
        "A40": "new car",
        "A41": "used car",
        "A42": "furniture",
        "A43": "radio/TV",
        "A44": "appliances",
        "A45": "repairs",
        "A46": "education",
        "A47": "vacation",
        "A48": "retraining",
        "A49": "business",
        "A410": "other",
    },
    "savings": {"A61": "< 100 DM", "A62": "100-500 DM", "A63": "500-1000 DM", "A64": ">= 1000 DM", "A65": "unknown / none"},
    "employed_since": {"A71": "unemployed", "A72": "< 1 year", "A73": "1-4 years", "A74": "4-7 years", "A75": ">= 7 years"},
    "personal_status_sex": {
        "A91": "male divorced/separated",
        "A92": "female divorced/separated/married",
        "A93": "male single",
        "A94": "male married/widowed",
        "A95": "female single",
    },
    "other_debtors": {"A101": "none", "A102": "co-applicant", "A103": "guarantor"},
    "property": {"A121": "real estate", "A122": "savings agreement / life insurance", "A123": "car or other", "A124": "unknown / none"},
    "other_installment_plans": {"A141": "bank", "A142": "stores", "A143": "none"},
    "housing": {"A151": "rent", "A152": "own", "A153": "for free"},
    "job": {
        "A171": "unemployed / unskilled non-resident",
        "A172": "unskilled resident",
        "A173": "skilled",
        "A174": "management / self-employed / highly qualified",
    },
    "telephone": {"A191": "none", "A192": "yes"},
    "foreign_worker": {"A201": "yes", "A202": "no"},
}

#: The dataset's documented cost matrix (rows: true class, columns: predicted class).
#: Predicting "good" for a bad credit costs 5; predicting "bad" for a good one costs 1.
GERMAN_CREDIT_COSTS = pd.DataFrame(
    [[0, 1], [5, 0]],
    index=pd.Index(["good", "bad"], name="true"),
    columns=pd.Index(["good", "bad"], name="predicted"),
)


def load_german_credit(*, as_dask: bool = False, npartitions: int | None = None):
    """Statlog German Credit, UCI, Hofmann 1994 (CC BY 4.0): 1,000 applicants.

    Codes such as ``A11`` are decoded to readable categories (ordered where the
    attribute is ordinal). Derived columns: ``sex`` (from ``personal_status_sex``) and
    ``age_group`` (``"< 25"`` / ``">= 25"``, the usual fairness split). The target
    ``bad_credit`` is 1 for a bad credit (30 %), 0 for good. The documented 5:1 cost
    matrix is :data:`GERMAN_CREDIT_COSTS` (also in ``df.attrs["cost_matrix"]``).
    """
    raw = read_bundled("german.data.gz")
    df = pd.read_csv(
        io.BytesIO(raw), sep=" ", header=None, names=[*GERMAN_CREDIT_COLUMNS, "class"], dtype="str"
    )
    for col, codes in _GERMAN_CODES.items():
        unknown = set(df[col]) - set(codes)
        if unknown:  # pragma: no cover - guarded by the checksum
            raise DataError(f"german.data: column {col!r} has unknown codes {sorted(unknown)}")
        ordered = col in {"checking_account", "savings", "employed_since"}
        df[col] = pd.Categorical(df[col].map(codes), categories=list(codes.values()), ordered=ordered)
    numeric = set(GERMAN_CREDIT_COLUMNS) - set(_GERMAN_CODES)
    for col in numeric:
        df[col] = df[col].astype("int64")
    df["bad_credit"] = (df.pop("class").astype(int) == 2).astype("int8")
    sex = df["personal_status_sex"].astype(str).str.split(" ").str[0]
    df.insert(df.columns.get_loc("personal_status_sex") + 1, "sex", pd.Categorical(sex, ["female", "male"]))
    age_group = np.where(df["age"] < 25, "< 25", ">= 25")
    df.insert(df.columns.get_loc("age") + 1, "age_group", pd.Categorical(age_group, ["< 25", ">= 25"]))
    df.attrs["source"] = "UCI Statlog German Credit (Hofmann 1994), CC BY 4.0, doi:10.24432/C5NC77"
    df.attrs["target"] = "bad_credit"
    df.attrs["cost_matrix"] = GERMAN_CREDIT_COSTS.to_dict()
    return _to_dask(df, as_dask, npartitions)


# --------------------------------------------------------------------------- generic CSV

_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_SHORT_ROW_SCAN_LIMIT = 256 * 2**20  # bytes; beyond this, short rows are not re-scanned


def _check_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        parent = p.parent if str(p.parent) else Path(".")
        hint = "" if parent.is_dir() else f" (its folder {parent} does not exist either)"
        raise FileNotFoundError(f"no such file: {p}{hint}")
    if p.is_dir():
        raise DataError(f"{p} is a directory; expected a CSV file")
    return p


def _header(path: Path, sep: str, skiprows: int) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as fh:
        for _ in range(skiprows):
            fh.readline()
        reader = csv.reader(fh, delimiter=sep)
        return next(reader, [])


def _first_short_row(fh, sep: str, n_fields: int) -> tuple[int, int] | None:
    """(line in ``fh``, fields) of its first row with fewer than ``n_fields`` fields, if any."""
    reader = csv.reader(fh, delimiter=sep)
    for row in reader:
        if row and len(row) < n_fields:
            return reader.line_num, len(row)
    return None


def _short_row(path: Path, sep: str, skiprows: int, n_fields: int) -> tuple[int, int] | None:
    """(line, fields) of the file's first row with fewer than ``n_fields`` fields, if any."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as fh:
        for _ in range(skiprows):
            fh.readline()
        short = _first_short_row(fh, sep, n_fields)
    return None if short is None else (skiprows + short[0], short[1])


def _malformed(p: Path, line: int, expected: int, saw: int) -> MalformedCSVError:
    return MalformedCSVError(f"{p}: line {line} is malformed: expected {expected} fields, saw {saw}",
                             path=str(p), line=line)


def _parser_error(exc: Exception, p: Path, lines_before: Callable[[], int], what: str) -> MalformedCSVError:
    """pandas' tokenizer error as ours, with the line of the file (``lines_before`` is only
    called when pandas named a line: counting them may read the file)."""
    m = _FIELDS_RE.search(str(exc))
    if not m:
        return MalformedCSVError(f"{p}: {what}: {exc}", path=str(p))
    expected, line, saw = (int(g) for g in m.groups())
    return _malformed(p, line + lines_before(), expected, saw)


def _columns_of(p: Path, sep: str, skiprows: int, names: Sequence[str] | None) -> list[str]:
    """The file's columns (its header row, or ``names``): empty files and duplicate names refused."""
    if names is not None:
        return list(names)
    header = _header(p, sep, skiprows)
    if not header:
        raise MalformedCSVError(f"{p}: the file is empty; expected a header row", path=str(p), line=1)
    seen: set[str] = set()
    dups = sorted({h for h in header if h in seen or seen.add(h)})
    if dups:
        raise DataError(f"{p}: line {skiprows + 1} (header) has duplicate column names {dups}")
    return header


def _coerce(df: pd.DataFrame, schema: Schema, path: Path, first_data_line: int, *, first_data_row: int = 0,
            hint: str | Mapping[str, str] = "as the schema says") -> pd.DataFrame:
    problems: list[Problem] = []
    for name, spec in schema.columns.items():
        col = df[name]
        have = kind_of(col.dtype)
        if have == spec.kind or (spec.kind == "float" and have == "int"):
            if spec.kind == "category" and spec.categories is not None:
                df[name] = col.astype(pd.CategoricalDtype(list(spec.categories)))
            continue
        if spec.kind in {"int", "float"}:
            converted = pd.to_numeric(col, errors="coerce")
        elif spec.kind == "datetime":
            converted = pd.to_datetime(col, errors="coerce")
        elif spec.kind == "bool":
            converted = col.map({"true": True, "false": False, "True": True, "False": False, 1: True, 0: False, "1": True, "0": False})
        elif spec.kind in {"category", "string"}:
            df[name] = col.astype("str").where(col.notna())
            if spec.kind == "category":
                cats = list(spec.categories) if spec.categories is not None else None
                df[name] = df[name].astype(pd.CategoricalDtype(cats) if cats else "category")
            continue
        else:  # pragma: no cover
            continue
        bad = converted.isna() & col.notna()
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            problems.append(
                Problem(
                    name,
                    "dtype",
                    f"{path}: line {first_data_line + pos} (data row {first_data_row + pos}): value "
                    f"{col.iloc[pos]!r} is not a valid {spec.kind} ({int(bad.sum())} such rows); "
                    f"expected {spec.kind} {hint.get(name, '') if isinstance(hint, Mapping) else hint}",
                )
            )
            continue
        if spec.kind == "int" and converted.notna().all() and (converted % 1 == 0).all():
            converted = converted.astype("int64")
        df[name] = converted
    if problems:
        raise DataValidationError(problems, header=f"{path}: values do not match the schema")
    return df


def read_csv(
    path: str | os.PathLike,
    schema: Schema | Mapping[str, str] | None = None,
    *,
    sep: str = ",",
    names: Sequence[str] | None = None,
    skiprows: int = 0,
    na_values: Sequence[str] | None = None,
    as_dask: bool = False,
    blocksize: str | int | None = "64MB",
    **kwargs: Any,
):
    """Read a CSV file with clear errors: file, line and column named, nothing half-read.

    Parameters
    ----------
    path : path to a ``.csv`` (or ``.csv.gz``); with ``as_dask`` a glob is allowed.
    schema : Schema or {column: kind}, optional
        Columns that must be present and the kind each must parse as (``int``, ``float``,
        ``category``, ``string``, ``bool``, ``datetime``). A value that does not parse is
        an error naming the file, the line and the column.
    names : column names when the file has no header row.
    as_dask : bool
        Return a lazy Dask DataFrame read in ``blocksize`` pieces of whole lines, one
        task each. Errors (malformed rows, values that do not parse) surface when a piece
        is computed, with the same messages: file, line of the file and column named. Without
        a schema, column kinds come from the first rows, and a later value of another kind
        is such an error. Quoted fields must not span lines (as with ``dask.dataframe``).

    Raises
    ------
    FileNotFoundError, MalformedCSVError, DataError, DataValidationError
    """
    if schema is not None and not isinstance(schema, Schema):
        schema = Schema.from_kinds(dict(schema))
    if as_dask:
        return _read_csv_dask(path, schema, sep=sep, names=names, skiprows=skiprows, na_values=na_values,
                              blocksize=blocksize, **kwargs)
    p = _check_path(path)
    n_fields = len(_columns_of(p, sep, skiprows, names))
    first_data_line = skiprows + (1 if names else 2)
    try:
        df = pd.read_csv(
            p, sep=sep, names=names, header=None if names else "infer", skiprows=skiprows,
            na_values=na_values, **kwargs,
        )
    except pd.errors.EmptyDataError:
        raise MalformedCSVError(f"{p}: the file is empty; expected a header row", path=str(p), line=1) from None
    except pd.errors.ParserError as exc:
        raise _parser_error(exc, p, lambda: skiprows, "could not parse") from None
    # pandas pads rows with too *few* fields with NaN; find them when the last column has gaps.
    if len(df) and df.iloc[:, -1].isna().any() and p.stat().st_size <= _SHORT_ROW_SCAN_LIMIT:
        short = _short_row(p, sep, skiprows, n_fields)
        if short is not None:
            raise _malformed(p, short[0], n_fields, short[1])
    if schema is not None:
        missing = [c for c in schema.columns if c not in df.columns]
        if missing:
            raise DataError(
                f"{p}: schema names column(s) {missing} that the file does not have; "
                f"its columns are {list(map(str, df.columns))}"
            )
        df = _coerce(df, schema, p, first_data_line)
    return df


# --------------------------------------------------------------------------- CSV on Dask


def _csv_blocks(p: Path, blocksize: int | None) -> list[tuple[int, int]]:
    """Byte ranges of ~``blocksize`` that start at a line start and end after a newline."""
    size = p.stat().st_size
    if blocksize is None or p.suffix == ".gz" or size <= blocksize:
        return [(0, size)]
    starts = [0]
    with open(p, "rb") as fh:
        while starts[-1] + blocksize < size:
            fh.seek(starts[-1] + blocksize)
            skipped = 0
            while True:  # to just past the next newline
                chunk = fh.read(1 << 16)
                if not chunk:
                    break
                i = chunk.find(b"\n")
                if i >= 0:
                    skipped += i + 1
                    break
                skipped += len(chunk)
            nxt = starts[-1] + blocksize + skipped
            if nxt >= size:
                break
            starts.append(nxt)
    return list(zip(starts, [*starts[1:], size]))


def _lines_before(p: Path, offset: int) -> int:
    """Newlines in the first ``offset`` bytes (only read when a piece has an error to report)."""
    n = 0
    with open(p, "rb") as fh:
        while offset > 0:
            chunk = fh.read(min(offset, 1 << 24))
            if not chunk:
                break
            n += chunk.count(b"\n")
            offset -= len(chunk)
    return n


def _read_csv_block(p: Path, start: int, end: int, columns: list[str], header_lines: int, schema: Schema,
                    declared: frozenset, sep: str, na_values, kwargs: dict) -> pd.DataFrame:
    if p.suffix == ".gz":
        with gzip.open(p, "rb") as fh:
            data = fh.read()
    else:
        with open(p, "rb") as fh:
            fh.seek(start)
            data = fh.read(end - start)
    skip = header_lines if start == 0 else 0  # the first piece holds skipped rows and the header

    def base() -> int:  # lines of the file before this piece (pandas counts skipped rows in)
        return 0 if start == 0 else _lines_before(p, start)

    try:
        df = pd.read_csv(io.BytesIO(data), sep=sep, names=columns, header=None, skiprows=skip,
                         na_values=na_values, **kwargs)
    except pd.errors.EmptyDataError:
        df = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    except pd.errors.ParserError as exc:
        raise _parser_error(exc, p, base, f"could not parse bytes {start}-{end}") from None
    if len(df) and df.iloc[:, -1].isna().any():  # pandas pads short rows with NaN: find them
        short = _first_short_row(io.StringIO(data.decode("utf-8"), newline=""), sep, len(columns))
        if short is not None:
            raise _malformed(p, short[0] + base(), len(columns), short[1])
    hint = {c: "as the schema says" if c in declared else
            "as the first rows of the file suggested; pass a schema naming this column's kind"
            for c in schema.columns}
    try:
        out = _coerce(df, schema, p, skip + 1, hint=hint)
        first = skip + 1
    except DataValidationError:
        if start == 0:
            raise
        first = base() + 1  # rerun for the file's line numbers, only now worth counting
        out = _coerce(df, schema, p, first, first_data_row=first - header_lines - 1, hint=hint)
    # Every piece must give the dtype the Dask frame promised: an int column with a gap would
    # come back float from this piece only.
    gaps = [c for c, spec in schema.columns.items() if spec.kind == "int" and out[c].dtype.kind == "f"]
    if gaps:
        if start != 0:
            first = base() + 1
        c = gaps[0]
        pos = int(np.flatnonzero(out[c].isna().to_numpy())[0])
        raise DataValidationError([Problem(
            c, "dtype", f"{p}: line {first + pos} (data row {first - header_lines - 1 + pos}): missing value in a "
            f"column read as int ({hint[c]}); on Dask every piece must have one dtype: declare it 'float'")],
            header=f"{p}: values do not match the schema")
    return out


def _read_csv_dask(path, schema: Schema | None, *, sep: str, names, skiprows: int, na_values, blocksize,
                   **kwargs: Any):
    import glob

    import dask
    import dask.dataframe as dd
    from dask.utils import parse_bytes

    files = sorted(glob.glob(str(path)))
    if not files:
        raise FileNotFoundError(f"no such file: {path} (no file matches this path/glob)")
    first = _check_path(files[0])
    columns = _columns_of(first, sep, skiprows, names)
    header_lines = skiprows + (0 if names else 1)
    if schema is not None:
        missing = [c for c in schema.columns if c not in columns]
        if missing:
            raise DataError(f"{first}: schema names column(s) {missing} that the file does not have; "
                            f"its columns are {columns}")
    declared = frozenset(schema.columns if schema is not None else ())
    with open(first, "rb") if first.suffix != ".gz" else gzip.open(first, "rb") as fh:
        sample = fh.read(256 * 1024)
    sample = sample[: sample.rfind(b"\n") + 1] or sample
    try:
        head = pd.read_csv(io.BytesIO(sample), sep=sep, names=columns, header=None, skiprows=header_lines,
                           na_values=na_values, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        head = None  # the piece that holds the problem reports it, with its line
    # The columns a piece yields (usecols= may select some), with the kinds of the first rows.
    kinds = ({c: kind_of(head[c].dtype) for c in head.columns} if head is not None
             else dict.fromkeys(columns, "string"))
    inferred = Schema.from_kinds({c: (k if k in {"int", "float", "bool", "datetime"} else "string")
                                  for c, k in kinds.items()})
    full = Schema({**inferred.columns, **(schema.columns if schema is not None else {})})
    size = parse_bytes(blocksize) if isinstance(blocksize, str) else blocksize
    parts = []
    for f in files:
        fp = _check_path(f)
        if f != files[0] and _columns_of(fp, sep, skiprows, names) != columns:
            raise DataError(f"{fp}: its columns differ from {first}'s ({columns})")
        for start, end in _csv_blocks(fp, size):
            parts.append(dask.delayed(_read_csv_block, pure=True)(
                fp, start, end, columns, header_lines, full, declared, sep, na_values, kwargs))
    meta = _coerce(pd.read_csv(io.BytesIO(sample), sep=sep, names=columns, header=None, skiprows=header_lines,
                               na_values=na_values, nrows=0, **kwargs) if head is None else head.iloc[:0].copy(),
                   full, first, header_lines + 1, hint="")
    return dd.from_delayed(parts, meta=_unknown_categories(meta), verify_meta=False)


def _unknown_categories(meta: pd.DataFrame) -> pd.DataFrame:
    """Categoricals whose categories each piece finds for itself are 'unknown' to Dask."""
    from dask.dataframe.utils import UNKNOWN_CATEGORIES

    meta = meta.copy()
    for c in meta.columns:
        dtype = meta[c].dtype
        if isinstance(dtype, pd.CategoricalDtype) and len(dtype.categories) == 0:
            meta[c] = pd.Series(pd.Categorical([], categories=[UNKNOWN_CATEGORIES]), dtype="category")
    return meta
