"""Global sensitivity (issue 18, point 4): the priors, Sobol' indices of a known function,
and a small end-to-end run with its files and plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from remnant.cli import main
from remnant.model.parameters import mechanism_fields
from remnant.model.presets import preset
from remnant.sweep.design import design
from remnant.sweep.priors import EXCLUDED, priors
from remnant.sweep.run import plan
from remnant.sweep.sensitivity import OUTPUTS, analyze, run_sensitivity, sensitivity_spec
from remnant.sweep.spec import SweepSpec, spec_from_dict

Z_3SIGMA = 3.0 / 1.96  # SALib's intervals are 95% (1.96 sigma): allow 3 sigma


@pytest.mark.parametrize("name", ["colon-stage2", "breast-stage2"])
def test_priors_cover_every_numeric_field_and_contain_the_defaults(name: str) -> None:
    found = {p.parameter.name: p for p in priors(preset(name))}
    assert not set(found) & set(EXCLUDED)
    assert set(found) <= set(mechanism_fields())
    assert {"kill_rate", "dip_depth", "residual_cells", "seeding_coefficient", "wake_rate"} <= set(
        found
    )
    for prior in found.values():
        assert prior.parameter.low <= prior.default <= prior.parameter.high, prior
    # every corner of the box is a valid mechanism: the whole Saltelli design can be built
    spec = sensitivity_spec(name, 2, 10, 0)
    plan(spec)


def linear_spec() -> SweepSpec:
    return spec_from_dict(
        {
            "design": "saltelli",
            "points": 1024,
            "patients": 1,
            "base": {"preset": "colon-stage2"},
            "parameters": [
                {"name": "kill_rate", "low": 0.005, "high": 0.02},
                {"name": "lapse_depth", "low": 0.2, "high": 0.8},
            ],
        }
    )


def test_indices_of_a_linear_function_are_its_variance_shares() -> None:
    """Y = 3 u1 + u2 (u uniform): S1 = ST = 9/10 and 1/10; no MC noise, so the intervals
    are SALib's sampling intervals at N = 1024."""
    spec = linear_spec()
    rows = pd.DataFrame(design(spec))
    u1 = (rows["kill_rate"] - 0.005) / 0.015
    u2 = (rows["lapse_depth"] - 0.2) / 0.6
    y = 3 * u1 + u2
    points = pd.DataFrame({"point": range(len(y))})
    for output in OUTPUTS:
        points[output] = y
        points[f"{output}_se"] = 0.0
    indices, outputs = analyze(spec, points, seed=1)
    first = indices[indices["output"] == "recurrence_5y"].set_index("parameter")
    for name, share in (("kill_rate", 0.9), ("lapse_depth", 0.1)):
        for kind in ("S1", "ST"):
            assert first.loc[name, kind] == pytest.approx(
                share, abs=Z_3SIGMA * first.loc[name, f"{kind}_conf"] + 1e-9
            )
    assert outputs["recurrence_5y"]["noise_share"] == 0.0
    assert outputs["recurrence_5y"]["by_cause"]["immunity"]["ST"] == pytest.approx(
        first["ST"].sum()
    )


def test_a_small_run_writes_indices_json_csv_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "sens"
    result = run_sensitivity("colon-stage2", 2, 300, 1, out)
    d = len(result.spec.parameters)
    assert len(result.indices) == len(OUTPUTS) * d
    report = json.loads((out / "sensitivity.json").read_text())
    assert report["points"] == 2 * (d + 2)
    assert {p["name"] for p in report["priors"]} == {p.name for p in result.spec.parameters}
    assert (out / "sensitivity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    csv = pd.read_csv(out / "sensitivity.csv")
    assert list(csv.columns) == ["output", "parameter", "cause", "S1", "S1_conf", "ST", "ST_conf"]
    assert np.isfinite(csv["ST"]).all()


def test_bad_base_samples_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "sensitivity",
        "--preset",
        "colon-stage2",
        "--base-samples",
        "3",
        "--out",
        str(tmp_path / "s"),
    ]
    assert main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --base-samples:")
