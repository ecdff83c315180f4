"""Every door holds: each command with bad flag values, bad output paths, the malformed files
of tests/data/bad/ and injected failures (docs/reliability.md; helpers in tests/doors.py).

The slow computations are stood in for (``predict``'s kernel table, ``fit`` itself: see
doors.py); everything the command line does around them is the real code.
"""

from __future__ import annotations

import errno
import importlib
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from doors import (
    CORPUS,
    DEFAULT_TIMEOUT,
    VALID_RUN_TIMEOUT,
    corpus_module,
    disk_full,
    install_fast_fit,
    install_fast_predict,
    raising,
    replace_everywhere,
    run_cli,
    write_model_file,
)

MC = corpus_module()
DROP = object()  # an override that removes a flag
FLAG = None  # a flag without a value (e.g. --no-progress)
INPUT_FLAGS = ("--data", "--train", "--test", "--scenario", "--patient", "--model")
OUTPUT_FLAGS = ("--out", "--json", "--plots", "--report", "--out-dir")
ROOT = os.geteuid() == 0

COHORT = dict(zip(MC.COHORT_FLAGS[::2], MC.COHORT_FLAGS[1::2], strict=True))
BASE: dict[str, dict[str, Any]] = {
    "simulate": {
        "--preset": "colon-stage2",
        "--patients": "1000",
        "--seed": "1",
        "--out": "{tmp}/cohort.parquet",
        "--no-progress": FLAG,
    },
    "evaluate": {
        "--data": "{tmp}/control.csv",
        "--model": "km",
        "--cv": "3",
        "--horizons": "1,3",
        **COHORT,
        "--no-progress": FLAG,
    },
    "fit": {"--data": "{tmp}/control.csv", **COHORT, "--out": "{tmp}/fit.json"},
    "predict": {"--cancer": "colon", "--stage": "II", "--margin": "R0", "--immune": "low"},
    "demo": {"--patients": "200", "--seed": "1", "--out-dir": "{tmp}/demo"},
}
# the same commands reading their input from a file, for the cases about inputs
WITH_INPUTS: dict[str, dict[str, Any]] = {
    "simulate": {**BASE["simulate"], "--preset": DROP, "--scenario": "{tmp}/scenario.toml"},
    "evaluate": {
        **BASE["evaluate"],
        "--data": DROP,
        "--cv": DROP,
        "--train": "{tmp}/control.csv",
        "--test": "{tmp}/control.parquet",
    },
    "fit": BASE["fit"],
    "predict": {
        **BASE["predict"],
        "--patient": "{tmp}/patient.json",
        "--model": "{tmp}/model.json",
        "--cancer": DROP,
        "--stage": DROP,
        "--margin": DROP,
        "--immune": DROP,
    },
}


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    install_fast_predict(monkeypatch)
    install_fast_fit(monkeypatch)
    monkeypatch.delenv("REMNANT_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)  # relative paths in the cases land here


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A directory with valid inputs of every kind."""
    for name, as_name in (
        ("control.csv", "control.csv"),
        ("control.parquet", "control.parquet"),
        ("scenario_valid.toml", "scenario.toml"),
        ("patient_valid.json", "patient.json"),
        ("patients.csv", "patients.csv"),
    ):
        shutil.copyfile(CORPUS / name, tmp_path / as_name)
    shutil.copyfile(CORPUS / "control.csv", tmp_path / "control.txt")
    write_model_file(tmp_path / "model.json")
    os.mkfifo(tmp_path / "fifo.csv")
    return tmp_path


def build(
    command: str, tmp: Path, overrides: dict[str, Any] | None = None, extra: Iterable[str] = ()
) -> list[str]:
    flags = {**BASE[command], **(overrides or {})}
    argv = [command]
    for flag, value in flags.items():
        if value is DROP:
            continue
        argv.append(flag)
        if value is not FLAG:
            argv.append(str(value).replace("{tmp}", str(tmp)))
    return argv + [str(e).replace("{tmp}", str(tmp)) for e in extra]


def files_of(argv: list[str], flags: Iterable[str]) -> list[str]:
    """The values of ``flags`` in ``argv`` (paths), skipping empty ones."""
    flags = set(flags)
    return [v for f, v in zip(argv, argv[1:], strict=False) if f in flags and v.strip()]


def door(
    argv: list[str],
    tmp: Path,
    *,
    expect: int | Iterable[int] | None,
    mentions: Iterable[str] = (),
    group: str,
    label: str | None = None,
    inputs: Iterable[str | Path] | None = None,
    outputs: Iterable[str | Path] | None = None,
    **kwargs: Any,
) -> Any:
    __tracebackhide__ = True
    inputs = files_of(argv, INPUT_FLAGS) if inputs is None else list(inputs)
    outputs = files_of(argv, OUTPUT_FLAGS) if outputs is None else list(outputs)
    return run_cli(
        argv,
        inputs=[p for p in inputs if os.path.lexists(p)],
        outputs=outputs,
        expect=expect,
        mentions=mentions,
        group=group,
        label=label,
        tmp=[tmp],
        **kwargs,
    )


# ---------------------------------------------------------------- remnant itself


def test_no_arguments_prints_help() -> None:
    r = run_cli([], expect=0, group="help", label="(no arguments)")
    assert "Usage" in r.out and "simulate" in r.out, r.out
    assert "error:" not in r.err


def test_help_lists_the_exit_codes() -> None:
    r = run_cli(["--help"], expect=0, group="help")
    text = " ".join(r.out.split())
    for code in ("0", "1", "2", "130"):
        assert code in text
    assert "exit code" in text.lower(), text


@pytest.mark.parametrize("command", ["simulate", "evaluate", "fit", "predict", "demo"])
def test_command_help(command: str) -> None:
    r = run_cli([command, "--help"], expect=0, group="help")
    assert "--" in r.out


@pytest.mark.parametrize(
    ("argv", "mention"),
    [
        (["nope"], "nope"),
        (["--nope"], "--nope"),
        (["simulate"], "--"),
        (["fit"], "--"),
        (["evaluate"], "--"),
        (["predict"], "--"),
        (["simulate", "--patients", "abc", "--help"], None),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else str(v),
)
def test_usage(argv: list[str], mention: str | None) -> None:
    run_cli(
        argv,
        expect=0 if mention is None else 2,
        mentions=[mention] if mention else [],
        group="usage",
    )


# ---------------------------------------------------------------- bad flag values


@dataclass(frozen=True)
class Bad:
    command: str
    overrides: dict[str, Any]
    expect: int | tuple[int, ...] = 2
    mentions: tuple[str, ...] | None = None  # default: the first overridden flag
    extra: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        parts = [
            f"{k}" if v is DROP else f"{k}={v!r}" if v is not FLAG else k
            for k, v in self.overrides.items()
        ]
        return f"{self.command} " + " ".join(parts + list(self.extra))


def values(command: str, flag: str, bad: Iterable[str], expect: Any = 2, **kw: Any) -> list[Bad]:
    return [Bad(command, {flag: v}, expect, **kw) for v in bad]


BIG = str(2**63)
HUGE = str(10**30)
FLOATS_BAD = ["nan", "inf", "-inf", "abc", ""]

BAD_FLAGS: list[Bad] = [
    # simulate
    *values("simulate", "--patients", ["0", "-1", "1.5", "abc", "", "nan", "inf", "1e3", BIG]),
    *values("simulate", "--patients", [HUGE, "-" + BIG]),
    *values("simulate", "--patients", ["\u0663"], (0, 2)),  # an Arabic-Indic 3
    *values("simulate", "--seed", ["-1", "abc", "1.5", "", "nan"]),
    *values("simulate", "--seed", [str(2**64), str(10**40)], (0, 2)),
    *values("simulate", "--horizon-years", [*FLOATS_BAD, "-1", "0", "1e300"]),
    *values("simulate", "--horizon-years", ["1e-300"], (0, 2)),
    *values("simulate", "--workers", ["0", "-1", "abc", "1.5", "", "nan"]),
    *values("simulate", "--workers", [BIG, "10000"], (0, 2)),
    *values("simulate", "--preset", ["nope", "", "colon-stage9", "../../etc/passwd"]),
    *values("simulate", "--margin", ["R3", "", "nan"]),
    *values("simulate", "--margin", ["r0"], (0, 2)),
    *values("simulate", "--immune", ["medium", "", "nan", "inf", "-1"]),
    *values("simulate", "--out", ["{tmp}/cohort.csv", "{tmp}/cohort", "", "{tmp}/.parquet"]),
    Bad("simulate", {"--preset": DROP, "--scenario": "{tmp}/missing.toml"}, 2, ("--scenario",)),
    Bad("simulate", {"--preset": DROP, "--scenario": "{tmp}"}, 2, ("--scenario",)),
    Bad("simulate", {"--preset": DROP, "--scenario": "/dev/null"}, 2, ("--scenario",)),
    Bad("simulate", {"--preset": DROP, "--scenario": "{tmp}/fifo.csv"}, 2, ("--scenario",)),
    Bad("simulate", {"--preset": DROP, "--scenario": ""}, 2, ("--scenario",)),
    Bad("simulate", {"--scenario": "{tmp}/scenario.toml"}, 2, ("any:--preset|--scenario",)),
    Bad("simulate", {"--preset": DROP}, 2, ("any:--preset|--scenario",)),
    Bad("simulate", {"--patients": DROP}, 2, ("--patients",)),
    Bad("simulate", {"--out": DROP}, 2, ("--out",)),
    Bad("simulate", {}, 2, ("--frobnicate",), ("--frobnicate", "1")),
    Bad("simulate", {}, 2, ("junk",), ("junk",)),
    Bad("simulate", {"--out": DROP}, 2, ("--out",), ("--out",)),
    Bad("simulate", {}, (0, 2), (), ("--patients", "500")),
    # evaluate
    *values("evaluate", "--model", ["nope", "", "cox;rm -rf /"]),
    *values("evaluate", "--model", ["KM"], (0, 2)),
    *values("evaluate", "--cv", ["0", "1", "-1", "abc", "1.5", "", HUGE, "100"]),
    Bad(
        "evaluate",
        {"--data": DROP, "--train": "{tmp}/control.csv", "--test": "{tmp}/control.csv"},
        2,
        ("--cv",),
    ),
    Bad("evaluate", {"--train": "{tmp}/control.csv"}, 2, ("any:--data|--train",)),
    Bad(
        "evaluate",
        {"--data": DROP, "--cv": DROP, "--train": "{tmp}/control.csv"},
        2,
        ("any:--test|--train",),
    ),
    Bad("evaluate", {"--data": DROP, "--cv": DROP}, 2, ("any:--data|--train",)),
    *values("evaluate", "--horizons", ["", "nan", "inf", "-1", "0", "a,b", ",", "1,nan"]),
    *values("evaluate", "--horizons", ["1,,3", "\u0663", "1e300"], (0, 2)),
    *values("evaluate", "--seed", ["-1", "abc", ""]),
    *values("evaluate", "--seed", [str(2**64)], (0, 2)),
    *values("evaluate", "--ipcw", ["nope", ""]),
    *values("evaluate", "--time-unit", ["weeks", ""]),
    *values("evaluate", "--missing", ["ignore", ""]),
    Bad("evaluate", {"--time-col": "nope"}, 2, ("nope",)),
    Bad("evaluate", {"--time-col": ""}, 2, ("--time-col",)),
    Bad("evaluate", {"--time-col": DROP}, 2, ("--time-col",)),
    Bad("evaluate", {"--event-col": "nope"}, 2, ("nope",)),
    Bad("evaluate", {"--event-col": "depth"}, 2, ("depth",)),
    Bad("evaluate", {"--event-col": DROP}, 2, ("--event-col",)),
    Bad("evaluate", {"--stage-cols": "nope"}, 2, ("nope",)),
    Bad("evaluate", {"--stage-cols": "time"}, 2, ("time",)),
    Bad("evaluate", {"--other-cols": "score,depth"}, 2, ("depth",)),
    Bad("evaluate", {"--removal-cols": "nope"}, 2, ("nope",)),
    Bad("evaluate", {"--immune-cols": "\u5e74\u9f84"}, 2, ("\u5e74\u9f84",)),
    Bad("evaluate", {"--categorical-cols": "nope"}, 2, ("nope",)),
    Bad("evaluate", {"--death-col": "nope"}, 2, ("nope",)),
    Bad("evaluate", {"--death-col": "depth"}, 2, ("depth",)),
    Bad("evaluate", {"--data": "colon"}, 2, ("--time-col",)),
    Bad("evaluate", {"--covariates": "depth"}, 2, ("--covariates",)),
    *values(
        "evaluate",
        "--data",
        ["nope", "{tmp}/missing.csv", "{tmp}", "/dev/null", "{tmp}/fifo.csv"],
    ),
    *values("evaluate", "--data", ["{tmp}/control.txt", "", "/proc/self/mem"]),
    Bad(
        "evaluate",
        {"--data": DROP, "--cv": DROP, "--train": "{tmp}/control.csv", "--test": "nope"},
        2,
        ("--test",),
    ),
    Bad(
        "evaluate",
        {"--data": DROP, "--cv": DROP, "--train": "nope.csv", "--test": "{tmp}/control.csv"},
        2,
        ("--train",),
    ),
    Bad("evaluate", {}, 2, ("--frobnicate",), ("--frobnicate",)),
    Bad("evaluate", {}, 2, ("--json",), ("--json",)),
    # fit
    *values("fit", "--cancer", ["lung", "", "nan"]),
    *values("fit", "--seed", ["-1", "abc", "", "1.5"]),
    *values("fit", "--out", ["{tmp}/fit.txt", "{tmp}/fit", ""]),
    Bad("fit", {"--out": DROP}, 2, ("--out",)),
    Bad("fit", {"--data": DROP}, 2, ("--data",)),
    Bad("fit", {"--report": "{tmp}/control.txt"}, 2, ("--report",)),
    *values("fit", "--data", ["nope", "{tmp}/missing.csv", "{tmp}", "/dev/null", ""]),
    *values("fit", "--time-unit", ["weeks"]),
    *values("fit", "--missing", ["ignore"]),
    Bad("fit", {"--time-col": "nope"}, 2, ("nope",)),
    Bad("fit", {"--stage-cols": "nope"}, 2, ("nope",)),
    Bad("fit", {"--stage-cols": DROP, "--other-cols": DROP}, 2, ("any:--data|--stage-cols",)),
    Bad("fit", {"--death-col": "nope"}, 2, ("nope",)),
    Bad("fit", {"--categorical-cols": "nope"}, 2, ("nope",)),
    Bad("fit", {}, 2, ("--frobnicate",), ("--frobnicate", "x")),
    # predict
    *values("predict", "--cancer", ["lung", "", "nan"]),
    *values("predict", "--stage", ["IV", "", "0", "nan"]),
    *values("predict", "--size-mm", [*FLOATS_BAD, "-1", "0", "1e300"]),
    *values("predict", "--nodes", ["-1", "1.5", "abc", "", BIG, HUGE]),
    *values("predict", "--grade", ["0", "4", "-1", "abc", ""]),
    *values("predict", "--margin", ["R3", ""]),
    *values("predict", "--immune", ["medium", "", "nan"]),
    *values("predict", "--age", [*FLOATS_BAD, "-5", "500"]),
    *values("predict", "--earlier-months", [*FLOATS_BAD, "-1", "1e300"]),
    *values("predict", "--recurrence-free-years", [*FLOATS_BAD, "-1", "100"]),
    *values("predict", "--seed", ["-1", "abc", ""]),
    *values("predict", "--draws", ["1", "0", "-1", "abc", "1.5", "20000", ""]),
    Bad("predict", {"--row": "0"}, 2, ("--row",)),
    Bad("predict", {"--patient": "{tmp}/patients.csv", "--row": "-1"}, 2, ("--row",)),
    Bad("predict", {"--patient": "{tmp}/patients.csv", "--row": "999"}, 2, ("--row",)),
    Bad("predict", {"--patient": "{tmp}/patients.csv", "--row": BIG}, 2, ("--row",)),
    Bad("predict", {"--patient": "{tmp}/patients.csv"}, 2, ("--row",)),
    Bad("predict", {"--patient": "{tmp}/patient.json", "--row": "0"}, 2, ("--row",)),
    *values(
        "predict",
        "--patient",
        ["{tmp}/missing.json", "{tmp}", "{tmp}/control.txt", "/dev/null", "", "{tmp}/fifo.csv"],
    ),
    *values("predict", "--model", ["{tmp}/missing.json", "{tmp}", "/dev/null", ""]),
    Bad("predict", {"--cancer": DROP}, 2, ("--cancer",)),
    Bad("predict", {"--margin": DROP}, 2, ("--margin",)),
    Bad("predict", {"--immune": DROP}, 2, ("--immune",)),
    Bad("predict", {"--stage": DROP}, 2, ("--stage",)),
    Bad("predict", {"--cancer": "breast", "--model": "{tmp}/model.json"}, 2, ("--model",)),
    *values("predict", "--json", ["{tmp}/p.txt", "{tmp}/p", ""]),
    *values("predict", "--report", ["{tmp}/p.htm", "{tmp}/p.json", ""]),
    Bad("predict", {}, 2, ("--frobnicate",), ("--frobnicate",)),
    # demo
    *values("demo", "--patients", ["0", "-1", "abc", "", BIG, "nan"]),
    *values("demo", "--seed", ["-1", "abc", ""]),
    *values("demo", "--out-dir", ["{tmp}/control.txt", "/dev/null", "{tmp}/fifo.csv", ""]),
    # an empty path is not the working directory
    *values("evaluate", "--plots", [""]),
    *values("fit", "--report", [""]),
    Bad("demo", {}, 2, ("--frobnicate",), ("--frobnicate",)),
]

GOOD_FLAGS: list[Bad] = [
    Bad("simulate", {}, 0),
    Bad("simulate", {"--margin": "R1", "--immune": "high", "--horizon-years": "5"}, 0),
    Bad("simulate", {"--preset": DROP, "--scenario": "{tmp}/scenario.toml"}, 0),
    Bad("simulate", {"--workers": "1"}, 0),
    Bad("evaluate", {}, 0),
    Bad("evaluate", {"--model": "cox", "--cv": "2"}, 0),
    Bad("evaluate", {"--data": "{tmp}/control.parquet", "--ipcw": "test"}, 0),
    Bad("evaluate", {"--missing": "impute", "--categorical-cols": "level"}, 0),
    Bad(
        "evaluate",
        {
            "--data": DROP,
            "--cv": DROP,
            "--train": "{tmp}/control.csv",
            "--test": "{tmp}/control.parquet",
        },
        0,
    ),
    Bad("fit", {}, 0),
    Bad("fit", {"--report": "{tmp}/effects", "--cancer": "colon"}, 0),
    Bad("predict", {}, 0),
    Bad("predict", {"--json": "{tmp}/p.json", "--report": "{tmp}/p.html"}, 0),
    Bad("predict", {"--stage": DROP, "--size-mm": "30", "--nodes": "2", "--grade": "3"}, 0),
    Bad("predict", {"--model": "{tmp}/model.json", "--recurrence-free-years": "2"}, 0),
    Bad(
        "predict",
        {"--patient": "{tmp}/patient.json", **dict.fromkeys(BASE["predict"], DROP)},
        0,
    ),
    Bad("predict", {"--patient": "{tmp}/patients.csv", "--row": "0"}, 0),
    Bad("demo", {}, 0),
]


@pytest.mark.parametrize("case", BAD_FLAGS + GOOD_FLAGS, ids=lambda c: c.id)
def test_flag_values(case: Bad, work: Path) -> None:
    argv = build(case.command, work, case.overrides, case.extra)
    mentions = case.mentions
    if mentions is None:
        mentions = tuple(f"any:{k}" for k in list(case.overrides)[:1])
    door(
        argv,
        work,
        expect=case.expect,
        mentions=mentions if case.expect != 0 else (),
        group="flag values" if case.expect != 0 else "valid runs",
        label=case.id,
        check_names=case.expect != 0,
        # a valid run does the command's whole work (a fit tabulates its kernels and chooses
        # its prior by the evidence: 16 s alone, about a minute beside the rest of the suite
        # with a fresh numba cache); a refused flag must still fail within the default
        timeout=VALID_RUN_TIMEOUT if case.expect == 0 else DEFAULT_TIMEOUT,
    )


# ---------------------------------------------------------------- output paths

FILE_OUTPUTS = [
    ("simulate", "--out", ".parquet"),
    ("evaluate", "--json", ".json"),
    ("fit", "--out", ".json"),
    ("predict", "--json", ".json"),
    ("predict", "--report", ".html"),
]
DIR_OUTPUTS = [("evaluate", "--plots"), ("fit", "--report"), ("demo", "--out-dir")]
# a flag value that makes each command fail (exit 2) whatever the outputs
FAILING = {
    "simulate": {"--patients": "0"},
    "evaluate": {"--cv": "0"},
    "fit": {"--cancer": "lung"},
    "predict": {"--cancer": "lung"},
    "demo": {"--patients": "0"},
}


def _make(kind: str, tmp: Path, suffix: str) -> tuple[str, int | tuple[int, ...]]:
    """Prepare an output path of ``kind``; returns it and the exit code expected."""
    if kind == "missing parent":
        return f"{tmp}/nope/out{suffix}", 2
    if kind == "parent under /proc":
        return f"/proc/remnant-x/out{suffix}", 2
    if kind == "in /proc":
        return f"/proc/out{suffix}", 2
    if kind == "existing directory":
        (tmp / f"dir{suffix}").mkdir()
        return f"{tmp}/dir{suffix}", 2
    if kind in ("/dev/null", "/dev/full"):
        return kind, 2
    if kind in ("link to /dev/null", "link to /dev/full"):
        (tmp / f"dev{suffix}").symlink_to(kind.split()[-1])
        return f"{tmp}/dev{suffix}", 2
    if kind == "FIFO":
        os.mkfifo(tmp / f"pipe{suffix}")
        return f"{tmp}/pipe{suffix}", 2
    if kind == "wrong suffix":
        return f"{tmp}/out.txt", 2
    if kind == "no suffix":
        return f"{tmp}/out", 2
    if kind == "upper-case suffix":
        return f"{tmp}/OUT{suffix.upper()}", (0, 2)
    if kind == "dangling link":
        (tmp / f"dangling{suffix}").symlink_to(tmp / "nowhere" / f"x{suffix}")
        return f"{tmp}/dangling{suffix}", (0, 2)
    if kind == "unwritable parent":
        (tmp / "locked").mkdir()
        (tmp / "locked").chmod(0o500)
        return f"{tmp}/locked/out{suffix}", 2
    if kind == "new file":
        return f"{tmp}/new{suffix}", 0
    raise AssertionError(kind)


FILE_KINDS = [
    "missing parent",
    "parent under /proc",
    "in /proc",
    "existing directory",
    "/dev/null",
    "/dev/full",
    "link to /dev/null",
    "link to /dev/full",
    "FIFO",
    "wrong suffix",
    "no suffix",
    "upper-case suffix",
    "dangling link",
    "unwritable parent",
    "new file",
]


@pytest.mark.parametrize("kind", FILE_KINDS)
@pytest.mark.parametrize(("command", "flag", "suffix"), FILE_OUTPUTS)
def test_file_output(command: str, flag: str, suffix: str, kind: str, work: Path) -> None:
    if kind == "unwritable parent" and ROOT:
        pytest.skip("root writes in a read-only directory; the /proc cases cover it")
    path, expect = _make(kind, work, suffix)
    door(
        build(command, work, {flag: path}),
        work,
        expect=expect,
        mentions=[flag] if expect == 2 else [],
        group="output paths",
        label=f"{command} {flag}: {kind}",
        check_names=True,
    )


@pytest.mark.parametrize("outcome", ["failing run", "successful run"])
@pytest.mark.parametrize(("command", "flag", "suffix"), FILE_OUTPUTS)
def test_existing_output(command: str, flag: str, suffix: str, outcome: str, work: Path) -> None:
    """An existing output is untouched by a failure, replaced whole by a success."""
    old = work / f"old{suffix}"
    old.write_bytes(b"old content\n")
    overrides = {flag: str(old), **(FAILING[command] if outcome == "failing run" else {})}
    door(
        build(command, work, overrides),
        work,
        expect=2 if outcome == "failing run" else 0,
        group="output paths",
        label=f"{command} {flag}: an existing file, {outcome}",
    )
    if outcome == "successful run":
        assert old.read_bytes() != b"old content\n"


INPUT_KINDS = ["same path", "relative spelling", "symlink", "hard link"]
INPUTS_OF = {
    "simulate": ["--scenario"],
    "evaluate": ["--train", "--test"],
    "fit": ["--data"],
    "predict": ["--patient", "--model"],
}


def _input_cases() -> list[tuple[str, str, str, str, str]]:
    out = []
    for command, flag, suffix in FILE_OUTPUTS:
        for input_flag in INPUTS_OF[command]:
            for kind in INPUT_KINDS:
                out.append((command, flag, suffix, input_flag, kind))
    out += [("evaluate", "--json", ".json", "--data", k) for k in INPUT_KINDS]  # cross-validation
    return out


@pytest.mark.parametrize(("command", "flag", "suffix", "input_flag", "kind"), _input_cases())
def test_output_is_an_input(
    command: str,
    flag: str,
    suffix: str,
    input_flag: str,
    kind: str,
    work: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    overrides = dict(WITH_INPUTS[command])
    if input_flag == "--data" and command == "evaluate":
        overrides = {}
    source = Path(
        str(overrides.get(input_flag, BASE[command].get(input_flag))).replace("{tmp}", str(work))
    )
    monkeypatch.chdir(work)
    (work / "sub").mkdir()
    if kind == "same path":
        path = str(source)
    elif kind == "relative spelling":
        path = f"./sub/../{source.name}"
    elif kind == "symlink":
        path = f"{work}/link{suffix}"
        os.symlink(source, path)
    else:
        path = f"{work}/hard{suffix}"
        os.link(source, path)
    argv = build(command, work, {**overrides, flag: path})
    door(
        argv,
        work,
        expect=2,
        mentions=[flag],
        group="output is an input",
        inputs=[*files_of(argv, INPUT_FLAGS), source],
        label=f"{command} {flag} = {input_flag} ({kind})",
        check_names=True,
    )


def _make_dir(kind: str, tmp: Path) -> tuple[str, int]:
    if kind == "a file":
        return f"{tmp}/control.txt", 2
    if kind == "the input file":
        return f"{tmp}/control.csv", 2
    if kind == "link to the input file":
        (tmp / "inlink").symlink_to(tmp / "control.csv")
        return f"{tmp}/inlink", 2
    if kind == "/dev/null":
        return kind, 2
    if kind == "FIFO":
        return f"{tmp}/fifo.csv", 2
    if kind == "parent under /proc":
        return "/proc/remnant-x/plots", 2
    if kind == "in /proc":
        return "/proc/remnant-plots", 2
    if kind == "missing parent":
        return f"{tmp}/a/b/plots", 2
    if kind == "unwritable":
        (tmp / "locked").mkdir()
        (tmp / "locked").chmod(0o500)
        return f"{tmp}/locked", 2
    if kind == "existing empty directory":
        (tmp / "plots").mkdir()
        return f"{tmp}/plots", 0
    if kind == "new directory":
        return f"{tmp}/plots", 0
    raise AssertionError(kind)


DIR_KINDS = [
    "a file",
    "the input file",
    "link to the input file",
    "/dev/null",
    "FIFO",
    "parent under /proc",
    "in /proc",
    "missing parent",
    "unwritable",
    "existing empty directory",
    "new directory",
]


@pytest.mark.parametrize("kind", DIR_KINDS)
@pytest.mark.parametrize(("command", "flag"), DIR_OUTPUTS)
def test_directory_output(command: str, flag: str, kind: str, work: Path) -> None:
    if kind == "unwritable" and ROOT:
        pytest.skip("root writes in a read-only directory; the /proc cases cover it")
    if kind in ("the input file", "link to the input file") and command == "demo":
        pytest.skip("demo reads no file")
    path, expect = _make_dir(kind, work)
    door(
        build(command, work, {flag: path}),
        work,
        expect=expect,
        mentions=[flag] if expect == 2 else [],
        group="output paths",
        label=f"{command} {flag}: {kind}",
        check_names=True,
    )


@pytest.mark.parametrize(
    ("command", "good", "bad"),
    [
        ("evaluate", {"--json": "{tmp}/ok.json"}, {"--plots": "/dev/null"}),
        ("evaluate", {"--plots": "{tmp}/plots"}, {"--json": "{tmp}/nope/x.json"}),
        ("fit", {"--out": "{tmp}/ok.json"}, {"--report": "/proc/remnant-x/effects"}),
        ("fit", {"--report": "{tmp}/effects"}, {"--out": "/dev/full"}),
        ("predict", {"--json": "{tmp}/ok.json"}, {"--report": "{tmp}/nope/r.html"}),
        ("predict", {"--report": "{tmp}/ok.html"}, {"--json": "/proc/x.json"}),
    ],
    ids=lambda v: str(v),
)
def test_one_bad_output_of_two(
    command: str, good: dict[str, str], bad: dict[str, str], work: Path
) -> None:
    """Every output is checked before any work: a bad second output leaves no first one."""
    door(
        build(command, work, {**good, **bad}),
        work,
        expect=2,
        mentions=list(bad),
        group="output paths",
        label=f"{command} {' '.join(f'{k} {v}' for k, v in {**good, **bad}.items())}",
    )


# ---------------------------------------------------------------- the corpus of bad files


def _corpus_cases() -> list[Any]:
    out = []
    for entry in MC.entries():
        for door_name, expect in entry.expect.items():
            out.append(pytest.param(entry, door_name, expect, id=f"{entry.name} -> {door_name}"))
    return out


def _corpus_argv(entry: Any, door_name: str, tmp: Path) -> tuple[list[str], str]:
    path = str(CORPUS / entry.name)
    if door_name == MC.EVALUATE_DATA:
        argv = ["evaluate", "--data", path, "--model", "km", "--cv", "3", "--horizons", "1,3"]
        return [*argv, *entry.flags, "--no-progress", "--json", f"{tmp}/e.json"], "--data"
    if door_name == MC.EVALUATE_TEST:
        train = str(CORPUS / "control.csv") if entry.flags == MC.COHORT_FLAGS else path
        argv = ["evaluate", "--train", train, "--test", path, "--model", "km"]
        return [*argv, "--horizons", "1,3", *entry.flags, "--no-progress"], "--test"
    if door_name == MC.FIT_DATA:
        return ["fit", "--data", path, *entry.flags, "--out", f"{tmp}/f.json"], "--data"
    if door_name == MC.SIMULATE_SCENARIO:
        argv = ["simulate", "--scenario", path, "--patients", "500", "--seed", "1"]
        return [*argv, "--out", f"{tmp}/s.parquet", "--no-progress"], "--scenario"
    if door_name == MC.PREDICT_MODEL:
        return build("predict", tmp, {"--model": path}), "--model"
    if door_name == MC.PREDICT_PATIENT:
        if Path(path).suffix in (".csv", ".parquet"):
            return build("predict", tmp, {"--patient": path, "--row": "0"}), "--patient"
        return ["predict", "--patient", path, "--json", f"{tmp}/p.json"], "--patient"
    raise AssertionError(door_name)


@pytest.mark.parametrize(("entry", "door_name", "expect"), _corpus_cases())
def test_corpus_file(entry: Any, door_name: str, expect: Any, tmp_path: Path) -> None:
    argv, flag = _corpus_argv(entry, door_name, tmp_path)
    code = (0, 2) if expect.code < 0 else expect.code
    mentions = [m.replace("{flag}", flag) for m in expect.mentions]
    door(
        argv,
        tmp_path,
        expect=code,
        mentions=mentions,
        group="corpus files",
        label=f"{entry.name} -> {door_name}",
        check_names=code == 2,
    )


@pytest.mark.parametrize("row", sorted(MC.PATIENT_ROWS))
def test_patient_rows(row: int, tmp_path: Path) -> None:
    door(
        ["predict", "--patient", str(CORPUS / "patients.csv"), "--row", str(row)],
        tmp_path,
        expect=2,
        mentions=[MC.PATIENT_ROWS[row]],
        group="corpus files",
        label=f"patients.csv --row {row} -> predict --patient",
    )


@pytest.mark.parametrize(
    ("name", "extra", "expect", "mentions"),
    [
        ("stray_word.csv", ["--categorical-cols", "level"], 0, []),
        ("stray_word.parquet", ["--categorical-cols", "level"], 0, []),
        ("nan_covariate.csv", ["--missing", "impute"], 0, []),
        ("nan_covariate.parquet", ["--missing", "impute"], 0, []),
        ("categorical_text.csv", ["--categorical-cols", "site"], 0, []),
        ("inf_covariate.csv", ["--missing", "impute"], 2, ["depth", r"re:\brows? 5\b"]),
        ("control.csv", ["--categorical-cols", "depth,time"], 2, ["any:time|--categorical-cols"]),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else str(v),
)
def test_corpus_with_flags(
    name: str, extra: list[str], expect: int, mentions: list[str], tmp_path: Path
) -> None:
    flags = list(MC.COHORT_FLAGS)
    if name.startswith("categorical_text"):
        flags[-1] = "score,site"
    argv = ["evaluate", "--data", str(CORPUS / name), "--model", "km", "--cv", "3"]
    door(
        [*argv, "--horizons", "1,3", *flags, *extra, "--no-progress"],
        tmp_path,
        expect=expect,
        mentions=mentions,
        group="corpus files",
        label=f"{name} {' '.join(extra)} -> evaluate --data",
    )


@pytest.mark.parametrize(
    ("name", "mentions"),
    [
        ("stray_word.csv", ["--train", "level", r"re:\brows? 7\b"]),
        ("binary.parquet", ["--train"]),
        ("no_events.csv", ["--train", "event"]),
    ],
)
def test_corpus_as_training_cohort(name: str, mentions: list[str], tmp_path: Path) -> None:
    argv = ["evaluate", "--train", str(CORPUS / name), "--test", str(CORPUS / "control.csv")]
    door(
        [*argv, "--model", "km", *MC.COHORT_FLAGS, "--no-progress"],
        tmp_path,
        expect=2,
        mentions=mentions,
        group="corpus files",
        label=f"{name} -> evaluate --train",
    )


def test_corpus_files_are_small_and_current() -> None:
    """The committed corpus is what make_corpus.py writes (Parquet footers name pyarrow's
    version, so only their presence is checked) and every file is under 5 kB."""
    for entry in MC.entries():
        path = CORPUS / entry.name
        assert path.is_file(), f"{path} missing: run tests/data/bad/make_corpus.py"
        assert path.stat().st_size < 5000, path
        if path.suffix != ".parquet":
            assert path.read_bytes() == entry.content, f"{path} is stale: run make_corpus.py"
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    assert readme == MC.readme(MC.entries()), "README.md is stale: run make_corpus.py"


# ---------------------------------------------------------------- injected failures


WORK_FUNCTIONS = {
    "simulate": ("remnant.engine.simulate", "simulate"),
    "demo": ("remnant.engine.simulate", "simulate"),
    "evaluate": ("remnant.yardstick.evaluation", "evaluate"),
    "fit": ("remnant.inference.model", "fit"),
    "predict": ("remnant.explanation.explain", "explain"),
}


def work_function(command: str) -> Any:
    """The one API function each command calls for its work (as it is now: ``fit`` is
    already the stand-in)."""
    module, name = WORK_FUNCTIONS[command]
    return getattr(importlib.import_module(module), name)


FAULT_ARGS = {
    "simulate": {},
    "evaluate": {"--json": "{tmp}/e.json", "--plots": "{tmp}/plots"},
    "fit": {"--report": "{tmp}/effects"},
    "predict": {"--json": "{tmp}/p.json", "--report": "{tmp}/p.html"},
    "demo": {},
}


@pytest.mark.parametrize(
    ("fault", "expect"),
    [
        (RuntimeError("something unexpected broke"), 1),
        (ValueError("an internal value error"), 1),
        (ZeroDivisionError("division by zero"), 1),
        (KeyError("missing"), 1),
        (MemoryError(), 1),
        (KeyboardInterrupt(), 130),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
@pytest.mark.parametrize("command", ["simulate", "evaluate", "fit", "predict", "demo"])
def test_fault_inside_the_command(
    command: str, fault: BaseException, expect: int, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replace_everywhere(monkeypatch, work_function(command), raising(fault))
    door(
        build(command, work, FAULT_ARGS[command]),
        work,
        expect=expect,
        group="injected faults",
        label=f"{command}: {type(fault).__name__} in the computation",
    )


@pytest.mark.parametrize("command", ["fit", "evaluate"])
def test_no_convergence(command: str, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from remnant.errors import ConvergenceError

    fault = ConvergenceError("no convergence after 200 iterations (gradient 3.2e-2)")
    replace_everywhere(monkeypatch, work_function(command), raising(fault))
    door(
        build(command, work, FAULT_ARGS[command]),
        work,
        expect=1,
        mentions=["converge"],
        group="injected faults",
        label=f"{command}: ConvergenceError",
    )


DISK_FULL = [
    ("simulate", {}, "{tmp}"),
    ("evaluate", {"--json": "{tmp}/out/e.json"}, "{tmp}/out"),
    ("evaluate", {"--plots": "{tmp}/plots"}, "{tmp}"),
    ("evaluate", {"--plots": "{tmp}/out"}, "{tmp}/out"),
    ("evaluate", {"--json": "{tmp}/e.json", "--plots": "{tmp}/out"}, "{tmp}/out"),
    ("evaluate", {"--json": "{tmp}/out/old.json"}, "{tmp}/out"),
    ("fit", {"--out": "{tmp}/out/fit.json"}, "{tmp}/out"),
    ("fit", {"--out": "{tmp}/fit.json", "--report": "{tmp}/out"}, "{tmp}/out"),
    ("predict", {"--json": "{tmp}/out/p.json"}, "{tmp}/out"),
    ("predict", {"--report": "{tmp}/out/p.html"}, "{tmp}/out"),
    ("predict", {"--json": "{tmp}/p.json", "--report": "{tmp}/out/p.html"}, "{tmp}/out"),
    ("demo", {"--out-dir": "{tmp}/out"}, "{tmp}/out"),
    ("demo", {"--out-dir": "{tmp}/demo"}, "{tmp}"),
]


@pytest.mark.parametrize(
    ("command", "outputs", "full"), DISK_FULL, ids=lambda v: str(v) if v else "defaults"
)
def test_disk_full_while_writing(
    command: str,
    outputs: dict[str, str],
    full: str,
    work: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (work / "out").mkdir()
    (work / "out" / "old.json").write_text('{"old": true}\n')
    argv = build(command, work, outputs)
    state = disk_full(monkeypatch, full.replace("{tmp}", str(work)))
    try:
        door(
            argv,
            work,
            expect=1,
            group="disk full",
            label=f"{command} {' '.join(outputs) or '--out'}: ENOSPC in {full}",
        )
    finally:
        monkeypatch.undo()
    assert state.hits, "no write was made to fail: the writers bypass open() and ParquetWriter"


def test_interrupt_while_writing_parquet(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    calls = []

    def interrupted(self: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(pq.ParquetWriter, "write_batch", interrupted)
    monkeypatch.setattr(pq.ParquetWriter, "write_table", interrupted)
    door(
        build("simulate", work),
        work,
        expect=130,
        group="injected faults",
        label="simulate: Ctrl-C while the Parquet file is written",
    )
    assert calls


def test_oserror_reading_an_input(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An input that cannot be read (EIO) is a bad file or a failure, never a traceback."""
    import pandas as pd

    monkeypatch.setattr(pd, "read_csv", raising(OSError(errno.EIO, "Input/output error")))
    door(
        build("evaluate", work),
        work,
        expect=(1, 2),
        group="injected faults",
        label="evaluate: EIO reading --data",
    )
