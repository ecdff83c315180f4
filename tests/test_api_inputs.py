"""Every public function refuses a bad argument with RemnantInputError naming it, before work.

The work itself (the kernel table of a fit, the chunk plan of a simulation, the fits of an
evaluation) is replaced by a stub raising :class:`ReachedWork` for the whole module, so a bad
value that slipped through the checks fails the test at once instead of running a fit, and
valid calls here cost nothing. Each function has parametrised cases asserting the message
names the argument, and a hypothesis test drawing arbitrary wrong values for each argument,
asserting that only RemnantInputError is ever raised.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import remnant
from remnant.arguments import flag
from remnant.data import MIN_EVENTS_TO_FIT
from remnant.data.bundled import list_cohorts, load_cohort
from remnant.errors import RemnantInputError
from remnant.explanation.explain import explain
from remnant.inference.links import CAUSES, ColumnLinks, MechanismLinks
from remnant.inference.map import MapResult
from remnant.inference.model import RemnantFit, fit
from remnant.model import PRESETS, Mechanism, Patient, Scenario
from remnant.yardstick.evaluation import evaluate
from remnant.yardstick.registry import MODELS
from remnant.yardstick.remnant_model import RemnantModel

fit_module = importlib.import_module("remnant.inference.model")
engine_module = importlib.import_module("remnant.engine.simulate")
evaluate_module = importlib.import_module("remnant.yardstick.evaluation")

EXAMPLES = settings(max_examples=15, deadline=None)


class ReachedWork(Exception):
    """A call got past its argument checks to the (stubbed-out) work."""


@pytest.fixture(scope="module", autouse=True)
def _no_work() -> Iterator[None]:
    def stop(*args: Any, **kwargs: Any) -> None:
        raise ReachedWork

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fit_module, "build_table", stop)
        mp.setattr(engine_module.ChunkPlan, "build", stop)
        mp.setattr(evaluate_module, "_fit", stop)
        yield


def refused(field: str, call: Callable[[], object]) -> RemnantInputError:
    """``call()`` raises RemnantInputError whose message names ``field``."""
    with pytest.raises(RemnantInputError) as info:
        call()
    assert field in str(info.value), (field, str(info.value))
    return info.value


def only_input_error(call: Callable[[], object]) -> None:
    """``call()`` raises RemnantInputError: no other exception, and no work."""
    with pytest.raises(RemnantInputError):
        call()


# -- wrong values ------------------------------------------------------------------------------

WRONG = (
    st.none()
    | st.booleans()
    | st.text(max_size=8)
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.lists(st.integers(-5, 5) | st.text(max_size=3) | st.none(), max_size=3)
    | st.dictionaries(st.text(max_size=3), st.integers(-5, 5), max_size=3)
    | st.tuples(st.floats(allow_nan=True))
)


def _number(v: Any) -> bool:
    return (
        not isinstance(v, bool | np.bool_)
        and isinstance(v, int | float | np.integer | np.floating)
        and math.isfinite(float(v))
    )


def num_in(lo: float, hi: float) -> Callable[[Any], bool]:
    return lambda v: _number(v) and lo <= float(v) <= hi


def whole_in(lo: int, hi: float) -> Callable[[Any], bool]:
    return lambda v: _number(v) and float(v).is_integer() and lo <= v <= hi


def one_of(*options: Any) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str | bool | type(None)) and v in options


def either(*tests: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: any(t(v) for t in tests)


def is_none(v: Any) -> bool:
    return v is None


def is_str(v: Any) -> bool:
    return isinstance(v, str)


def is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def wrong(valid: Callable[[Any], bool]) -> st.SearchStrategy[Any]:
    """Arbitrary values for which ``valid`` is false."""
    return WRONG.filter(lambda v: not valid(v))


# -- small objects (no fit, no table) -------------------------------------------------------------


def _result(names: tuple[str, ...]) -> MapResult:
    k = len(names)
    return MapResult(names, np.zeros(k), np.eye(k), 0.0, 0.0, 0, 0, 0.0, 0.0)


PATIENT = Patient.from_stage("colon", "III", margin="R1", immune="low")
MECH_FIT = RemnantFit(
    MechanismLinks("colon", Mechanism()), _result(("burden", "residual", "immunity"))
)
COLUMNS = pd.DataFrame({"nodes": [0.0, 1.0, 3.0, 5.0], "age": [50.0, 60.0, 70.0, 80.0]})


def _column_fit() -> RemnantFit:
    lk = ColumnLinks("colon", {"stage": ("nodes",), "other": ("age",)}, Mechanism())
    lk.standardise(COLUMNS)
    return RemnantFit(lk, _result(lk.names()))


COLUMN_FIT = _column_fit()


def _model() -> RemnantModel:
    model = RemnantModel()
    model.fit_ = COLUMN_FIT
    model.covariates_ = list(COLUMNS.columns)
    return model


PATIENTS = pd.DataFrame([PATIENT.__dict__, PATIENT.replace(margin="R0").__dict__])


# -- flag ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), (None, None), (np.True_, True), (np.bool_(False), False)],
)
def test_flag_accepts_true_false_and_none(value: Any, expected: bool | None) -> None:
    out = flag("switch", value)
    assert out is expected


@given(value=WRONG.filter(lambda v: not isinstance(v, bool | type(None))))
@EXAMPLES
def test_flag_refuses_everything_else(value: Any) -> None:
    error = refused("switch", lambda: flag("switch", value))
    assert "True, False or None" in str(error)
    assert "True or False" in str(
        refused("switch", lambda: flag("switch", value, allow_none=False))
    )


@pytest.mark.parametrize("bad", [1, 0, 1.0, "yes", "False", "", [True], (False,), np.array([True])])
def test_flag_refuses_truthy_stand_ins(bad: Any) -> None:
    with pytest.raises(RemnantInputError, match="switch: expected True, False or None"):
        flag("switch", bad)
    with pytest.raises(RemnantInputError, match="switch: expected True or False"):
        flag("switch", None, allow_none=False)


# -- simulate ------------------------------------------------------------------------------------

SIM_OK: dict[str, Any] = {"scenario": "colon-stage2", "n_patients": 10, "seed": 1}


def test_simulate_valid_arguments_pass_the_checks(tmp_path: Path) -> None:
    for extra in ({}, {"out": tmp_path / "c.parquet", "progress": lambda n: None}, {"out": None}):
        with pytest.raises(ReachedWork):
            remnant.simulate(**{**SIM_OK, **extra})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scenario": None}, "scenario"),
        ({"scenario": "colon-stage9"}, "scenario"),
        ({"n_patients": 0}, "n_patients"),
        ({"n_patients": 2.5}, "n_patients"),
        ({"seed": -1}, "seed"),
        ({"horizon_years": float("nan")}, "horizon_years"),
        ({"workers": 0}, "workers"),
        ({"out": 123}, "out"),
        ({"out": "cohort.csv"}, "out"),
        ({"out": "/no/such/dir/c.parquet"}, "out"),
        ({"out": b"c.parquet"}, "out"),
        ({"out": "c\0.parquet"}, "out"),
        ({"progress": "yes"}, "progress"),
        ({"progress": 1}, "progress"),
    ],
)
def test_simulate_names_the_bad_argument(kwargs: dict[str, Any], field: str) -> None:
    error = refused(field, lambda: remnant.simulate(**{**SIM_OK, **kwargs}))
    if field == "progress":
        assert "True, False or None" in str(error)


def test_simulate_refuses_a_directory_as_out(tmp_path: Path) -> None:
    folder = tmp_path / "x.parquet"
    folder.mkdir()
    refused("out", lambda: remnant.simulate(**SIM_OK, out=folder))


SIM_WRONG: dict[str, st.SearchStrategy[Any]] = {
    "scenario": wrong(one_of(*PRESETS)),
    "n_patients": wrong(lambda v: isinstance(v, int) and not is_bool(v) and 1 <= v <= 10**10),
    "seed": wrong(
        either(is_none, lambda v: isinstance(v, int) and not is_bool(v) and 0 <= v < 2**63)
    ),
    "horizon_years": wrong(
        lambda v: isinstance(v, int | float) and not is_bool(v) and 0 < v <= 100
    ),
    "workers": wrong(
        either(is_none, lambda v: isinstance(v, int) and not is_bool(v) and 1 <= v <= 1024)
    ),
    "out": wrong(either(is_none, lambda v: is_str(v) and v.lower().endswith(".parquet"))),
    "progress": wrong(either(is_none, is_bool)),
}


@pytest.mark.parametrize("arg", sorted(SIM_WRONG))
@given(data=st.data())
@EXAMPLES
def test_simulate_refuses_any_wrong_value(arg: str, data: st.DataObject) -> None:
    value = data.draw(SIM_WRONG[arg], label=arg)
    only_input_error(lambda: remnant.simulate(**{**SIM_OK, arg: value}))


# -- explain -------------------------------------------------------------------------------------


def test_explain_valid_arguments_pass_the_checks() -> None:
    with pytest.raises(ReachedWork):
        explain(PATIENT, MECH_FIT, draws=2, earlier_months=0, recurrence_free_years=9.0)


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((None,), {}, "patient"),
        (({"cancer": "colon"},), {}, "patient"),
        ((PATIENT, "model.json"), {}, "fit"),
        ((PATIENT, COLUMN_FIT), {}, "fit"),  # column links: not a mechanism fit
        ((PATIENT.replace(cancer="breast"), MECH_FIT), {}, "fit"),  # another cancer's fit
        ((PATIENT, MECH_FIT), {"draws": 0}, "draws"),
        ((PATIENT, MECH_FIT), {"draws": 1}, "draws"),
        ((PATIENT, MECH_FIT), {"draws": 10**9}, "draws"),
        ((PATIENT, MECH_FIT), {"draws": 2.5}, "draws"),
        ((PATIENT, MECH_FIT), {"draws": True}, "draws"),
        ((PATIENT, MECH_FIT), {"seed": -1}, "seed"),
        ((PATIENT, MECH_FIT), {"earlier_months": float("inf")}, "earlier_months"),
        ((PATIENT, MECH_FIT), {"earlier_months": True}, "earlier_months"),
        ((PATIENT, MECH_FIT), {"recurrence_free_years": -1}, "recurrence_free_years"),
        ((PATIENT, MECH_FIT), {"recurrence_free_years": "2"}, "recurrence_free_years"),
    ],
)
def test_explain_names_the_bad_argument(
    args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    refused(field, lambda: explain(*args, **kwargs))


EXPLAIN_WRONG: dict[str, st.SearchStrategy[Any]] = {
    "patient": WRONG,
    "fit": wrong(is_none),
    "earlier_months": wrong(num_in(0, 120)),
    "recurrence_free_years": wrong(num_in(0, 9)),
    "draws": wrong(lambda v: is_none(v) or whole_in(2, 10_000)(v)),  # None: the axes band
    "seed": wrong(whole_in(0, 2**32 - 1)),
}


@pytest.mark.parametrize("arg", sorted(EXPLAIN_WRONG))
@given(data=st.data())
@EXAMPLES
def test_explain_refuses_any_wrong_value(arg: str, data: st.DataObject) -> None:
    value = data.draw(EXPLAIN_WRONG[arg], label=arg)
    kwargs: dict[str, Any] = {"patient": PATIENT, "fit": MECH_FIT, arg: value}
    only_input_error(lambda: explain(**kwargs))


# -- fit -----------------------------------------------------------------------------------------

X3 = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [1, 0, 1]})
TIME3 = [100.0, 200.0, 300.0]
EVENT3 = [1, 0, 1]


def test_fit_valid_arguments_pass_the_checks() -> None:
    # enough events to fit (MIN_EVENTS_TO_FIT): the three rows and two patients repeated
    x, t, e = pd.concat([X3] * 5, ignore_index=True), TIME3 * 5, EVENT3 * 5
    for kwargs in (
        {},
        {"groups": {"stage": ["a"], "other": ("b",)}, "clock_links": np.True_, "n_draws": 8.0},
        {"prior_scale": 2, "fit_spread": False, "fit_clock": None, "callback": print},
    ):
        with pytest.raises(ReachedWork):
            fit(x, t, e, **kwargs)
    with pytest.raises(ReachedWork):
        fit(
            pd.concat([PATIENTS] * 10, ignore_index=True),
            [100.0, 200.0] * 10,
            [1, 0] * 10,
            links="mechanism",
        )
    with pytest.raises(RemnantInputError, match=f"at least {MIN_EVENTS_TO_FIT} events"):
        fit(X3, TIME3, EVENT3)
    with pytest.raises(ReachedWork):
        fit(load_cohort("ovarian"), death_hazard=False)


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((None, TIME3, EVENT3), {}, "data"),
        (([[0.0], [1.0], [2.0]], TIME3, EVENT3), {}, "data"),
        ((X3.assign(c=["x", "y", "z"]), TIME3, EVENT3), {}, "data column 'c'"),
        ((X3.assign(c=["1", "y", "3"]), TIME3, EVENT3), {}, "data column 'c'"),
        ((X3.assign(a=[0.0, np.nan, 1.0]), TIME3, EVENT3), {}, "data column 'a'"),
        ((X3.assign(a=[0.0, np.inf, 1.0]), TIME3, EVENT3), {}, "data column 'a'"),
        ((X3, None, EVENT3), {}, "time"),
        ((X3, TIME3, None), {}, "event"),
        ((X3, TIME3[:2], EVENT3[:2]), {}, "time"),
        ((X3, TIME3, EVENT3[:2]), {}, "event"),
        ((X3, "abc", EVENT3), {}, "time"),
        ((X3, ["a", "b", "c"], EVENT3), {}, "time"),
        ((X3, [[1.0], 2.0, 3.0], EVENT3), {}, "time"),
        ((X3, TIME3, ["yes", "no", "yes"]), {}, "event"),
        ((X3, TIME3, [1, None, 0]), {}, "event"),
        ((X3, TIME3, {"a": 1}), {}, "event"),
        ((X3, [-1.0, 2.0, 3.0], EVENT3), {}, "time"),
        ((X3, TIME3, EVENT3), {"cancer": "lung"}, "cancer"),
        ((X3, TIME3, EVENT3), {"cancer": ["colon"]}, "cancer"),
        ((X3, TIME3, EVENT3), {"links": "neither"}, "links"),
        ((X3, TIME3, EVENT3), {"links": None}, "links"),
        ((X3, TIME3, EVENT3), {"groups": ["a"]}, "groups"),
        ((X3, TIME3, EVENT3), {"groups": {"size": ["a"]}}, "groups"),
        ((X3, TIME3, EVENT3), {"groups": {"stage": "a"}}, "groups"),
        ((X3, TIME3, EVENT3), {"groups": {"stage": ["zz"]}}, "groups"),
        ((X3, TIME3, EVENT3), {"mechanism": {"birth_rate": 0.1}}, "mechanism"),
        ((X3, TIME3, EVENT3), {"fit_spread": "yes"}, "fit_spread"),
        ((X3, TIME3, EVENT3), {"fit_clock": 1}, "fit_clock"),
        ((X3, TIME3, EVENT3), {"clock_links": [True]}, "clock_links"),
        ((X3, TIME3, EVENT3), {"death_hazard": None}, "death_hazard"),
        ((X3, TIME3, EVENT3), {"death_hazard": "False"}, "death_hazard"),
        ((X3, TIME3, EVENT3), {"n_draws": 0}, "n_draws"),
        ((X3, TIME3, EVENT3), {"n_draws": 10**9}, "n_draws"),
        ((X3, TIME3, EVENT3), {"n_draws": "16"}, "n_draws"),
        ((X3, TIME3, EVENT3), {"seed": 2**40}, "seed"),
        ((X3, TIME3, EVENT3), {"callback": "print"}, "callback"),
        ((X3, TIME3, EVENT3), {"prior_scale": 0.0}, "prior_scale"),
        ((X3, TIME3, EVENT3), {"prior_scale": float("nan")}, "prior_scale"),
        (
            (PATIENTS, [1.0, 2.0], [1, 0]),
            {"links": "mechanism", "clock_links": True},
            "clock_links",
        ),
        ((PATIENTS, [1.0, 2.0], [1, 0]), {"links": "mechanism", "prior_scale": 1.0}, "prior_scale"),
        ((PATIENTS.drop(columns="age"), [1.0, 2.0], [1, 0]), {"links": "mechanism"}, "data"),
        (
            (PATIENTS.assign(size_mm=["big", "small"]), [1.0, 2.0], [1, 0]),
            {"links": "mechanism"},
            "size_mm",
        ),
    ],
)
def test_fit_names_the_bad_argument(
    args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    refused(field, lambda: fit(*args, **kwargs))


FIT_WRONG: dict[str, st.SearchStrategy[Any]] = {
    "data": WRONG,
    "time": wrong(lambda v: False).filter(
        lambda v: not (isinstance(v, list | tuple) and len(v) == 3)
    )
    | st.lists(st.floats(max_value=-1e-9) | st.just(float("nan")), min_size=3, max_size=3),
    "event": wrong(lambda v: False).filter(
        lambda v: not (isinstance(v, list | tuple) and len(v) == 3 and set(v) <= {0, 1})
    ),
    "cancer": wrong(either(is_none, one_of("colon", "breast"))),
    "groups": wrong(either(is_none, lambda v: isinstance(v, dict) and set(v) <= set(CAUSES))),
    "links": wrong(one_of("columns", "mechanism")),
    "mechanism": wrong(is_none),
    "fit_spread": wrong(either(is_none, is_bool)),
    "fit_clock": wrong(either(is_none, is_bool)),
    "clock_links": wrong(either(is_none, is_bool)),
    "death_hazard": wrong(is_bool),
    "n_draws": wrong(whole_in(1, 4096)),
    "seed": wrong(whole_in(0, 2**32 - 1)),
    "callback": wrong(is_none),
    "prior_scale": wrong(either(is_none, lambda v: _number(v) and v > 0)),
}


@pytest.mark.parametrize("arg", sorted(FIT_WRONG))
@given(data=st.data())
@EXAMPLES
def test_fit_refuses_any_wrong_value(arg: str, data: st.DataObject) -> None:
    value = data.draw(FIT_WRONG[arg], label=arg)
    kwargs: dict[str, Any] = {"data": X3, "time": TIME3, "event": EVENT3, arg: value}
    only_input_error(lambda: fit(**kwargs))


CELLS = st.text(max_size=5).filter(lambda s: _not_float(s)) | st.sampled_from(
    [float("nan"), float("inf"), -float("inf"), None]
)


def _not_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


@given(cell=CELLS, row=st.integers(0, 2), column=st.sampled_from(["a", "b"]))
@EXAMPLES
def test_fit_refuses_a_bad_covariate_cell_naming_its_column(
    cell: Any, row: int, column: str
) -> None:
    X = X3.astype(object)
    X.loc[row, column] = cell  # type: ignore[call-overload]
    refused(f"column {column!r}", lambda: fit(X, TIME3, EVENT3))


# -- RemnantFit.load -----------------------------------------------------------------------------


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _model_dict(**changes: Any) -> dict[str, Any]:
    d = MECH_FIT.to_dict()
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        target = d
        for p in parents:
            target = target[p]
        if value is _DELETE:
            del target[key]
        else:
            target[key] = value
    return d


_DELETE = object()


def test_load_reads_a_good_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.json", json.dumps(_model_dict()))
    again = RemnantFit.load(str(path))
    assert again.links.names() == MECH_FIT.links.names()


@pytest.mark.parametrize(
    "content",
    [
        "not json {",
        b"\xff\xfe\x00garbage",
        "[1, 2, 3]",
        "null",
        '{"format": "remnant-fit/1"}',
        json.dumps(_model_dict(**{"fit.lapse_draws": _DELETE})),
        json.dumps(_model_dict(**{"fit.seed": -3})),
        json.dumps(_model_dict(theta=[0.0])),
        json.dumps(_model_dict(**{"links.fit_spread": "yes"})),
        json.dumps(_model_dict(data=[1, 2])),
        "[" * 100_000,
    ],
    ids=[
        "garbage", "not-utf8", "list", "null", "format-only", "no-lapse-draws", "bad-seed",
        "short-theta", "text-flag", "bad-data", "deep",
    ],
)  # fmt: skip
def test_load_names_the_path_of_a_bad_file(content: str | bytes, tmp_path: Path) -> None:
    path = _write(tmp_path / "model.json", content)
    refused(str(path), lambda: RemnantFit.load(path))


def test_load_names_the_path_of_an_unreadable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "model.json", json.dumps(_model_dict()))

    def denied(self: Path, *args: Any, **kwargs: Any) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", denied)
    error = refused(str(path), lambda: RemnantFit.load(path))
    assert error.field == "path" and "Permission denied" in str(error)


def test_load_names_a_missing_path_or_a_directory(tmp_path: Path) -> None:
    refused(str(tmp_path / "nope.json"), lambda: RemnantFit.load(tmp_path / "nope.json"))
    refused(str(tmp_path), lambda: RemnantFit.load(tmp_path))
    file = _write(tmp_path / "f.json", "{}")
    refused(str(file / "m.json"), lambda: RemnantFit.load(file / "m.json"))


@given(path=wrong(is_str), name=st.text(max_size=8))
@EXAMPLES
def test_load_refuses_any_wrong_path(path: Any, name: str) -> None:
    error = refused("path", lambda: RemnantFit.load(path))
    assert error.field == "path"
    only_input_error(lambda: RemnantFit.load(name))  # no such file, a folder, not a model


# -- survival, curves, predict_survival, risk_score ---------------------------------------------


def test_predictions_with_valid_arguments_pass_the_checks() -> None:
    for call in (
        lambda: MECH_FIT.predict_survival(PATIENTS, [0.0, 365.25]),
        lambda: MECH_FIT.curves(PATIENTS, np.array([1.0])),
        lambda: COLUMN_FIT.predict_survival(COLUMNS, 30),
        lambda: _model().predict_survival(COLUMNS.assign(note="text"), [10.0]),
        lambda: _model().risk_score(COLUMNS),
    ):
        with pytest.raises(ReachedWork):
            call()


def _predictions(model: str) -> list[Callable[[Any, Any], object]]:
    if model == "mechanism":
        return [MECH_FIT.survival, MECH_FIT.curves]
    if model == "columns":
        return [COLUMN_FIT.survival, COLUMN_FIT.curves, _model().predict_survival]
    raise AssertionError(model)


BAD_X = [
    None,
    "patients.csv",
    [[1.0, 2.0]],
    {"nodes": [1.0]},
    np.zeros((2, 2)),
    pd.DataFrame({"other": [1.0]}),
]


@pytest.mark.parametrize("model", ["mechanism", "columns"])
@pytest.mark.parametrize("X", BAD_X, ids=lambda x: type(x).__name__)
def test_predictions_name_a_bad_X(model: str, X: Any) -> None:
    for predict in _predictions(model):
        refused("X", lambda: predict(X, [1.0]))  # noqa: B023
    if model == "columns":
        refused("X", lambda: _model().risk_score(X))


@pytest.mark.parametrize(
    ("model", "X", "column"),
    [
        ("mechanism", PATIENTS.assign(size_mm=["big", "small"]), "size_mm"),
        ("mechanism", PATIENTS.assign(age=[np.nan, 60.0]), "age"),
        ("columns", COLUMNS.assign(nodes=["few", "many", "x", "y"]), "nodes"),
        ("columns", COLUMNS.assign(age=[np.inf, 1.0, 2.0, 3.0]), "age"),
    ],
)
def test_predictions_name_a_bad_column(model: str, X: pd.DataFrame, column: str) -> None:
    for predict in _predictions(model):
        refused(column, lambda: predict(X, [1.0]))  # noqa: B023


BAD_TIMES = [None, "365", -1.0, [1.0, -2.0], [float("nan")], float("inf"), [[1.0], [2.0]], {"t": 1}]


@pytest.mark.parametrize("times", BAD_TIMES, ids=repr)
def test_predictions_name_bad_times(times: Any) -> None:
    for predict in _predictions("mechanism"):
        refused("times", lambda: predict(PATIENTS, times))  # noqa: B023
    for predict in _predictions("columns"):
        refused("times", lambda: predict(COLUMNS, times))  # noqa: B023


def _valid_times(v: Any) -> bool:
    if isinstance(v, str | bytes | dict | bool):
        return False
    try:
        arr = np.atleast_1d(np.asarray(v, dtype=float))
    except (TypeError, ValueError, OverflowError):
        return False
    return bool(arr.ndim == 1 and np.isfinite(arr).all() and (arr >= 0).all())


@given(X=WRONG, times=wrong(_valid_times))
@EXAMPLES
def test_predictions_refuse_any_wrong_X_or_times(X: Any, times: Any) -> None:
    for model in ("mechanism", "columns"):
        frame = PATIENTS if model == "mechanism" else COLUMNS
        for predict in _predictions(model):
            only_input_error(lambda: predict(X, [1.0]))  # noqa: B023
            only_input_error(lambda: predict(frame, times))  # noqa: B023
    only_input_error(lambda: _model().risk_score(X))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"cancer": "lung"}, "cancer"),
        ({"seed": -1}, "seed"),
        ({"risk_horizon_years": 0}, "risk_horizon_years"),
        ({"fit_spread": "no"}, "fit_spread"),
        ({"death_hazard": None}, "death_hazard"),
        ({"fit_clock": 0}, "fit_clock"),
        ({"clock_links": "True"}, "clock_links"),
        ({"prior_scale": -1.0}, "prior_scale"),
    ],
)
def test_remnant_model_names_a_bad_option(kwargs: dict[str, Any], field: str) -> None:
    refused(field, lambda: RemnantModel(**kwargs))


# -- evaluate ------------------------------------------------------------------------------------

EVAL_OK: dict[str, Any] = {"model": "cox", "data": "ovarian"}  # 12 events, 14 censored


def test_evaluate_valid_arguments_pass_the_checks() -> None:
    for kwargs in (
        {},
        {"cv": 12, "horizons_years": (1, 2.5), "ipcw": "train", "progress": print},
        {"data": None, "train": "rotterdam", "test": "gbsg", "cv": None},
        {"model": "remnant", "model_options": {"death_hazard": False}, "seed": 3},
    ):
        with pytest.raises(ReachedWork):
            evaluate(**{**EVAL_OK, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"model": ["cox"]}, "model"),
        ({"model": "deepsurv"}, "model"),
        ({"cv": 1}, "cv"),
        ({"cv": 13}, "cv"),  # more folds than events
        ({"cv": 10**6}, "cv"),
        ({"cv": 2.5}, "cv"),
        ({"cv": "5"}, "cv"),
        ({"seed": -1}, "seed"),
        ({"ipcw": ["test"]}, "ipcw"),
        ({"horizons_years": 5}, "horizons_years"),
        ({"horizons_years": "135"}, "horizons_years"),
        ({"horizons_years": [True]}, "horizons_years"),
        ({"horizons_years": [1, float("nan")]}, "horizons_years"),
        ({"model_options": [("penalizer", 1)]}, "model_options"),
        ({"model_options": {"no_such_option": 1}}, "model_options"),
        ({"model_options": {1: 2}}, "model_options"),
        ({"model": "remnant", "model_options": {"fit_clock": "yes"}}, "fit_clock"),
        ({"progress": "bar"}, "progress"),
        ({"data": 3}, "data"),
        ({"data": "breast"}, "data"),
        ({"data": None, "train": "rotterdam", "test": ["gbsg"]}, "test"),
        ({"data": None, "train": "nope", "test": "gbsg"}, "train"),
    ],
)
def test_evaluate_names_the_bad_argument(kwargs: dict[str, Any], field: str) -> None:
    refused(field, lambda: evaluate(**{**EVAL_OK, **kwargs}))


EVAL_WRONG: dict[str, st.SearchStrategy[Any]] = {
    "model": wrong(one_of(*MODELS)),
    "cv": wrong(whole_in(2, math.inf)),
    "seed": wrong(whole_in(0, 2**32 - 1)),
    "ipcw": wrong(one_of("test", "train")),
    "horizons_years": wrong(
        lambda v: (
            isinstance(v, list | tuple) and len(v) > 0 and all(_number(h) and h > 0 for h in v)
        )
    ),
    "model_options": wrong(either(is_none, lambda v: v == {})),
    "progress": wrong(is_none),
    "data": wrong(one_of(*list_cohorts())),
}


@pytest.mark.parametrize("arg", sorted(EVAL_WRONG))
@given(data=st.data())
@EXAMPLES
def test_evaluate_refuses_any_wrong_value(arg: str, data: st.DataObject) -> None:
    value = data.draw(EVAL_WRONG[arg], label=arg)
    only_input_error(lambda: evaluate(**{**EVAL_OK, arg: value}))


# -- load_cohort ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ["colon"]}, "name"),
        ({"name": "breast"}, "name"),
        ({"missing": True}, "missing"),
        ({"missing": "ignore"}, "missing"),
        ({"covariates": "age"}, "covariates"),
        ({"covariates": 3}, "covariates"),
        ({"covariates": {"age": 1}}, "covariates"),
        ({"covariates": ["age", 1]}, "covariates"),
        ({"covariates": ["size"]}, "covariates"),
    ],
)
def test_load_cohort_names_the_bad_argument(kwargs: dict[str, Any], field: str) -> None:
    refused(field, lambda: load_cohort(**{"name": "ovarian", **kwargs}))


def test_load_cohort_takes_any_sequence_of_names() -> None:
    a = load_cohort("ovarian", covariates=("age",))
    b = load_cohort("ovarian", covariates=iter(["age"]))
    assert list(a.covariates) == list(b.covariates) == ["age"]


OVARIAN_COVARIATES = set(load_cohort("ovarian").covariates)


COHORT_WRONG: dict[str, st.SearchStrategy[Any]] = {
    "name": wrong(one_of(*list_cohorts())),
    "missing": wrong(one_of("drop", "impute")),
    "covariates": wrong(
        either(
            is_none,
            lambda v: isinstance(v, list | tuple) and all(c in OVARIAN_COVARIATES for c in v),
        )
    ),
}


@pytest.mark.parametrize("arg", sorted(COHORT_WRONG))
@given(data=st.data())
@EXAMPLES
def test_load_cohort_refuses_any_wrong_value(arg: str, data: st.DataObject) -> None:
    value = data.draw(COHORT_WRONG[arg], label=arg)
    only_input_error(lambda: load_cohort(**{"name": "ovarian", arg: value}))


# -- Patient, Patient.from_stage, Mechanism, Scenario ---------------------------------------------

PATIENT_WRONG: dict[str, st.SearchStrategy[Any]] = {
    "cancer": wrong(one_of("colon", "breast")),
    "size_mm": wrong(num_in(0.5, 300)),
    "nodes": wrong(whole_in(0, 100)),
    "grade": wrong(lambda v: _number(v) and v in (1, 2, 3)),
    "margin": wrong(one_of("R0", "R1", "R2")),
    "immunity": wrong(num_in(0.01, 100)),
    "age": wrong(num_in(0, 120)),
}


@pytest.mark.parametrize("arg", sorted(PATIENT_WRONG))
@given(data=st.data())
@EXAMPLES
def test_patient_refuses_any_wrong_value(arg: str, data: st.DataObject) -> None:
    value = data.draw(PATIENT_WRONG[arg], label=arg)
    refused(arg, lambda: Patient(**{arg: value}))
    refused(arg, lambda: PATIENT.replace(**{arg: value}))


def test_patient_accepts_numpy_numbers_and_refuses_unknown_fields() -> None:
    p = Patient(size_mm=np.float32(30.0), nodes=np.int64(2), grade=np.int8(3), age=np.int32(50))
    assert (p.size_mm, p.nodes, p.grade, p.age) == (30.0, 2, 3, 50.0)
    assert type(p.nodes) is int and type(p.grade) is int
    refused("colour", lambda: PATIENT.replace(colour="red"))
    refused("grade", lambda: Patient(grade=np.array([1, 2])))  # type: ignore[arg-type]


STAGE_WRONG: dict[str, st.SearchStrategy[Any]] = {
    "cancer": PATIENT_WRONG["cancer"],
    "stage": wrong(one_of("I", "II", "III")),
    "margin": PATIENT_WRONG["margin"],
    "immune": wrong(either(one_of("low", "intermediate", "high"), num_in(0.01, 100))),
    "size_mm": wrong(either(is_none, num_in(0.5, 300))),
    "nodes": wrong(either(is_none, whole_in(0, 100))),
    "grade": PATIENT_WRONG["grade"],
    "age": wrong(either(is_none, num_in(0, 120))),
}


@pytest.mark.parametrize("arg", sorted(STAGE_WRONG))
@given(data=st.data())
@EXAMPLES
def test_from_stage_refuses_any_wrong_value(arg: str, data: st.DataObject) -> None:
    value = data.draw(STAGE_WRONG[arg], label=arg)
    refused(arg, lambda: Patient.from_stage(**{arg: value}))


MECHANISM_WRONG: dict[str, st.SearchStrategy[Any]] = {
    "clone_doubling_days": WRONG,
    "wake_rate": WRONG,
    "residual_cells": WRONG,
    "birth_rate": wrong(num_in(0.05, math.inf)),
    "kill_rate": wrong(num_in(0, 0.09)),
    "dip_depth": wrong(num_in(0, 0.99)),
    "dip_steps": wrong(whole_in(0, 10_000)),
    "seeding_exponent": wrong(num_in(0.3, 1.0)),
    "lapse_rate_per_year": wrong(num_in(0, math.inf)),
}


@pytest.mark.parametrize("arg", sorted(MECHANISM_WRONG))
@given(data=st.data())
@EXAMPLES
def test_mechanism_refuses_any_wrong_value(arg: str, data: st.DataObject) -> None:
    value = data.draw(MECHANISM_WRONG[arg], label=arg)
    refused(arg, lambda: Mechanism(**{arg: value}))


def test_mechanism_tables_name_the_missing_key() -> None:
    refused("wake_rate.breast", lambda: Mechanism(wake_rate={"colon": 1e-4, "breast": "x"}))
    refused("residual_cells", lambda: Mechanism(residual_cells=[0.1, 1.0, 10.0]))
    refused("mechanism", lambda: Mechanism().replace(warp=1))


SCENARIO_WRONG: dict[str, st.SearchStrategy[Any]] = {
    "profiles": WRONG,
    "weights": wrong(
        either(
            is_none,
            lambda v: (
                isinstance(v, list | tuple)
                and (len(v) == 0 or (len(v) == 1 and _number(v[0]) and v[0] > 0))
            ),
        )
    ),
    "mechanism": WRONG,
    "name": wrong(is_str),
}


@pytest.mark.parametrize("arg", sorted(SCENARIO_WRONG))
@given(data=st.data())
@EXAMPLES
def test_scenario_refuses_any_wrong_value(arg: str, data: st.DataObject) -> None:
    value = data.draw(SCENARIO_WRONG[arg], label=arg)
    refused(arg, lambda: Scenario(**{"profiles": (PATIENT,), arg: value}))


@given(
    patient=WRONG,
    mechanism=wrong(is_none),
    name=wrong(is_str),
)
@EXAMPLES
def test_scenario_single_refuses_any_wrong_value(patient: Any, mechanism: Any, name: Any) -> None:
    refused("patient", lambda: Scenario.single(patient))
    refused("mechanism", lambda: Scenario.single(PATIENT, mechanism))
    refused("name", lambda: Scenario.single(PATIENT, None, name))


def test_scenario_weights() -> None:
    s = Scenario((PATIENT, PATIENT), np.array([1, 3]))
    assert s.weights == (0.25, 0.75)
    assert Scenario((PATIENT,), None).weights == (1.0,)
    refused("weights", lambda: Scenario((PATIENT, PATIENT), (10**400, 1)))
    refused("weights", lambda: Scenario((PATIENT, PATIENT), (0, 0)))
    refused("weights", lambda: Scenario((PATIENT,), (1, 1)))
