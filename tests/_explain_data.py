"""Synthetic data with planted effects, and small models, for the mlkit.explain tests."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

# Logit coefficients of x0..x3 (x4..x7 are noise), plus an x2*x3 interaction.
COEFS = {"x0": 2.0, "x1": 1.5, "x2": 1.0, "x3": 0.5}
INTERACTION = ("x2", "x3", 0.8)
PLANTED_RANKING = ["x0", "x1", "x2", "x3"]


def planted(n: int = 20_000, seed: int = 0, n_noise: int = 4) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    cols = [*COEFS, *[f"x{4 + i}" for i in range(n_noise)]]
    X = pd.DataFrame(rng.standard_normal((n, len(cols))).astype(np.float32), columns=cols)
    logit = sum(c * X[f] for f, c in COEFS.items()) + INTERACTION[2] * X[INTERACTION[0]] * X[INTERACTION[1]]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(np.int8)
    return X, y


@functools.lru_cache(maxsize=4)
def xgb_model(n: int = 20_000, n_estimators: int = 60, max_depth: int = 4, seed: int = 0):
    import xgboost as xgb

    X, y = planted(n, seed)
    model = xgb.XGBClassifier(n_estimators=n_estimators, max_depth=max_depth, n_jobs=2, random_state=seed)
    model.fit(X, y)
    return model, X, y
