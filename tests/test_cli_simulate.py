"""``remnant simulate`` and ``remnant demo`` from the command line, good and bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from remnant.cli import main
from remnant.engine.simulate import read_metadata


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_writes_file_and_prints_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "c.parquet"
    code, stdout, _ = run(
        [
            "simulate",
            "--preset",
            "colon-stage3",
            "--patients",
            "3000",
            "--seed",
            "4",
            "--no-progress",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0
    table = pd.read_parquet(out)
    assert len(table) == 3000
    assert read_metadata(out)["seed"] == 4
    for word in ("local", "distant", "share by origin", "share by immune phase"):
        assert word in stdout
    # 1, 3, 5 and 10 years are all in the printed table
    assert all(f"│ {y:>5} │" in stdout for y in ("1", "3", "5", "10"))


def test_overrides_change_the_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.parquet"
    code, _, _ = run(
        [
            "simulate",
            "--preset",
            "colon-stage2",
            "--margin",
            "R2",
            "--immune",
            "low",
            "--patients",
            "200",
            "--seed",
            "1",
            "--no-progress",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0
    prof = read_metadata(out)["scenario"]["profiles"][0]
    assert prof["margin"] == "R2" and list(prof["immune_band"]) == [0.0, 0.25]


def test_drawn_seed_is_printed_and_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "c.parquet"
    code, _, err = run(
        [
            "simulate",
            "--preset",
            "colon-stage1",
            "--patients",
            "100",
            "--no-progress",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0
    seed = read_metadata(out)["seed"]
    assert f"seed: {seed}" in err


SCENARIO_OK = """
name = "mix"
[[profiles]]
weight = 0.5
cancer = "colon"
stage = "II"
[[profiles]]
weight = 0.5
cancer = "breast"
stage = "I"
margin = "R1"
[mechanism]
lapse_rate_per_year = 0.5
"""


def test_scenario_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = tmp_path / "s.toml"
    sc.write_text(SCENARIO_OK)
    out = tmp_path / "c.parquet"
    code, _, _ = run(
        [
            "simulate",
            "--scenario",
            str(sc),
            "--patients",
            "500",
            "--seed",
            "2",
            "--no-progress",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0
    meta = read_metadata(out)
    assert meta["scenario"]["mechanism"]["lapse_rate_per_year"] == 0.5
    assert len(meta["scenario"]["profiles"]) == 2


BAD_SCENARIOS = {
    "nan size": ("[patient]\nsize_mm = nan\n", "size_mm"),
    "negative size": ("[patient]\nsize_mm = -3.0\n", "size_mm"),
    "bad margin": ('[patient]\nmargin = "R5"\n', "margin"),
    "bad immune": ('[patient]\nimmune = "superb"\n', "immune"),
    "unknown key": ('[patient]\ncolour = "red"\n', "patient"),
    "unknown mechanism": ("[patient]\n[mechanism]\nwarp = 1\n", "mechanism"),
    "malformed": ("[patient\nsize_mm = 3\n", "--scenario"),
    "no patient": ('name = "x"\n', "patient"),
    "negative weight": ("[[profiles]]\nweight = -1\n", "weight"),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_bad_scenario_files(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, field = BAD_SCENARIOS[case]
    sc = tmp_path / "s.toml"
    sc.write_text(text)
    out = tmp_path / "c.parquet"
    code, _, err = run(
        [
            "simulate",
            "--scenario",
            str(sc),
            "--patients",
            "10",
            "--seed",
            "1",
            "--no-progress",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 2
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert field in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == [sc]


BAD_FLAGS = {
    "zero patients": (["--preset", "colon-stage1", "--patients", "0"], "--patients"),
    "negative patients": (["--preset", "colon-stage1", "--patients", "-5"], "--patients"),
    "text patients": (["--preset", "colon-stage1", "--patients", "many"], "--patients"),
    "unknown preset": (["--preset", "lung-stage9", "--patients", "10"], "--preset"),
    "bad margin": (["--preset", "colon-stage1", "--margin", "R3", "--patients", "10"], "--margin"),
    "bad immune": (
        ["--preset", "colon-stage1", "--immune", "none", "--patients", "10"],
        "--immune",
    ),
    "missing file": (["--scenario", "/nonexistent/s.toml", "--patients", "10"], "--scenario"),
    "both": (["--preset", "colon-stage1", "--scenario", "x.toml", "--patients", "10"], "--preset"),
    "neither": (["--patients", "10"], "--preset"),
    "bad horizon": (
        ["--preset", "colon-stage1", "--patients", "10", "--horizon-years", "-1"],
        "horizon",
    ),
    "bad workers": (["--preset", "colon-stage1", "--patients", "10", "--workers", "0"], "workers"),
}


@pytest.mark.parametrize("case", sorted(BAD_FLAGS))
def test_bad_flags(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flags, field = BAD_FLAGS[case]
    out = tmp_path / "c.parquet"
    code, _, err = run(
        ["simulate", *flags, "--seed", "1", "--no-progress", "--out", str(out)], capsys
    )
    assert code == 2
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert field in err and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_output_in_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nope" / "c.parquet"
    code, _, err = run(
        [
            "simulate",
            "--preset",
            "colon-stage1",
            "--patients",
            "10",
            "--seed",
            "1",
            "--no-progress",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 2 and "--out" in err


def test_demo_prints_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(["demo", "--out-dir", str(tmp_path), "--patients", "2000"], capsys)
    assert code == 0
    png = tmp_path / "colon-recurrence.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert stdout.count("5-year recurrence") == 3
