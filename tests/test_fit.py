"""`remnant.fit` (remnant.inference): save/load, the shape of predicted survival, recovering a
stage effect, bad input, and the yardstick's "remnant" model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from remnant.data import load_cohort
from remnant.errors import RemnantInputError
from remnant.inference.map import Objective
from remnant.inference.model import RemnantFit, fit
from remnant.model.parameters import PUBLISHED_GROWTH_SPREAD
from remnant.yardstick.registry import make_model

COLUMNS = ["stage", "other"]
GROUPS = {"stage": ["stage"], "other": ["other"]}
EPS = 1e-12  # rounding slack: S(0) comes out as 1 + O(1e-16)
TIMES = np.array([0.0, 30.0, 180.0, 365.25, 730.5, 1461.0, 2191.5, 3652.5, 7305.0])


def synthetic(n: int, seed: int, beta: float) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Covariates (``stage`` raises the hazard by exp(beta) per SD; ``other`` is noise),
    times in days and 0/1 events."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"stage": rng.normal(0.0, 1.0, n), "other": rng.normal(0.0, 1.0, n)})
    rate = np.exp(beta * X["stage"].to_numpy()) / 1500.0
    event_time = rng.exponential(1.0 / rate)
    censor = rng.uniform(365.0, 3650.0, n)
    time = np.minimum(event_time, censor)
    event = (event_time <= censor).astype(int)
    return X, time, event


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    return synthetic(600, seed=11, beta=1.0)


@pytest.fixture(scope="module")
def fitted(data: tuple[pd.DataFrame, np.ndarray, np.ndarray]) -> RemnantFit:
    X, time, event = data
    # one clock per cohort: the effect under test is on the seeds (the evidence may also give
    # stage a clock of its own, test_fit_evidence.py)
    return fit(X, time, event, groups=GROUPS, seed=0, clock_links=False)


@pytest.fixture
def new_patients() -> pd.DataFrame:
    return pd.DataFrame(
        {"stage": [-2.0, -0.5, 0.0, 1.0, 2.5], "other": [0.3, -1.0, 0.0, 2.0, -0.2]},
        index=[f"p{i}" for i in range(5)],
    )


# (a) save / load -------------------------------------------------------------------------


def test_save_load_round_trip(
    fitted: RemnantFit, new_patients: pd.DataFrame, tmp_path: Path
) -> None:
    path = fitted.save(tmp_path / "model.json")
    loaded = RemnantFit.load(path)
    pd.testing.assert_frame_equal(loaded.parameters(), fitted.parameters(), rtol=0, atol=0)
    pd.testing.assert_frame_equal(
        loaded.predict_survival(new_patients, TIMES),
        fitted.predict_survival(new_patients, TIMES),
        rtol=0,
        atol=0,
    )
    assert loaded.to_dict()["theta"] == fitted.to_dict()["theta"]
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_from_dict_of_to_dict_round_trip(fitted: RemnantFit, new_patients: pd.DataFrame) -> None:
    again = RemnantFit.from_dict(json.loads(json.dumps(fitted.to_dict())))
    np.testing.assert_array_equal(
        again.curves(new_patients, TIMES), fitted.curves(new_patients, TIMES)
    )


# (b) survival predictions ------------------------------------------------------------------


def test_survival_is_a_survival_curve(fitted: RemnantFit, new_patients: pd.DataFrame) -> None:
    s = fitted.predict_survival(new_patients, TIMES)
    assert list(s.columns) == list(new_patients.index)
    np.testing.assert_array_equal(s.index.to_numpy(), TIMES)
    v = s.to_numpy()
    assert np.isfinite(v).all()
    assert (v >= 0.0).all() and (v <= 1.0 + EPS).all()
    np.testing.assert_allclose(v[0], 1.0, rtol=0, atol=1e-9)
    assert (np.diff(v, axis=0) <= 1e-12).all(), "survival must not increase with time"
    assert v[-1].max() < 1.0, "some recurrence by 20 years"


def test_survival_on_a_fine_grid_is_non_increasing(
    fitted: RemnantFit, data: tuple[pd.DataFrame, np.ndarray, np.ndarray]
) -> None:
    X = data[0].iloc[:40]
    grid = np.linspace(0.0, 3652.5, 201)
    v = fitted.predict_survival(X, grid).to_numpy()
    assert (v >= 0.0).all() and (v <= 1.0 + EPS).all()
    np.testing.assert_allclose(v[0], 1.0, rtol=0, atol=1e-9)
    assert (np.diff(v, axis=0) <= 1e-12).all()


def test_curves_shape(fitted: RemnantFit, new_patients: pd.DataFrame) -> None:
    c = fitted.curves(new_patients, TIMES)
    assert c.shape == (len(new_patients), len(TIMES), 3)
    np.testing.assert_array_equal(
        c[:, :, 0].T, fitted.predict_survival(new_patients, TIMES).to_numpy()
    )


# (c) recovering the effect -----------------------------------------------------------------


def test_stage_effect_is_positive_and_significant(fitted: RemnantFit) -> None:
    p = fitted.parameters()
    assert {"stage:stage", "other:other"} <= set(p.index)
    row = p.loc["stage:stage"]
    assert row["estimate"] > 0.0
    assert row["lower"] > 0.0, p
    assert row["lower"] < row["estimate"] < row["upper"]
    # hazard ratio e per sd, 600 patients: the seeds' share of it is clear of zero by more
    # than three standard errors (part of the effect goes to immunity, the @immunity row)
    assert row["estimate"] / row["se"] > 3.0, "a strong effect, far from noise"
    assert (p["se"] > 0).all() and np.isfinite(p.to_numpy()).all()


@pytest.fixture(scope="module")
def objective(fitted: RemnantFit, data: tuple[pd.DataFrame, np.ndarray, np.ndarray]) -> Objective:
    """The fitted model's objective on its own data."""
    X, time, event = data
    mean, sd = fitted.links.priors()
    return Objective(fitted.links.design(X), fitted.table, time, event, mean, sd)


@pytest.fixture(scope="module")
def clock_objective(
    fitted: RemnantFit, data: tuple[pd.DataFrame, np.ndarray, np.ndarray]
) -> Objective:
    """The same objective with the disease clock spread between patients (docs/model.md
    1.10), on the first 60 patients: each term a sum over its knots in log time."""
    X, time, event = data
    mean, sd = fitted.links.priors()
    n = 60
    design = fitted.links.design(X.iloc[:n])
    return Objective(design, fitted.table, time[:n], event[:n], mean, sd, PUBLISHED_GROWTH_SPREAD)


@pytest.mark.parametrize("which", ["objective", "clock_objective"])
def test_hessian_from_patient_blocks_matches_differences_of_the_gradient(
    fitted: RemnantFit, which: str, request: pytest.FixtureRequest
) -> None:
    objective = request.getfixturevalue(which)
    # sum_i A_i^T H_i A_i (docs/fit.md, section 4) against central differences of the whole
    # gradient in each parameter; both carry an O(h^2) = 1e-6 difference error
    obj = objective
    theta = fitted.result.theta
    assert obj.design.spread_index is not None, "the spread's chain rule is exercised"
    h = 1e-3
    p = theta.shape[0]
    ref = np.zeros((p, p))
    for j in range(p):
        e = np.zeros(p)
        e[j] = h
        ref[:, j] = (obj.value_and_grad(theta + e)[1] - obj.value_and_grad(theta - e)[1]) / (2 * h)
    ref = 0.5 * (ref + ref.T)
    np.testing.assert_allclose(obj.hessian(theta), ref, rtol=0, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("which", ["objective", "clock_objective"])
def test_gradient_matches_differences_of_the_value(
    fitted: RemnantFit, which: str, request: pytest.FixtureRequest
) -> None:
    objective = request.getfixturevalue(which)
    # every parameter, the clock (the table's time axis) and the spread included, away from
    # the mode where the gradient is not small; central differences of the whole objective
    obj = objective
    assert "clock" in fitted.result.names
    theta = fitted.result.theta + 0.05
    grad = obj.value_and_grad(theta)[1]
    h = 1e-4
    for j in range(theta.shape[0]):
        e = np.zeros_like(theta)
        e[j] = h
        ref = (obj.value_and_grad(theta + e)[0] - obj.value_and_grad(theta - e)[0]) / (2 * h)
        assert abs(grad[j] - ref) < 1e-3 * max(1.0, abs(ref)), (
            fitted.result.names[j],
            grad[j],
            ref,
        )


def test_higher_stage_means_lower_survival(fitted: RemnantFit) -> None:
    X = pd.DataFrame({"stage": [-1.5, 0.0, 1.5], "other": [0.0, 0.0, 0.0]})
    s5 = fitted.predict_survival(X, [5 * 365.25]).to_numpy()[0]
    assert s5[0] > s5[1] > s5[2], s5


# (d) bad model files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        {},
        {"format": "remnant-fit/0"},
        {"format": "remnant-fit/1"},
        {"format": "remnant-fit/1", "mechanism": {}, "links": {"kind": "columns"}},
    ],
    ids=["none", "list", "empty", "old-format", "format-only", "partial"],
)
def test_from_dict_rejects_bad_data(bad: object) -> None:
    with pytest.raises(RemnantInputError):
        RemnantFit.from_dict(bad)  # type: ignore[arg-type]


def test_from_dict_rejects_a_truncated_model(fitted: RemnantFit) -> None:
    d = fitted.to_dict()
    del d["fit"]
    with pytest.raises(RemnantInputError):
        RemnantFit.from_dict(d)


@pytest.mark.parametrize(
    "content", [None, "not json {", "[1, 2, 3]", '{"format": "something-else"}'],
    ids=["absent", "garbage", "list", "wrong-format"],
)  # fmt: skip
def test_load_rejects_bad_files(content: str | None, tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RemnantInputError) as info:
        RemnantFit.load(path)
    assert isinstance(info.value, ValueError)
    assert info.value.field


def test_load_rejects_a_directory(tmp_path: Path) -> None:
    with pytest.raises(RemnantInputError):
        RemnantFit.load(tmp_path)


# (e) bad data ------------------------------------------------------------------------------


def test_no_events_is_rejected(data: tuple[pd.DataFrame, np.ndarray, np.ndarray]) -> None:
    X, time, _ = data
    with pytest.raises(RemnantInputError) as info:
        fit(X, time, np.zeros(len(X), dtype=int), groups=GROUPS)
    assert info.value.field == "event"


def test_other_bad_outcomes_are_rejected(
    data: tuple[pd.DataFrame, np.ndarray, np.ndarray],
) -> None:
    X, time, event = data
    with pytest.raises(RemnantInputError):
        fit(X, time, event * 2, groups=GROUPS)
    with pytest.raises(RemnantInputError):
        fit(X, -time, event, groups=GROUPS)
    with pytest.raises(RemnantInputError):
        fit(X, time[:-1], event[:-1], groups=GROUPS)
    with pytest.raises(RemnantInputError):
        fit(X, None, event, groups=GROUPS)
    with pytest.raises(RemnantInputError):
        fit(X, time, event, groups=GROUPS, cancer="lung")
    with pytest.raises(RemnantInputError):
        fit(X, time, event, groups=GROUPS, links="neither")


# (f) the yardstick's model -----------------------------------------------------------------


def test_yardstick_remnant_model_on_ovarian() -> None:
    cohort = load_cohort("ovarian")
    model = make_model("remnant").fit(cohort)
    risk = np.asarray(model.risk_score(cohort))
    assert risk.shape == (cohort.n,)
    assert np.isfinite(risk).all()
    s = model.predict_survival(cohort, [0.0, 365.25, 1826.25])
    assert s.shape == (3, cohort.n)
    v = s.to_numpy()
    assert ((v >= 0) & (v <= 1.0 + EPS)).all()
    np.testing.assert_allclose(v[0], 1.0, rtol=0, atol=1e-9)
    # risk is -log S(5 years): higher risk means lower survival at 5 years
    np.testing.assert_allclose(risk, -np.log(np.clip(v[2], 1e-300, 1.0)), rtol=1e-9)


def test_a_small_wide_cohort_converges() -> None:
    # hcc with its immune columns: 101 patients, 65 events, 29 columns, 49 parameters; some
    # patients' immunity reaches the edges of the kernel table (docs/fit.md, section 4)
    f = fit(load_cohort("hcc"))
    se = f.result.se
    assert len(f.result.names) == 49
    assert np.all(np.isfinite(se)) and np.all(se > 0)
    assert np.all(np.linalg.eigvalsh(f.result.covariance) > 0)


def test_mechanism_links_carry_the_mechanisms_immunity_scale_spread_and_bands() -> None:
    import dataclasses

    from scipy import stats

    from remnant.inference.links import P_I0, MechanismLinks
    from remnant.model.parameters import Mechanism, Patient

    pts = [Patient.from_stage("colon", "II"), Patient(immunity=0.5, immune_band=(0.7, 1.0))]
    X = pd.DataFrame([dataclasses.asdict(p) for p in pts])
    plain = MechanismLinks("colon")
    plain.standardise(X)
    d0 = plain.design(X)
    assert not d0.spread_integrated and d0.spread(np.zeros(3)) == 0.0
    scaled = MechanismLinks("colon", Mechanism(immune_scale=2.0, immune_spread=0.8))
    scaled.standardise(X)
    d1 = scaled.design(X)
    np.testing.assert_allclose(d1.offset[P_I0], np.log([2.0, 1.0]), atol=1e-12)
    # the seeds asleep at surgery are those of the recorded immunity: unchanged by the scale
    np.testing.assert_allclose(d1.offset[0], d0.offset[0], rtol=0, atol=1e-12)
    assert d1.spread_integrated and d1.spread(np.zeros(3)) == 0.8
    assert d1.band_z is not None
    np.testing.assert_allclose(d1.band_z[:, 1], [stats.norm.ppf(0.7), np.inf])
    assert d1.band_z[0, 0] == -np.inf and d1.band_z[1, 0] == np.inf


# (g) grade columns choose the kernel table ---------------------------------------------------


def test_a_grade_column_gives_each_patient_its_grades_table() -> None:
    from remnant.inference.links import ColumnLinks

    X = pd.DataFrame({"differ": [1.0, 2.0, 3.0, 2.0], "nodes": [0.0, 1.0, 4.0, 2.0]})
    lk = ColumnLinks("colon", {"stage": ("differ", "nodes")})
    lk.standardise(X)
    assert lk.grades() == (1, 2, 3)
    assert lk.to_dict()["grades"] == [1, 2, 3]  # saved with the model: its kernel tables
    np.testing.assert_array_equal(lk.design(X).grade_index, [0, 1, 2, 1])
    # the breast cohorts' 0/1 column: 0 = grade 2, 1 = grade 3
    B = pd.DataFrame({"grade3": [0.0, 1.0, 1.0]})
    lb = ColumnLinks("breast", {"stage": ("grade3",)})
    lb.standardise(B)
    assert lb.grades() == (2, 3)
    np.testing.assert_array_equal(lb.design(B).grade_index, [0, 1, 1])
    # without a grade column every patient is grade 2, and so with grade kinetics off (a
    # model file written before grades chose the kinetics)
    lo = ColumnLinks("colon", {"stage": ("nodes",)})
    lo.standardise(X)
    assert lo.grades() == (2,)
    np.testing.assert_array_equal(lo.design(X).grade_index, [0, 0, 0, 0])
    off = ColumnLinks("colon", {"stage": ("differ", "nodes")}, grade_kinetics=False)
    off.standardise(X)
    assert off.grades() == (2,)
    np.testing.assert_array_equal(off.design(X).grade_index, [0, 0, 0, 0])


def test_grade_column_rejects_other_values_and_unseen_grades() -> None:
    from remnant.inference.links import ColumnLinks

    lk = ColumnLinks("colon", {"stage": ("differ",)})
    with pytest.raises(RemnantInputError, match="differ.*2.5"):
        lk.standardise(pd.DataFrame({"differ": [1.0, 2.5]}))
    lk.standardise(pd.DataFrame({"differ": [1.0, 2.0]}))
    with pytest.raises(RemnantInputError, match="grade seen in the fit"):
        lk.design(pd.DataFrame({"differ": [3.0]}))


def test_higher_grade_recurs_sooner_with_everything_else_equal() -> None:
    # the grade's kernel table alone (coefficients at zero): grade 3 doubles 1/0.7 times as
    # fast as grade 2, so its recurrences come earlier and its 2-year survival is lower
    from remnant.inference.links import ColumnLinks
    from remnant.inference.tables import build_table

    X = pd.DataFrame({"differ": [1.0, 2.0, 3.0]})
    lk = ColumnLinks("colon", {"stage": ("differ",)}, fit_spread=False)
    lk.standardise(X)
    d = lk.design(X)
    table = build_table(lk.mechanism, "colon", lk.grades(), n_draws=8, seed=0)
    theta = np.zeros(len(d.names))
    s2 = table.curves(np.array([730.5]), d.predictors(theta), 0.0, d.grade_index, False)[:, 0, 0]
    assert s2[0] > s2[1] > s2[2], s2


def test_progress_callback_costs_no_extra_pass_over_the_patients(
    data: tuple[pd.DataFrame, np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    X, time, event = data
    seen: list[tuple[np.ndarray, float]] = []
    original = Objective.scaled

    def counted(self: Objective, theta: np.ndarray) -> tuple[float, np.ndarray]:
        out = original(self, theta)
        seen.append((np.array(theta, copy=True), out[0]))
        return out

    monkeypatch.setattr(Objective, "scaled", counted)
    # one optimisation (the structure and width fixed), whose values must fall
    fixed: dict[str, Any] = {"clock_links": False, "prior_scale": 1.0}
    fit(X.iloc[:200], time[:200], event[:200], groups=GROUPS, seed=0, **fixed)
    quiet = len(seen)
    seen.clear()
    reported: list[tuple[int, float]] = []

    def reporting(**options: Any) -> RemnantFit:
        reported.clear()
        return fit(
            X.iloc[:200],
            time[:200],
            event[:200],
            groups=GROUPS,
            seed=0,
            callback=lambda i, v: reported.append((i, v)),
            **options,
        )

    f = reporting(**fixed)
    assert len(seen) == quiet, "the callback re-evaluated the objective"
    assert [i for i, _ in reported] == list(range(1, f.result.iterations + 1))
    values = {v for _, v in seen}
    assert all(v in values for _, v in reported), "reported values are evaluated ones"
    assert all(b <= a for (_, a), (_, b) in zip(reported, reported[1:], strict=False))
    # the default fit chooses the structure and width by the evidence (several optimisations):
    # the iterations are counted across them
    f = reporting()
    assert [i for i, _ in reported] == list(range(1, f.result.iterations + 1))


def test_clock_links_give_each_patient_a_clock() -> None:
    # recurrence times that run faster with the stage column (an accelerated-failure-time
    # law, log-normal: not proportional hazards): the stage's clock coefficient comes out
    # positive beyond 3 se; its gradient matches central differences of the value; the
    # option survives save/load; mechanism links refuse it.
    rng = np.random.default_rng(5)
    n = 600
    X = pd.DataFrame({"stage": rng.normal(0.0, 1.0, n)})
    event_time = np.exp(rng.normal(np.log(1500.0), 0.5, n) - 0.7 * X["stage"].to_numpy())
    censor = rng.uniform(365.0, 3650.0, n)
    time = np.minimum(event_time, censor)
    event = (event_time <= censor).astype(int)
    f = fit(X, time, event, groups={"stage": ["stage"]}, seed=0, clock_links=True)
    par = f.parameters()
    row = par.loc["stage:stage@clock"]
    assert row["estimate"] > 3.0 * row["se"], par
    mean, sd = f.links.priors()
    obj = Objective(f.links.design(X), f.table, time, event, mean, sd)
    theta = f.result.theta + 0.05
    grad = obj.value_and_grad(theta)[1]
    for name in ("clock", "stage:stage@clock"):
        j = f.result.names.index(name)
        e = np.zeros_like(theta)
        e[j] = 1e-4
        ref = (obj.value_and_grad(theta + e)[0] - obj.value_and_grad(theta - e)[0]) / 2e-4
        assert abs(grad[j] - ref) < 1e-3 * max(1.0, abs(ref)), (name, grad[j], ref)
    again = RemnantFit.from_dict(json.loads(json.dumps(f.to_dict())))
    assert again.links.names() == f.links.names()
    np.testing.assert_array_equal(again.curves(X.iloc[:5], TIMES), f.curves(X.iloc[:5], TIMES))
    with pytest.raises(RemnantInputError, match="clock_links"):
        fit(X, time, event, links="mechanism", clock_links=True)
