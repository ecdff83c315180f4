"""Every door holds, fuzzed: hypothesis draws flag subsets and values for every command, and
CSV, Parquet, TOML and JSON inputs, and each example must keep the contract of
tests/doors.py (an exit code of 0, 1, 2 or 130, one ``error:`` line and no traceback, inputs
unchanged, nothing half-written). No exit code is predicted here; test_doors_cli.py does that.

Each test runs all of its examples and then reports every broken one (rather than stopping at
the first), so that the tally of docs/reliability.md counts them all. Examples are
derandomized (the same in every run) and not shrunk, to keep the suite fast and reproducible.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from doors import (
    CORPUS,
    install_fast_fit,
    install_fast_predict,
    run_cli,
    write_model_file,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "phases": (Phase.explicit, Phase.generate),
    "suppress_health_check": list(HealthCheck),
}
TIMEOUT = 30.0  # a generated case still running after this is a failure


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    install_fast_predict(monkeypatch)
    install_fast_fit(monkeypatch)
    monkeypatch.delenv("REMNANT_DEBUG", raising=False)


# ---------------------------------------------------------------- running many examples


class Broken:
    """The examples of one test that broke the contract, reported together at the end."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def run(self, argv: list[str], tmp: Path, **kwargs: Any) -> None:
        try:
            run_cli(argv, tmp=[tmp], timeout=TIMEOUT, **kwargs)
        except AssertionError as exc:
            self.messages.append(str(exc))

    def check(self) -> None:
        if self.messages:
            shown = "\n\n".join(m[:1500] for m in self.messages[:8])
            raise AssertionError(
                f"{len(self.messages)} generated cases broke the contract:\n{shown}"
            )


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh working directory per example (function-scoped fixtures are shared by all
    examples)."""
    path = Path(tempfile.mkdtemp(prefix="doors-"))
    cwd = os.getcwd()
    os.chdir(path)  # drawn relative paths (an output named "年龄") land here
    try:
        yield path
    finally:
        os.chdir(cwd)
        shutil.rmtree(path, ignore_errors=True)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:10]


# ---------------------------------------------------------------- values

SPECIAL_FLOATS = ["nan", "NaN", "inf", "-inf", "Infinity", "1e300", "-1e300", "1e-300", "-0.0"]
HUGE_INTS = [2**31, 2**63, -(2**63) - 1, 10**30, -(10**30)]
WEIRD_TEXT = ["", " ", "\t", "-", "--", "é", "年龄", "١٢", "0x10", "1_000", "1,5", "None", "true"]

texts = st.one_of(st.sampled_from(WEIRD_TEXT), st.text(max_size=10))
ints = st.one_of(st.integers(-3, 10), st.sampled_from(HUGE_INTS)).map(str)
floats = st.one_of(
    st.sampled_from(SPECIAL_FLOATS),
    st.floats(-1e3, 1e3, allow_nan=False).map(repr),
)
anything_text = st.one_of(ints, floats, texts)


def rarely(draw: Callable[..., Any], odds: int) -> bool:
    """True about once in ``odds`` draws (hypothesis favours small integers, so an
    ``integers(0, n) == 0`` test would be true far more often)."""
    return bool(draw(st.sampled_from([False] * (odds - 1) + [True])))


def whole(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.integers(lo, hi).map(str)


def real(lo: float, hi: float) -> st.SearchStrategy[str]:
    return st.floats(lo, hi).map(lambda x: f"{x:.6g}")


def one_of_these(valid: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(valid)


def columns_list(names: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True).map(",".join)


# ---------------------------------------------------------------- output paths

OUTPUT_KINDS = [
    "new",
    "new",
    "new",
    "new",
    "new",
    "existing file",
    "wrong suffix",
    "missing parent",
    "directory",
    "/dev/null",
    "FIFO",
    "empty",
    "in /proc",
]


def output_path(draw: Callable[..., Any], tmp: Path, name: str, suffix: str) -> str:
    """Draw an output path of some kind (mostly a new file), made in ``tmp``."""
    kind = draw(st.sampled_from(OUTPUT_KINDS))
    if kind == "new":
        return f"{tmp}/{name}{suffix}"
    if kind == "existing file":
        (tmp / f"{name}{suffix}").write_bytes(b"old\n")
        return f"{tmp}/{name}{suffix}"
    if kind == "wrong suffix":
        return f"{tmp}/{name}.txt" if suffix else f"{tmp}/control.csv"
    if kind == "missing parent":
        return f"{tmp}/missing/{name}{suffix}"
    if kind == "directory":
        (tmp / f"{name}{suffix}").mkdir(exist_ok=True)
        return f"{tmp}/{name}{suffix}"
    if kind == "FIFO":
        os.mkfifo(tmp / f"{name}-fifo{suffix}")
        return f"{tmp}/{name}-fifo{suffix}"
    if kind == "empty":
        return ""
    if kind == "in /proc":
        return f"/proc/remnant-{name}{suffix}"
    return kind  # /dev/null


# flag -> (valid values, bad values); a drawn example is valid but for one or two flags
Flags = dict[str, tuple[st.SearchStrategy[str], st.SearchStrategy[str]]]


def add_flags(
    draw: Callable[..., Any],
    argv: list[str],
    flags: Flags,
    *,
    required: tuple[str, ...] = (),
    bad_odds: int = 6,
) -> None:
    """Append ``required`` and a random subset of the other ``flags``, in a random order, each
    with a valid value or, one time in ``bad_odds``, a bad one."""
    optional = sorted(f for f in flags if f not in required)
    chosen = list(required) + draw(
        st.lists(st.sampled_from(optional), unique=True, max_size=len(optional))
    )
    for flag in draw(st.permutations(chosen)):
        good, bad = flags[flag]
        argv += [flag, draw(bad if rarely(draw, bad_odds) else good)]
    if rarely(draw, 20):
        argv.append(draw(st.sampled_from(["--frobnicate", "stray", "--no-progress"])))


def paths_after(argv: list[str], flags: tuple[str, ...]) -> list[str]:
    return [v for f, v in zip(argv, argv[1:], strict=False) if f in flags and v]


INPUTS = ("--data", "--train", "--test", "--scenario", "--patient", "--model")
OUTPUTS = ("--out", "--json", "--plots", "--report", "--out-dir")


def run_drawn(broken: Broken, argv: list[str], tmp: Path, label: str | None = None) -> None:
    broken.run(
        argv,
        tmp,
        inputs=[p for p in paths_after(argv, INPUTS) if os.path.lexists(p)],
        outputs=paths_after(argv, OUTPUTS),
        group="fuzzed flags" if label is None else "fuzzed files",
        label=label,
    )


def copy_inputs(tmp: Path) -> None:
    for name in (
        "control.csv",
        "control.parquet",
        "scenario_valid.toml",
        "patient_valid.json",
        "patients.csv",
    ):
        shutil.copyfile(CORPUS / name, tmp / name)
    write_model_file(tmp / "model.json")


# ---------------------------------------------------------------- flags of every command

SEEDS = (whole(0, 2**32 - 1), st.one_of(st.sampled_from(["-1", str(2**64)]), texts, floats))


def cohort_flags() -> Flags:
    names = ["time", "event", "depth", "score", "level"]
    wrong = st.one_of(st.sampled_from(["nope", "time,event", "depth,depth", ",", "年龄"]), texts)
    return {
        "--time-col": (st.just("time"), st.one_of(st.sampled_from(names[1:]), wrong)),
        "--event-col": (st.just("event"), st.one_of(st.sampled_from(["depth", "time"]), wrong)),
        "--stage-cols": (columns_list(["depth", "level"]), wrong),
        "--other-cols": (st.just("score"), st.one_of(st.sampled_from(["depth", "event"]), wrong)),
        "--categorical-cols": (st.just("level"), st.one_of(st.sampled_from(["time"]), wrong)),
        "--time-unit": (st.sampled_from(["days", "months"]), texts),
        "--missing": (st.sampled_from(["drop", "impute"]), texts),
    }


def test_fuzz_simulate_flags() -> None:
    broken = Broken()

    @settings(max_examples=30, **SETTINGS)
    @given(st.data())
    def example(data: st.DataObject) -> None:
        draw = data.draw
        with scratch() as tmp:
            copy_inputs(tmp)
            presets = ["colon-stage1", "colon-stage2", "colon-stage3"]
            source = draw(st.sampled_from(["--preset"] * 6 + ["--scenario"] * 2 + ["both", "none"]))
            argv = ["simulate", "--no-progress"]
            if source in ("--preset", "both"):
                argv += ["--preset", draw(st.sampled_from(presets))]
            if source in ("--scenario", "both"):
                argv += ["--scenario", f"{tmp}/scenario_valid.toml"]
            flags: Flags = {
                # never a large valid number: in-process runs stay short
                "--patients": (
                    whole(1, 1500),
                    st.one_of(st.sampled_from(["0", "-1", str(2**63), "1e3", "nan"]), texts),
                ),
                "--out": (
                    st.just(output_path(draw, tmp, "cohort", ".parquet")),
                    st.sampled_from([f"{tmp}/cohort.csv", "", "/dev/full"]),
                ),
                "--margin": (st.sampled_from(["R0", "R1", "R2"]), texts),
                "--immune": (st.sampled_from(["low", "intermediate", "high"]), texts),
                "--seed": SEEDS,
                "--horizon-years": (real(0.5, 30), st.one_of(floats, texts)),
                "--workers": (whole(1, 3), st.one_of(ints, texts)),
            }
            add_flags(draw, argv, flags, required=("--patients", "--out"))
            run_drawn(broken, argv, tmp)

    example()
    broken.check()


def test_fuzz_evaluate_flags() -> None:
    broken = Broken()

    @settings(max_examples=30, **SETTINGS)
    @given(st.data())
    def example(data: st.DataObject) -> None:
        draw = data.draw
        with scratch() as tmp:
            copy_inputs(tmp)
            files = st.sampled_from([f"{tmp}/control.csv", f"{tmp}/control.parquet"])
            bad_files = st.sampled_from(["nope", "", f"{tmp}", f"{tmp}/model.json"])
            argv = ["evaluate", "--no-progress"]
            flags = cohort_flags()
            flags.update(
                {
                    "--model": (st.sampled_from(["km", "km", "km", "cox"]), texts),
                    "--horizons": (
                        st.lists(real(0.3, 4), min_size=1, max_size=3).map(",".join),
                        st.one_of(floats, texts),
                    ),
                    "--seed": SEEDS,
                    "--ipcw": (st.just("test"), texts),
                    "--json": (st.just(output_path(draw, tmp, "scores", ".json")), texts),
                }
            )
            if not rarely(draw, 4):
                flags["--data"] = (files, bad_files)
                flags["--cv"] = (whole(2, 4), st.one_of(ints, texts))
                required: tuple[str, ...] = ("--data", "--time-col", "--event-col")
            else:
                flags["--train"] = (files, bad_files)
                flags["--test"] = (files, bad_files)
                required = ("--train", "--test", "--time-col", "--event-col")
            if rarely(draw, 6):
                flags["--plots"] = (st.just(output_path(draw, tmp, "plots", "")), texts)
            add_flags(draw, argv, flags, required=required)
            run_drawn(broken, argv, tmp)

    example()
    broken.check()


def test_fuzz_fit_flags() -> None:
    broken = Broken()

    @settings(max_examples=25, **SETTINGS)
    @given(st.data())
    def example(data: st.DataObject) -> None:
        draw = data.draw
        with scratch() as tmp:
            copy_inputs(tmp)
            argv = ["fit"]
            flags = cohort_flags()
            flags.update(
                {
                    "--data": (
                        st.sampled_from([f"{tmp}/control.csv", f"{tmp}/control.parquet"]),
                        st.one_of(st.sampled_from(["ovarian-typo", "", f"{tmp}"]), texts),
                    ),
                    "--out": (st.just(output_path(draw, tmp, "fitted", ".json")), texts),
                    "--report": (st.just(output_path(draw, tmp, "effects", "")), texts),
                    "--cancer": (st.sampled_from(["colon", "breast"]), texts),
                    "--seed": SEEDS,
                    "--death-col": (st.just("event"), st.one_of(st.just("level"), texts)),
                }
            )
            required = ("--data", "--out", "--time-col", "--event-col", "--stage-cols")
            add_flags(draw, argv, flags, required=required)
            run_drawn(broken, argv, tmp)

    example()
    broken.check()


def test_fuzz_predict_flags() -> None:
    broken = Broken()

    @settings(max_examples=35, **SETTINGS)
    @given(st.data())
    def example(data: st.DataObject) -> None:
        draw = data.draw
        with scratch() as tmp:
            copy_inputs(tmp)
            argv = ["predict"]
            flags: Flags = {
                "--cancer": (st.just("colon"), st.one_of(st.just("breast"), texts)),
                "--stage": (st.sampled_from(["I", "II", "III"]), texts),
                "--size-mm": (real(5, 80), st.one_of(floats, texts)),
                "--nodes": (whole(0, 12), st.one_of(ints, texts)),
                "--grade": (whole(1, 3), st.one_of(ints, texts)),
                "--margin": (st.sampled_from(["R0", "R1", "R2"]), texts),
                "--immune": (st.sampled_from(["low", "intermediate", "high"]), texts),
                "--age": (real(35, 85), st.one_of(floats, texts)),
                "--earlier-months": (real(0, 24), st.one_of(floats, texts)),
                "--recurrence-free-years": (real(0, 5), st.one_of(floats, texts)),
                "--seed": SEEDS,
                "--model": (
                    st.just(f"{tmp}/model.json"),
                    st.sampled_from([f"{tmp}", "", f"{tmp}/control.csv", f"{tmp}/missing.json"]),
                ),
                "--patient": (
                    st.sampled_from([f"{tmp}/patient_valid.json", f"{tmp}/patients.csv"]),
                    st.sampled_from([f"{tmp}/control.csv", "", f"{tmp}/model.json"]),
                ),
                "--json": (st.just(output_path(draw, tmp, "risk", ".json")), texts),
                "--report": (st.just(output_path(draw, tmp, "risk", ".html")), texts),
            }
            add_flags(draw, argv, flags, required=("--cancer", "--margin", "--immune", "--stage"))
            if f"{tmp}/patients.csv" in argv or rarely(draw, 10):
                argv += ["--row", draw(st.one_of(whole(0, 0), whole(1, 9), ints, texts))]
            run_drawn(broken, argv, tmp)

    example()
    broken.check()


def test_fuzz_demo_flags() -> None:
    broken = Broken()

    @settings(max_examples=10, **SETTINGS)
    @given(st.data())
    def example(data: st.DataObject) -> None:
        draw = data.draw
        with scratch() as tmp:
            argv = ["demo"]
            flags: Flags = {
                "--patients": (
                    whole(1, 200),
                    st.one_of(st.sampled_from(["0", "-1", str(2**63), "nan"]), texts),
                ),
                "--seed": SEEDS,
                "--out-dir": (st.just(output_path(draw, tmp, "demo", "")), texts),
            }
            add_flags(draw, argv, flags, required=("--patients", "--out-dir"), bad_odds=3)
            run_drawn(broken, argv, tmp)

    example()
    broken.check()


# ---------------------------------------------------------------- generated cohort files

NAMES = ["grade", "é", "年龄", "a b", "0", "", "depth", "time", "event"]  # benign ones first
GOOD = {
    "time": st.floats(1, 3000).map(lambda x: f"{x:.1f}"),
    "event": st.sampled_from(["0", "1", "1"]),
    "other": st.floats(-3, 3).map(lambda x: f"{x:.2f}"),
}
BAD_CELLS = st.sampled_from(
    ["", "nan", "NaN", "inf", "-inf", "1e300", "-5", "2", "abc", "é", "年", "1.5.2", " ", "NULL"]
)


def cohort_table(draw: Callable[..., Any]) -> tuple[list[str], list[list[str]]]:
    """A header (duplicates, unicode, empty names possible) and 0-40 rows, most cells valid
    and a few of them bad."""
    width = draw(st.sampled_from([5, 4, 6, 3, 2]))
    header = ["time", "event", "depth", "score", "level", "site"][:width]
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        header[draw(st.sampled_from(range(width - 1, -1, -1)))] = draw(st.sampled_from(NAMES))
    n = draw(st.sampled_from([30, 40, 30, 5, 2, 1, 0]))
    kinds = ["time", "event"] + ["other"] * (width - 2)
    rows = [[draw(GOOD[k]) for k in kinds] for _ in range(n)]
    for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3])) if n else 0):
        row, col = draw(st.integers(0, n - 1)), draw(st.sampled_from(range(width - 1, -1, -1)))
        rows[row][col] = draw(BAD_CELLS)
    if rarely(draw, 10):
        for row in rows:
            row[1] = "0"  # no events at all
    return header, rows


def cohort_argv(draw: Callable[..., Any], path: Path, header: list[str], tmp: Path) -> list[str]:
    names = [h for h in header if h] or ["time", "event"]
    time_col = header[0] if header[0] else draw(st.sampled_from(names))
    event_col = header[1] if len(header) > 1 and header[1] else draw(st.sampled_from(names))
    covariates = [h for h in header[2:] if h] or ["depth"]
    flags = ["--time-col", time_col, "--event-col", event_col]
    flags += ["--stage-cols", ",".join(dict.fromkeys(covariates))]
    if draw(st.booleans()):
        flags += ["--missing", draw(st.sampled_from(["drop", "impute"]))]
    if rarely(draw, 4):
        return ["fit", "--data", str(path), *flags, "--out", f"{tmp}/model.json"]
    argv = ["evaluate", "--data", str(path), "--model", "km", "--cv", "3", "--horizons", "1,3"]
    return [*argv, *flags, "--no-progress", "--json", f"{tmp}/scores.json"]


def test_fuzz_csv_files() -> None:
    broken = Broken()

    @settings(max_examples=35, **SETTINGS)
    @given(st.data())
    def example(data: st.DataObject) -> None:
        draw = data.draw
        with scratch() as tmp:
            header, rows = cohort_table(draw)
            mode = draw(st.sampled_from(["csv", "csv", "csv", "binary", "latin-1", "ragged"]))
            if mode == "binary":
                content = draw(st.binary(max_size=300))
            else:
                text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
                if mode == "ragged" and rows:
                    text += ",".join(rows[0] + ["1", "2"]) + "\n"
                content = text.encode("latin-1" if mode == "latin-1" else "utf-8", "replace")
            path = tmp / "cohort.csv"
            path.write_bytes(content)
            argv = cohort_argv(draw, path, header, tmp)
            label = f"{argv[0]} on a generated CSV ({mode}, sha {digest(content)})"
            run_drawn(broken, argv, tmp, label=label)

    example()
    broken.check()


def _typed_column(draw: Callable[..., Any], values: list[str], kind: str) -> Any:
    import pyarrow as pa

    def number(v: str) -> float | None:
        try:
            return float(v)
        except ValueError:
            return None

    if kind == "float":
        return pa.array([number(v) for v in values], type=pa.float64())
    if kind == "int":
        ints_ = [number(v) for v in values]
        return pa.array(
            [
                int(v) if v is not None and math.isfinite(v) and abs(v) < 2**62 else None
                for v in ints_
            ],
            type=pa.int64(),
        )
    if kind == "string":
        return pa.array(values, type=pa.string())
    if kind == "bool":
        return pa.array([v not in ("0", "") for v in values], type=pa.bool_())
    if kind == "null":
        return pa.nulls(len(values))
    if kind == "list":
        return pa.array([[number(v)] for v in values], type=pa.list_(pa.float64()))
    return pa.array([number(v) for v in values], type=pa.float32())


def test_fuzz_parquet_files() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    broken = Broken()

    @settings(max_examples=25, **SETTINGS)
    @given(st.data())
    def example(data: st.DataObject) -> None:
        draw = data.draw
        with scratch() as tmp:
            header, rows = cohort_table(draw)
            kinds = st.sampled_from(
                ["float", "float", "int", "string", "bool", "null", "list", "f32"]
            )
            columns = [
                _typed_column(draw, [r[i] for r in rows], draw(kinds)) for i in range(len(header))
            ]
            table = pa.Table.from_arrays(columns, names=header)
            sink = io.BytesIO()
            pq.write_table(table, sink)
            content = sink.getvalue()
            mode = draw(st.sampled_from(["parquet", "parquet", "parquet", "truncated", "bytes"]))
            if mode == "truncated":
                content = content[: draw(st.integers(0, len(content) - 1))]
            elif mode == "bytes":
                content = b"PAR1" + draw(st.binary(max_size=200)) + b"PAR1"
            path = tmp / "cohort.parquet"
            path.write_bytes(content)
            argv = cohort_argv(draw, path, header, tmp)
            label = f"{argv[0]} on a generated Parquet file ({mode}, sha {digest(content)})"
            run_drawn(broken, argv, tmp, label=label)

    example()
    broken.check()


# ---------------------------------------------------------------- generated TOML and JSON


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def toml_document(doc: dict[str, Any]) -> str:
    """A TOML document: scalars first, then tables and arrays of tables (keys quoted)."""
    lines = []
    tables = {k: v for k, v in doc.items() if isinstance(v, dict)}
    arrays = {
        k: v
        for k, v in doc.items()
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)
    }
    for k, v in doc.items():
        if k not in tables and k not in arrays:
            lines.append(f"{json.dumps(k)} = {toml_value(v)}")
    for k, v in tables.items():
        lines.append(f"[{json.dumps(k)}]")
        lines += [f"{json.dumps(kk)} = {toml_value(vv)}" for kk, vv in v.items()]
    for k, items in arrays.items():
        for item in items:
            lines.append(f"[[{json.dumps(k)}]]")
            lines += [f"{json.dumps(kk)} = {toml_value(vv)}" for kk, vv in item.items()]
    return "\n".join(lines) + "\n"


scalars = st.one_of(
    st.integers(-5, 200),
    st.sampled_from(HUGE_INTS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=8),
    st.sampled_from(["colon", "breast", "II", "III", "R0", "R1", "low", "high", "nan"]),
)
anything = st.recursive(scalars, lambda kids: st.lists(kids, max_size=3), max_leaves=4)
PATIENT_VALUES = {
    "cancer": st.sampled_from(["colon", "breast"]),
    "stage": st.sampled_from(["I", "II", "III"]),
    "size_mm": st.floats(5, 80),
    "nodes": st.integers(0, 10),
    "grade": st.integers(1, 3),
    "margin": st.sampled_from(["R0", "R1", "R2"]),
    "immune": st.sampled_from(["low", "intermediate", "high"]),
    "age": st.floats(40, 85),
}


def patient_table(draw: Callable[..., Any]) -> dict[str, Any]:
    """Patient fields: most valid, some of any type, sometimes an unknown key."""
    keys = draw(st.lists(st.sampled_from(sorted(PATIENT_VALUES)), unique=True, max_size=6))
    table = {} if rarely(draw, 5) else {"cancer": "colon"}
    for key in keys:
        table[key] = draw(st.one_of(PATIENT_VALUES[key], PATIENT_VALUES[key], anything))
    if rarely(draw, 6):
        table[draw(st.text(min_size=1, max_size=6))] = draw(anything)
    return table


MECHANISM = {
    "lapse_rate_per_year": st.floats(0, 2),
    "dip_depth": st.floats(0, 0.9),
    "kill_rate": st.floats(0.001, 0.05),
}


def scenario_document(draw: Callable[..., Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if draw(st.booleans()):
        doc["name"] = draw(st.one_of(st.text(max_size=10), anything))
    shape = draw(st.sampled_from(["patient", "patient", "profiles", "both", "neither"]))
    if shape in ("patient", "both"):
        doc["patient"] = patient_table(draw)
    if shape in ("profiles", "both"):
        profiles = []
        for _ in range(draw(st.integers(1, 3))):
            p = patient_table(draw)
            if not rarely(draw, 6):
                p["weight"] = draw(st.one_of(st.floats(0, 1), anything))
            profiles.append(p)
        doc["profiles"] = profiles
    if draw(st.booleans()):
        keys = draw(st.lists(st.sampled_from(sorted(MECHANISM)), unique=True, max_size=3))
        doc["mechanism"] = {k: draw(st.one_of(MECHANISM[k], MECHANISM[k], anything)) for k in keys}
    if rarely(draw, 7):
        doc[draw(st.text(min_size=1, max_size=6))] = draw(anything)
    return doc


def test_fuzz_scenario_files() -> None:
    broken = Broken()

    @settings(max_examples=35, **SETTINGS)
    @given(st.data())
    def example(data: st.DataObject) -> None:
        draw = data.draw
        with scratch() as tmp:
            mode = draw(st.sampled_from(["toml", "toml", "toml", "toml", "text", "bytes", "cut"]))
            if mode == "bytes":
                content = draw(st.binary(max_size=200))
            elif mode == "text":
                content = draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
            else:
                content = toml_document(scenario_document(draw)).encode("utf-8", "surrogatepass")
                if mode == "cut":
                    content = content[: draw(st.integers(0, max(0, len(content) - 1)))]
            path = tmp / "scenario.toml"
            path.write_bytes(content)
            argv = ["simulate", "--scenario", str(path), "--patients", "300", "--seed", "1"]
            argv += ["--out", f"{tmp}/cohort.parquet", "--no-progress"]
            label = f"simulate on a generated scenario ({mode}, sha {digest(content)})"
            run_drawn(broken, argv, tmp, label=label)

    example()
    broken.check()


def test_fuzz_patient_files() -> None:
    broken = Broken()

    @settings(max_examples=35, **SETTINGS)
    @given(st.data())
    def example(data: st.DataObject) -> None:
        draw = data.draw
        with scratch() as tmp:
            fmt = draw(st.sampled_from(["json", "toml"]))
            mode = draw(st.sampled_from(["fields", "fields", "fields", "nested", "value", "bytes"]))
            table = patient_table(draw)
            if mode == "bytes":
                content = draw(st.binary(max_size=200))
            elif fmt == "json":
                value: Any = {
                    "fields": table,
                    "nested": {"patient": table},
                    "value": draw(anything),
                }[mode]
                content = json.dumps(value, allow_nan=True).encode()
            else:
                doc = {
                    "fields": table,
                    "nested": {"patient": table},
                    "value": {"x": draw(anything)},
                }[mode]
                content = toml_document(doc).encode("utf-8", "surrogatepass")
            path = tmp / f"patient.{fmt}"
            path.write_bytes(content)
            argv = ["predict", "--patient", str(path)]
            if draw(st.booleans()):
                argv += ["--json", f"{tmp}/risk.json"]
            label = f"predict on a generated patient file ({fmt}, {mode}, sha {digest(content)})"
            run_drawn(broken, argv, tmp, label=label)

    example()
    broken.check()


def _mutate(value: Any, draw: Callable[..., Any]) -> Any:
    """Replace, drop or keep one randomly chosen part of a JSON value."""
    if isinstance(value, dict) and value:
        key = draw(st.sampled_from(sorted(value)))
        action = draw(st.sampled_from(["down", "down", "drop", "replace"]))
        out = dict(value)
        if action == "drop":
            del out[key]
        elif action == "replace":
            out[key] = draw(anything)
        else:
            out[key] = _mutate(value[key], draw)
        return out
    if isinstance(value, list) and value:
        i = draw(st.integers(0, len(value) - 1))
        out_list = list(value)
        out_list[i] = _mutate(value[i], draw) if draw(st.booleans()) else draw(anything)
        return out_list
    return draw(anything)


def test_fuzz_model_files() -> None:
    from importlib import resources

    text = resources.files("remnant.model").joinpath("calibrated.json").read_text("utf-8")
    model = json.loads(text)["models"]["colon"]
    broken = Broken()

    @settings(max_examples=20, **SETTINGS)
    @given(st.data())
    def example(data: st.DataObject) -> None:
        draw = data.draw
        with scratch() as tmp:
            mutated = model
            for _ in range(draw(st.integers(1, 3))):
                mutated = _mutate(mutated, draw)
            content = json.dumps(mutated, allow_nan=True).encode()
            path = tmp / "model.json"
            path.write_bytes(content)
            argv = ["predict", "--cancer", "colon", "--stage", "II", "--margin", "R0"]
            argv += ["--immune", "low", "--model", str(path), "--json", f"{tmp}/risk.json"]
            label = f"predict with a mutated model file (sha {digest(content)})"
            run_drawn(broken, argv, tmp, label=label)

    example()
    broken.check()
