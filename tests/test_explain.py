"""remnant predict: shares, counterfactuals, the default model, the report in Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from remnant.cli import main
from remnant.explanation.default_model import load_default
from remnant.explanation.explain import CAUSES, explain, shapley
from remnant.explanation.report import write_html
from remnant.model.parameters import Patient

# Published 5-year recurrence after resection (docs/anchors: Gately et al. 2021, n = 4257:
# stage II 12%, stage III 28%; BMC Cancer 2014;14:336: 5-year RFS 90% vs 70%).
# Gately 2021 (n = 4257): 5-year recurrence after resection of stage II / III colon cancer; the
# colon model's seeding is recalibrated to it by one offset for all stages, so each stage lies
# within the anchors' tolerance for a figure without an interval (3 points or 20%).
PUBLISHED_5Y = {"II": 0.12, "III": 0.28}


@pytest.fixture(scope="module")
def colon_fit():
    return load_default("colon")


@pytest.fixture(scope="module")
def worst(colon_fit):
    # every cause present: stage III, R1 margin, low immunity
    return explain(
        Patient.from_stage("colon", "III", margin="R1", immune="low"), colon_fit, draws=40
    )


def test_shapley_of_an_additive_game_is_each_players_value():
    v = {"immunity": 0.1, "removal": 0.2, "stage": 0.05}
    import itertools

    game = {
        frozenset(s): sum(v[c] for c in s)
        for k in range(4)
        for s in itertools.combinations(CAUSES, k)
    }
    assert shapley(game) == pytest.approx(v, abs=1e-15)


@pytest.mark.parametrize(
    "patient",
    [
        Patient.from_stage("colon", "III", margin="R1", immune="low"),
        Patient.from_stage("colon", "II", margin="R0", immune="intermediate"),
        Patient.from_stage("colon", "I", margin="R2", immune="high", grade=3),
    ],
)
def test_shares_sum_exactly_to_the_excess_risk(patient, colon_fit):
    e = explain(patient, colon_fit, draws=10)
    assert sum(e.shares.values()) == pytest.approx(e.excess_risk, abs=1e-12)
    lo_hi = [e.share_intervals[c] for c in CAUSES]
    assert all(lo <= hi for lo, hi in lo_hi)


def test_each_counterfactual_lowers_the_risk_of_a_patient_with_that_cause(worst):
    r5 = worst.risk["5"]
    for name in ("earlier", "clear_margin", "high_immunity", "all"):
        assert worst.counterfactuals[name]["risk"]["5"] < r5, name
    others = [
        worst.counterfactuals[n]["risk"]["5"] for n in ("earlier", "clear_margin", "high_immunity")
    ]
    assert worst.counterfactuals["all"]["risk"]["5"] < min(others)
    assert all(worst.shares[c] > 0 for c in CAUSES)


def test_curve_band_and_sites_are_consistent(worst):
    c = worst.curve
    assert (c["lower"] <= c["risk"] + 1e-12).all() and (c["risk"] <= c["upper"] + 1e-12).all()
    assert c["risk"].is_monotonic_increasing
    # the first recurrence is local or distant: the incidences add up to the risk
    assert (c["local"] + c["distant"] - c["risk"]).abs().max() < 0.01


def test_conditional_risk_is_below_the_unconditional_remainder(colon_fit):
    e = explain(
        Patient.from_stage("colon", "III", margin="R0", immune="intermediate"),
        colon_fit,
        recurrence_free_years=2.0,
        draws=10,
    )
    assert e.conditional is not None
    s2 = 1 - e.curve["risk"].iloc[24]
    s7 = 1 - e.curve["risk"].iloc[84]
    assert e.conditional["5"] == pytest.approx(1 - s7 / s2, abs=1e-9)


@pytest.mark.parametrize("stage", ["II", "III"])
def test_default_model_matches_published_five_year_recurrence(stage, colon_fit):
    e = explain(Patient.from_stage("colon", stage), colon_fit, draws=10)
    from remnant.anchors.stats import tolerance_band

    lo, hi = tolerance_band(PUBLISHED_5Y[stage], proportion=True)
    assert lo <= e.risk["5"] <= hi


def test_report_is_drawn_in_headless_chromium(worst, tmp_path: Path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is installed by `make test` (Debian package chromium)"
    page = write_html(worst, tmp_path / "report.html")
    text = page.read_text()
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text
    out = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    body = out[out.index("<body") : out.index(">", out.index("<body"))]
    for figure in ("curve", "shares", "icons"):
        assert f'data-{figure}="drawn"' in body, body


OK = ["--cancer", "colon", "--stage", "II", "--margin", "R0", "--immune", "low"]


def _with(flag: str, value: str) -> list[str]:
    args = list(OK)
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    return args


BAD = [
    (_with("--cancer", "lung"), "--cancer"),
    (_with("--stage", "IV"), "--stage"),
    (_with("--margin", "R3"), "--margin"),
    (_with("--immune", "medium"), "--immune"),
    (["--cancer", "colon", "--stage", "II", "--immune", "low"], "--margin"),
    (_with("--size-mm", "-3"), "--size-mm"),
    (_with("--earlier-months", "-1"), "--earlier-months"),
    (_with("--json", "out.txt"), "--json"),
    (["--patient", "missing.toml"], "--patient"),
    (_with("--model", "missing.json"), "--model"),
    (_with("--row", "3"), "--row"),
    (_with("--seed", "-1"), "--seed"),
]


@pytest.mark.parametrize(("args", "field"), BAD)
def test_bad_input_exits_2_with_one_line(args, field, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["predict", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error:") and field in err[0], err
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_json_with_the_promised_keys(tmp_path, capsys):
    patient = tmp_path / "p.toml"
    patient.write_text('cancer = "colon"\nstage = "III"\nmargin = "R1"\nimmune = "low"\n')
    out = tmp_path / "p.json"
    code = main(
        ["predict", "--patient", str(patient), "--json", str(out), "--earlier-months", "12"]
    )
    assert code == 0, capsys.readouterr().err
    d = json.loads(out.read_text())
    assert set(d["risk"]) == {"1", "3", "5", "10"}
    assert set(d["shares"]) == {"immunity", "removal", "stage"}
    assert set(d["counterfactuals"]) == {"earlier", "clear_margin", "high_immunity", "all"}
    assert all(set(v["risk"]) == {"1", "3", "5", "10"} for v in d["counterfactuals"].values())
    assert sum(d["shares"].values()) == pytest.approx(d["excess_risk"], abs=1e-12)
    assert d["earlier_months"] == 12.0


def test_cli_explains_a_row_of_a_cohort_file(tmp_path, capsys):
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(
        "cancer,stage,size_mm,nodes,margin,immune,age\n"
        "colon,II,40,0,R0,high,60\n"
        "colon,III,55,4,R1,low,71\n"
    )
    out = tmp_path / "row.json"
    assert main(["predict", "--patient", str(cohort), "--row", "1", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["patient"]["nodes"] == 4 and d["patient"]["margin"] == "R1"
    assert d["patient"]["size_mm"] == 55.0 and d["patient"]["age"] == 71.0
    code = main(["predict", "--patient", str(cohort), "--row", "7"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--row" in err[0]


def test_default_colon_model_is_calibrated_to_its_anchors(colon_fit):
    from remnant.anchors.targets import COLON_TARGETS, target_values

    rec = colon_fit.data["calibration"]
    assert rec["converged"]
    assert [t["anchor"] for t in rec["targets"]] == [t.anchor for t in COLON_TARGETS]
    now = target_values(colon_fit, COLON_TARGETS, colon_fit.result.theta)
    p = np.array([t.value for t in COLON_TARGETS])
    n = np.array([t.n for t in COLON_TARGETS])

    def deviance(q):
        return float(np.sum(n * (p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q)))))

    stored = np.array([t["calibrated"] for t in rec["targets"]])
    np.testing.assert_allclose(now, stored, rtol=0, atol=1e-9)
    cohort = np.array([t["cohort_fit"] for t in rec["targets"]])
    assert deviance(now) < deviance(cohort)
    # the anchors inform the margin's residual cells, which the all-R0 trial cannot
    assert rec["se_calibrated"]["residual"] < 0.5 * rec["se_cohort"]["residual"]
    assert np.all(np.linalg.eigvalsh(colon_fit.result.covariance) > 0)
    shares = rec["information_share"]
    for name, parts in shares.items():
        assert sum(parts.values()) == pytest.approx(1.0, abs=1e-9), name
    assert max(shares["residual"], key=shares["residual"].get) == "crd2015"


def test_every_target_is_a_row_of_the_anchor_table():
    from remnant.anchors.definitions import ANCHORS
    from remnant.anchors.targets import COLON_TARGETS, calibration_targets

    ids = {a.id for a in ANCHORS}
    assert calibration_targets() <= ids
    values = {a.id: a.published for a in ANCHORS}
    for t in COLON_TARGETS:
        assert t.value == values[t.anchor], t.anchor


@pytest.mark.parametrize(
    ("field", "value"),
    [("thetas", [1.0, 2.0]), ("thetas", [[np.nan] * 4]), ("thetas", "x"), ("theta", [1.0])],
)
def test_curves_at_parameter_points_refuse_points_of_another_shape(field, value):
    from remnant.errors import RemnantInputError
    from remnant.explanation.explain import _frame

    fit = load_default("colon")
    design = fit.links.design(_frame([Patient.from_stage("colon", "II", immune="low")]))
    with pytest.raises(RemnantInputError, match=field):
        if field == "theta":
            fit.design_curves(design, [0.0, 365.0], value)
        else:
            fit.posterior_curves(design, [0.0, 365.0], value)


def test_kept_risks_of_mixed_patients_are_the_risks_computed():
    # the stage-free mixed patients' 5-year risks are kept per fit between explanations; a
    # patient explained after another of the same margin and immunity (whose mixed patients
    # it reads from memory) gets exactly what a fit that has kept nothing gives it
    from remnant.inference.model import RemnantFit
    from remnant.model import calibrated

    def fresh() -> RemnantFit:
        return RemnantFit.from_dict(calibrated.stored_fit("colon"))

    warm = fresh()
    first = Patient.from_stage("colon", "II", margin="R1", immune="low", age=50.0)
    explain(first, warm)
    for stage, margin, immune in (("III", "R1", "low"), ("I", "R0", "low"), ("III", "R1", "high")):
        patient = Patient.from_stage("colon", stage, margin=margin, immune=immune, age=70.0)
        kept = explain(patient, warm).to_dict()
        assert kept == explain(patient, fresh()).to_dict(), (stage, margin, immune)
    assert len(warm.__dict__["_mixed_5y"]) > 0


def test_the_shipped_model_is_one_object_per_process():
    from remnant.errors import RemnantInputError

    assert load_default("colon") is load_default("colon")
    assert load_default("breast") is not load_default("colon")
    with pytest.raises(RemnantInputError, match="cancer"):
        load_default(["colon"])  # type: ignore[arg-type]
