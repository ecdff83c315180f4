"""`remnant fit` on the command line: one-line errors for bad input, and a small real fit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remnant.cli import main
from remnant.model.parameters import CANCERS


def synthetic_frame(n: int = 200, seed: int = 7, beta: float = 1.0) -> pd.DataFrame:
    """Times in days, 0/1 events whose hazard rises with ``stage``; ``other`` is noise."""
    rng = np.random.default_rng(seed)
    stage = rng.normal(0.0, 1.0, n)
    other = rng.normal(0.0, 1.0, n)
    rate = np.exp(beta * stage) / 1500.0
    event_time = rng.exponential(1.0 / rate)
    censor = rng.uniform(365.0, 3650.0, n)
    return pd.DataFrame(
        {
            "time": np.round(np.minimum(event_time, censor), 1),
            "event": (event_time <= censor).astype(int),
            "stage": stage.round(3),
            "other": other.round(3),
        }
    )


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fit-input") / "synthetic.csv"
    frame = synthetic_frame()
    frame["censored"] = 1 - frame["event"]  # a "death" column that marks censored rows
    frame["no_deaths"] = 0  # a valid death column, but the file has no age covariate
    frame.to_csv(path, index=False)
    return path


def _assert_one_error_line(err: str, flag: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:"), err
    assert flag in lines[0], err
    assert "Traceback" not in err


FILE_FLAGS = ["--time-col", "time", "--event-col", "event", "--stage-cols", "stage"]

# name -> (arguments with {in} for the CSV and {tmp} for the output directory, flag named)
BAD_INPUT: dict[str, tuple[list[str], str]] = {
    "unknown cohort": (["--data", "no_such_cohort"], "--data"),
    "bad cancer": (["--data", "ovarian", "--cancer", "lung"], "--cancer"),
    "bad time unit": (["--data", "{in}", *FILE_FLAGS, "--time-unit", "weeks"], "--time-unit"),
    "bad missing": (["--data", "ovarian", "--missing", "ignore"], "--missing"),
    "file without --time-col": (["--data", "{in}", "--event-col", "event"], "--time-col"),
    "missing time column": (
        ["--data", "{in}", "--time-col", "days", "--event-col", "event", "--stage-cols", "stage"],
        "'days'",
    ),
    "file flags with a bundled cohort": (["--data", "ovarian", "--time-col", "time"], "--time-col"),
    "report is a file": (["--data", "ovarian", "--report", "{tmp}/taken.txt"], "--report"),
    "negative seed": (["--data", "ovarian", "--seed", "-1"], "seed"),
    "death column not 0/1": (["--data", "{in}", *FILE_FLAGS, "--death-col", "stage"], "stage"),
    "death that is not an event": (
        ["--data", "{in}", *FILE_FLAGS, "--death-col", "censored"],
        "--death-col",
    ),
    "missing death column": (["--data", "{in}", *FILE_FLAGS, "--death-col", "dead"], "'dead'"),
    "death column without age": (
        ["--data", "{in}", *FILE_FLAGS, "--death-col", "no_deaths"],
        "--death-col: expected an 'age' covariate",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_error_line_with_exit_code_2(
    case: str, csv_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, flag = BAD_INPUT[case]
    (tmp_path / "taken.txt").write_text("occupied\n")
    out = tmp_path / "model.json"
    args = [a.replace("{in}", str(csv_file)).replace("{tmp}", str(tmp_path)) for a in argv]
    code = main(["fit", *args, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    _assert_one_error_line(captured.err, flag)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.txt"]


def test_missing_time_column_error_names_the_flag_or_column(
    csv_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model.json"
    code = main(
        [
            "fit",
            "--data",
            str(csv_file),
            "--time-col",
            "days",
            "--event-col",
            "event",
            "--stage-cols",
            "stage",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 2
    line = captured.err.strip()
    # the loader names the API field (time_col) rather than the flag, as for `evaluate`
    assert line.startswith("error:") and ("--time-col" in line or "time_col" in line), line
    assert "'days'" in line and "Traceback" not in captured.err
    assert not out.exists()


@pytest.mark.parametrize(
    ("out_name", "flag"),
    [("model.txt", "--out"), ("model", "--out"), ("model.json.bak", "--out")],
)
def test_bad_out_path(
    out_name: str, flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / out_name
    code = main(["fit", "--data", "ovarian", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    _assert_one_error_line(captured.err, flag)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_out_in_missing_directory_names_out_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing_dir" / "model.json"
    code = main(["fit", "--data", "ovarian", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    _assert_one_error_line(captured.err, "--out")
    assert not out.exists()


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cancer=st.text(min_size=0, max_size=12).filter(lambda s: s not in CANCERS))
def test_any_unknown_cancer_exits_2(
    cancer: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model.json"
    code = main(["fit", "--data", "ovarian", "--cancer", cancer, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "Traceback" not in captured.err
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), captured.err
    assert not out.exists()


def test_fit_synthetic_csv_writes_model_and_report(
    csv_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model.json"
    report = tmp_path / "report"
    code = main(
        [
            "fit",
            "--data",
            str(csv_file),
            "--time-col",
            "time",
            "--event-col",
            "event",
            "--stage-cols",
            "stage",
            "--other-cols",
            "other",
            "--out",
            str(out),
            "--report",
            str(report),
            "--seed",
            "3",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err
    model = json.loads(out.read_text())
    for key in ("parameters", "data", "provenance", "format"):
        assert key in model
    assert model["format"] == "remnant-fit/1"
    assert "stage:stage" in model["parameters"]
    assert model["data"]["rows"] == 200
    csvs = list(report.glob("*.csv"))
    pngs = list(report.glob("*.png"))
    assert len(csvs) == 1 and len(pngs) == 1, sorted(p.name for p in report.iterdir())
    effects = pd.read_csv(csvs[0])
    assert len(effects) > 0
    assert pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(out) in captured.out.replace("\n", "")


def test_fit_with_a_death_column_models_deaths_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = synthetic_frame(n=300, seed=5)
    rng = np.random.default_rng(5)
    frame["age"] = rng.uniform(40.0, 80.0, len(frame)).round(1)
    # a third of the events become deaths without recurrence
    frame["died"] = ((frame["event"] == 1) & (rng.uniform(size=len(frame)) < 1 / 3)).astype(int)
    path = tmp_path / "competing.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "model.json"
    argv = [*FILE_FLAGS, "--other-cols", "age", "--death-col", "died", "--out", str(out)]
    code = main(["fit", "--data", str(path), *argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    model = json.loads(out.read_text())
    death = model["death_without_recurrence"]
    assert death["deaths"] == int(frame["died"].sum())
    assert model["data"]["events"] == int(frame["event"].sum() - frame["died"].sum())
    assert "death_age_slope" in model["parameters"]
