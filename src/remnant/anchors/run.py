"""Running the anchors: simulate the settings once each, measure every anchor, tabulate."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from remnant.anchors import stats
from remnant.anchors.cohorts import CohortCache
from remnant.anchors.definitions import NOT_EXPRESSIBLE, UNVERIFIED, Anchor, Measured, select
from remnant.errors import RemnantInputError

Progress = Callable[[str, int, int], None]

COLUMNS = (
    "id",
    "source",
    "setting",
    "quantity",
    "published",
    "published_text",
    "low",
    "high",
    "interval_kind",
    "unit",
    "model",
    "mc_low",
    "mc_high",
    "mc_method",
    "verdict",
    "borderline",
    "verified",
    "approximation",
    "note",
)


@dataclass(frozen=True)
class Result:
    """One measured anchor: the anchor and what the model gave."""

    anchor: Anchor
    measured: Measured

    def row(self) -> dict[str, object]:
        a, est = self.anchor, self.measured.estimate
        low, high = a.band()
        return {
            "id": a.id,
            "source": a.source,
            "setting": a.setting,
            "quantity": a.quantity,
            "published": a.published,
            "published_text": a.published_text,
            "low": low,
            "high": high,
            "interval_kind": a.interval_kind,
            "unit": a.unit,
            "model": est.value,
            "mc_low": est.low,
            "mc_high": est.high,
            "mc_method": est.method,
            "verdict": stats.verdict(est.value, low, high),
            "borderline": stats.borderline(est.low, est.high, low, high),
            "verified": "yes" if a.verified else UNVERIFIED,
            "approximation": a.approximation,
            "note": self.measured.note,
        }


def _check_int(field: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        raise RemnantInputError(field, f"a whole number in [{lo}, {hi}]", value)
    return int(value)


def measure_anchors(
    n_patients: int,
    seed: int,
    *,
    only: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> list[Result]:
    """Measure the anchors on cohorts of ``n_patients`` per setting.

    Parameters
    ----------
    n_patients : int
        Virtual patients per setting (cohort).
    seed : int
        Run seed; each setting's cohort and each anchor's bootstrap draws derive from it and
        their own names, so the results are a pure function of (n_patients, seed) and do
        not depend on ``only``.
    only : sequence of str, optional
        Anchor ids to run (default all); see :func:`remnant.anchors.definitions.select`.
    progress : callable, optional
        ``progress(label, done, total)`` after each cohort and each anchor.

    Returns
    -------
    list of Result
    """
    n_patients = _check_int("n_patients", n_patients, 1, 100_000_000)
    seed = _check_int("seed", seed, 0, 2**63 - 1)
    anchors = select(None if only is None else list(only))
    done = 0
    total = len(anchors)

    def simulated(setting: object) -> None:
        if progress is not None:
            progress(f"simulated {getattr(setting, 'key', '')}", done, total)

    cache = CohortCache(n_patients, seed, on_simulated=simulated)
    results = []
    for anchor in anchors:
        rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(anchor.id.encode())]))
        )
        results.append(Result(anchor, anchor.measure(cache, rng)))
        done += 1
        if progress is not None:
            progress(anchor.id, done, total)
    return results


def results_table(results: Sequence[Result], *, with_not_expressible: bool = True) -> pd.DataFrame:
    """The anchor table: one row per measured anchor, then the figures that are not
    expressible (verdict ``"not expressible"``, their reason in ``note``)."""
    rows = [r.row() for r in results]
    if with_not_expressible:
        for ne in NOT_EXPRESSIBLE:
            rows.append(
                {
                    **{c: math.nan for c in COLUMNS},
                    "id": ne.id,
                    "source": ne.source,
                    "published_text": ne.figure,
                    "verdict": "not expressible",
                    "borderline": False,
                    "verified": "yes",
                    "note": ne.reason,
                    "setting": "",
                    "quantity": "",
                    "interval_kind": "",
                    "unit": "",
                    "mc_method": "",
                    "approximation": "",
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def run_anchors(
    n_patients: int,
    seed: int,
    *,
    only: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """The anchor table on cohorts of ``n_patients`` per setting (see :func:`measure_anchors`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`; values in the anchor's units (fractions for percentages,
        see ``unit``). The not-expressible figures follow when ``only`` is None.
    """
    results = measure_anchors(n_patients, seed, only=only, progress=progress)
    return results_table(results, with_not_expressible=only is None)
