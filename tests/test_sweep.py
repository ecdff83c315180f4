"""Sweeps (issue 18, point 3): the file's validation, the design, each point's statistics
against remnant.simulate with an Aalen-Johansen estimate, the Monte Carlo errors against the
spread over seeds, process = dask, resume, and the DuckDB queries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import remnant
from remnant.cli import main
from remnant.model.units import DAYS_PER_YEAR
from remnant.sweep.design import design
from remnant.sweep.run import plan, run_sweep
from remnant.sweep.runs import list_runs, query
from remnant.sweep.spec import read_spec, spec_from_dict
from remnant.sweep.storage import MANIFEST, read_sweep_manifest

PATIENTS = 1500
CHI2_LEVEL = 1e-3  # two-sided: a variance test fails only at the 0.1% extremes


def sweep_dict(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "design": "lhs",
        "points": 3,
        "seeds": [1, 2],
        "patients": PATIENTS,
        "base": {"preset": "colon-stage2"},
        "parameters": [
            {"name": "kill_rate", "low": 0.004, "high": 0.04, "scale": "log"},
            {"name": "residual_cells", "low": 0.01, "high": 1.0, "scale": "log"},
        ],
    }
    data.update(changes)
    return data


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


SWEEP_TOML = """
name = "small"
design = "grid"
seeds = [3]
patients = 800
[base]
preset = "colon-stage2"
[[parameters]]
name = "patient.margin"
values = ["R0", "R1"]
[[parameters]]
name = "lapse_rate_per_year"
low = 0.1
high = 0.4
levels = 2
"""


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of an in-process Dask cluster of 2 single-threaded workers."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        2, threads_per_worker=1, processes=False, dashboard_address=None, silence_logs=40
    )
    with cluster:
        yield cluster.scheduler_address


# ---------------------------------------------------------------- the design


def test_grid_is_the_product_first_parameter_slowest(tmp_path: Path) -> None:
    spec = read_spec(write_toml(tmp_path / "s.toml", SWEEP_TOML))
    rows = design(spec)
    assert [(r["patient.margin"], r["lapse_rate_per_year"]) for r in rows] == [
        ("R0", 0.1),
        ("R0", 0.4),
        ("R1", 0.1),
        ("R1", 0.4),
    ]


@pytest.mark.parametrize("kind", ["lhs", "sobol"])
def test_sampled_designs_stay_in_range_and_are_stratified(kind: str) -> None:
    spec = spec_from_dict(sweep_dict(design=kind, points=8))
    values = pd.DataFrame(design(spec))
    assert values["kill_rate"].between(0.004, 0.04).all()
    # log scale: the log of the values is spread over the range, one per eighth for lhs
    u = np.log(values["kill_rate"] / 0.004) / np.log(10.0)
    if kind == "lhs":
        assert sorted(np.floor(u * 8).astype(int)) == list(range(8))
    assert design(spec) == design(spec_from_dict(sweep_dict(design=kind, points=8)))


def test_a_table_parameter_sets_the_base_key_only() -> None:
    spec = spec_from_dict(sweep_dict(design="grid", points=None))

    _, tasks = plan(spec)
    residual = tasks[0].scenario.mechanism.residual_cells
    base = spec.base.mechanism.residual_cells
    assert residual["R0"] == pytest.approx(0.01)
    assert residual["R1"] == base["R1"] and residual["R2"] == base["R2"]


# ---------------------------------------------------------------- statistics


def aalen_johansen(time: np.ndarray, cause: np.ndarray, at: float) -> float:
    """Cumulative incidence of cause 1 at ``at`` (cause 0: censored), written out."""
    order = np.argsort(time, kind="stable")
    t, c = time[order], cause[order]
    at_risk = len(t) - np.arange(len(t))
    survival, incidence = 1.0, 0.0
    for u in np.unique(t[t <= at]):
        here = t == u
        n = at_risk[np.argmax(here)]
        d1 = np.count_nonzero(c[here] == 1)
        d = np.count_nonzero(c[here] > 0)
        incidence += survival * d1 / n
        survival *= 1.0 - d / n
    return incidence


def test_point_equals_simulate_with_aalen_johansen(tmp_path: Path) -> None:
    spec = spec_from_dict(sweep_dict(points=2, seeds=[7]))
    result = run_sweep(spec, tmp_path / "run")
    _, tasks = plan(spec)
    for task, (_, row) in zip(tasks, result.points.iterrows(), strict=True):
        table = remnant.simulate(task.scenario, PATIENTS, seed=task.seed).table
        event = table["event"].astype(str).to_numpy()
        time = table["time_days"].to_numpy()
        five = 5 * DAYS_PER_YEAR
        for site, column in ((("local", "distant"), "recurrence_5y"), (("local",), "local_5y")):
            cause = np.where(np.isin(event, site), 1, np.where(event == "none", 0, 2))
            p = aalen_johansen(time, cause, five)
            assert row[column] == pytest.approx(p, abs=1e-12)
            assert row[f"{column}_se"] == pytest.approx(np.sqrt(p * (1 - p) / PATIENTS))
        recurred = np.isin(event, ("local", "distant"))
        assert row["recurrences"] == recurred.sum()
        margin = (table["origin"].astype(str).to_numpy()[recurred] == "margin").mean()
        assert row["share_margin"] == pytest.approx(margin)
        median = np.median(time[recurred]) / DAYS_PER_YEAR
        assert row["median_years_to_recurrence"] == pytest.approx(median)


def test_monte_carlo_errors_match_the_spread_over_seeds(tmp_path: Path) -> None:
    """Across independent seeds, sum((x - mean)^2 / se^2) is chi-square with K - 1 degrees
    of freedom when the errors are right; the test fails at its 0.1% extremes only."""
    seeds = list(range(30))
    # residual cells at the R0 margin so that both origins recur (a share's error needs both)
    base = {
        "preset": "colon-stage2",
        "mechanism": {"residual_cells": {"R0": 1.0, "R1": 3.0, "R2": 300.0}},
    }
    spec = spec_from_dict(
        sweep_dict(design="grid", points=None, parameters=[], seeds=seeds, patients=2000, base=base)
    )
    points = run_sweep(spec, tmp_path / "run").points
    low, high = stats.chi2.ppf([CHI2_LEVEL / 2, 1 - CHI2_LEVEL / 2], len(seeds) - 1)
    for column in ("recurrence_5y", "distant_5y", "share_seed", "median_years_to_recurrence"):
        x, se = points[column].to_numpy(), points[f"{column}_se"].to_numpy()
        statistic = float(np.sum((x - x.mean()) ** 2 / se**2))
        assert low < statistic < high, column


# ---------------------------------------------------------------- backends, resume


def test_dask_and_process_give_identical_rows(tmp_path: Path, scheduler: str) -> None:
    spec = spec_from_dict(sweep_dict(points=3, patients=600))
    on_threads = run_sweep(spec, tmp_path / "threads", workers=2).points
    on_dask = run_sweep(spec, tmp_path / "dask", backend="dask", scheduler=scheduler).points
    pd.testing.assert_frame_equal(on_threads, on_dask, check_exact=True)
    one_thread = run_sweep(spec, tmp_path / "one", workers=1).points
    pd.testing.assert_frame_equal(on_threads, one_thread, check_exact=True)


def test_resume_after_an_interrupt_computes_only_the_missing_points(tmp_path: Path) -> None:
    spec = spec_from_dict(sweep_dict(points=4, patients=500))
    run = tmp_path / "run"

    def interrupt(done: int, total: int) -> None:
        if done >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, run, workers=1, progress=interrupt)
    manifest = read_sweep_manifest(run)
    assert manifest is not None and not manifest["complete"]
    stored = manifest["points_done"]
    assert 3 <= stored < 8
    resumed = run_sweep(spec, run, resume=True)
    assert (resumed.reused, resumed.computed) == (stored, 8 - stored)
    runs = json.loads((run / MANIFEST).read_text())["runs"]
    assert runs[-1]["computed"] == 8 - stored and runs[-1]["finished_utc"]
    fresh = run_sweep(spec, tmp_path / "fresh").points
    pd.testing.assert_frame_equal(resumed.points, fresh, check_exact=True)


# ---------------------------------------------------------------- command line


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_sweep_command_then_runs_list_show_query(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write_toml(tmp_path / "s.toml", SWEEP_TOML)
    root = tmp_path / "runs"
    code, out, err = cli(["sweep", str(file), "--root", str(root), "--no-progress"], capsys)
    assert code == 0, err
    assert "wrote" in out
    assert list(list_runs(root)["run"]) == ["small"]
    code, out, _ = cli(["runs", "list", "--root", str(root), "--json"], capsys)
    assert code == 0 and json.loads(out)[0]["done"] == 4
    code, out, _ = cli(["runs", "show", "small", "--root", str(root), "--json"], capsys)
    assert code == 0 and json.loads(out)["manifest"]["sweep"]["design"] == "grid"
    sql = "SELECT point, patient_margin, recurrence_5y FROM points ORDER BY point"
    code, out, _ = cli(["runs", "query", "--root", str(root), "--json", sql], capsys)
    rows = json.loads(out)
    expected = query(sql, root)
    assert code == 0 and [r["point"] for r in rows] == [0, 1, 2, 3]
    assert [r["recurrence_5y"] for r in rows] == expected["recurrence_5y"].tolist()
    assert [r["patient_margin"] for r in rows] == ["R0", "R0", "R1", "R1"]
    pooled = query("SELECT row, seeds FROM summaries", root)
    assert pooled["seeds"].tolist() == [1, 1, 1, 1]
    code, _, err = cli(["runs", "query", "--root", str(root), "SELECT * FROM nowhere"], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: SQL:")
    code, _, err = cli(["sweep", str(file), "--root", str(root), "--no-progress"], capsys)
    assert code == 2 and "--resume" in err


BASE_LINES = {
    "design": 'design = "grid"\n',
    "seeds": "seeds = [1]\n",
    "patients": "patients = 10\n",
    "base": '[base]\npreset = "colon-stage2"\n',
}
BAD = {
    "unknown key": ({"colour": "colour = 1\n"}, "sweep"),
    "design": ({"design": 'design = "random"\n'}, "design"),
    "seeds": ({"seeds": "seeds = [1, 1]\n"}, "seeds"),
    "patients": ({"patients": "patients = 0\n"}, "patients"),
    "name": (
        {"p": '[[parameters]]\nname = "kill_rat"\nlow = 1\nhigh = 2\n'},
        "parameters[kill_rat].name",
    ),
    "log low": (
        {"p": '[[parameters]]\nname = "kill_rate"\nlow = 0\nhigh = 1\nscale = "log"\n'},
        "parameters[kill_rate].low",
    ),
    "values in lhs": (
        {
            "design": 'design = "lhs"\npoints = 4\n',
            "p": '[[parameters]]\nname = "kill_rate"\nvalues = [0.01]\n',
        },
        "parameters[kill_rate].values",
    ),
    "sobol points": (
        {
            "design": 'design = "sobol"\npoints = 6\n',
            "p": '[[parameters]]\nname = "kill_rate"\nlow = 0.01\nhigh = 0.02\n',
        },
        "points",
    ),
    "invalid mechanism": (  # the model's own check, with the design row that broke it
        {"p": '[[parameters]]\nname = "kill_rate"\nlow = 0.01\nhigh = 0.5\n'},
        "parameters: birth_rate",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_field_is_one_line_naming_it_and_exit_2(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines, field = BAD[case]
    body = "".join({**BASE_LINES, **lines}.values())
    # top-level keys before [base]: put the base table last
    body = body.replace(BASE_LINES["base"], "") + BASE_LINES["base"]
    body = body.replace(lines.get("p", "\0"), "") + lines.get("p", "")
    file = write_toml(tmp_path / "bad.toml", body)
    code, _, err = cli(["sweep", str(file), "--root", str(tmp_path), "--no-progress"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"error: {file}: {field}"), err
