"""Data handling at scale: real datasets offline, synthetic data with planted truth,
validation, preprocessing and profiling that take pandas or Dask with the same call.

Modules, by concern:

* :mod:`mlkit.data.loaders` - ``load_adult``, ``load_german_credit`` (bundled, md5-checked), ``read_csv``
* :mod:`mlkit.data.synthetic` - ``make_tabular`` (+ ``SyntheticTruth``), ``upsample``
* :mod:`mlkit.data.storage` - ``write_parquet`` (sized partitions, atomic), ``read_parquet``
* :mod:`mlkit.data.schema` / :mod:`mlkit.data.validation` - ``Schema``, ``infer_schema``, ``validate``
* :mod:`mlkit.data.profiling` - ``profile``
* :mod:`mlkit.data.scan` - the one-pass, mergeable statistics behind validation and profiling
* :mod:`mlkit.data.preprocessing` - ``TabularPreprocessor``
* :mod:`mlkit.data.splitting` - ``train_valid_test_split``, ``assign_splits``
"""

from __future__ import annotations

from .errors import (
    ChecksumError,
    DataError,
    DataValidationError,
    EmptyDataError,
    MalformedCSVError,
    Problem,
    UnknownCategoryError,
)
from .loaders import GERMAN_CREDIT_COSTS, load_adult, load_german_credit, read_csv
from .preprocessing import TabularPreprocessor
from .profiling import Profile, profile
from .schema import ColumnSpec, Schema
from .splitting import assign_splits, train_valid_test_split
from .storage import ParquetInfo, read_parquet, write_parquet
from .synthetic import SyntheticTruth, make_tabular, upsample
from .validation import ValidationReport, infer_schema, validate, validate_and_profile

__all__ = [
    "GERMAN_CREDIT_COSTS",
    "ChecksumError",
    "ColumnSpec",
    "DataError",
    "DataValidationError",
    "EmptyDataError",
    "MalformedCSVError",
    "ParquetInfo",
    "Problem",
    "Profile",
    "Schema",
    "SyntheticTruth",
    "TabularPreprocessor",
    "UnknownCategoryError",
    "ValidationReport",
    "assign_splits",
    "infer_schema",
    "load_adult",
    "load_german_credit",
    "make_tabular",
    "profile",
    "read_csv",
    "read_parquet",
    "train_valid_test_split",
    "upsample",
    "validate",
    "validate_and_profile",
    "write_parquet",
]
