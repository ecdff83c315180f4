"""Parameter recovery: simulate patients with the engine from known parameters, fit, compare.

The truth rescales three mechanism parameters the data identify: the seeding coefficient
(``burden``), the residual cells of every margin (``residual``) and every patient's immunity
(``immunity``: the measured immunity is the true one divided by this factor). The engine
simulates a cohort from the true mechanism; the fit starts from the default mechanism and the
measured immunity, so the true log multipliers are known (docs/fit.md, section 5).

``python -m remnant.inference.recovery --seeds 20`` repeats over seeds and prints the coverage of
the 95% Laplace intervals.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math

import numpy as np
import pandas as pd

from remnant.engine.simulate import simulate
from remnant.inference.model import fit
from remnant.model.parameters import Mechanism, Patient
from remnant.model.scenario import Scenario

TRUTH = {"burden": math.log(2.0), "residual": math.log(4.0), "immunity": math.log(1.25)}
SIZES_MM = (20.0, 35.0, 50.0, 70.0)
NODES = (0, 2, 6)
MARGINS = ("R0", "R1")
IMMUNITY = (0.5, 1.0, 2.0)  # measured
FOLLOW_UP_YEARS = 10.0


def true_mechanism(base: Mechanism | None = None) -> Mechanism:
    """The mechanism the patients are simulated from."""
    m = base or Mechanism()
    return dataclasses.replace(
        m,
        seeding_coefficient={
            c: v * math.exp(TRUTH["burden"]) for c, v in m.seeding_coefficient.items()
        },
        residual_cells={k: v * math.exp(TRUTH["residual"]) for k, v in m.residual_cells.items()},
    )


def simulated_cohort(
    n: int = 3000, seed: int = 0, cancer: str = "colon"
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Patients (measured fields), days to recurrence or censoring, and 0/1 events."""
    grid = list(itertools.product(SIZES_MM, NODES, MARGINS, IMMUNITY))
    true_patients = tuple(
        Patient(
            cancer=cancer,
            size_mm=s,
            nodes=k,
            grade=2,
            margin=m,
            immunity=i * math.exp(TRUTH["immunity"]),
        )
        for s, k, m, i in grid
    )
    scenario = Scenario(true_patients, tuple([1.0] * len(grid)), true_mechanism(), "recovery")
    res = simulate(scenario, n, seed=seed, horizon_years=FOLLOW_UP_YEARS, workers=1)
    tab = res.table
    assert tab is not None  # in memory: no output file was asked for
    prof = tab["profile"].to_numpy()
    measured = (
        pd.DataFrame(
            [
                {
                    "cancer": cancer,
                    "size_mm": s,
                    "nodes": k,
                    "grade": 2,
                    "margin": m,
                    "immunity": i,
                    "age": 68.0,
                }
                for s, k, m, i in grid
            ]
        )
        .iloc[prof]
        .reset_index(drop=True)
    )
    event = tab["event"].isin(["local", "distant"]).to_numpy().astype(np.int64)
    time = tab["time_days"].to_numpy(dtype=float)
    return measured, time, event


def recover(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """One replicate: truth, estimate, standard error, interval and coverage per parameter."""
    X, time, event = simulated_cohort(n, seed)
    fitted = fit(X, time, event, links="mechanism", cancer="colon")
    par = fitted.parameters()
    par["truth"] = [TRUTH[p] for p in par.index]
    par["z"] = (par["estimate"] - par["truth"]) / par["se"]
    par["covered"] = (par["lower"] <= par["truth"]) & (par["truth"] <= par["upper"])
    par["seed"] = seed
    par["events"] = int(event.sum())
    return par


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--patients", type=int, default=3000)
    args = ap.parse_args(argv)
    rows = [recover(args.patients, seed) for seed in range(args.seeds)]
    allp = pd.concat(rows)
    pd.set_option("display.width", 160)
    print(allp.round(4).to_string())
    summary = allp.groupby(level=0).agg(
        truth=("truth", "first"),
        mean_estimate=("estimate", "mean"),
        sd_estimate=("estimate", "std"),
        mean_se=("se", "mean"),
        coverage=("covered", "mean"),
        mean_z=("z", "mean"),
    )
    print(f"\n{args.seeds} replicates of {args.patients} patients; 95% Laplace intervals")
    print(summary.round(4).to_string())


if __name__ == "__main__":
    main()
