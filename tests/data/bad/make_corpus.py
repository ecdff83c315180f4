"""Write the corpus of malformed inputs in this directory, and its README.md.

    .venv/bin/python tests/data/bad/make_corpus.py

Every file is small (< 5 kB) and written byte for byte from the tables below, so that running
the script again reproduces the committed files (the Parquet files also carry pyarrow's
version in their footer). :data:`ENTRIES` is the single source of the expected outcomes: the
door tests (tests/test_doors_cli.py) read it, and README.md is generated from it.

Cohort files have the columns ``time`` (days), ``event`` (0/1), ``depth`` and ``level``
(stage covariates; ``level`` is a grade 1/2/3) and ``score`` (another covariate), and are read
with ``--time-col time --event-col event --stage-cols depth,level --other-cols score``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# The flags every cohort file is read with, unless an entry says otherwise.
COHORT_FLAGS = (
    "--time-col",
    "time",
    "--event-col",
    "event",
    "--stage-cols",
    "depth,level",
    "--other-cols",
    "score",
)

# Commands ("doors") a corpus file is fed to; {flag} in a mention is the flag that gave it.
EVALUATE_DATA = "evaluate --data"
EVALUATE_TEST = "evaluate --test"
FIT_DATA = "fit --data"
PREDICT_PATIENT = "predict --patient"
PREDICT_MODEL = "predict --model"
SIMULATE_SCENARIO = "simulate --scenario"
COHORT_DOORS = (EVALUATE_DATA, EVALUATE_TEST, FIT_DATA)


@dataclass(frozen=True)
class Expect:
    """Expected exit code and what the ``error:`` line must mention.

    ``mentions``: each item must appear in the line; ``re:`` items are regular expressions,
    ``any:a|b`` items need one of ``a``, ``b``; ``{flag}`` is the flag that gave the file.
    """

    code: int
    mentions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entry:
    name: str
    about: str
    expect: dict[str, Expect]
    flags: tuple[str, ...] = COHORT_FLAGS
    content: bytes = field(default=b"", repr=False)


def row_re(n: int) -> str:
    """The first bad data row (1-based, the row after the header is 1)."""
    return rf"re:\brows? {n}\b"


def ok() -> Expect:
    return Expect(0)


def bad(*mentions: str) -> Expect:
    return Expect(2, tuple(mentions))


def on_cohort_doors(expect: Expect, *, test: bool = True) -> dict[str, Expect]:
    """The cohort doors; a valid file is not also tried as a test cohort (it is read the
    same way, and a successful evaluation is the slow part of the suite)."""
    doors = COHORT_DOORS if test and expect.code != 0 else (EVALUATE_DATA, FIT_DATA)
    return {door: expect for door in doors}


# ---------------------------------------------------------------- the base cohort (40 rows)


def base_rows() -> list[list[str]]:
    """40 patients, 20-odd events, all cells valid; values as they are written in a CSV."""
    rng = np.random.default_rng(20260101)
    rows = []
    for _ in range(40):
        depth = rng.normal()
        event_time = rng.exponential(900.0 / math.exp(0.8 * depth))
        censor = rng.uniform(200.0, 2500.0)
        rows.append(
            [
                f"{min(event_time, censor):.1f}",
                str(int(event_time <= censor)),
                f"{depth:.2f}",
                f"{rng.normal(50.0, 8.0):.1f}",
                str(int(rng.integers(1, 4))),
            ]
        )
    return rows


HEADER = ["time", "event", "depth", "score", "level"]
TIME, EVENT, DEPTH, SCORE, LEVEL = range(5)


def csv_bytes(header: list[str], rows: list[list[str]], newline: str = "\n") -> bytes:
    lines = [",".join(header)] + [",".join(r) for r in rows]
    return (newline.join(lines) + newline).encode("utf-8")


def with_cell(row: int, col: int, value: str) -> list[list[str]]:
    """The base rows with data row ``row`` (1-based) column ``col`` set to ``value``."""
    rows = [list(r) for r in base_rows()]
    rows[row - 1][col] = value
    return rows


def binary_noise(n: int, seed: int, magic: bytes = b"") -> bytes:
    body = np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()
    return magic + body + magic


# ---------------------------------------------------------------- CSV cohort files


def csv_entries() -> list[Entry]:
    rows = base_rows()
    no_events = [r[:EVENT] + ["0"] + r[EVENT + 1 :] for r in rows]
    events_seen = 0
    few_events = []
    for r in rows:
        keep = r[EVENT] == "1" and events_seen < 2
        events_seen += keep
        few_events.append(r[:EVENT] + ["1" if keep else "0"] + r[EVENT + 1 :])
    ragged = [list(r) for r in rows]
    ragged[4] = ragged[4] + ["7"]
    short = [list(r) for r in rows]
    short[5] = short[5][:3]
    nan_cov = [list(r) for r in rows]
    nan_cov[2][DEPTH] = ""
    nan_cov[6][SCORE] = "NaN"
    all_missing = [r[:SCORE] + [""] + r[SCORE + 1 :] for r in rows]
    sites = ["colon", "rectum", "caecum"]
    site_rows = [r + [sites[i % 3]] for i, r in enumerate(rows)]
    latin1_text = csv_bytes([*HEADER, "site"], [r + ["Lyon"] for r in rows]).replace(
        b"Lyon", "Saint-\u00c9tienne".encode("latin-1"), 3
    )
    dup_rows = [r + [r[SCORE]] for r in rows]
    uni_header = ["dur\u00e9e", "\u00e9v\u00e9nement", "\u03c4-depth", "\u5e74\u9f84", "level"]
    uni_flags = (
        "--time-col",
        uni_header[0],
        "--event-col",
        uni_header[1],
        "--stage-cols",
        f"{uni_header[2]},level",
        "--other-cols",
        uni_header[3],
    )
    file_flag = bad("{flag}")
    return [
        Entry(
            "control.csv",
            "a valid cohort (the positive control)",
            {**on_cohort_doors(ok()), PREDICT_PATIENT: ok()},
            content=csv_bytes(HEADER, rows),
        ),
        Entry(
            "stray_word.csv",
            "the word 'high' in data row 7 of the numeric column level (not one-hot encoded)",
            on_cohort_doors(bad("level", row_re(7))),
            content=csv_bytes(HEADER, with_cell(7, LEVEL, "high")),
        ),
        Entry(
            "inf_covariate.csv",
            "inf in covariate depth, row 5",
            on_cohort_doors(bad("depth", row_re(5))),
            content=csv_bytes(HEADER, with_cell(5, DEPTH, "inf")),
        ),
        Entry(
            "neg_inf_covariate.csv",
            "-inf in covariate score, row 4",
            on_cohort_doors(bad("score", row_re(4))),
            content=csv_bytes(HEADER, with_cell(4, SCORE, "-inf")),
        ),
        Entry(
            "huge_covariate.csv",
            "1e300 in covariate score, row 6",
            on_cohort_doors(bad("score", row_re(6))),
            content=csv_bytes(HEADER, with_cell(6, SCORE, "1e300")),
        ),
        Entry(
            "inf_time.csv",
            "inf as a time, row 3",
            on_cohort_doors(bad("time", row_re(3))),
            content=csv_bytes(HEADER, with_cell(3, TIME, "inf")),
        ),
        Entry(
            "huge_time.csv",
            "1e300 days as a time, row 8",
            on_cohort_doors(bad("time", row_re(8))),
            content=csv_bytes(HEADER, with_cell(8, TIME, "1e300")),
        ),
        Entry(
            "negative_time.csv",
            "a negative time, row 2",
            on_cohort_doors(bad("time", row_re(2))),
            content=csv_bytes(HEADER, with_cell(2, TIME, "-5.0")),
        ),
        Entry(
            "text_time.csv",
            "the text '12 days' as a time, row 10",
            on_cohort_doors(bad("time", row_re(10))),
            content=csv_bytes(HEADER, with_cell(10, TIME, "12 days")),
        ),
        Entry(
            "missing_time.csv",
            "an empty time cell, row 11",
            on_cohort_doors(bad("time", row_re(11))),
            content=csv_bytes(HEADER, with_cell(11, TIME, "")),
        ),
        Entry(
            "event_two.csv",
            "event 2, row 9",
            on_cohort_doors(bad("event", row_re(9))),
            content=csv_bytes(HEADER, with_cell(9, EVENT, "2")),
        ),
        Entry(
            "event_text.csv",
            "event 'yes', row 12",
            on_cohort_doors(bad("event", row_re(12))),
            content=csv_bytes(HEADER, with_cell(12, EVENT, "yes")),
        ),
        Entry(
            "duplicate_header.csv",
            "the column score twice in the header",
            on_cohort_doors(bad("score")),
            content=csv_bytes([*HEADER, "score"], dup_rows),
        ),
        Entry("empty.csv", "0 bytes", {**on_cohort_doors(file_flag), PREDICT_PATIENT: file_flag}),
        Entry(
            "header_only.csv",
            "a header and no data row",
            {**on_cohort_doors(file_flag), PREDICT_PATIENT: bad("any:--patient|--row")},
            content=csv_bytes(HEADER, []),
        ),
        Entry(
            "one_row.csv",
            "a single patient (with an event)",
            on_cohort_doors(bad()),
            content=csv_bytes(HEADER, [rows[0][:EVENT] + ["1"] + rows[0][EVENT + 1 :]]),
        ),
        Entry(
            "no_events.csv",
            "40 patients, no event",
            on_cohort_doors(bad("event")),
            content=csv_bytes(HEADER, no_events),
        ),
        Entry(
            "few_events.csv",
            "40 patients, 2 events: too few to fit (the message gives the minimum)",
            on_cohort_doors(bad("event", r"re:\d"), test=False),
            content=csv_bytes(HEADER, few_events),
        ),
        Entry(
            "binary.csv",
            "512 random bytes",
            {**on_cohort_doors(file_flag), PREDICT_PATIENT: file_flag},
            content=binary_noise(512, 1),
        ),
        Entry(
            "latin1.csv",
            "a text column in latin-1 (not valid UTF-8)",
            {**on_cohort_doors(file_flag), PREDICT_PATIENT: file_flag},
            content=latin1_text,
        ),
        Entry(
            "ragged.csv",
            "data row 5 has one field too many",
            {**on_cohort_doors(file_flag), PREDICT_PATIENT: file_flag},
            content=csv_bytes(HEADER, ragged),
        ),
        Entry(
            "short_row.csv",
            "data row 6 has two fields too few (read as missing, or refused)",
            {door: Expect(-1) for door in COHORT_DOORS},
            content=csv_bytes(HEADER, short),
        ),
        Entry(
            "unicode_columns.csv",
            "UTF-8 column names (accents, Greek, CJK), named in the flags",
            on_cohort_doors(ok()),
            flags=uni_flags,
            content=csv_bytes(uni_header, rows),
        ),
        Entry(
            "nan_covariate.csv",
            "an empty depth (row 3) and NaN score (row 7): dropped with --missing drop",
            on_cohort_doors(ok()),
            content=csv_bytes(HEADER, nan_cov),
        ),
        Entry(
            "all_missing_covariate.csv",
            "the covariate score is empty in every row",
            on_cohort_doors(bad("score")),
            content=csv_bytes(HEADER, all_missing),
        ),
        Entry(
            "bom.csv",
            "a UTF-8 byte order mark before the header",
            on_cohort_doors(ok()),
            content=b"\xef\xbb\xbf" + csv_bytes(HEADER, rows),
        ),
        Entry(
            "crlf.csv",
            "Windows line endings",
            on_cohort_doors(ok()),
            content=csv_bytes(HEADER, rows, newline="\r\n"),
        ),
        Entry(
            "semicolon.csv",
            "separated by ';': no column time",
            on_cohort_doors(bad("time")),
            content=csv_bytes(HEADER, rows).replace(b",", b";"),
        ),
        Entry(
            "categorical_text.csv",
            "a text covariate site (colon/rectum/caecum): categorical, one-hot encoded",
            on_cohort_doors(ok()),
            flags=(*COHORT_FLAGS[:-1], "score,site"),
            content=csv_bytes([*HEADER, "site"], site_rows),
        ),
    ]


# ---------------------------------------------------------------- Parquet cohort files


def parquet_entries() -> list[Entry]:
    import pyarrow as pa

    rows = base_rows()

    def column(col: int, kind: str) -> list[object]:
        values = [r[col] for r in rows]
        return [int(v) for v in values] if kind == "int" else [float(v) for v in values]

    def table(**changes: object) -> pa.Table:
        cols: dict[str, object] = {
            "time": column(TIME, "float"),
            "event": column(EVENT, "int"),
            "depth": column(DEPTH, "float"),
            "score": column(SCORE, "float"),
            "level": column(LEVEL, "int"),
        }
        cols.update(changes)
        return pa.table(cols)

    def set_at(values: list[object], row: int, value: object) -> list[object]:
        out = list(values)
        out[row - 1] = value
        return out

    levels = [r[LEVEL] for r in rows]
    control = table()
    no_events = table(event=[0] * len(rows))
    nested = table(level=pa.array([[int(v)] for v in levels], type=pa.list_(pa.int64())))
    nan_cov = table(
        depth=set_at(column(DEPTH, "float"), 3, None),
        score=set_at(column(SCORE, "float"), 7, math.nan),
    )
    dup = pa.Table.from_arrays(
        [*control.columns, control.column("score")], names=[*control.column_names, "score"]
    )
    uni = control.rename_columns(
        ["dur\u00e9e", "\u00e9v\u00e9nement", "\u03c4-depth", "\u5e74\u9f84", "level"]
    )
    uni_flags = (
        "--time-col",
        "dur\u00e9e",
        "--event-col",
        "\u00e9v\u00e9nement",
        "--stage-cols",
        "\u03c4-depth,level",
        "--other-cols",
        "\u5e74\u9f84",
    )
    yes_no = ["yes" if r[EVENT] == "1" else "no" for r in rows]
    file_flag = bad("{flag}")
    return [
        Entry(
            "control.parquet",
            "a valid cohort (the positive control)",
            {**on_cohort_doors(ok()), PREDICT_PATIENT: ok()},
            content=_parquet(control),
        ),
        Entry(
            "stray_word.parquet",
            "level as text '1'/'2'/'3' with 'high' in row 7 (not one-hot encoded)",
            on_cohort_doors(bad("level", row_re(7))),
            content=_parquet(table(level=set_at(levels, 7, "high"))),
        ),
        Entry(
            "inf_covariate.parquet",
            "inf in covariate depth, row 5",
            on_cohort_doors(bad("depth", row_re(5))),
            content=_parquet(table(depth=set_at(column(DEPTH, "float"), 5, math.inf))),
        ),
        Entry(
            "huge_time.parquet",
            "1e300 days as a time, row 8",
            on_cohort_doors(bad("time", row_re(8))),
            content=_parquet(table(time=set_at(column(TIME, "float"), 8, 1e300))),
        ),
        Entry(
            "negative_time.parquet",
            "a negative time, row 2",
            on_cohort_doors(bad("time", row_re(2))),
            content=_parquet(table(time=set_at(column(TIME, "float"), 2, -5.0))),
        ),
        Entry(
            "nan_time.parquet",
            "a NaN time, row 4",
            on_cohort_doors(bad("time", row_re(4))),
            content=_parquet(table(time=set_at(column(TIME, "float"), 4, math.nan))),
        ),
        Entry(
            "event_two.parquet",
            "event 2, row 9",
            on_cohort_doors(bad("event", row_re(9))),
            content=_parquet(table(event=set_at(column(EVENT, "int"), 9, 2))),
        ),
        Entry(
            "string_event.parquet",
            "event as the text yes/no",
            on_cohort_doors(bad("event", row_re(1))),
            content=_parquet(table(event=yes_no)),
        ),
        Entry(
            "bool_event.parquet",
            "event as booleans (read as 0/1)",
            on_cohort_doors(ok()),
            content=_parquet(table(event=[r[EVENT] == "1" for r in rows])),
        ),
        Entry(
            "duplicate_columns.parquet",
            "two columns named score",
            on_cohort_doors(bad("score")),
            content=_parquet(dup),
        ),
        Entry(
            "empty.parquet", "0 bytes", {**on_cohort_doors(file_flag), PREDICT_PATIENT: file_flag}
        ),
        Entry(
            "zero_rows.parquet",
            "the schema and no row",
            {**on_cohort_doors(file_flag), PREDICT_PATIENT: bad("any:--patient|--row")},
            content=_parquet(control.slice(0, 0)),
        ),
        Entry(
            "one_row.parquet",
            "a single patient (with an event)",
            on_cohort_doors(bad()),
            content=_parquet(pa.table(_first_event(control))),
        ),
        Entry(
            "no_events.parquet",
            "40 patients, no event",
            on_cohort_doors(bad("event")),
            content=_parquet(no_events),
        ),
        Entry(
            "binary.parquet",
            "random bytes between two PAR1 magic numbers",
            {**on_cohort_doors(file_flag), PREDICT_PATIENT: file_flag},
            content=binary_noise(400, 2, magic=b"PAR1"),
        ),
        Entry(
            "truncated.parquet",
            "the control file cut in half",
            {**on_cohort_doors(file_flag), PREDICT_PATIENT: file_flag},
            content=_parquet(control)[: len(_parquet(control)) // 2],
        ),
        Entry(
            "unicode_columns.parquet",
            "UTF-8 column names, named in the flags",
            on_cohort_doors(ok()),
            flags=uni_flags,
            content=_parquet(uni),
        ),
        Entry(
            "nan_covariate.parquet",
            "a null depth (row 3) and NaN score (row 7): dropped with --missing drop",
            on_cohort_doors(ok()),
            content=_parquet(nan_cov),
        ),
        Entry(
            "nested_column.parquet",
            "the covariate level holds lists (refused, or categorical: no number in it)",
            {door: Expect(-1) for door in COHORT_DOORS},
            content=_parquet(nested),
        ),
    ]


def _first_event(control: object) -> dict[str, list[object]]:
    data = control.to_pydict()  # type: ignore[attr-defined]
    i = data["event"].index(1)
    return {k: [v[i]] for k, v in data.items()}


def _parquet(table: object) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="NONE", write_statistics=False)  # type: ignore[arg-type]
    return sink.getvalue().to_pybytes()


# ---------------------------------------------------------------- scenario files (TOML)

VALID_PATIENT_TOML = 'cancer = "colon"\nstage = "II"\nmargin = "R0"\nimmune = "low"\n'


def scenario_entries() -> list[Entry]:
    def scen(text: str) -> bytes:
        return text.encode("utf-8")

    scenario = bad("--scenario")
    # a scenario file is also a patient file for predict when it holds one [patient] table
    return [
        Entry(
            "scenario_valid.toml",
            "a [patient] table and a [mechanism] override (the positive control)",
            {SIMULATE_SCENARIO: ok(), PREDICT_PATIENT: ok()},
            content=scen(
                'name = "control"\n[patient]\n' + VALID_PATIENT_TOML + "[mechanism]\n"
                "lapse_rate_per_year = 0.2\n"
            ),
        ),
        Entry(
            "scenario_syntax.toml",
            "an unterminated string",
            {SIMULATE_SCENARIO: scenario, PREDICT_PATIENT: bad("--patient")},
            content=scen('name = "unterminated\n[patient]\ncancer = "colon"\n'),
        ),
        Entry(
            "scenario_wrong_types.toml",
            "cancer = 5, stage = ['II']",
            {SIMULATE_SCENARIO: scenario, PREDICT_PATIENT: bad("any:--patient|--cancer")},
            content=scen('[patient]\ncancer = 5\nstage = ["II"]\nmargin = "R0"\n'),
        ),
        Entry(
            "scenario_bad_weight.toml",
            "weight = 'heavy'",
            {SIMULATE_SCENARIO: scenario},
            content=scen('[[profiles]]\nweight = "heavy"\ncancer = "colon"\nstage = "II"\n'),
        ),
        Entry(
            "scenario_negative_weight.toml",
            "weight = -1",
            {SIMULATE_SCENARIO: scenario},
            content=scen(
                '[[profiles]]\nweight = -1\ncancer = "colon"\n'
                '[[profiles]]\nweight = 2\ncancer = "colon"\n'
            ),
        ),
        Entry(
            "scenario_zero_weights.toml",
            "every weight 0",
            {SIMULATE_SCENARIO: scenario},
            content=scen('[[profiles]]\nweight = 0\ncancer = "colon"\n'),
        ),
        Entry(
            "scenario_unknown_key.toml",
            "[patient] colour = 'red'",
            {SIMULATE_SCENARIO: scenario, PREDICT_PATIENT: bad("--patient")},
            content=scen('[patient]\ncancer = "colon"\ncolour = "red"\n'),
        ),
        Entry(
            "scenario_unknown_top.toml",
            "a top-level key foo",
            {SIMULATE_SCENARIO: scenario},
            content=scen('foo = 1\n[patient]\ncancer = "colon"\n'),
        ),
        Entry(
            "scenario_unknown_mechanism.toml",
            "[mechanism] warp_speed = 9",
            {SIMULATE_SCENARIO: scenario},
            content=scen('[patient]\ncancer = "colon"\n[mechanism]\nwarp_speed = 9\n'),
        ),
        Entry(
            "scenario_mechanism_not_table.toml",
            "mechanism = 5",
            {SIMULATE_SCENARIO: scenario},
            content=scen('mechanism = 5\n[patient]\ncancer = "colon"\n'),
        ),
        Entry(
            "scenario_nan.toml",
            "lapse_rate_per_year = nan",
            {SIMULATE_SCENARIO: scenario},
            content=scen('[patient]\ncancer = "colon"\n[mechanism]\nlapse_rate_per_year = nan\n'),
        ),
        Entry(
            "scenario_inf.toml",
            "size_mm = inf",
            {SIMULATE_SCENARIO: scenario, PREDICT_PATIENT: bad("any:--patient|--size-mm")},
            content=scen('[patient]\ncancer = "colon"\nsize_mm = inf\n'),
        ),
        Entry(
            "scenario_huge.toml",
            "lapse_rate_per_year = 1e308",
            {SIMULATE_SCENARIO: scenario},
            content=scen('[patient]\ncancer = "colon"\n[mechanism]\nlapse_rate_per_year = 1e308\n'),
        ),
        Entry(
            "scenario_huge_int.toml",
            "nodes = 10**23",
            {SIMULATE_SCENARIO: scenario, PREDICT_PATIENT: bad("any:--patient|--nodes")},
            content=scen('[patient]\ncancer = "colon"\nnodes = 99999999999999999999999\n'),
        ),
        Entry(
            "scenario_bool_number.toml",
            "size_mm = true",
            {SIMULATE_SCENARIO: scenario, PREDICT_PATIENT: bad("any:--patient|--size-mm")},
            content=scen('[patient]\ncancer = "colon"\nsize_mm = true\n'),
        ),
        Entry(
            "scenario_both.toml",
            "a [patient] table and [[profiles]] tables",
            {SIMULATE_SCENARIO: scenario},
            content=scen(
                '[patient]\ncancer = "colon"\n[[profiles]]\nweight = 1\ncancer = "colon"\n'
            ),
        ),
        Entry(
            "scenario_empty.toml",
            "0 bytes",
            {SIMULATE_SCENARIO: scenario, PREDICT_PATIENT: bad("any:--patient|--cancer")},
        ),
        Entry(
            "scenario_binary.toml",
            "300 random bytes",
            {SIMULATE_SCENARIO: scenario, PREDICT_PATIENT: bad("--patient")},
            content=binary_noise(300, 3),
        ),
        Entry(
            "scenario_latin1.toml",
            "a name in latin-1 (not valid UTF-8; predict does not read the name)",
            {SIMULATE_SCENARIO: scenario, PREDICT_PATIENT: Expect(-1)},
            content=b'name = "Saint-\xc9tienne"\n[patient]\n' + VALID_PATIENT_TOML.encode(),
        ),
    ]


# ---------------------------------------------------------------- patient files (JSON, TOML)

VALID_PATIENT = {"cancer": "colon", "stage": "II", "margin": "R1", "immune": "low"}


def _json(value: object) -> bytes:
    return (json.dumps(value, allow_nan=True) + "\n").encode("utf-8")


def patient_entries() -> list[Entry]:
    patient = bad("--patient")

    def field_flag(flag: str) -> Expect:
        return bad(f"any:--patient|{flag}")

    return [
        Entry(
            "patient_valid.json",
            "colon stage II, R1, low immunity (the positive control)",
            {PREDICT_PATIENT: ok()},
            content=_json(VALID_PATIENT),
        ),
        Entry(
            "patient_valid.toml",
            "the same patient as top-level TOML keys (not a scenario: no [patient] table)",
            {PREDICT_PATIENT: ok(), SIMULATE_SCENARIO: bad("--scenario")},
            content=VALID_PATIENT_TOML.encode(),
        ),
        Entry(
            "patient_syntax.json",
            "JSON cut short",
            {PREDICT_PATIENT: patient},
            content=b'{"cancer": "colon",\n',
        ),
        Entry(
            "patient_syntax.toml",
            "a bare word as a value",
            {PREDICT_PATIENT: patient, SIMULATE_SCENARIO: bad("--scenario")},
            content=b"cancer = colon\n",
        ),
        Entry(
            "patient_wrong_types.json",
            "cancer = 5, stage = ['II']",
            {PREDICT_PATIENT: field_flag("--cancer")},
            content=_json({**VALID_PATIENT, "cancer": 5, "stage": ["II"]}),
        ),
        Entry(
            "patient_string_number.json",
            "size_mm = '45' (a string)",
            {PREDICT_PATIENT: field_flag("--size-mm")},
            content=_json({**VALID_PATIENT, "size_mm": "45"}),
        ),
        Entry(
            "patient_bool.json",
            "nodes = true",
            {PREDICT_PATIENT: field_flag("--nodes")},
            content=_json({**VALID_PATIENT, "nodes": True}),
        ),
        Entry(
            "patient_unknown_key.json",
            "an unknown key colour",
            {PREDICT_PATIENT: bad("--patient", "colour")},
            content=_json({**VALID_PATIENT, "colour": "red"}),
        ),
        Entry(
            "patient_nan.json",
            "size_mm = NaN",
            {PREDICT_PATIENT: field_flag("--size-mm")},
            content=_json({**VALID_PATIENT, "size_mm": math.nan}),
        ),
        Entry(
            "patient_inf.toml",
            "size_mm = inf",
            {PREDICT_PATIENT: field_flag("--size-mm")},
            content=VALID_PATIENT_TOML.encode() + b"size_mm = inf\n",
        ),
        Entry(
            "patient_huge.json",
            "size_mm = 1e308",
            {PREDICT_PATIENT: field_flag("--size-mm")},
            content=_json({**VALID_PATIENT, "size_mm": 1e308}),
        ),
        Entry(
            "patient_huge_int.json",
            "nodes = 10**30",
            {PREDICT_PATIENT: field_flag("--nodes")},
            content=_json({**VALID_PATIENT, "nodes": 10**30}),
        ),
        Entry(
            "patient_negative.toml",
            "nodes = -3",
            {PREDICT_PATIENT: field_flag("--nodes")},
            content=VALID_PATIENT_TOML.encode() + b"nodes = -3\n",
        ),
        Entry(
            "patient_nested.json",
            "a patient table inside a patient table",
            {PREDICT_PATIENT: patient},
            content=_json({"patient": {"patient": VALID_PATIENT}}),
        ),
        Entry(
            "patient_list.json",
            "a JSON list",
            {PREDICT_PATIENT: patient},
            content=_json([1, 2, 3]),
        ),
        Entry("patient_empty.json", "0 bytes", {PREDICT_PATIENT: patient}),
        Entry(
            "patient_empty.toml",
            "0 bytes (an empty table: no cancer)",
            {PREDICT_PATIENT: field_flag("--cancer"), SIMULATE_SCENARIO: bad("--scenario")},
        ),
        Entry(
            "patient_binary.json",
            "300 random bytes",
            {PREDICT_PATIENT: patient},
            content=binary_noise(300, 4),
        ),
        Entry(
            "patient_latin1.json",
            "a value in latin-1 (not valid UTF-8)",
            {PREDICT_PATIENT: field_flag("--immune")},
            content=b'{"cancer": "colon", "stage": "II", "margin": "R0", "immune": "l\xf6w"}\n',
        ),
        Entry(
            "patients.csv",
            "a cohort file of patients for --row: row 0 valid, rows 1-7 each hold one bad "
            "field (nodes 'many', size_mm inf, grade 7, margin R9, cancer lung, age -5, "
            "immune medium)",
            {},
            content=(
                b"cancer,stage,size_mm,nodes,grade,margin,immune,age\n"
                b"colon,II,40,0,2,R0,low,60\n"
                b"colon,II,40,many,2,R0,low,60\n"
                b"colon,II,inf,0,2,R0,low,60\n"
                b"colon,II,40,0,7,R0,low,60\n"
                b"colon,II,40,0,2,R9,low,60\n"
                b"lung,II,40,0,2,R0,low,60\n"
                b"colon,II,40,0,2,R0,low,-5\n"
                b"colon,II,40,0,2,R0,medium,60\n"
            ),
        ),
    ]


# Rows of patients.csv and the flag each bad row's error names (one of them).
PATIENT_ROWS = {
    1: "any:--patient|--nodes|--row",
    2: "any:--patient|--size-mm|--row",
    3: "any:--patient|--grade|--row",
    4: "any:--patient|--margin|--row",
    5: "any:--patient|--cancer|--row",
    6: "any:--patient|--age|--row",
    7: "any:--patient|--immune|--row",
}


# ---------------------------------------------------------------- model files (JSON)


def model_entries() -> list[Entry]:
    model = bad("--model")
    default = json.loads(
        (HERE.parents[2] / "src/remnant/model/calibrated.json").read_text(encoding="utf-8")
    )["models"]["colon"]
    # the calibration record is left out to keep the file small; it is not read back
    data = {k: v for k, v in default["data"].items() if k != "calibration"}
    nan_theta = dict(default, theta=[math.nan] * len(default["theta"]), data=data)
    return [
        Entry("model_syntax.json", "JSON cut short", {PREDICT_MODEL: model}, content=b'{"format":'),
        Entry(
            "model_wrong_format.json",
            "another format",
            {PREDICT_MODEL: model},
            content=_json({"format": "something-else/9"}),
        ),
        Entry(
            "model_incomplete.json",
            "the right format and nothing else",
            {PREDICT_MODEL: model},
            content=_json({"format": "remnant-fit/1"}),
        ),
        Entry(
            "model_nan_theta.json",
            "the shipped colon model with NaN parameters",
            {PREDICT_MODEL: model},
            content=(json.dumps(nan_theta, separators=(",", ":")) + "\n").encode(),
        ),
        Entry("model_list.json", "a JSON list", {PREDICT_MODEL: model}, content=_json([])),
        Entry("model_empty.json", "0 bytes", {PREDICT_MODEL: model}),
        Entry(
            "model_binary.json",
            "300 random bytes",
            {PREDICT_MODEL: model},
            content=binary_noise(300, 5),
        ),
    ]


# ---------------------------------------------------------------- all, README


def entries() -> list[Entry]:
    return [
        *csv_entries(),
        *parquet_entries(),
        *scenario_entries(),
        *patient_entries(),
        *model_entries(),
    ]


def _expect_text(expect: dict[str, Expect]) -> str:
    parts = []
    for door, e in expect.items():
        if e.code < 0:
            parts.append(f"`{door}`: 0 or 2")
            continue
        said = [m.removeprefix("re:").removeprefix("any:") for m in e.mentions]
        said = [
            s.replace("{flag}", "the flag").replace("\\b", "").replace("|", " or ") for s in said
        ]
        parts.append(f"`{door}`: {e.code}" + (f" ({'; '.join(said)})" if said else ""))
    return "<br>".join(parts) or "see the table of rows below"


def readme(all_entries: list[Entry]) -> str:
    lines = [
        "# Malformed inputs for the door tests",
        "",
        "Generated by `make_corpus.py` (run it to regenerate; the expected outcomes live there",
        "and are read by tests/test_doors_cli.py). Every file is under 5 kB.",
        "",
        "Cohort files are read with `" + " ".join(COHORT_FLAGS) + "` unless said otherwise.",
        "Exit codes: 0 done, 2 bad input. For 2, the one `error:` line names what is listed",
        "(a column, the first bad data row counted from 1 after the header, or the flag).",
        "",
        "| file | what is wrong | expected |",
        "|---|---|---|",
    ]
    for e in all_entries:
        lines.append(f"| `{e.name}` | {e.about} | {_expect_text(e.expect)} |")
    lines += [
        "",
        "`patients.csv` with `predict --patient patients.csv --row N`: row 0 exits 0, rows "
        + ", ".join(str(r) for r in PATIENT_ROWS)
        + " exit 2 naming `--patient`, `--row` or the field's flag.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    all_entries = entries()
    for e in all_entries:
        assert len(e.content) < 5000, (e.name, len(e.content))
        (HERE / e.name).write_bytes(e.content)
    (HERE / "README.md").write_text(readme(all_entries), encoding="utf-8")
    print(f"wrote {len(all_entries)} files and README.md to {HERE}")


if __name__ == "__main__":
    main()
