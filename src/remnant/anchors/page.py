"""docs/anchors.md and its figures: the anchor table as a page, one small figure per anchor
(the model's curve against the published points; matplotlib, Agg backend)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from remnant.anchors.cohorts import BREAST_ALL_STAGES, BREAST_CONSERVING, COLON_ALL_STAGES
from remnant.anchors.definitions import NOT_EXPRESSIBLE, Anchor
from remnant.anchors.run import Result
from remnant.anchors.stats import TOLERANCE_POINTS, TOLERANCE_RELATIVE
from remnant.model.units import DAYS_PER_YEAR


def fmt(value: float, unit: str) -> str:
    """A value in its display unit (fractions as percentages)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if unit == "%":
        return f"{100 * value:.1f}%"
    if unit == "%/year":
        return f"{100 * value:.2f}%/y"
    if unit == "years":
        return f"{value:.2f} y"
    if unit == "months":
        return f"{value:.1f} mo"
    if unit == "year":
        return f"year {value:g}"
    return f"{value:.3g}"


def fmt_interval(low: float, high: float, unit: str) -> str:
    """``low-high`` in the display unit; an open upper end as ``>= low``."""
    if math.isnan(low) and math.isnan(high):
        return "n/a"
    if math.isinf(high):
        return f">= {fmt(low, unit)}"
    if low == high:
        return fmt(low, unit)
    return f"{fmt(low, unit)} - {fmt(high, unit)}"


def figure_names(anchors: Sequence[Anchor]) -> list[str]:
    """The figure files (``<figure>.png``) of these anchors, in table order."""
    names: list[str] = []
    for a in anchors:
        if a.figure not in names:
            names.append(a.figure)
    return [f"{n}.png" for n in names]


def write_figures(results: Sequence[Result], directory: Path) -> list[Path]:
    """One PNG per figure group (rows of one curve share it), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from remnant.report.plots import save_figure

    groups: dict[str, list[Result]] = {}
    for r in results:
        groups.setdefault(r.anchor.figure, []).append(r)
    written = []
    for name, rows in groups.items():
        fig, ax = plt.subplots(figsize=(5.0, 3.3))
        if any(r.measured.curves for r in rows):
            _curve_figure(ax, rows)
        else:
            _forest_figure(ax, rows)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        written.append(save_figure(fig, directory / f"{name}.png"))
    return written


def _curve_figure(ax: Any, rows: list[Result]) -> None:
    seen: set[str] = set()
    for r in rows:
        for c in r.measured.curves:
            if c.label in seen:
                continue
            seen.add(c.label)
            ax.plot(c.x, c.y, lw=1.3, label=f"model: {c.label}")
            ax.set_xlabel(c.xlabel, fontsize=8)
            ax.set_ylabel(c.ylabel, fontsize=8)
    published_label = "published"
    for r in rows:
        a, m = r.anchor, r.measured
        low, high = a.band()
        s = a.scale
        if m.x is not None:
            y = a.published * s
            ax.errorbar(
                [m.x],
                [y],
                yerr=[[y - low * s], [min(high, 1e9) * s - y]],
                fmt="o",
                color="black",
                mfc="white",
                capsize=3,
                label=published_label,
            )
            est = m.estimate
            if math.isfinite(est.value):
                ax.plot(
                    [m.x],
                    [est.value * s],
                    "x",
                    color="crimson",
                    label="model value" if published_label else None,
                )
            published_label = ""
        elif a.unit in ("years", "months", "year"):
            window = m.shade or (low, high if math.isfinite(high) else low)
            ax.axvspan(
                window[0],
                window[1],
                color="grey",
                alpha=0.25,
                label=f"published: {a.published_text}",
            )
            if math.isfinite(m.estimate.value):
                ax.axvline(m.estimate.value, color="crimson", ls="--", lw=1)
        elif m.shade is not None:
            ax.axvspan(*m.shade, color="grey", alpha=0.25, label=f"published: {a.published_text}")
    ax.legend(fontsize=6)


def _forest_figure(ax: Any, rows: list[Result]) -> None:
    labels = []
    for i, r in enumerate(rows):
        a, est = r.anchor, r.measured.estimate
        low, high = a.band()
        y = float(i)
        ax.plot([low, high], [y + 0.15, y + 0.15], color="black", lw=3)
        if math.isfinite(a.published):
            ax.plot([a.published], [y + 0.15], "o", color="black", mfc="white")
        if math.isfinite(est.value):
            ax.errorbar(
                [est.value],
                [y - 0.15],
                xerr=[[est.value - est.low], [est.high - est.value]],
                fmt="x",
                color="crimson",
                capsize=3,
            )
        labels.append(a.id)
    ax.set_yticks(np.arange(len(rows)))
    ax.set_yticklabels(labels, fontsize=6)
    ax.set_ylim(-0.8, len(rows) - 0.2)
    values = [r.measured.estimate.value for r in rows] + [r.anchor.band()[0] for r in rows]
    if all(v > 0 for v in values if math.isfinite(v)):
        from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("black: published; red: model, 95% MC", fontsize=7)


def gap(row: pd.Series) -> str:
    """How far a missed value lies from the pass interval, in the row's display units."""
    unit = str(row["unit"])
    value, low, high = float(row["model"]), float(row["low"]), float(row["high"])
    if not math.isfinite(value):
        return "not produced by the model"
    if unit == "ratio" and low > 0 and value > 0:
        factor = value / high if value > high else low / value
        side = "above" if value > high else "below"
        return f"{factor:.3g} times {side} the interval"
    scale = 100.0 if unit in ("%", "%/year") else 1.0
    names = {
        "%": " points",
        "%/year": " points per year",
        "years": " years",
        "year": " years",
        "months": " months",
    }
    name = names.get(unit, "")
    if value < low:
        return f"{scale * (low - value):.3g}{name} below the interval"
    return f"{scale * (value - high):.3g}{name} above the interval"


def mechanism_reasons() -> tuple[dict[str, str], dict[str, str]]:
    """Why the calibrated model misses: the reasons (by letter) and, per figure group, the
    letter. The numbers are computed from the calibrated mechanisms
    (``remnant.model.calibrated``), so they follow any recalibration."""
    from remnant.model import calibrated

    colon, breast = calibrated.mechanism("colon"), calibrated.mechanism("breast")
    doublings = math.log2(colon.detection_cells_distant)
    growth = {
        c: doublings * m.clone_doubling_days[c] / DAYS_PER_YEAR
        for c, m in (("colon", colon), ("breast", breast))
    }
    asleep = 1 / (breast.wake_rate["breast"] + breast.dormant_death_rate) / DAYS_PER_YEAR
    reasons = {
        "A": (
            "Growth spread between patients, not between clones. Each patient's disease runs on "
            f"its own clock (sd of log a {colon.growth_spread:.2f}, the published spread of "
            "doubling times, not fitted; docs/model.md 1.10) and its immunity is spread too (sd "
            f"of log I0 {colon.immune_spread:.2f} colon, {breast.immune_spread:.2f} breast), "
            f"but at the typical clock {doublings:.0f} doublings of "
            f"{breast.clone_doubling_days['breast']:g} days take {growth['breast']:.1f} years "
            f"for breast and of {colon.clone_doubling_days['colon']:g} days "
            f"{growth['colon']:.1f} years for colon, and a patient one sd faster takes "
            f"{growth['breast'] * math.exp(-breast.growth_spread):.1f} and "
            f"{growth['colon'] * math.exp(-colon.growth_spread):.1f} years: the hazard peaks "
            "between those times. Nothing in the mechanism splits the peak in two (the clones "
            "of one patient share its clock; no second dormancy process)."
        ),
        "B": (
            f"Short dormancy. Breast seeds wake at {breast.wake_rate['breast']:g} per day and "
            f"die asleep at {breast.dormant_death_rate:g} per day, so a seed sleeps "
            f"{asleep:.1f} years on average and "
            f"{100 * breast.dormant_death_rate / (breast.wake_rate['breast'] + breast.dormant_death_rate):.0f}%"  # noqa: E501
            " of them die asleep: little is left to recur after 5 years."
        ),
        "C": (
            f"Margin residual without radiotherapy. Breast R1 leaves Poisson("
            f"{breast.residual_cells['R1']:.3g}) clonogenic cells (R0: "
            f"{breast.residual_cells['R0']:.3g}; the cohort fit, every patient R0, hardly informs "
            "it) and the model has no radiotherapy, which after breast-conserving surgery kills "
            "most of them: its local recurrence after a positive margin is far above the "
            "irradiated cohorts' (Houssami 2014)."
        ),
        "D": (
            "Immunity at the high end. The calibrated colon spread is fitted to the Immunoscore "
            "groups together with the stage and margin figures (remnant.anchors.targets); the "
            "hazard ratio of the groups' whole curves is steeper than the published one where "
            "strong immunity clears every clone."
        ),
        "E": (
            f"A dip without spread. The dip is the same for every patient (depth "
            f"{colon.dip_depth:g}, recovery {colon.dip_recovery_days:g} days, held over "
            f"{colon.dip_steps} steps of {colon.dip_step_days:g} days): the share below 75% of "
            f"baseline is 100% or 0%, plus the patients in a lapse "
            f"({colon.lapse_rate_per_year:g} per year)."
        ),
        "F": (
            f"Small surgery effect. The waking burst (x{breast.surgery_wake_multiplier:g} for "
            f"{breast.surgery_wake_days:g} days) speeds only the seeds asleep at surgery for three "
            "months, and the dip shortens growth by weeks: few recurrences depend on them."
        ),
        "G": "No colon side. The model's colon has one set of parameters for right and left.",
    }
    figures = {
        "pan2017-breast": "B",
        "saphner1996-breast-plateau": "B",
        "qaderi-right-colon-3y": "G",
        "qaderi-left-colon-3y": "G",
        "crd2015-colon-margin": "C",
        "crd2015-colon-or": "C",
        "houssami2014-breast-or": "C",
        "pages2018-colon-5y": "D",
        "pages2018-colon-hr": "D",
        "angka2018-dip-below75": "E",
        "angka2018-dip-fall": "E",
        "retsky2010-breast": "F",
    }
    for timing in (
        "saphner1996-breast-hazard",
        "geurts2017-breast-annual",
        "jatoi2005-breast-hazard",
        "demicheli2008-breast-hazard",
        "demicheli2004-premeno",
        "demicheli2004-postmeno",
        "maeda2017-colon-hazard",
        "smooth-colon-r1",
    ):
        figures[timing] = "A"
    return reasons, figures


def misses_section(measured: pd.DataFrame) -> list[str]:
    """The closing note: each miss, how far it is, and why the mechanism cannot reach it."""
    from remnant.anchors.definitions import ANCHORS

    figure_of = {a.id: a.figure for a in ANCHORS}
    reasons, by_figure = mechanism_reasons()
    misses = measured[measured["verdict"] == "miss"]
    lines = ["## The misses: how far, and why", ""]
    if misses.empty:
        return lines + ["Every measured anchor passes.", ""]
    lines += [
        "Nothing is tuned to close these gaps (a miss explained is a result). The reasons are "
        "read off the calibrated mechanisms (`remnant.model.calibrated`).",
        "",
        "| id | model | pass interval | how far | why |",
        "|---|---|---|---|---|",
    ]
    used: list[str] = []
    for _, row in misses.iterrows():
        unit = str(row["unit"])
        letter = by_figure.get(figure_of.get(str(row["id"]), ""), "")
        if letter and letter not in used:
            used.append(letter)
        lines.append(
            f"| `{row['id']}` | {fmt(row['model'], unit)} | "
            f"{fmt_interval(row['low'], row['high'], unit)} | {gap(row)} | {letter} |"
        )
    lines.append("")
    for letter in sorted(used):
        lines += [f"- **{letter}.** {reasons[letter]}"]
    return lines


def _mix(mix: tuple[tuple[str, float], ...]) -> str:
    return " / ".join(f"{s} {100 * w:.0f}%" for s, w in mix)


def render_page(
    results: Sequence[Result],
    table: pd.DataFrame,
    *,
    n_patients: int,
    seed: int,
    command: str,
    figures_dir: str | None,
    seconds: float | None = None,
) -> str:
    """The markdown page: how it is measured, the table, the figures, how to regenerate."""
    from remnant.anchors.targets import calibration_targets

    fitted = calibration_targets()
    measured = table[table["verdict"] != "not expressible"]
    n_pass = int((measured["verdict"] == "pass").sum())
    n_miss = int((measured["verdict"] == "miss").sum())
    is_fit = measured["id"].map(lambda i: i in fitted or str(i).startswith("bmc2014-"))
    n_fit = int(is_fit.sum())
    n_fit_pass = int((is_fit & (measured["verdict"] == "pass")).sum())
    lines = [
        "# The anchor table: the model against the published figures",
        "",
        f"Generated by `{command}`: {n_patients:,} virtual patients per setting, seed {seed}"
        + (f" ({seconds:.0f} s)." if seconds is not None else "."),
        "The table is a pure function of (patients, seed); rerun the command to regenerate it.",
        "",
        f"**{n_pass} pass, {n_miss} miss** of {len(measured)} measured anchors; "
        f"{len(table) - len(measured)} figures of anchors.md are not expressible by the model. "
        f"Of the measured anchors {n_fit} are checks of fit (marked *fit*: {n_fit_pass} pass) "
        f"and {len(measured) - n_fit} validations ({n_pass - n_fit_pass} pass).",
        "",
        "## What is measured and how",
        "",
        "Every anchor of ../shared/design/anchors.md that the model can speak to is run on the "
        "simulator with the calibrated model, the one `remnant predict` explains "
        "(`remnant.model.calibrated`; immunity spread between patients, an Immunoscore category "
        "a band of that spread, docs/model.md 1.9), in the setting the source measured: cancer, "
        "stage mix, margin, immune category, horizon. Each setting is simulated once and shared "
        "by the anchors that measure it; its seed is derived from the run's seed and the "
        "setting's name.",
        "",
        "- *Recurrence by t* (a percentage of patients): the crude cumulative incidence of a first "
        "recurrence, other-cause death competing (virtual patients are followed completely, so "
        "this is the Aalen-Johansen estimate and a binomial proportion). Interval: Wilson.",
        "- *RFS*, *time to recurrence*, *distant recurrence in years 5-20*: Kaplan-Meier with "
        "other-cause deaths censored (a published stage II RFS of 89% at 7 years is above the "
        "overall survival of a 68-year-old, so it cannot count deaths). Interval: Greenwood on "
        "the log(-log) scale.",
        "- *Odds ratios*: Woolf (delta method on the log odds ratio). *Hazard ratio*: Cox "
        "partial likelihood (Breslow ties), Wald interval from the observed information (delta "
        "method). *Share due to surgery*: delta method on the log ratio of two independent "
        "proportions. *Rate per person-year*: Poisson, delta method on the log rate.",
        "- *Hazard peaks and modes*: the actuarial hazard of first recurrence in monthly bins "
        "(deaths censored), smoothed with a Gaussian kernel of one month; the peak is its "
        "maximum, a mode a local maximum standing at least 10% of the maximum above its "
        "surroundings. Interval: bootstrap of patients (200 replicates, a multinomial draw over "
        "the life table's cells, which is resampling patients), percentile.",
        "- *Post-operative dip*: the model's immune trajectory I(t)/I0 computed exactly from the "
        "mechanism (deterministic dip; lapses an alternating renewal process), no sampling.",
        "",
        "**Pass or miss.** An anchor passes when the model's value lies inside the published "
        "interval; for a figure given without one, within "
        f"{100 * TOLERANCE_POINTS:.0f} percentage points or {100 * TOLERANCE_RELATIVE:.0f}% "
        "relative, whichever is wider (for a ratio or a time, 20% relative). *borderline* marks "
        "a Monte Carlo interval that crosses an end of the published interval.",
        "",
        "**Stated approximations** (in `src/remnant/anchors/cohorts.py` with their sources):",
        "",
        f"- colon over all stages (Colorectal Dis 2015, Pages 2018): stage {_mix(COLON_ALL_STAGES)}"
        " (Brenner 2016: 50% of cancers found by symptoms are stage I-II, split equally; the "
        "other half to stage III, the model having no stage IV);",
        f"- breast stage I-III cohorts: stage {_mix(BREAST_ALL_STAGES)}; breast-conserving "
        f"surgery: stage {_mix(BREAST_CONSERVING)}; node-positive: stage II / III 50% each;",
        "- Pan 2017's T1N1-3 and T1N4-9: a 15 mm primary with each node count of the category "
        "equally weighted; menopause (Demicheli 2004): age 45 vs 60 (the model has no menopause);",
        "- treatments (adjuvant chemotherapy, endocrine therapy, radiotherapy) are not in the "
        "model: treated cohorts are compared untreated; horizons a source does not give are "
        "chosen and stated in the row's notes.",
        "",
        "**Checks of fit.** The colon model's four fitted numbers are calibrated, with the trial "
        "cohort, to the anchors marked *fit* in the table (`remnant.anchors.targets`: one "
        "objective, the cohort's posterior plus each figure's binomial likelihood; the record, "
        "with the share of each parameter's information from each source, is in "
        "`src/remnant/model/calibrated.json` and docs/explain.md): Gately 2021 by stage, "
        "Colorectal Dis 2015 after R0 and R1, Pages 2018 by Immunoscore group, and the two "
        "ratios built from them. The BMC Cancer 2014 recurrence-free survival by stage set the "
        "default `clone_doubling_days` (docs/parameters.md). These rows are checks of fit, not "
        "validations; every other row is a validation.",
        "",
        "The Pages 2018 figures (5-year recurrence 8% / 19% / 32%, hazard ratio 0.20 high vs "
        "low, training set) were checked against the ASCO Post's report of the paper "
        "(ascopost.com/News/58924); the hazard ratio's interval (0.10-0.38) is quoted by "
        "anchors.md and not in that report, so it stays marked *unverified*; no test rests on "
        "these figures.",
        "",
        "## The table",
        "",
        "| id | source | published | interval | model | 95% MC | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, row in measured.iterrows():
        unit = str(row["unit"])
        verdict = f"**{row['verdict']}**" if row["verdict"] == "pass" else str(row["verdict"])
        if row["borderline"]:
            verdict += " (borderline)"
        if row["id"] in fitted or str(row["id"]).startswith("bmc2014-"):
            verdict += " (fit)"
        published = str(row["published_text"])
        if row["verified"] != "yes":
            published = published if "unverified" in published else published + " (unverified)"
        lines.append(
            f"| `{row['id']}` | {row['source']} | {published} | "
            f"{fmt_interval(row['low'], row['high'], unit)} ({row['interval_kind']}) | "
            f"{fmt(row['model'], unit)} | {fmt_interval(row['mc_low'], row['mc_high'], unit)} | "
            f"{verdict} |"
        )
    lines += [
        "",
        "## Settings, intervals and notes",
        "",
        "| id | setting | quantity | MC interval | approximation | note |",
        "|---|---|---|---|---|---|",
    ]
    for _, row in measured.iterrows():
        lines.append(
            f"| `{row['id']}` | {row['setting']} | {row['quantity']} | {row['mc_method']} | "
            f"{row['approximation'] or ''} | {row['note'] or ''} |"
        )
    lines += ["", *misses_section(measured)]
    lines += [
        "",
        "## Not expressible",
        "",
        "| id | source | figure | why |",
        "|---|---|---|---|",
    ]
    for ne in NOT_EXPRESSIBLE:
        lines.append(f"| `{ne.id}` | {ne.source} | {ne.figure} | {ne.reason} |")
    lines += ["", "## Figures", ""]
    if figures_dir is None:
        lines.append("No figures were written (run with `--figures DIR`).")
    else:
        lines.append(
            "Model curves (lines) against the published points (circles with their interval or "
            "tolerance; crosses: the model's value) or windows (grey); forest plots for ratios."
        )
        lines.append("")
        seen: list[str] = []
        for r in results:
            if r.anchor.figure in seen:
                continue
            seen.append(r.anchor.figure)
            group = [x.anchor.id for x in results if x.anchor.figure == r.anchor.figure]
            ids = ", ".join(f"`{i}`" for i in group)
            path = f"{figures_dir}/{r.anchor.figure}.png"
            lines += [f"**{r.anchor.figure}** ({ids})", "", f"![{r.anchor.figure}]({path})", ""]
    lines += ["## Regenerate", "", "```", command, "```", ""]
    return "\n".join(lines)


def relative_dir(figures: Path, page: Path) -> str:
    """The figures' directory as the page links it (relative to the page's directory)."""
    base = page.parent if str(page.parent) else Path(".")
    return Path(os.path.relpath(figures, base)).as_posix()
