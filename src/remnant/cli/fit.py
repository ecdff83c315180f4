"""``remnant fit``: fit the three-cause model to a cohort and write it as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
)
from remnant.cli.flags import named_as_flags
from remnant.cli.progress import progress
from remnant.errors import RemnantInputError
from remnant.files import (
    check_output_dir,
    check_output_file,
    check_planned_files,
    make_dir,
    write_text_atomic,
)

_HELP = (
    "Fit the three-cause model (stage, removal, immunity) to a cohort by maximum a posteriori "
    "with Laplace intervals; write the parameters, intervals and data provenance as JSON."
)


def fit_command(
    data: Annotated[str, typer.Option("--data", help="Cohort: NAME or FILE.")],
    out: Annotated[Path, typer.Option("--out", help="Write the fitted model (JSON) here.")],
    cancer: Annotated[
        str | None, typer.Option("--cancer", help="Kinetics: colon or breast (default by cohort).")
    ] = None,
    report_dir: Annotated[
        str | None,
        typer.Option("--report", help="Write the cause effects (CSV and PNG) to this directory."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the lapse schedules.")] = 0,
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
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="Do not show progress on stderr.")
    ] = False,
) -> None:
    """Fit the model and write it."""
    from remnant.model.parameters import CANCERS

    if cancer is not None and cancer not in CANCERS:
        raise RemnantInputError("--cancer", "one of " + ", ".join(CANCERS), cancer)
    # the data layer (pandas) is imported once the flag values have passed
    from rich.console import Console
    from rich.table import Table

    from remnant.data import check_fittable

    inputs = [("--data", Path(data) if CohortSources.is_file(data) else None)]
    if report_dir is not None:
        check_output_dir("--report", report_dir, inputs=inputs)
    report = Path(report_dir) if report_dir is not None else None
    check_output_file("--out", out, suffix=".json", inputs=inputs)
    sources = cohort_sources(
        [data],
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
    cohort = sources.load(data, "--data")
    planned = _report_paths(report, cohort.name) if report is not None else []
    check_planned_files("--report", planned, inputs=inputs)
    if out in planned:
        raise RemnantInputError("--out", "a path other than the --report files", str(out))
    con = Console(highlight=False, width=max(Console().width, 110))
    con.print(cohort_line("", cohort))
    if not cohort.covariates:
        raise RemnantInputError("--data", "a cohort with at least one covariate column", data)
    check_fittable(cohort.n_events, "--data")

    from remnant.inference.links import ColumnLinks
    from remnant.inference.model import fit
    from remnant.inference.report import effects, plot_effects

    with progress("fit", enabled=not no_progress) as update:

        def report_iteration(it: int, value: float) -> None:
            update(f"iteration {it}, -log posterior per patient {value:.5f}")

        with named_as_flags({"cancer": "--cancer", "seed": "--seed", "data": "--data"}):
            fitted = fit(cohort, cancer=cancer, seed=seed, callback=report_iteration)
    fitted.save(out)
    r = fitted.result
    con.print(
        f"fitted in {r.seconds:.1f} s ({r.iterations} iterations); log-likelihood "
        f"{r.log_likelihood:.2f}; kinetics {fitted.links.cancer}"
    )
    if isinstance(fitted.links, ColumnLinks):
        clock = "per patient" if fitted.links.clock_links else "per cohort"
        con.print(
            f"prior sds of the covariate effects x {fitted.links.prior_scale:.3f}; clock "
            f"{clock} (chosen by the marginal likelihood, docs/fit.md 3.3)"
        )
        for name, rec in fitted.data.get("evidence", {}).items():
            con.print(
                f"  {name}: prior sds x {rec['prior_scale']:.3f}, "
                f"log evidence {rec['log_evidence']:.2f}"
            )
    table = Table(title="parameters (log scale, 95% Laplace intervals)")
    for col in ("parameter", "estimate", "se", "lower", "upper"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for name, row in fitted.parameters().iterrows():
        table.add_row(str(name), *(f"{row[c]:.3f}" for c in ("estimate", "se", "lower", "upper")))
    con.print(table)
    con.print(f"wrote {out}")
    if report is not None:
        make_dir(report)
        eff = effects(fitted)
        csv, png_path = planned
        write_text_atomic(csv, eff.to_csv(index=False, float_format="%.4f"))
        png = plot_effects(
            eff,
            png_path,
            title=f"{cohort.name}: effects per SD on the causes' parameters",
        )
        et = Table(title="cause effects: multiplier per SD of the column (95% interval)")
        for col in ("cause", "column", "moves", "multiplier", "interval"):
            et.add_column(col)
        for _, e in eff.iterrows():
            et.add_row(
                e["cause"],
                e["column"],
                e["moves"],
                f"{e['multiplier']:.3f}",
                f"{e['lower']:.3f}-{e['upper']:.3f}",
            )
        con.print(et)
        con.print(f"wrote {csv}")
        con.print(f"wrote {png}")


def _report_paths(report: Path, cohort_name: str) -> list[Path]:
    """The files ``--report DIR`` receives: the effects table (CSV) and their plot (PNG)."""
    return [report / f"{cohort_name}-effects.csv", report / f"{cohort_name}-effects.png"]


def register(app: typer.Typer) -> None:
    """Add the ``fit`` command to the application."""
    app.command("fit", help=_HELP)(fit_command)
