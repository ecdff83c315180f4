"""``remnant evaluate``: score a survival model on real cohorts.

Cross-validation on one cohort (``--data NAME|FILE --cv K``) or training on one cohort and
testing on another (``--train NAME|FILE --test NAME|FILE``). The work is done by
:func:`remnant.yardstick.evaluate`; this module parses, loads, prints and writes files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.table import Table

    from remnant.yardstick.evaluation import Evaluation

from remnant.cli.cohort_flags import (
    CategoricalCols,
    CohortSources,
    Covariates,
    DeathCol,
    EventCol,
    ImmuneCols,
    Missing,
    OtherCols,
    RemovalCols,
    StageCols,
    TimeCol,
    TimeUnit,
    cohort_line,
    cohort_sources,
    split_list,
)
from remnant.cli.flags import named_as_flags
from remnant.cli.progress import progress
from remnant.errors import RemnantInputError
from remnant.files import (
    check_output_dir,
    check_output_file,
    check_planned_files,
    write_text_atomic,
)
from remnant.yardstick.registry import MODELS

_HELP = (
    "Score a survival model (cox, weibull, rsf, km, ...) on a cohort by stratified k-fold "
    "cross-validation (--data) or on an external cohort (--train/--test): Harrell and Uno C, "
    "time-dependent AUC, Brier and integrated Brier scores, calibration."
)


EVALUATE_FLAGS = {
    "model": "--model",
    "cv": "--cv",
    "seed": "--seed",
    "horizons_years": "--horizons",
    "ipcw": "--ipcw",
    "data": "--data",
    "train": "--train",
    "test": "--test",
}


def _parse_horizon_text(text: str) -> list[float]:
    parts = split_list(text)
    if not parts:
        raise RemnantInputError("--horizons", "comma-separated years, e.g. 1,3,5", text)
    values = []
    for part in parts:
        try:
            values.append(float(part))
        except ValueError:
            raise RemnantInputError(
                "--horizons", "comma-separated years, e.g. 1,3,5", text
            ) from None
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise RemnantInputError("--horizons", "positive numbers of years", text)
    from remnant.yardstick.evaluation import parse_horizons

    return parse_horizons(values)


def _check_outputs(
    json_out: Path | None,
    plots_dir: str | None,
    model: str,
    inputs: Sequence[tuple[str, Path | None]],
) -> None:
    # Checked before any work so that a bad path fails fast and leaves nothing behind.
    if json_out is not None:
        check_output_file("--json", json_out, suffix=".json", inputs=inputs)
    if plots_dir is not None:
        plots = check_output_dir("--plots", plots_dir, inputs=inputs)
        from remnant.yardstick.plots import plot_paths

        check_planned_files("--plots", plot_paths(plots, model), inputs=inputs)
        if json_out is not None and json_out in plot_paths(plots, model):
            raise RemnantInputError("--json", "a path other than the plots", str(json_out))


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "-" if x != x else f"{x:.{digits}f}"


def _table(result: Evaluation) -> Table:
    from rich.table import Table

    s = result.summary
    folds = s["folds"]
    cv = s["scheme"] == "cross-validation"
    h_cal = s["calibration_horizon_years"]
    title = (
        f"{s['model']}: {s['cv_folds']}-fold cross-validation on {s['data']['cohort']['name']}"
        if cv
        else f"{s['model']}: trained on {s['data']['train']['name']}, "
        f"tested on {s['data']['test']['name']}"
    )
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("mean" if cv else "test", justify="right")
    if cv:
        table.add_column("sd", justify="right")
        for f in folds:
            table.add_column(f"fold {f['fold']}", justify="right")

    def row(label: str, value: Any, sd: Any, per_fold: list[Any]) -> None:
        cells = [label, _fmt(value)]
        if cv:
            cells.append(_fmt(sd))
            cells.extend(_fmt(v) for v in per_fold)
        table.add_row(*cells)

    sds = s.get("fold_sd", {})
    labels = {
        "harrell_c": "Harrell C",
        "uno_c": "Uno C",
        "integrated_brier": "integrated Brier",
        "calibration_slope": f"calibration slope ({h_cal:g} y)",
        "calibration_intercept": f"calibration intercept log O/E ({h_cal:g} y)",
        "oe_ratio": f"O/E ratio ({h_cal:g} y)",
        "ici": f"ICI ({h_cal:g} y)",
    }
    for key, label in labels.items():
        row(label, s[key], sds.get(key), [f[key] for f in folds])
    for h in s["auc"]:
        row(f"AUC {h} y", s["auc"][h], None, [f["auc"][h] for f in folds])
    for h in s["brier"]:
        row(f"Brier {h} y", s["brier"][h], None, [f["brier"][h] for f in folds])
    return table


def evaluate_command(
    data: Annotated[
        str | None, typer.Option("--data", help="Cohort for cross-validation: NAME or FILE.")
    ] = None,
    cv: Annotated[
        int | None, typer.Option("--cv", help="Number of folds (with --data; default 5).")
    ] = None,
    train: Annotated[
        str | None, typer.Option("--train", help="Training cohort: NAME or FILE.")
    ] = None,
    test: Annotated[str | None, typer.Option("--test", help="Test cohort: NAME or FILE.")] = None,
    model: Annotated[
        str, typer.Option("--model", help="Model: " + ", ".join(sorted(MODELS)) + ".")
    ] = "cox",
    horizons: Annotated[
        str, typer.Option("--horizons", help="Horizons in years, comma-separated.")
    ] = "1,3,5",
    seed: Annotated[int, typer.Option("--seed", help="Seed for folds and random models.")] = 0,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write all numbers to this JSON file.")
    ] = None,
    plots_dir: Annotated[
        str | None, typer.Option("--plots", help="Write calibration and KM plots (PNG) here.")
    ] = None,
    time_col: TimeCol = None,
    event_col: EventCol = None,
    death_col: DeathCol = None,
    time_unit: TimeUnit = "days",
    stage_cols: StageCols = None,
    removal_cols: RemovalCols = None,
    immune_cols: ImmuneCols = None,
    other_cols: OtherCols = None,
    covariates: Covariates = None,
    missing: Missing = "drop",
    categorical_cols: CategoricalCols = None,
    ipcw: Annotated[
        str,
        typer.Option(
            "--ipcw", help="Censoring weights estimated on the test (default) or train set."
        ),
    ] = "test",
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="Do not show progress on stderr.")
    ] = False,
) -> None:
    """Score a model by cross-validation or on an external cohort."""
    # Everything is checked before any model is fitted or file written.
    if model not in MODELS:
        raise RemnantInputError("--model", "one of " + ", ".join(sorted(MODELS)), model)
    from rich.console import Console

    from remnant.data import check_fittable, check_scorable
    from remnant.yardstick.evaluation import IPCW_OPTIONS, evaluate
    from remnant.yardstick.validation import align_to_train

    if data is not None and (train is not None or test is not None):
        raise RemnantInputError("--data", "either --data or --train with --test", "both")
    if data is None and (train is None or test is None):
        raise RemnantInputError("--data", "--data NAME|FILE, or --train and --test", None)
    if cv is not None and data is None:
        raise RemnantInputError("--cv", "only with --data", cv)
    if ipcw not in IPCW_OPTIONS:
        raise RemnantInputError("--ipcw", "one of " + ", ".join(IPCW_OPTIONS), ipcw)
    horizon_years = _parse_horizon_text(horizons)
    plots = Path(plots_dir) if plots_dir is not None else None
    inputs = [
        (flag, Path(value))
        for flag, value in (("--data", data), ("--train", train), ("--test", test))
        if value is not None and CohortSources.is_file(value)
    ]
    _check_outputs(json_out, plots_dir, model, inputs)

    sources = cohort_sources(
        [v for v in (data, train, test) if v is not None],
        time_col=time_col,
        event_col=event_col,
        time_unit=time_unit,
        stage_cols=stage_cols,
        removal_cols=removal_cols,
        immune_cols=immune_cols,
        other_cols=other_cols,
        covariates=covariates,
        missing=missing,
        death_col=death_col,
        categorical_cols=categorical_cols,
    )

    out = Console(highlight=False)
    if not out.is_terminal:
        # Piped or captured output: wide enough that the table never wraps its labels.
        out = Console(highlight=False, width=max(out.width, 130))
    if data is not None:
        cohort = sources.load(data, "--data")
        check_fittable(cohort.n_events, "--data")
        out.print(cohort_line("", cohort))
        kwargs: dict[str, Any] = {"data": cohort, "cv": 5 if cv is None else cv}
    else:
        assert train is not None and test is not None
        train_cohort = sources.load(train, "--train")
        check_fittable(train_cohort.n_events, "--train")
        test_cohort = align_to_train(train_cohort, sources.load(test, "--test"))
        check_scorable(test_cohort.n, test_cohort.n_events, "--test")
        out.print(cohort_line("train ", train_cohort))
        out.print(cohort_line("test  ", test_cohort))
        kwargs = {"train": train_cohort, "test": test_cohort}

    with progress(model, enabled=not no_progress) as update:

        def report(done: int, total: int, label: str) -> None:
            update(label, done, total)

        with named_as_flags(EVALUATE_FLAGS):
            result = evaluate(
                model, horizons_years=horizon_years, seed=seed, ipcw=ipcw, progress=report, **kwargs
            )

    out.print(_table(result))
    for warning in result.summary["warnings"]:
        out.print(f"note: {warning}")
    if json_out is not None:
        write_text_atomic(json_out, result.to_json() + "\n")
        out.print(f"wrote {json_out}")
    if plots is not None:
        from remnant.yardstick.plots import write_plots  # matplotlib only when asked for

        for path in write_plots(result, plots):
            out.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to the application."""
    app.command("evaluate", help=_HELP)(evaluate_command)
