"""Baselines, metrics, validation schemes and the evaluate API, against the anchors.

Anchors (../shared/design/anchors.md, "Measured here"): Cox on Rotterdam (Royston & Altman
2013 coding) has Harrell C 0.676 on Rotterdam and 0.673 on GBSG; on colon recurrence rows the
5-fold cross-validated C is 0.650. The same document gives the calibration slope of that Cox
model on GBSG at 5 years as 1.18.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from lifelines.utils import concordance_index

from remnant.data import Cohort, load_cohort
from remnant.errors import RemnantInputError
from remnant.yardstick import (
    MODELS,
    KaplanMeierModel,
    SurvivalModel,
    evaluate,
    make_model,
    register_model,
)
from remnant.yardstick.calibration import (
    calibration_groups,
    calibration_slope,
    integrated_calibration_index,
    rcs_basis,
)
from remnant.yardstick.evaluation import jsonable
from remnant.yardstick.metrics import harrell_c, ibs_grid, score_model
from remnant.yardstick.validation import align_to_train, stratified_folds

YEAR = 365.25
SMALL_FOREST = {"n_estimators": 20, "min_samples_leaf": 15}


@pytest.fixture(scope="module")
def rotterdam() -> Cohort:
    return load_cohort("rotterdam")


@pytest.fixture(scope="module")
def gbsg() -> Cohort:
    return load_cohort("gbsg")


@pytest.fixture(scope="module")
def colon() -> Cohort:
    return load_cohort("colon")


@pytest.fixture(scope="module")
def cox_rotterdam(rotterdam: Cohort) -> SurvivalModel:
    return make_model("cox").fit(rotterdam)


# -- anchors -------------------------------------------------------------------------------------


def test_anchor_cox_rotterdam_apparent_and_external_c(
    cox_rotterdam: SurvivalModel, rotterdam: Cohort, gbsg: Cohort
) -> None:
    apparent = harrell_c(rotterdam.time, rotterdam.event, cox_rotterdam.risk_score(rotterdam))
    external = harrell_c(gbsg.time, gbsg.event, cox_rotterdam.risk_score(gbsg))
    assert apparent == pytest.approx(0.676, abs=0.01)
    assert external == pytest.approx(0.673, abs=0.01)


def test_anchor_rotterdam_to_gbsg_through_evaluate() -> None:
    result = evaluate("cox", train="rotterdam", test="gbsg", horizons_years=[1, 3, 5])
    s = result.summary
    assert s["harrell_c"] == pytest.approx(0.673, abs=0.01)
    assert s["calibration_slope"] == pytest.approx(1.18, abs=0.02)
    # Published for a Cox model of this pair (McLernon et al. 2023): Uno C 0.65, 5-year
    # Brier 0.22, 5-year AUC 0.70; the model differs slightly (fractional polynomials).
    assert s["uno_c"] == pytest.approx(0.65, abs=0.02)
    assert s["brier"]["5"] == pytest.approx(0.22, abs=0.01)
    assert s["auc"]["5"] == pytest.approx(0.70, abs=0.03)
    assert len(s["folds"]) == 1 and s["scheme"] == "train-test"


def test_anchor_colon_five_fold_cross_validated_c() -> None:
    result = evaluate("cox", data="colon", cv=5, seed=0)
    s = result.summary
    assert s["harrell_c"] == pytest.approx(0.650, abs=0.01)
    assert len(s["folds"]) == 5
    assert s["harrell_c"] == pytest.approx(np.mean([f["harrell_c"] for f in s["folds"]]))
    assert len(result.predictions) == 888  # every patient scored once, out of fold
    assert sorted(result.predictions["fold"].unique()) == [1, 2, 3, 4, 5]


# -- the model contract --------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["cox", "weibull", "rsf", "km"])
def fitted(request: pytest.FixtureRequest, gbsg: Cohort) -> SurvivalModel:
    options = SMALL_FOREST if request.param == "rsf" else {}
    return make_model(request.param, seed=3, **options).fit(gbsg)


def test_survival_function_invariants(fitted: SurvivalModel, gbsg: Cohort) -> None:
    X = gbsg.X.iloc[:40]
    times = np.array([0.0, 30, 200, YEAR, 2 * YEAR, 1500, 5 * YEAR, 10 * YEAR])
    surv = fitted.predict_survival(X, times)
    assert surv.shape == (len(times), len(X))
    np.testing.assert_array_equal(surv.index.to_numpy(), times)
    np.testing.assert_array_equal(surv.columns.to_numpy(), X.index.to_numpy())
    values = surv.to_numpy()
    assert ((values >= 0) & (values <= 1)).all()
    assert (np.diff(values, axis=0) <= 1e-12).all(), "S(t) must not increase with t"
    for h in (YEAR, 3 * YEAR):
        expected = 1.0 - fitted.predict_survival(X, [h]).to_numpy()[0]
        np.testing.assert_allclose(fitted.predict_risk(X, h), expected)
    scores = fitted.risk_score(X)
    assert scores.shape == (len(X),) and np.isfinite(scores).all()


def test_fit_accepts_a_cohort_or_a_frame_with_outcome(gbsg: Cohort) -> None:
    by_cohort = make_model("cox").fit(gbsg)
    by_frame = make_model("cox").fit(gbsg.X, gbsg.y)
    np.testing.assert_allclose(by_cohort.risk_score(gbsg), by_frame.risk_score(gbsg.X))
    with pytest.raises(TypeError):
        make_model("cox").fit(gbsg.X)


@pytest.mark.parametrize("name", ["cox", "weibull", "rsf"])
def test_higher_risk_score_means_earlier_event(name: str, gbsg: Cohort) -> None:
    options = SMALL_FOREST if name == "rsf" else {}
    model = make_model(name, **options).fit(gbsg)
    score = model.risk_score(gbsg)
    assert harrell_c(gbsg.time, gbsg.event, score) > 0.6
    # the risk at five years ranks subjects like the score (Spearman correlation)
    risk = pd.Series(model.predict_risk(gbsg, 5 * YEAR))
    assert risk.corr(pd.Series(score), method="spearman") > 0.9


def test_harrell_c_agrees_with_lifelines(cox_rotterdam: SurvivalModel, gbsg: Cohort) -> None:
    score = cox_rotterdam.risk_score(gbsg)
    ours = harrell_c(gbsg.time, gbsg.event, score)
    # lifelines' concordance_index wants higher = longer survival, hence the minus sign
    assert ours == pytest.approx(concordance_index(gbsg.time, -score, gbsg.event), abs=1e-9)


def test_kaplan_meier_is_uninformative_but_scored(gbsg: Cohort) -> None:
    km = KaplanMeierModel().fit(gbsg)
    metrics, _ = score_model(km, gbsg, [YEAR, 3 * YEAR, 5 * YEAR], 5 * YEAR)
    assert metrics["harrell_c"] == pytest.approx(0.5)
    assert metrics["uno_c"] == pytest.approx(0.5)
    assert math.isnan(metrics["calibration_slope"])
    # the training KM is perfectly calibrated in the large on its own data
    assert metrics["oe_ratio"] == pytest.approx(1.0, abs=1e-9)
    assert metrics["ici"] == pytest.approx(0.0, abs=1e-9)


def test_apparent_cox_calibration_is_near_ideal(
    cox_rotterdam: SurvivalModel, rotterdam: Cohort
) -> None:
    metrics, _ = score_model(cox_rotterdam, rotterdam, [YEAR, 3 * YEAR, 5 * YEAR], 5 * YEAR)
    assert metrics["calibration_slope"] == pytest.approx(1.0, abs=0.05)
    assert metrics["calibration_intercept"] == pytest.approx(0.0, abs=0.05)
    assert metrics["ici"] < 0.02
    assert 0 < metrics["integrated_brier"] < 0.25


def test_horizons_beyond_follow_up_are_nan_not_errors(
    cox_rotterdam: SurvivalModel, gbsg: Cohort
) -> None:
    metrics, _ = score_model(cox_rotterdam, gbsg, [YEAR, 10 * YEAR], 10 * YEAR)
    assert np.isfinite(metrics["auc"][0]) and math.isnan(metrics["auc"][1])
    assert math.isnan(metrics["calibration_slope"])
    assert metrics["uno_tau_days"] == YEAR
    grid = ibs_grid([YEAR, 10 * YEAR], gbsg.time)
    assert grid[0] == YEAR and grid[-1] < gbsg.time.max()


def test_calibration_slope_recovers_a_known_shrinkage() -> None:
    rng = np.random.default_rng(0)
    lp = rng.normal(0, 1, 3000)
    time = rng.exponential(1.0 / (0.1 * np.exp(lp)))
    event = (time < 15).astype(int)
    time = np.minimum(time, 15)
    true_surv = np.exp(-0.1 * np.exp(lp) * 5)
    too_extreme = np.exp(-0.1 * np.exp(2 * lp) * 5)  # doubled coefficient: slope 1/2
    assert calibration_slope(time, event, true_surv) == pytest.approx(1.0, abs=0.06)
    assert calibration_slope(time, event, too_extreme) == pytest.approx(0.5, abs=0.04)
    assert integrated_calibration_index(time, event, true_surv, 5)["ici"] < 0.02


def test_calibration_groups_are_equal_sized_and_ordered() -> None:
    rng = np.random.default_rng(1)
    risk = rng.uniform(0, 1, 500)
    time = rng.exponential(5, 500)
    event = rng.integers(0, 2, 500)
    table = calibration_groups(time, event, risk, 2.0)
    assert len(table) == 10 and table["n"].sum() == 500
    assert (table["n"].max() - table["n"].min()) <= 1
    assert table["mean_predicted"].is_monotonic_increasing
    assert (table["observed_lower"] <= table["observed"] + 1e-12).all()
    assert len(calibration_groups(time[:100], event[:100], risk[:100], 2.0)) == 5


def test_restricted_cubic_spline_is_linear_beyond_the_outer_knots() -> None:
    knots = np.array([0.0, 1.0, 3.0])
    x = np.linspace(4, 10, 7)
    basis = rcs_basis(x, knots)
    assert basis.shape == (7, 2)
    np.testing.assert_allclose(np.diff(basis[:, 1], n=2), 0, atol=1e-9)
    np.testing.assert_allclose(rcs_basis(np.array([-2.0, -1.0]), knots)[:, 1], 0)


# -- validation schemes --------------------------------------------------------------------------


def test_stratified_folds_partition_and_balance_events(colon: Cohort) -> None:
    folds = stratified_folds(colon, 5, seed=0)
    tests = np.concatenate([te for _, te in folds])
    assert sorted(tests) == list(range(colon.n))
    rates = [colon.event[te].mean() for _, te in folds]
    assert max(rates) - min(rates) < 0.01
    again = stratified_folds(colon, 5, seed=0)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again, strict=True))


@pytest.mark.parametrize("k", [1, 13])
def test_stratified_folds_refuse_impossible_k(k: int) -> None:
    ovarian = load_cohort("ovarian")  # 12 events, 14 censored
    with pytest.raises(RemnantInputError, match="cv"):
        stratified_folds(ovarian, k, seed=0)


def test_align_to_train_orders_columns_and_names_missing_ones(
    rotterdam: Cohort, gbsg: Cohort, colon: Cohort
) -> None:
    shuffled = gbsg.restrict(list(reversed(gbsg.covariates)))
    aligned = align_to_train(rotterdam, shuffled)
    assert aligned.covariates == rotterdam.covariates
    assert list(aligned.X.columns) == list(rotterdam.covariates)
    with pytest.raises(RemnantInputError, match="missing columns: size_20_50"):
        align_to_train(rotterdam, colon)


# -- evaluate API and registry ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"data": "colon", "train": "rotterdam", "test": "gbsg"}, "both"),
        ({"train": "rotterdam"}, "neither"),
        ({"data": "colon", "horizons_years": [1, -2]}, "horizons"),
        ({"data": "colon", "horizons_years": []}, "horizons"),
        ({"data": "colon", "ipcw": "both"}, "ipcw"),
        ({"data": "ovarian", "cv": 20}, "cv"),
        ({"data": "colon"}, "model"),
    ],
)
def test_evaluate_rejects_bad_arguments(kwargs: dict, fragment: str) -> None:
    model = "deepsurv" if fragment == "model" else "cox"
    with pytest.raises(RemnantInputError, match=fragment):
        evaluate(model, **kwargs)


def test_registered_model_is_evaluated_like_a_baseline() -> None:
    class Constant(KaplanMeierModel):
        name = "constant"

    register_model("constant-test", lambda seed=0, **_: Constant())
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_model("constant-test", lambda seed=0, **_: Constant())
        result = evaluate("constant-test", data="ovarian", cv=3, horizons_years=[1, 2])
        assert result.summary["model"] == "constant-test"
        assert result.summary["harrell_c"] == pytest.approx(0.5)
        assert result.summary["calibration_horizon_years"] == 2
    finally:
        MODELS.pop("constant-test", None)


def test_ipcw_from_training_cohort_reproduces_the_alternative_brier() -> None:
    # With Rotterdam's (longer) censoring distribution the integrated Brier score over
    # 1-6 years is the 0.145 quoted in anchors.md; the default (GBSG's censoring) is higher.
    kwargs = {"train": "rotterdam", "test": "gbsg", "horizons_years": [1, 2, 3, 4, 5, 6]}
    by_train = evaluate("cox", ipcw="train", **kwargs).summary
    assert by_train["integrated_brier"] == pytest.approx(0.145, abs=0.003)
    assert by_train["harrell_c"] == pytest.approx(0.673, abs=0.01)


def test_summary_is_json_ready() -> None:
    result = evaluate("km", data="ovarian", cv=3, horizons_years=[1, 2])
    text = result.to_json()
    loaded = json.loads(text)
    assert loaded["calibration_slope"] is None  # NaN for constant predictions
    for key in ("harrell_c", "uno_c", "integrated_brier", "folds", "data", "remnant_version"):
        assert key in loaded
    assert jsonable({"a": np.float64("nan"), "b": np.int64(3), "c": (1.5,)}) == {
        "a": None,
        "b": 3,
        "c": [1.5],
    }


@pytest.mark.parametrize("name", ["cox", "weibull"])
def test_constant_covariate_is_left_out_with_a_warning(name: str, gbsg: Cohort) -> None:
    X = gbsg.X.assign(constant=1.0)
    with pytest.warns(RuntimeWarning, match="constant covariates left out: constant"):
        model = make_model(name).fit(X, gbsg.y)
    reference = make_model(name).fit(gbsg)
    np.testing.assert_allclose(model.risk_score(X), reference.risk_score(gbsg), rtol=1e-6)


def test_library_warnings_become_report_notes() -> None:
    hcc = load_cohort("hcc", covariates=["TNM", "BCLC", "HBsAg", "Age"])
    frame = hcc.frame.assign(HBsAg=1.0)  # constant in every fold
    constant = Cohort(
        name="hcc-constant",
        frame=frame,
        stage_cols=hcc.stage_cols,
        other_cols=hcc.other_cols,
        endpoint=hcc.endpoint,
        provenance=hcc.provenance,
    )
    result = evaluate("cox", data=constant, cv=3, horizons_years=[1, 2])
    assert any("constant covariates left out: HBsAg" in n for n in result.summary["warnings"])
